"""Anomaly detection on files that hold anomalies: sigae against PCA, side by side.

A user's file is not clean: 1-5% of its signals are anomalous, scattered through it, and the model is trained
on the file itself. For each synthetic file (families of normal signals: damped oscillations, Gaussian bumps,
two-tone sines; anomaly kinds: spike, pulse, frequency change, flat segment, noise burst), this trains sigae
with its defaults on the whole file (as ``sigae-train FILE`` does), scores every signal of the file (as
``sigae-score RUN FILE`` does) and prints, per file:

- AUROC of the reconstruction error over all signals of the file, for sigae and for PCA-k (k = 32) fitted on
  all signals, PCA-k fitted on the normal signals only (the ceiling: what a linear model reaches knowing the
  labels) and cross-fitted PCA-k (each signal scored by a PCA fitted on the other 4 of 5 folds);
- the same ceiling *out of fold*: each normal signal scored by PCA-k fitted on the normal signals of the other
  4 of 5 folds (anomalies by PCA-k of all normal signals). The ceiling above scores its normal signals in
  sample, which flatters them on noisy or small files; this one is what a linear model that knew the labels
  reaches on signals it did not fit, the fair bar for a model scoring signals out of fold;
- the share of the file's normal signals that sigae's default threshold flags, the share of its anomalies
  flagged, and the share of *fresh* normal signals (1,000 new ones from the same family, never seen) flagged:
  the threshold's calibrated rate is what the last column should show (nominally 1%).

Then the mean of each column, the AUROC per anomaly kind (that kind's anomalies against every normal signal of
the file, averaged over the files that hold it) and sigae's mean gap to the ceiling. Each anomaly is drawn
again until it visibly changes the noiseless signal (:data:`VISIBLE`).

    python scripts/evaluate_anomalies.py              # the full grid (about 10 minutes on 2 cores)
    python scripts/evaluate_anomalies.py --quick      # four files
    python scripts/evaluate_anomalies.py --preset reconstruction
    python scripts/evaluate_anomalies.py --write-files held_out/   # also save each file as .mat (signals, labels, kinds)

Generated with a seed per file (``--seed``), so held-back files of the same kind come from another seed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

FAMILIES = ("damped", "bumps", "tones")
KINDS = ("spike", "pulse", "frequency", "flat", "burst")
FRESH = 1000


def clean_signals(rng, n: int, length: int, family: str) -> np.ndarray:
    """``(n, length)`` noiseless normal signals of one *family* (signals' std about 0.3-0.7)."""
    t = np.linspace(0, 1, length)[None, :]
    if family == "damped":
        f, phase = rng.uniform(3, 8, (n, 1)), rng.uniform(0, 2 * np.pi, (n, 1))
        return rng.uniform(0.8, 1.2, (n, 1)) * np.exp(-rng.uniform(1, 4, (n, 1)) * t) * np.sin(2 * np.pi * f * t + phase)
    if family == "bumps":
        x = np.zeros((n, length))
        for _ in range(3):
            centre, width = rng.uniform(0.1, 0.9, (n, 1)), rng.uniform(0.02, 0.08, (n, 1))
            x += rng.uniform(0.3, 1.0, (n, 1)) * np.exp(-0.5 * ((t - centre) / width) ** 2)
        return x
    if family == "tones":
        f1, f2 = rng.uniform(2, 4, (n, 1)), rng.uniform(9, 14, (n, 1))
        return (np.sin(2 * np.pi * f1 * t + rng.uniform(0, 2 * np.pi, (n, 1)))
                + 0.4 * np.sin(2 * np.pi * f2 * t + rng.uniform(0, 2 * np.pi, (n, 1))))
    raise ValueError(family)


def normal_signals(rng, n: int, length: int, noise: float, family: str) -> np.ndarray:
    """``(n, length)`` normal signals of one *family*, with white noise of std *noise*."""
    return clean_signals(rng, n, length, family) + noise * rng.standard_normal((n, length))


VISIBLE = 0.5
"""An anomaly must change the noiseless signal by at least this share of its std (RMS over the points it
changes): a flat segment where the signal is flat anyway, or a frequency change after the last bump, is not
an anomaly anyone could see, and no reconstruction (not even the ceiling) can rank it."""


def make_anomalous(rng, x: np.ndarray, clean: np.ndarray, kind: str) -> np.ndarray:
    """One anomaly of *kind* put into a copy of the signal *x* ``(L,)`` whose noiseless form is *clean*,
    drawn again (up to 100 times) until it changes *clean* visibly (:data:`VISIBLE`)."""
    for _ in range(100):
        changed, changed_clean = apply_anomaly(rng, np.stack([x, clean]), kind)
        moved = changed_clean != clean
        if moved.any() and np.sqrt(np.mean((changed_clean - clean)[moved] ** 2)) >= VISIBLE * clean.std():
            break
    return changed


def apply_anomaly(rng, pair: np.ndarray, kind: str) -> np.ndarray:
    """The same anomaly of *kind*, drawn once, put into copies of both rows of *pair* ``(2, L)``."""
    pair, length = pair.copy(), pair.shape[1]
    spread = max(float(pair[1].std()), 0.1)
    span = int(rng.integers(length // 20, length // 8))
    at = int(rng.integers(0, length - span))
    if kind == "spike":
        for p in rng.choice(length, int(rng.integers(1, 4)), replace=False):
            pair[:, p] += rng.choice([-1, 1]) * rng.uniform(4, 7) * spread
    elif kind == "pulse":
        pair[:, at:at + span] += rng.choice([-1, 1]) * rng.uniform(0.8, 1.5) * spread
    elif kind == "frequency":  # from a point on, the signal runs 1.6-2.2 times as fast
        start = int(rng.integers(length // 4, length // 2))
        positions = start + rng.uniform(1.6, 2.2) * np.arange(length - start)
        for row in pair:
            row[start:] = np.interp(positions % length, np.arange(length), row.copy())
    elif kind == "flat":  # a sensor stuck at its value
        span = int(rng.integers(length // 8, length // 4))
        at = int(rng.integers(0, length - span))
        pair[:, at:at + span] = pair[:, at:at + 1]
    elif kind == "burst":
        pair[:, at:at + span] += rng.uniform(0.4, 0.8) * spread * rng.standard_normal(span)
    else:
        raise ValueError(kind)
    return pair


def make_file(seed: int, n: int, length: int, noise: float, share: float, family: str, kinds=KINDS):
    """``(signals (n, length), labels (n,) 0 normal / 1 anomalous, kinds (n,) of the anomalies ('' for
    normal), fresh normal signals (FRESH, length))``."""
    rng = np.random.default_rng(seed)
    clean = clean_signals(rng, n, length, family)
    x = clean + noise * rng.standard_normal((n, length))
    labels = np.zeros(n, dtype=np.int64)
    kind_of = np.full(n, "", dtype=object)
    for row in rng.choice(n, max(1, int(round(share * n))), replace=False):
        kind_of[row] = kinds[int(rng.integers(len(kinds)))]
        x[row] = make_anomalous(rng, x[row], clean[row], kind_of[row])
        labels[row] = 1
    return x, labels, kind_of, normal_signals(rng, FRESH, length, noise, family)


def grid(quick: bool) -> list[dict]:
    """The files: sizes 100-5,000, lengths 128-501, noise 0.02-0.15, 1-5% anomalies, each family."""
    files = [dict(n=300, length=501, noise=0.05, share=0.02, family="damped"),
             dict(n=100, length=256, noise=0.02, share=0.05, family="bumps"),
             dict(n=1000, length=501, noise=0.1, share=0.03, family="tones"),
             dict(n=2000, length=128, noise=0.05, share=0.01, family="damped")]
    if not quick:
        files += [dict(n=300, length=501, noise=0.15, share=0.05, family="damped"),
                  dict(n=1000, length=256, noise=0.05, share=0.05, family="bumps"),
                  dict(n=5000, length=200, noise=0.05, share=0.02, family="bumps"),
                  dict(n=150, length=300, noise=0.05, share=0.03, family="tones"),
                  dict(n=5000, length=128, noise=0.1, share=0.05, family="tones")]
    return files


def pca_scores(x_fit: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Reconstruction MSE of *x* under PCA-k fitted on *x_fit* (both standardized as sigae does: global)."""
    from sigae.evaluation.scoring import PCABaseline

    pca = PCABaseline(k).fit(x_fit[..., None])
    return ((pca.reconstruct(x[..., None]) - x[..., None]) ** 2).mean(axis=(1, 2))


def cross_fitted_pca(x: np.ndarray, k: int, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each signal scored by PCA-k fitted on the other folds."""
    fold = np.random.default_rng(seed).permutation(len(x)) % folds
    scores = np.empty(len(x))
    for f in range(folds):
        scores[fold == f] = pca_scores(x[fold != f], x[fold == f], k)
    return scores


def normal_out_of_fold(x: np.ndarray, labels: np.ndarray, k: int, folds: int = 5, seed: int = 0) -> np.ndarray:
    """PCA-k of the normal signals only, each normal signal scored by the PCA of the other folds' normal
    signals, each anomaly by the PCA of all of them."""
    scores = pca_scores(x[labels == 0], x, k)
    normal = np.flatnonzero(labels == 0)
    fold = np.random.default_rng(seed).permutation(len(normal)) % folds
    for f in range(folds):
        scores[normal[fold == f]] = pca_scores(x[normal[fold != f]], x[normal[fold == f]], k)
    return scores


def evaluate(spec: dict, seed: int, preset: str | None, k: int, write: Path | None, options: dict) -> dict:
    import sigae
    from sigae.evaluation.scoring import auroc

    x, labels, kind_of, fresh = make_file(seed, **spec)
    if write is not None:
        import scipy.io

        write.mkdir(parents=True, exist_ok=True)
        name = f"{spec['family']}_{spec['n']}x{spec['length']}_seed{seed}.mat"
        scipy.io.savemat(write / name, {"signals": x, "labels": labels, "kinds": kind_of.astype(str), "fresh": fresh})
    mean, std = x.mean(), x.std()
    xs = (x - mean) / std
    ceiling = pca_scores(xs[labels == 0], xs, k)
    row = {**spec, "seed": seed,
           "pca_all": auroc(pca_scores(xs, xs, k), labels),
           "ceiling": auroc(ceiling, labels),
           "ceiling_oof": auroc(normal_out_of_fold(xs, labels, k, seed=seed), labels),
           "pca_cross": auroc(cross_fitted_pca(xs, k, seed=seed), labels)}
    started = time.perf_counter()
    model = sigae.SignalAutoencoder(**({"preset": preset} if preset else {}), **options)
    model.fit(x, seed=seed, verbose=0, log=lambda *a, **kw: None)
    row["train_s"] = time.perf_counter() - started
    result = model.score(x)
    row["sigae"] = auroc(result.scores, labels)
    row["normal_flagged"] = float(result.is_anomaly[labels == 0].mean())
    row["anomalies_flagged"] = float(result.is_anomaly[labels != 0].mean())
    row["fresh_flagged"] = float(model.score(fresh).is_anomaly.mean())
    row["kinds"] = {kind: (auroc(result.scores[chosen], labels[chosen]), auroc(ceiling[chosen], labels[chosen]))
                    for kind in KINDS if (chosen := (labels == 0) | (kind_of == kind)).sum() > (labels == 0).sum()}
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four files instead of nine")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first file (each next file: +1)")
    parser.add_argument("--preset", default=None, help="sigae preset to train (default: sigae's default)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a configuration field for sigae (e.g. --set latent_dim=16), as JSON values")
    parser.add_argument("--components", type=int, default=32, help="k of the PCA baselines (default 32)")
    parser.add_argument("--write-files", type=Path, default=None, help="also save each generated file here")
    args = parser.parse_args(argv)
    options = {}
    for item in args.set:
        name, _, value = item.partition("=")
        try:
            options[name] = json.loads(value)
        except ValueError:
            options[name] = value
    rows = []
    print("| file | anomalies | sigae | PCA all | PCA cross-fitted | PCA normal only (ceiling) "
          "| PCA normal only, out of fold | normal flagged | anomalies flagged | fresh normal flagged | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, spec in enumerate(grid(args.quick)):
        row = evaluate(spec, args.seed + i, args.preset, args.components, args.write_files, options)
        rows.append(row)
        print(f"| {row['family']} {row['n']}x{row['length']} noise {row['noise']} | {row['share']:.0%} "
              f"| {row['sigae']:.3f} | {row['pca_all']:.3f} | {row['pca_cross']:.3f} | {row['ceiling']:.3f} "
              f"| {row['ceiling_oof']:.3f} | {row['normal_flagged']:.1%} | {row['anomalies_flagged']:.0%} "
              f"| {row['fresh_flagged']:.1%} | {row['train_s']:.0f} |", flush=True)
    mean = {key: float(np.mean([r[key] for r in rows])) for key in
            ("sigae", "pca_all", "pca_cross", "ceiling", "ceiling_oof", "normal_flagged", "anomalies_flagged",
             "fresh_flagged")}
    print(f"| **mean** | | **{mean['sigae']:.3f}** | {mean['pca_all']:.3f} | {mean['pca_cross']:.3f} "
          f"| {mean['ceiling']:.3f} | {mean['ceiling_oof']:.3f} | {mean['normal_flagged']:.1%} "
          f"| {mean['anomalies_flagged']:.0%} | {mean['fresh_flagged']:.1%} | |")
    print("\n| anomaly kind | files | sigae (mean AUROC) | PCA normal only |\n|---|---|---|---|")
    for kind in KINDS:
        pairs = [r["kinds"][kind] for r in rows if kind in r["kinds"]]
        if pairs:
            print(f"| {kind} | {len(pairs)} | {np.mean([a for a, _ in pairs]):.3f} "
                  f"| {np.mean([c for _, c in pairs]):.3f} |")
    print(f"\nsigae's mean gap to the ceiling: {mean['ceiling'] - mean['sigae']:+.3f} AUROC "
          f"(worst file {min(r['sigae'] for r in rows):.3f}); to the ceiling out of fold: "
          f"{mean['ceiling_oof'] - mean['sigae']:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
