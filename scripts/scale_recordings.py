"""Scoring one long recording of 10^5 ... 10^7 points from a MATLAB v7.3 file: time and peak memory.

A windowed model is trained once on a short recording (sine + noise, windows
of 128); then recordings of each size are written as MATLAB v7.3 files block
by block, and ``sigae-score RUN big.mat -o scores.h5 --hop H`` runs in a fresh
process for each, reporting its wall time and peak resident memory
(``ru_maxrss``). The recording is windowed block by block (blocks overlap by
W - 1 points), per-point scores are finished and written as the blocks go, so
time should grow linearly with N and memory stay flat.

    python scripts/scale_recordings.py --sizes 100000 1000000 10000000 --hop 16
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_recording(path: Path, n: int, block: int = 2**20, seed: int = 0) -> None:
    """A MATLAB v7.3 file with one n x 1 double column ``x``, written a block at a time."""
    import h5py

    from sigae.data.results import write_mat73_header

    rng = np.random.default_rng(seed)
    with h5py.File(path, "w", userblock_size=512) as f:
        d = f.create_dataset("x", (1, n), dtype="f8", chunks=(1, min(n, block)))
        d.attrs["MATLAB_class"] = np.bytes_("double")
        for a in range(0, n, block):
            t = np.arange(a, min(n, a + block))
            d[0, a:a + len(t)] = np.sin(2 * np.pi * t / 50) + 0.05 * rng.standard_normal(len(t))
    write_mat73_header(path)


CHILD = """
import resource, sys, time
from sigae.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(f"RESULT {code} {time.perf_counter() - start:.2f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
"""


def run_child(argv) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, *map(str, argv)], capture_output=True, text=True, cwd=ROOT)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT")]
    if out.returncode or not line or line[0].split()[1] != "0":
        raise SystemExit(f"failed: {' '.join(map(str, argv))}\n{out.stdout}\n{out.stderr}")
    _, _, seconds, rss_kb = line[0].split()
    return float(seconds), int(rss_kb) / 1024


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10**5, 10**6, 10**7])
    p.add_argument("--window", type=int, default=128)
    p.add_argument("--hop", type=int, default=16, help="scoring hop (default 16)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--keep", help="folder to keep the files in (default: a temporary folder)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        train = folder / "train.mat"
        write_recording(train, 20000, seed=1)
        run = folder / "run"
        seconds, rss = run_child(["train", train, "--var", "x", "--window", args.window, "--hop", 4, "--epochs",
                                  args.epochs, "--seed", 0, "--quiet", "--out", run, "--overwrite"])
        print(f"trained on 20,000 points (windows of {args.window}, hop 4, {args.epochs} epochs) in {seconds:.0f} s")
        print(f"| N points | windows scored (hop {args.hop}) | seconds | seconds per 10^6 points | peak memory MB |")
        print("|---:|---:|---:|---:|---:|")
        for n in args.sizes:
            path = folder / f"rec_{n}.mat"
            write_recording(path, n)
            out = folder / f"scores_{n}.h5"
            seconds, rss = run_child(["score", run, path, "--var", "x", "-o", out, "--hop", args.hop, "--overwrite"])
            windows = (n - args.window) // args.hop + 1 + (1 if (n - args.window) % args.hop else 0)
            print(f"| {n:,} | {windows:,} | {seconds:.1f} | {seconds / n * 1e6:.1f} | {rss:.0f} |", flush=True)
            import h5py

            with h5py.File(out) as f:
                assert f["point_score"].shape == (n,), f["point_score"].shape
            path.unlink()
            out.unlink()
    return 0


if __name__ == "__main__":
    started = time.time()
    code = main()
    print(f"total {time.time() - started:.0f} s")
    sys.exit(code)
