"""Does the default recipe beat PCA? Train sigae with defaults on each file and compare.

For every .mat file given (or every .mat in a folder given), trains
``SignalAutoencoder()`` with its default configuration and ``fit`` defaults
(fixed seed), and prints a markdown table: signals x length, autoencoder and
PCA-k validation MSE (normalized units, k = latent size, PCA fitted on the
same training split), their ratio, training time and epochs. Where anomaly
labels are named with ``--anomaly-labels`` (0 normal, nonzero anomalous), it
also prints the AUROC of the autoencoder's and of PCA's reconstruction error
over all signals of the file, and of PCA fitted to the normal training signals
only (what a linear model could reach if it knew the labels). ``--seed 0 1 2``
repeats every file over several random splits (one row each).

    python scripts/evaluate_quality.py sample_data/ucr/ArrowHead.mat sample_data/ucr/OSULeaf.mat sample_data/signals.mat --anomaly-labels signals.mat:labels
    python scripts/evaluate_quality.py sample_data/signals.mat --anomaly-labels labels --seed 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def files_from(paths) -> list[Path]:
    found = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found += sorted(path.glob("*.mat"))
        elif path.is_file():
            found.append(path)
        else:
            sys.exit(f"evaluate_quality: {path}: no such file or folder")
    return found


def label_variable(file: Path, specs) -> str | None:
    """The anomaly-label variable for *file*: from 'VAR' (every file) or 'NAME:VAR' (files named NAME)."""
    for spec in specs:
        name, sep, var = spec.rpartition(":")
        if not sep:
            return spec
        if name in (file.name, str(file)):
            return var
    return None


def evaluate(file: Path, var, labels_var, seed: int) -> dict:
    import numpy as np

    import sigae
    from sigae.data.io import load_array
    from sigae.evaluation.scoring import PCABaseline, auroc

    x = sigae.load_signals(file, var)
    start = time.perf_counter()
    model = sigae.SignalAutoencoder().fit(x, seed=seed, verbose=0)
    seconds = time.perf_counter() - start
    metrics = model.metrics_
    row = {"file": file.name, "seed": seed, "screened": metrics.get("screening", {}).get("n_screened", 0),
           "signals": int(x.shape[0]), "length": int(x.shape[1]),
           "autoencoder_val_mse": metrics["autoencoder"]["val_mse"], "pca_val_mse": metrics["pca"]["val_mse"],
           "pca_components": metrics["pca"]["components"], "ratio": metrics["val_mse_ratio_to_pca"],
           "seconds": seconds, "epochs": metrics["epochs_run"], "best_epoch": metrics["best_epoch"]}
    if labels_var:
        labels = np.asarray(load_array(file, labels_var)).reshape(-1)
        xn = model.normalizer.transform(x)
        pca = PCABaseline(model.config.latent_dim).fit(xn[model.train_index_])
        pca_scores = np.mean(np.square(pca.reconstruct(xn) - xn), axis=tuple(range(1, xn.ndim)))
        row["autoencoder_auroc"] = auroc(model.score(x).scores, labels)
        row["pca_auroc"] = auroc(pca_scores, labels)
        normal = model.train_index_[labels[model.train_index_] == 0]
        ideal = PCABaseline(model.config.latent_dim).fit(xn[normal])
        row["pca_normal_auroc"] = auroc(np.mean(np.square(ideal.reconstruct(xn) - xn), axis=tuple(range(1, xn.ndim))),
                                        labels)
    return row


def table(rows) -> str:
    lines = ["| file | seed | signals x length | screened | autoencoder val MSE | PCA-k val MSE | ratio | AE wins "
             "| epochs (best) | train time | AUROC AE | AUROC PCA | AUROC PCA, normal rows only |",
             "|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        auc = (f"{r['autoencoder_auroc']:.3f} | {r['pca_auroc']:.3f} | {r['pca_normal_auroc']:.3f}"
               if "pca_auroc" in r else "– | – | –")
        lines.append(f"| {r['file']} | {r['seed']} | {r['signals']} x {r['length']} | {r['screened']} "
                     f"| {r['autoencoder_val_mse']:.5f} "
                     f"| {r['pca_val_mse']:.5f} (k={r['pca_components']}) | {r['ratio']:.3f} "
                     f"| {'yes' if r['ratio'] <= 1 else 'no'} | {r['epochs']} ({r['best_epoch']}) "
                     f"| {r['seconds']:.0f} s | {auc} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="DIR_OR_FILE")
    parser.add_argument("--var", default="signals", help="variable holding the signals (default signals)")
    parser.add_argument("--anomaly-labels", action="append", default=[], metavar="[NAME:]VAR",
                        help="variable of anomaly labels, for every file or (NAME:VAR) for the file named NAME")
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="split seed(s) (default 0)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = []
    for file in files_from(args.paths):
        for seed in args.seed:
            rows.append(evaluate(file, args.var, label_variable(file, args.anomaly_labels), seed))
            print(f"{file} (seed {seed}): done in {rows[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
