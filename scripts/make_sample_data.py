"""Generate sample_data/signals.mat reproducibly.

2000 damped oscillations of 501 points (varied amplitude, frequency, phase,
decay and noise), about 2% of them anomalous in one of three ways: spikes,
clipping, or a frequency jump. Variables: ``signals`` (rows are signals,
float32), ``labels`` (0 normal, 1 anomalous), ``anomaly_kind`` (0 none,
1 spikes, 2 clipping, 3 frequency jump), ``t`` (time in seconds).

    python scripts/make_sample_data.py [--out sample_data/signals.mat] [--n 2000] [--seed 7]
    python scripts/make_sample_data.py --check   # what a perfect model could score here (writes nothing)
    python scripts/make_sample_data.py --check --projection   # also the ideal projection (about 3 minutes)

``--check`` measures, on the split ``sigae-train --seed 0`` uses, the
validation MSE of the noise-free generating signals (what a perfect model of
the normal signals would reconstruct) against PCA's, and the AUROC each gets.
With ``--projection`` also the ideal reconstruction-error detector: each signal
projected onto the family of damped oscillations (least-squares fit of
amplitude, frequency, phase and decay from 15 x 4 starting points).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.io

KINDS = {1: "spikes", 2: "clipping", 3: "frequency jump"}


def damped(t, amplitude, freq, phase, decay):
    return amplitude * np.exp(-decay * t) * np.sin(2 * np.pi * freq * t + phase)


def make_signals(n: int = 2000, length: int = 501, anomaly_fraction: float = 0.02, seed: int = 7,
                 return_normal: bool = False):
    """Signals, labels, anomaly kinds and time; with *return_normal* also the noise-free normal signal
    each one was made from (before any anomaly)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, length)
    amplitude = rng.uniform(0.5, 2.0, n)
    freq = rng.uniform(2.0, 8.0, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    decay = rng.uniform(0.5, 4.0, n)
    noise = rng.uniform(0.01, 0.04, n)
    clean = damped(t[None, :], amplitude[:, None], freq[:, None], phase[:, None], decay[:, None])
    normal = clean.copy()

    kind = np.zeros(n, dtype=np.int8)
    n_anomalies = int(round(n * anomaly_fraction))
    chosen = rng.choice(n, n_anomalies, replace=False)
    kind[chosen] = rng.integers(1, 4, n_anomalies)
    for i in chosen:
        if kind[i] == 1:  # a few sharp spikes
            where = rng.choice(length, rng.integers(2, 5), replace=False)
            clean[i, where] += rng.choice([-1, 1], where.size) * rng.uniform(1.0, 2.0, where.size) * amplitude[i]
        elif kind[i] == 2:  # sensor clipping at a fraction of the amplitude
            level = rng.uniform(0.2, 0.35) * amplitude[i]
            clean[i] = np.clip(clean[i], -level, level)
        else:  # the frequency jumps part-way through
            cut = rng.integers(length // 4, 3 * length // 4)
            jumped = damped(t, amplitude[i], freq[i] * rng.uniform(2.0, 3.0), phase[i], decay[i])
            clean[i, cut:] = jumped[cut:]
    signals = clean + noise[:, None] * rng.standard_normal((n, length))
    result = signals.astype(np.float32), (kind > 0).astype(np.uint8), kind, t
    return result + (normal,) if return_normal else result


def project(signals: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Each signal's least-squares fit by one damped oscillation (best of 15 x 4 starting points)."""
    from scipy.optimize import least_squares

    fits = np.empty_like(signals)
    for i, y in enumerate(signals):
        best = None
        for freq in np.arange(1.5, 8.6, 0.5):
            for phase in (0.0, np.pi / 2, np.pi, 3 * np.pi / 2):
                fit = least_squares(lambda p: damped(t, *p) - y, [np.abs(y).max(), freq, phase, 2.0], method="lm",
                                    max_nfev=200)
                if best is None or fit.cost < best.cost:
                    best = fit
        fits[i] = damped(t, *best.x)
    return fits


def check(n: int, length: int, seed: int, projection: bool = False, latent_dim: int = 32,
          validation_split: float = 0.2) -> None:
    """Print the validation MSE and AUROC of the perfect model of normal signals and of PCA."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sigae.evaluation.scoring import PCABaseline, auroc

    signals, labels, _, t, normal = make_signals(n, length, seed=seed, return_normal=True)
    signals = signals.astype(np.float64)
    n_val = int(round(n * validation_split))
    order = np.random.default_rng(0).permutation(n)  # the split of sigae-train --seed 0
    train, val = order[n_val:], order[:n_val]
    mean, std = signals[train].mean(), signals[train].std()  # global standardization, as sigae's default
    x, truth = (signals - mean) / std, (normal - mean) / std
    pca = PCABaseline(latent_dim).fit(x[train])
    candidates = [("noise-free normal signals", truth), (f"PCA, {latent_dim} components", pca.reconstruct(x))]
    if projection:
        candidates.append(("ideal projection", (project(signals, t) - mean) / std))
    for name, reconstruction in candidates:
        error = np.mean(np.square(x - reconstruction), axis=1)
        print(f"{name:>27}: val MSE {error[val].mean():.5f} (normal signals only "
              f"{error[val][labels[val] == 0].mean():.5f}), AUROC {auroc(error, labels):.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "sample_data" / "signals.mat"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--length", type=int, default=501)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="print what a perfect model could score; write nothing")
    parser.add_argument("--projection", action="store_true", help="with --check: also the ideal projection (slow)")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.n, args.length, args.seed, args.projection)
    signals, labels, kind, t = make_signals(args.n, args.length, seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(out, {"signals": signals, "labels": labels[:, None], "anomaly_kind": kind[:, None],
                           "t": t[None, :], "description": "damped oscillations; labels 1 = anomalous "
                           "(anomaly_kind 1 spikes, 2 clipping, 3 frequency jump); rows are signals"},
                     do_compression=True)
    print(f"wrote {out}: signals {signals.shape}, {int(labels.sum())} anomalies "
          f"({', '.join(f'{(kind == k).sum()} {v}' for k, v in KINDS.items())})")


if __name__ == "__main__":
    main()
