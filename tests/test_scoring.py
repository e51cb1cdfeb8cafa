"""Scoring helpers checked against direct computations."""

import itertools

import numpy as np
import pytest

from sigae.evaluation.scoring import PCABaseline, auroc, average_precision, calibrate_threshold, resolve_threshold


def test_pca_baseline_matches_direct_svd():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(30, 12)), rng.normal(size=(7, 12))
    pca = PCABaseline(3).fit(train)
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean)
    v = vt[:3].T
    expected = (test - mean) @ v @ v.T + mean
    np.testing.assert_allclose(pca.reconstruct(test), expected, atol=1e-12)


def test_auroc_equals_pair_counting():
    rng = np.random.default_rng(1)
    scores = np.round(rng.normal(size=40), 1)  # rounding makes ties
    labels = rng.random(40) < 0.3
    pairs = list(itertools.product(scores[labels], scores[~labels]))
    expected = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert auroc(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_average_precision_small_case():
    # ranks: 0.9 (anomaly), 0.8 (normal), 0.7 (anomaly) -> precision 1/1 and 2/3
    assert average_precision([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)


def test_threshold_calibration_and_overrides():
    train = np.arange(1, 101, dtype=float)
    cal = calibrate_threshold(train, 99)
    assert cal["p"] == pytest.approx(np.percentile(train, 99)) and cal["max"] == 100
    assert resolve_threshold(None, cal) == cal["p"]
    assert resolve_threshold("max", cal) == 100
    assert resolve_threshold("p50", cal, train) == pytest.approx(50.5)
    assert resolve_threshold("0.25", cal) == 0.25
