"""Scoring helpers checked against direct computations."""

import itertools

import numpy as np
import pytest

from sigae.evaluation.scoring import (PCABaseline, auroc, average_precision, calibrate_threshold, conformal_quantile,
                                     resolve_threshold)


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


def test_conformal_quantile_is_the_smallest_order_statistic_with_the_bound():
    scores = np.arange(50.0, 0.0, -1.0)  # 50 scores, any order
    # ranks ceil(51 q): 46 at q = 0.9, 26 at 0.5, 1 at 0; past 50 (q = 0.99) the largest
    assert conformal_quantile(scores, 90) == 46 and conformal_quantile(scores, 50) == 26
    assert conformal_quantile(scores, 0) == 1 and conformal_quantile(scores, 99) == 50
    np.testing.assert_array_equal(conformal_quantile(scores, [90, 99]), [46, 50])
    # (m + 1) q a whole number: 101 * 0.5 is not, 99 + 1 = 100 times 0.5 is 50 exactly
    assert conformal_quantile(np.arange(1.0, 100.0), 50) == 50
    # The bound: a new score from the same distribution exceeds the q = 0.9 quantile of 50 scores with
    # probability 5/51 = 0.098 <= 0.1, and the next order statistic down (rank 45) with 6/51 = 0.118.
    # 20,000 sets: the Monte Carlo standard error is 0.002, so 0.105 / 0.11 separate the two.
    rng = np.random.default_rng(0)
    sets, new = rng.standard_normal((20000, 50)), rng.standard_normal(20000)
    above = np.mean([n > conformal_quantile(row, 90) for row, n in zip(sets, new)])
    below = np.mean(new > np.sort(sets, axis=1)[:, 44])
    assert above <= 0.105 and below >= 0.11, (above, below)


def test_threshold_calibration_and_overrides():
    train = np.arange(1, 101, dtype=float)
    cal = calibrate_threshold(train, 99)
    assert cal["p"] == pytest.approx(np.percentile(train, 99)) and cal["max"] == 100
    assert resolve_threshold(None, cal) == cal["p"]
    assert resolve_threshold("max", cal) == 100
    assert resolve_threshold("p50", cal, train) == pytest.approx(50.5)
    assert resolve_threshold("0.25", cal) == 0.25
