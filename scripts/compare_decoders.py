"""Compare the seed decoder, the mirrored decoder and the mirrored decoder with tied weights.

Trains each on the same file, split and seed, and prints a markdown table:
parameters, mean epoch time (the first, compiling epoch excluded) and final
validation MSE (normalized units), with PCA of the same size for reference.

    python scripts/compare_decoders.py [sample_data/signals.mat] [--epochs 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import sigae  # noqa: E402

VARIANTS = (("seed", False), ("mirror", False), ("mirror", True))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", default="sample_data/signals.mat")
    parser.add_argument("--var", default=None)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x = sigae.load_signals(args.file, args.var)
    rows = []
    for decoder, tied in VARIANTS:
        model = sigae.SignalAutoencoder(preset="seed", decoder=decoder, tied=tied)  # the decoders alone, no linear path
        model.fit(x, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, verbose=0)
        m = model.metrics_
        epoch_seconds = statistics.mean(model.history_.seconds[1:] or model.history_.seconds)
        rows.append((decoder + (" + tied" if tied else ""), m["parameters"], epoch_seconds,
                     m["autoencoder"]["val_mse"], m["pca"]["val_mse"]))
        print(f"done: {rows[-1][0]}", flush=True)

    print(f"\n{args.file}: {x.shape[0]} signals x {x.shape[1]} points, {args.epochs} epochs, "
          f"batch {args.batch_size}, seed {args.seed}\n")
    print("| decoder | parameters | epoch time (s) | validation MSE | PCA-32 validation MSE |")
    print("|---|---:|---:|---:|---:|")
    for name, params, seconds, val, pca in rows:
        print(f"| {name} | {params:,} | {seconds:.2f} | {val:.4g} | {pca:.4g} |")


if __name__ == "__main__":
    main()
