"""Make the figures of the documentation from the sample data: docs/img/*.png.

Trains the default model on sample_data/signals.mat for a short run (seeded),
then draws the run's figures with sigae's own plotting code, exactly as
``sigae-plot RUN sample_data/signals.mat --labels labels`` does:

    python scripts/make_figures.py [--epochs 30] [--seed 0] [--out docs/img]

Writes loss.png, reconstructions.png, scores.png and latent.png, and prints the
run's summary and detection numbers (quote them with this command when a page
shows a figure).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "sample_data" / "signals.mat"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = parser.parse_args(argv)

    from sigae import cli

    with tempfile.TemporaryDirectory(prefix="sigae-figures-") as tmp:
        run = str(Path(tmp) / "run")
        steps = [("train", [args.data, "--out", run, "--epochs", str(args.epochs), "--seed", str(args.seed),
                            "--quiet"]),
                 ("score", [run, args.data, "-o", str(Path(tmp) / "scores.mat"), "--labels", "labels"]),
                 ("plot", [run, args.data, "--labels", "labels", "--out", args.out, "--overwrite"])]
        for name, command in steps:
            print(f"$ sigae-{name} {' '.join(command)}", flush=True)
            code = cli.run(name, command)
            if code:
                return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
