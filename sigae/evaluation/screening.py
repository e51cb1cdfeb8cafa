"""Screening the training signals for rare directions before training.

A principal direction carried by a handful of signals is not structure the
data shares: it is how PCA (and so the PCA-started model) spends a component
on reconstructing those few signals, which a reconstruction-error detector
should flag instead. The kurtosis of the signals' scores on a direction says
how many signals carry it: a direction carried equally by m of n signals has
kurtosis n/m, a Gaussian one 3. Directions with kurtosis above
``1 / fraction`` (carried by fewer than ``fraction`` of the signals) are
*rare*; the signals far out on a rare direction (robust z-score above
``cutoff``: distance from the median over 1.4826 times the median absolute
deviation) are left out of training, and PCA is refitted without them, for a
few rounds.

Projection directions of extreme kurtosis as the way to find outliers follow
Peña & Prieto (2001), "Multivariate outlier detection and robust covariance
matrix estimation", *Technometrics* 43(3), 286-300; the robust z-score is
Iglewicz & Hoaglin's (1993) modified z-score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from sigae.evaluation.scoring import PCABaseline

ROUNDS = 3
CUTOFF = 5.0


def screen_rare(blocks: Callable[[np.ndarray], Iterable[np.ndarray]], n: int, n_components: int,
                fraction: float, cutoff: float = CUTOFF, rounds: int = ROUNDS,
                training: np.ndarray | None = None) -> np.ndarray:
    """Which of *n* signals to keep: a boolean mask ``(n,)``.

    *blocks(mask)* yields the normalized signals ``(m, L, C)`` whose *mask* entry is true, in order.
    Only the *training* signals (a mask ``(n,)``; default all) shape the directions, their kurtosis and
    spread; the others (validation signals) are judged by the same rule without changing it.
    With ``fraction <= 0``, or too few training signals for any direction to count as rare
    (``fraction * n_training < 2``), every signal is kept.
    """
    training = np.ones(n, dtype=bool) if training is None else np.asarray(training, dtype=bool)
    keep = np.ones(n, dtype=bool)
    if fraction <= 0 or fraction * training.sum() < 2:
        return keep
    everything = np.ones(n, dtype=bool)
    for _ in range(rounds):
        pca = PCABaseline(n_components).fit_chunks(blocks(keep & training))
        scores = np.concatenate([pca.transform(block) for block in blocks(everything)])
        kept = scores[keep & training]
        with np.errstate(divide="ignore", invalid="ignore"):
            kurtosis = len(kept) * np.sum(kept ** 4, axis=0) / np.sum(kept ** 2, axis=0) ** 2
        rare = np.nan_to_num(kurtosis, nan=0.0) > 1.0 / fraction
        if not rare.any():
            break
        median = np.median(kept[:, rare], axis=0)
        spread = 1.4826 * np.median(np.abs(kept[:, rare] - median), axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            far = np.where(spread > 0, np.abs(scores[:, rare] - median) / spread, 0.0) > cutoff
        out = far.any(axis=1) & keep
        if not (out & training).any():
            break
        keep &= ~out
    return keep


FOLDS = 5
ERROR_CUTOFF = 4.0
ERROR_FLOOR = 1e-8
"""Cross-fitted errors (MSE, normalized units: spread 1) below this are exact reconstructions, whose spread is
float rounding; no signal at or below it is left out."""


def screen_cross_fitted(blocks: Callable[[np.ndarray], Iterable[np.ndarray]], n: int, n_components: int,
                        training: np.ndarray | None = None, folds: int = FOLDS, cutoff: float = ERROR_CUTOFF,
                        seed: int = 0) -> np.ndarray:
    """Which of *n* signals to keep: a boolean mask ``(n,)``, judged by cross-fitted PCA error.

    Each training signal is reconstructed by PCA-*n_components* fitted on the other *folds* - 1 folds of the
    training signals (never on itself, so a signal unlike the others cannot be reconstructed by a component
    spent on it alone); validation signals by PCA fitted on all training signals. A signal whose log error
    lies more than *cutoff* robust standard deviations (1.4826 MAD) above the median of the training signals'
    log errors is left out. Unlike :func:`screen_rare`, the share left out is not bounded by a fraction.
    """
    training = np.ones(n, dtype=bool) if training is None else np.asarray(training, dtype=bool)
    keep = np.ones(n, dtype=bool)
    m = int(training.sum())
    k = min(n_components, (m * (folds - 1)) // folds - 1)
    if m < 2 * folds or k < 1:
        return keep
    fold = np.full(n, -1)
    fold[training] = np.random.default_rng(seed).permutation(m) % folds
    errors = np.empty(n)
    for f in range(-1, folds):
        if not (fold == f).any():
            continue
        fitted = training & (fold != f)
        pca = PCABaseline(k).fit_chunks(blocks(fitted))
        errors[fold == f] = np.concatenate([np.mean(np.square(pca.reconstruct(b) - b), axis=tuple(range(1, b.ndim)))
                                            for b in blocks(fold == f)])
    logs = np.log(np.maximum(errors, np.finfo(float).tiny))
    median = np.median(logs[training])
    spread = 1.4826 * np.median(np.abs(logs[training] - median))
    if spread > 0:
        keep &= ((logs - median) / spread <= cutoff) | (errors <= ERROR_FLOOR)
    return keep
