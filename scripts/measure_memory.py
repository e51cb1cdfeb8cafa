"""Peak memory (RSS) of training one model at a given signal length, in a fresh process per preset.

    python scripts/measure_memory.py --length 2000 --presets default seed

Synthetic signals (sines of random frequency and phase plus noise), ``fit`` with the preset's
defaults for ``--epochs`` epochs (the peak is reached in the first epoch and the final passes).
Each preset runs in its own subprocess so that one's memory does not count for the other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = """
import json, resource, sys, time
import numpy as np, sigae
length, n, epochs, preset = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
t = np.linspace(0, 1, length)
x = np.sin(2 * np.pi * (rng.uniform(2, 8, (n, 1)) * t + rng.uniform(0, 1, (n, 1)))) + 0.05 * rng.standard_normal((n, length))
start = time.perf_counter()
model = sigae.SignalAutoencoder(preset=preset).fit(x, epochs=epochs, seed=0, verbose=0)
print(json.dumps({"preset": preset, "parameters": model.autoencoder.count_params(),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - start}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=2000)
    parser.add_argument("--signals", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--presets", nargs="+", default=["default", "seed"])
    args = parser.parse_args(argv)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    print(f"training on {args.signals} signals x {args.length} points, {args.epochs} epochs\n")
    print("| preset | parameters | peak memory | time |\n|---|---:|---:|---:|")
    for preset in args.presets:
        done = subprocess.run([sys.executable, "-c", CHILD, str(args.length), str(args.signals), str(args.epochs),
                               preset], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"| {preset} | failed: {done.stderr.strip().splitlines()[-1][:120]} | | |")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {preset} | {row['parameters']:,} | {row['peak_mb']:.0f} MB | {row['seconds']:.0f} s |")


if __name__ == "__main__":
    main()
