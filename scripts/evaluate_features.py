"""Are sigae's latent codes worth more than PCA's for downstream analysis?

The protocol of the unsupervised representation-learning literature (T-Loss,
Franceschi et al., NeurIPS 2019; TS2Vec, Yue et al., AAAI 2022) on UCR-style
files with a train/test split: the representation is learned on the train rows
only, without labels; an RBF SVM (``gamma="scale"``) is fitted on the train
codes, with C chosen by 5-fold cross-validation over 10^-4 ... 10^4 unless the
train set is small (fewer than 50 signals or fewer than 5 per class: one SVM
with C = 10^4); accuracy on the test rows. Per file it prints:

- Euclidean 1-NN on the raw signals (the UCR archive's own baseline);
- PCA-k codes + SVM (global standardization with the train rows' statistics,
  k components fitted on the train rows; k = sigae's latent size);
- MiniRocket -> PCA-k + SVM: a k-number code made with no learning (aeon's
  ``MiniRocket``, 10,000 kernels fitted on the train rows, features
  standardized with train statistics, PCA to k components on the train rows;
  Dempster et al., KDD 2021); skipped with a note when aeon is not installed
  (``pip install -e '.[eval]'``);
- sigae codes + SVM and sigae codes + 1-NN (``SignalAutoencoder(**options)``
  trained on the train rows with a fixed seed);
- k-means NMI of PCA's and sigae's test codes (as many clusters as classes,
  best of 10 starts, seeded), a clustering score;
- training time (sigae's whole ``fit``, and MiniRocket's transform).

Multichannel files (``signals`` n x L x C) go through the same steps (aeon's MiniRocket takes every channel).

Codes go to the SVM as the representation gives them, PCA's and sigae's alike:
an RBF kernel with ``gamma="scale"`` does not depend on one overall scale, and
standardizing each code dimension would weigh near-empty directions as much as
the main ones for both (``--standardize-codes`` does it anyway, for both).

Files hold ``signals`` (n x L, or n x L x C), ``labels`` (n) and ``split``
(n: 0 train, 1 test), as ``sample_data/ucr/*.mat`` do.

    python scripts/evaluate_features.py sample_data/ucr/{ArrowHead,OSULeaf,GunPoint,Coffee,ItalyPowerDemand}.mat
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PUBLISHED = {  # test accuracy: Euclidean 1-NN (UCR archive) and TS2Vec (Yue et al., AAAI 2022, Table 9, batch 8)
    "ArrowHead": (0.800, 0.857), "OSULeaf": (0.521, 0.851), "GunPoint": (0.913, 0.980),
    "Coffee": (1.000, 1.000), "ItalyPowerDemand": (0.955, 0.925),
}


def minirocket_codes(x, train, k: int, seed: int = 0):
    """MiniRocket -> standardize -> PCA-k codes of every row (fitted on *train*), and the seconds it took;
    ``(None, 0)`` when aeon is not installed."""
    try:
        from aeon.transformations.collection.convolution_based import MiniRocket
    except ImportError:
        return None, 0.0
    from sigae.evaluation.scoring import PCABaseline

    start = time.perf_counter()
    panel = np.transpose(x if x.ndim == 3 else x[:, :, None], (0, 2, 1))  # aeon: (n, channels, points)
    features = MiniRocket(random_state=seed).fit(panel[train]).transform(panel)
    pca = PCABaseline(k, standardize=True).fit(features[train])
    return pca.transform(features), time.perf_counter() - start


def svm_accuracy(train, y_train, test, y_test, seed: int = 0) -> float:
    """RBF SVM accuracy with the T-Loss/TS2Vec model selection."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    counts = np.unique(y_train, return_counts=True)[1]
    if len(train) < 50 or counts.min() < 5:
        clf = SVC(C=1e4, gamma="scale").fit(train, y_train)
    else:
        grid = {"C": [10.0 ** k for k in range(-4, 5)]}
        clf = GridSearchCV(SVC(gamma="scale"), grid, cv=5, n_jobs=1).fit(train, y_train)
    return float(clf.score(test, y_test))


def nn_accuracy(train, y_train, test, y_test) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    return float(KNeighborsClassifier(n_neighbors=1).fit(train, y_train).score(test, y_test))


def kmeans_nmi(codes, labels, seed: int = 0) -> float:
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    k = len(np.unique(labels))
    clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(codes)
    return float(normalized_mutual_info_score(labels, clusters))


def flat(x):
    return x.reshape(len(x), -1)


def load(file: Path):
    from sigae.data.io import load_array

    x = np.asarray(load_array(file, "signals"), dtype=np.float64)
    labels = np.asarray(load_array(file, "labels")).reshape(-1)
    split = np.asarray(load_array(file, "split")).reshape(-1)
    return x, labels, split == 0, split == 1


def evaluate(file: Path, options: dict, seed: int, standardize: bool, fit: dict | None = None,
             preset: str = "default") -> dict:
    import sigae
    from sigae.evaluation.scoring import PCABaseline

    x, y, train, test = load(file)
    k = options.get("latent_dim", sigae.AutoencoderConfig.from_preset(preset).latent_dim)
    mean, std = x[train].mean(), x[train].std()
    xs = (x - mean) / std
    pca = PCABaseline(k).fit(xs[train].reshape(int(train.sum()), -1, 1) if xs.ndim == 2 else xs[train])
    pca_codes = pca.transform(xs if xs.ndim == 3 else xs[:, :, None])

    start = time.perf_counter()
    model = sigae.SignalAutoencoder(preset=preset, **options).fit(x[train], seed=seed, verbose=0, **(fit or {}))
    seconds = time.perf_counter() - start
    codes = model.encode(x)

    def scaled(c):
        if not standardize:
            return c
        m, s = c[train].mean(axis=0), c[train].std(axis=0)
        return (c - m) / np.where(s > 0, s, 1.0)

    rocket_codes, rocket_seconds = minirocket_codes(x, train, k, seed)
    pca_codes, codes = scaled(pca_codes), scaled(codes)
    row = {"file": file.stem, "train": int(train.sum()), "test": int(test.sum()), "length": int(x.shape[1]),
           "channels": int(x.shape[2]) if x.ndim == 3 else 1, "k": k,
           "nn_raw": nn_accuracy(flat(x[train]), y[train], flat(x[test]), y[test]),
           "pca_svm": svm_accuracy(pca_codes[train], y[train], pca_codes[test], y[test]),
           "minirocket_svm": None if rocket_codes is None else svm_accuracy(
               scaled(rocket_codes)[train], y[train], scaled(rocket_codes)[test], y[test]),
           "minirocket_seconds": rocket_seconds,
           "sigae_svm": svm_accuracy(codes[train], y[train], codes[test], y[test]),
           "sigae_nn": nn_accuracy(codes[train], y[train], codes[test], y[test]),
           "pca_nmi": kmeans_nmi(pca_codes[test], y[test], seed),
           "sigae_nmi": kmeans_nmi(codes[test], y[test], seed),
           "seconds": seconds, "epochs": model.metrics_["epochs_run"],
           "sigae_val_mse": model.metrics_["autoencoder"]["val_mse"],
           "pca_val_mse": model.metrics_["pca"]["val_mse"]}
    return row


def table(rows) -> str:
    lines = ["| file | train/test x L | 1-NN raw | PCA-k + SVM | MiniRocket -> PCA-k + SVM | sigae + SVM | sigae 1-NN "
             "| NMI PCA | NMI sigae | TS2Vec (published) | sigae train time |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    for r in rows:
        ts2vec = PUBLISHED.get(r["file"], (None, None))[1]
        lines.append(f"| {r['file']} | {r['train']}/{r['test']} x {r['length']}"
                     f"{'' if r['channels'] == 1 else ' x ' + str(r['channels'])} | {r['nn_raw']:.3f} "
                     f"| {r['pca_svm']:.3f} | {fmt(r['minirocket_svm'])} | {r['sigae_svm']:.3f} | {r['sigae_nn']:.3f} "
                     f"| {r['pca_nmi']:.3f} "
                     f"| {r['sigae_nmi']:.3f} | {'–' if ts2vec is None else f'{ts2vec:.3f}'} | {r['seconds']:.0f} s |")
    if rows:
        mean = {key: float(np.mean([r[key] for r in rows])) for key in
                ("nn_raw", "pca_svm", "sigae_svm", "sigae_nn", "pca_nmi", "sigae_nmi")}
        rocket = [r["minirocket_svm"] for r in rows]
        mean_rocket = None if None in rocket else float(np.mean(rocket))
        lines.append(f"| mean | | {mean['nn_raw']:.3f} | {mean['pca_svm']:.3f} | {fmt(mean_rocket)} | {mean['sigae_svm']:.3f} "
                     f"| {mean['sigae_nn']:.3f} | {mean['pca_nmi']:.3f} | {mean['sigae_nmi']:.3f} | | |")
        wins = sum(r["sigae_svm"] >= r["pca_svm"] for r in rows)
        lines.append(f"\nsigae + SVM >= PCA-k + SVM on {wins} of {len(rows)} files; mean sigae + SVM "
                     f"{mean['sigae_svm']:.3f} vs mean Euclidean 1-NN {mean['nn_raw']:.3f}"
                     + ("" if mean_rocket is None else f", MiniRocket -> PCA-k {mean_rocket:.3f} "
                        f"(ratio {mean['sigae_svm'] / mean_rocket:.3f})"))
        if mean_rocket is None:
            lines.append("MiniRocket column skipped: aeon is not installed (pip install -e '.[eval]')")
    return "\n".join(lines)


def parse_options(pairs) -> dict:
    """``--set name=value`` pairs as AutoencoderConfig overrides (values parsed as JSON when they can be)."""
    options = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            options[name] = json.loads(value)
        except ValueError:
            options[name] = value
    return options


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="default", help="sigae's preset: default, reconstruction or seed (default: default)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an AutoencoderConfig field for sigae on top of the preset (e.g. --set latent_dim=16)")
    parser.add_argument("--fit", action="append", default=[], metavar="NAME=VALUE",
                        help="a SignalAutoencoder.fit option (e.g. --fit batch_size=16); default: fit's defaults")
    parser.add_argument("--standardize-codes", action="store_true",
                        help="standardize each code dimension (PCA's and sigae's) with train statistics")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    options = parse_options(args.set)
    rows = []
    for file in args.files:
        if not file.is_file():
            sys.exit(f"evaluate_features: {file}: no such file")
        rows.append(evaluate(file, options, args.seed, args.standardize_codes, parse_options(args.fit), args.preset))
        r = rows[-1]
        print(f"{file}: PCA {r['pca_svm']:.3f} sigae {r['sigae_svm']:.3f} in {r['seconds']:.0f} s",
              file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


import numpy as np  # noqa: E402  (after the TF log level is set)

if __name__ == "__main__":
    main()
