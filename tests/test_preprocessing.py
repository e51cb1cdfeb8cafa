"""Normalizers: round trips, train-only fitting, guarded zero spread, JSON state."""

import json
import warnings

import numpy as np
import pytest

from sigae import NotFittedError
from sigae.data.preprocessing import (GlobalStandardizer, MinMaxScaler, PerSignalStandardizer, PerTimestepStandardizer,
                                 SigaeWarning, normalizer_from_dict)

ALL = [GlobalStandardizer, PerSignalStandardizer, PerTimestepStandardizer, MinMaxScaler]


@pytest.mark.parametrize("cls", ALL)
def test_round_trip_and_json(cls, signals):
    norm = cls().fit(signals)
    stats = norm.signal_stats(signals)
    back = norm.inverse_transform(norm.transform(signals), stats)
    np.testing.assert_allclose(back, signals, rtol=0, atol=1e-12)  # float64 arithmetic, exact up to rounding
    restored = normalizer_from_dict(json.loads(json.dumps(norm.to_dict())))
    assert np.array_equal(restored.transform(signals), norm.transform(signals))


@pytest.mark.parametrize("cls", ALL)
def test_unfitted_use_is_a_clear_error(cls, signals):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        cls().transform(signals)


def test_global_statistics_come_from_the_training_split_only(signals):
    train, test = signals[:40], signals[40:] * 10
    norm = GlobalStandardizer().fit(train)
    assert norm.mean_[0] == pytest.approx(train.mean(), abs=1e-12)
    assert norm.scale_[0] == pytest.approx(train.std(), abs=1e-12)
    assert norm.transform(train).std() == pytest.approx(1.0, abs=1e-12)
    assert norm.transform(test).std() > 5  # test data are not used to fit


def test_per_signal_gives_zero_mean_unit_std_each(signals):
    z = PerSignalStandardizer().fit(signals).transform(signals)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1), 1, atol=1e-12)


def test_minmax_maps_training_range_to_unit_interval(signals):
    z = MinMaxScaler().fit(signals).transform(signals)
    assert z.min() == pytest.approx(0.0, abs=1e-12) and z.max() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("cls", ALL)
def test_zero_spread_is_guarded_and_reported(cls):
    constant = np.full((5, 20), 4.0)
    with pytest.warns(SigaeWarning, match="zero spread"):
        norm = cls().fit(constant)
        z = norm.transform(constant)
    assert np.isfinite(z).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SigaeWarning)
        np.testing.assert_allclose(norm.inverse_transform(z, norm.signal_stats(constant)), constant)
