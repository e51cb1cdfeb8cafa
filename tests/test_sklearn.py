"""sigae.sklearn.SignalAutoencoderEstimator: same numbers as SignalAutoencoder, Pipeline, GridSearchCV, clone,
outlier-detector convention, 3-D input, and scikit-learn's own estimator checks."""

import dataclasses
import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from sigae import AutoencoderConfig, ConfigError, SignalAutoencoder
from sigae.sklearn import DATA_FIELDS, SignalAutoencoderEstimator

from conftest import TINY, make_signals

FIT = dict(epochs=2, batch_size=16, validation_split=0.2)


def _estimator(**extra):
    return SignalAutoencoderEstimator(**{**TINY, "decoder": "mirror", "random_state": 0, **FIT, **extra})


def _two_classes(n=48, length=64, seed=0):
    """Damped sinusoids (class 0) and square-ish waves (class 1), in original units."""
    rng = np.random.default_rng(seed)
    x = make_signals(n=n, length=length, seed=seed)
    y = np.arange(n) % 2
    t = np.linspace(0, 1, length)
    x[y == 1] = 3.0 + np.sign(np.sin(2 * np.pi * rng.uniform(1, 3, ((y == 1).sum(), 1)) * t))
    return x, y


def test_parameters_are_the_config_fields_and_fit_options():
    names = set(SignalAutoencoderEstimator().get_params())
    config_fields = {f.name for f in dataclasses.fields(AutoencoderConfig)} - DATA_FIELDS
    assert config_fields <= names
    assert names - config_fields == {"epochs", "batch_size", "validation_split", "patience",
                                     "threshold_percentile", "random_state", "verbose"}
    defaults = SignalAutoencoderEstimator().get_params()
    for f in dataclasses.fields(AutoencoderConfig):
        if f.name not in DATA_FIELDS:
            assert defaults[f.name] == getattr(AutoencoderConfig(), f.name)
    with pytest.raises(TypeError, match="unexpected parameter"):
        SignalAutoencoderEstimator(input_length=64)


def test_same_codes_as_signal_autoencoder_with_the_same_seed():
    x = make_signals(n=40)
    est = _estimator().fit(x)
    model = SignalAutoencoder(input_length=64, decoder="mirror", **TINY).fit(x, seed=0, verbose=0, **FIT)
    # Same config, same seed, deterministic ops on a CPU: bitwise equal.
    assert np.array_equal(est.transform(x), model.encode(x))
    assert np.array_equal(est.inverse_transform(est.transform(x)), model.reconstruct(x))
    assert est.model_.history_.loss == model.history_.loss


def test_clone_refits_to_the_same_numbers():
    x = make_signals(n=40)
    est = _estimator().fit(x)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and not hasattr(copy, "model_")
    assert np.array_equal(copy.fit(x).transform(x), est.transform(x))


def test_outlier_detector_agrees_with_score():
    x = make_signals(n=40)
    x[:3] += np.random.default_rng(5).normal(0, 2, (3, 64))  # three noisy signals
    # p90: the conformal p99 of 40 unseen scores is their largest, which one of the noisy signals sets
    est = _estimator(threshold_percentile=90).fit(x)
    result = est.model_.score(x)
    assert np.array_equal(est.score_samples(x), -result.scores)
    assert np.array_equal(est.predict(x), np.where(result.is_anomaly, -1, 1))
    assert est.threshold_ == result.threshold
    decision = est.decision_function(x)
    assert np.array_equal(decision < 0, result.is_anomaly)
    assert est.score(x) == pytest.approx(-result.scores.mean(), rel=1e-12)
    # rank ceil(41 * 0.9) = 37 of 40: the 4th largest score; above it, the three noisy signals (measured)
    assert np.array_equal(np.flatnonzero(est.predict(x) == -1), [0, 1, 2])


def test_pipeline_and_grid_search_over_latent_dim():
    x, y = _two_classes()
    pipe = Pipeline([("ae", _estimator()), ("clf", SVC())])
    search = GridSearchCV(pipe, {"ae__latent_dim": [2, 4]}, cv=2).fit(x, y)
    assert search.best_params_["ae__latent_dim"] in (2, 4)
    assert len(search.cv_results_["mean_test_score"]) == 2
    # The refitted pipeline's autoencoder is SignalAutoencoder with the winning settings, on all of x.
    latent = search.best_params_["ae__latent_dim"]
    model = SignalAutoencoder(input_length=64, decoder="mirror", **{**TINY, "latent_dim": latent}).fit(
        x, seed=0, verbose=0, **FIT)
    assert np.array_equal(search.best_estimator_.named_steps["ae"].transform(x), model.encode(x))
    assert search.best_estimator_.predict(x).shape == (len(x),)


def test_grid_search_on_the_estimator_alone_uses_reconstruction_score():
    x = make_signals(n=40)
    search = GridSearchCV(_estimator(), {"latent_dim": [2, 4]}, cv=2).fit(x)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert np.all(search.cv_results_["mean_test_score"] < 0)  # minus an MSE


def test_multichannel_input():
    x = make_signals(n=40)
    x3 = np.stack([x, -2 * x], axis=2)
    est = _estimator().fit(x3)
    model = SignalAutoencoder(input_length=64, decoder="mirror", **TINY).fit(x3, seed=0, verbose=0, **FIT)
    assert np.array_equal(est.transform(x3), model.encode(x3))
    assert est.inverse_transform(est.transform(x3)).shape == x3.shape
    assert est.n_features_in_ == 64 and est.n_channels_ == 2
    with pytest.raises(ValueError, match="1 channel"):
        est.transform(x)


def test_inverse_transform_refuses_per_signal_normalization():
    x = make_signals(n=40)
    est = _estimator(normalize="per-signal").fit(x)
    with pytest.raises(ConfigError, match="per-signal"):
        est.inverse_transform(est.transform(x))


def test_pickle_round_trip_gives_the_same_numbers():
    x = make_signals(n=40)
    est = _estimator().fit(x)
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(again.transform(x), est.transform(x))
    assert np.array_equal(again.predict(x), est.predict(x))


def test_without_validation_split_the_fitted_model_saves_and_loads(tmp_path):
    import sigae

    x = make_signals(n=40)
    est = _estimator(validation_split=0.0).fit(x)
    est.model_.save(tmp_path / "run", figures=False)
    # history.csv has an empty val_loss column; it used to hold '' (a Python repr), which load could not read.
    assert (tmp_path / "run" / "history.csv").read_text().splitlines()[1].split(",")[2] == ""
    assert np.array_equal(sigae.load(tmp_path / "run").encode(x), est.transform(x))


def test_core_does_not_import_sklearn():
    code = ("import sys, sigae, sigae.estimator.autoencoder, sigae.cli, sigae.training.callbacks\n"
            "assert 'sklearn' not in sys.modules, 'sklearn imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# scikit-learn's own checks, on an autoencoder small enough for their 2-D test data (a few features each):
# the convolutional encoder (the kernels encoder needs 9 points), one Conv1D stage with kernel 1 and no pooling
# accepts a single point, validation_split 0 accepts 2 samples.
CHECKED = SignalAutoencoderEstimator(encoder="conv", filters=(4,), kernel_sizes=(1,), pool_sizes=(1,), latent_dim=2,
                                     decoder="mirror", epochs=1, batch_size=32, validation_split=0.0,
                                     random_state=0)


@parametrize_with_checks([CHECKED])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
