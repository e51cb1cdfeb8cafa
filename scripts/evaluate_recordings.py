"""Anomaly detection on labelled recordings, per time point, with the TSB-UAD protocol.

For every recording: train on the normal part ``series[:train_end]`` (sliding
windows, the model's own honest split: the last 20% of that part validates),
score every window of the whole series at hop 1, turn the per-window
reconstruction errors into per-point scores (mean over the covering windows),
and compute per-point AUC-ROC and AUC-PR (average precision) against the
labels. PCA with k = latent_dim components, fitted on the same normalized
training windows and scored with the same per-point rule, is the baseline.
Protocol: Paparrizos et al., "TSB-UAD", VLDB 2022.

Files: .mat/.npz/.h5 with the series (``--var``, default ``series``), per-point
0/1 labels (``--labels``, default ``is_anomaly``) and the end of the normal part
(``--train-end`` variable or number, default variable ``train_end``).
``--synthetic`` adds recordings built here (sine + noise with injected spikes,
level shifts, frequency changes, noise bursts and flat segments).

    python scripts/evaluate_recordings.py sample_data/ucr/InternalBleeding16_series.mat --window 128
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


MAX_TRAIN_WINDOWS = 20000


def synthetic_recordings(seed: int = 0):
    """(name, series, labels, train_end) for five recordings of 6,000 points with injected anomalies."""
    rng = np.random.default_rng(seed)
    out = []
    kinds = ["spike", "level", "frequency", "noise", "flat"]
    for k, kind in enumerate(kinds):
        n, period = 6000, int(rng.integers(30, 90))
        t = np.arange(n)
        x = np.sin(2 * np.pi * t / period) + 0.4 * np.sin(4 * np.pi * t / period + rng.uniform(0, 6))
        x += 0.05 * rng.standard_normal(n)
        labels = np.zeros(n, dtype=np.uint8)
        train_end = 2000
        for a in rng.choice(np.arange(train_end + 200, n - 200, 400), size=3, replace=False):
            b = a + int(rng.integers(5, 40)) if kind != "spike" else a + 1
            if kind == "spike":
                x[a] += rng.choice([-1, 1]) * 3.0
            elif kind == "level":
                x[a:b] += 1.0
            elif kind == "frequency":
                x[a:b] = np.sin(2 * np.pi * t[a:b] / (period / 3)) + 0.4 * np.sin(4 * np.pi * t[a:b] / period)
            elif kind == "noise":
                x[a:b] += 0.6 * rng.standard_normal(b - a)
            else:
                x[a:b] = x[a]
            labels[a:b] = 1
        out.append((f"synthetic-{kind} (period {period})", x, labels, train_end))
    return out


def read_file(path, var, labels_var, train_end):
    from sigae.data.io import list_variables, load_array

    x = load_array(path, var).reshape(-1)
    y = load_array(path, labels_var).reshape(-1)
    names = {v.name for v in list_variables(path)}
    end = int(load_array(path, train_end).item()) if train_end in names else int(train_end)
    return Path(path).name, x, y, end


def evaluate(name, x, y, train_end, window, args):
    from sigae import SignalAutoencoder
    from sigae.evaluation.scoring import PCABaseline, auroc, average_precision
    from sigae.data.periods import auto_window
    from sigae.data.windows import point_scores, sliding_windows

    if window == "auto":
        window, _ = auto_window([x[:train_end]])
    hop = max(1, -(-(train_end - window + 1) // MAX_TRAIN_WINDOWS)) if args.hop == "auto" else int(args.hop)
    start = time.perf_counter()
    model = SignalAutoencoder(preset=args.preset, latent_dim=args.latent_dim)
    model.fit_recordings(x[:train_end], window, hop, epochs=args.epochs, batch_size=args.batch_size,
                         seed=args.seed, verbose=0, log=lambda *a: None, validation_split=args.validation_split)
    result = model.score_recording(x, hop=1)
    seconds = time.perf_counter() - start
    # PCA-k on the same normalized windows the model trained on (its training segment), same per-point rule
    segment = model.windowing_["segments"]["train"][0]
    train_windows, _ = sliding_windows(x[segment[1]:segment[2]], window, hop)
    pca = PCABaseline(min(args.latent_dim, len(train_windows))).fit(model.normalizer.transform(train_windows))
    windows, starts = sliding_windows(x, window, 1)
    xn = model.normalizer.transform(windows)
    pca_points = point_scores(np.square(pca.reconstruct(xn) - xn).mean(axis=2), starts, len(x))
    return {"name": name, "n": len(x), "train_end": train_end, "window": window, "hop": hop,
            "sigae_auroc": auroc(result.point_score, y), "sigae_aupr": average_precision(result.point_score, y),
            "pca_auroc": auroc(pca_points, y), "pca_aupr": average_precision(pca_points, y),
            "val_ratio": model.metrics_.get("val_mse_ratio_to_pca"), "seconds": seconds,
            "events": len(result.events)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", help="labelled recordings")
    p.add_argument("--window", default="128", help="points per window, or auto (TSB-UAD's period; default 128)")
    p.add_argument("--hop", default="auto",
                   help="training hop (scoring always uses hop 1); default auto: 1, or the smallest hop that keeps "
                        f"the normal part to {MAX_TRAIN_WINDOWS:,} training windows")
    p.add_argument("--var", default="series")
    p.add_argument("--labels", default="is_anomaly")
    p.add_argument("--train-end", default="train_end", help="variable or number: the normal part is [:train_end]")
    p.add_argument("--preset", default="reconstruction",
                   help="sigae's preset: reconstruction (what sigae-train --window trains), default or seed "
                        "(default: reconstruction)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--latent-dim", type=int, default=32, help="sigae's code size and PCA's k (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--validation-split", type=float, default=0.2,
                   help="last fraction of the normal part held out for sigae's validation (default 0.2; PCA is "
                        "fitted on the same training windows, so 0 gives both all of the normal part)")
    p.add_argument("--synthetic", action="store_true", help="also evaluate five synthetic labelled recordings")
    args = p.parse_args(argv)
    window = args.window if args.window == "auto" else int(args.window)
    items = [read_file(f, args.var, args.labels, args.train_end) for f in args.files]
    if args.synthetic:
        items += synthetic_recordings(args.seed)
    if not items:
        p.error("give FILES or --synthetic")
    header = (f"| recording | N | train | W | hop | sigae AUC-ROC | sigae AUC-PR | PCA-{args.latent_dim} AUC-ROC | "
              f"PCA-{args.latent_dim} AUC-PR | val MSE / PCA | events | seconds |")
    print(header)
    print("|" + "---|" * 12)
    for item in items:
        r = evaluate(*item, window, args)
        ratio = f"{r['val_ratio']:.3g}" if r["val_ratio"] is not None else "-"
        print(f"| {r['name']} | {r['n']} | {r['train_end']} | {r['window']} | {r['hop']} | {r['sigae_auroc']:.4f} | "
              f"{r['sigae_aupr']:.4f} | {r['pca_auroc']:.4f} | {r['pca_aupr']:.4f} | {ratio} | {r['events']} | "
              f"{r['seconds']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
