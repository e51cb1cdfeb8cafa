"""Screening the training signals for rare directions (sigae.evaluation.screening) and its use in fit."""

import json

import numpy as np
import pytest

from sigae import AutoencoderConfig, ConfigError, SignalAutoencoder
from sigae import load as sigae_load
from sigae.evaluation.screening import screen_rare
from sigae.evaluation.scoring import PCABaseline, auroc

from conftest import TINY, make_signals


def spiked(n=600, length=64, n_anomalies=6, seed=0):
    """Damped sinusoids (normalized) with a few signals carrying a spike each at its own place: every spike is
    a direction of its own, which PCA would spend a component on."""
    x = make_signals(n=n, length=length, seed=seed)
    x = (x - x.mean()) / x.std()
    rng = np.random.default_rng(seed + 1)
    anomalies = rng.choice(n, n_anomalies, replace=False)
    for i, where in zip(anomalies, rng.choice(length, n_anomalies, replace=False)):
        x[i, where] += 8.0
    return x, np.sort(anomalies)


def _blocks(x):
    return lambda mask: [x[mask]]


def test_spike_anomalies_are_screened_and_no_longer_reconstructed():
    x, anomalies = spiked()
    keep = screen_rare(_blocks(x), len(x), 16, 0.01)
    assert set(anomalies) <= set(np.flatnonzero(~keep))
    # Measured 20 of 600 (the 6 spiked signals and 14 whose values happen to stand out on a spike's direction):
    # a few normal signals go with the anomalies, not a broad trim.
    assert (~keep).sum() <= 0.05 * len(x)
    labels = np.isin(np.arange(len(x)), anomalies)
    everything, kept = PCABaseline(16).fit(x), PCABaseline(16).fit(x[keep])
    error = {name: np.mean((pca.reconstruct(x) - x) ** 2, axis=1) for name, pca in
             (("all", everything), ("kept", kept))}
    # PCA-16 of every signal spends 6 components on the 6 spikes; fitted to the kept ones it does not.
    assert auroc(error["kept"], labels) == 1.0
    assert auroc(error["all"], labels) < 0.9


def test_signals_without_rare_directions_are_all_kept():
    x = make_signals(n=600, length=64, seed=3)
    x = (x - x.mean()) / x.std()
    assert screen_rare(_blocks(x), len(x), 16, 0.01).all()


def test_nothing_is_screened_when_switched_off_or_too_few_signals():
    x, _ = spiked()
    assert screen_rare(_blocks(x), len(x), 16, 0.0).all()
    # 1% of 150 signals is 1.5: no direction can be carried by "fewer than 1%" of them and count as shared.
    assert screen_rare(_blocks(x[:150]), 150, 16, 0.01).all()


def test_validation_signals_are_judged_without_shaping_the_rule():
    x, anomalies = spiked()
    training = np.ones(len(x), dtype=bool)
    training[anomalies[:2]] = False  # two spiked signals play validation signals
    training[::7] = False
    keep = screen_rare(_blocks(x), len(x), 16, 0.01, training=training)
    alone = screen_rare(_blocks(x[training]), int(training.sum()), 16, 0.01)
    np.testing.assert_array_equal(keep[training], alone)  # the validation rows change nothing for training rows
    assert not keep[anomalies[2:]].any()


def test_fit_leaves_screened_signals_out_and_says_so(tmp_path):
    x, anomalies = spiked(n=400, length=64, n_anomalies=5, seed=4)
    model = SignalAutoencoder(AutoencoderConfig(**{**TINY, "latent_dim": 16}))
    model.fit(x, epochs=2, batch_size=50, seed=0, verbose=0, run_dir=tmp_path / "run")
    assert set(anomalies) <= set(model.screened_index_)
    assert model.metrics_["screening"]["n_screened"] == len(model.screened_index_)
    assert model.metrics_["n_train"] + model.metrics_["n_val"] == 400  # every row still counted in the metrics
    with np.load(tmp_path / "run" / "split.npz") as split:
        np.testing.assert_array_equal(split["screened"], model.screened_index_)
    # the threshold is still calibrated on every training signal, screened or not (about 1% of them flagged)
    assert len(model.train_scores_) == len(model.train_index_)
    np.testing.assert_allclose(model.train_scores_, model.score(x[model.train_index_]).scores, rtol=1e-5)
    labels = np.isin(np.arange(len(x)), anomalies)
    assert auroc(model.score(x).scores, labels) == 1.0  # not reconstructed: each scores above every normal one
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["screening"]["rare_fraction"] == 0.01


def test_streamed_fit_screens_the_same_rows(tmp_path):
    from sigae.data.io import open_signal_dataset

    x, _ = spiked(n=400, length=64, n_anomalies=5, seed=4)
    np.save(tmp_path / "x.npy", x)
    config = AutoencoderConfig(**{**TINY, "latent_dim": 16})
    in_memory = SignalAutoencoder(config).fit(x, epochs=1, batch_size=50, seed=0, verbose=0)
    with open_signal_dataset(tmp_path / "x.npy") as dataset:
        streamed = SignalAutoencoder(config).fit(dataset, epochs=1, batch_size=50, seed=0, verbose=0)
    np.testing.assert_array_equal(streamed.screened_index_, in_memory.screened_index_)
    assert len(in_memory.screened_index_) > 0


def test_rare_fraction_in_config_presets_and_old_files():
    assert AutoencoderConfig().rare_fraction == 0.01
    assert AutoencoderConfig.from_preset("seed").rare_fraction == 0.0
    old = {k: v for k, v in AutoencoderConfig().to_dict().items() if k != "rare_fraction"}
    old["version"] = 2  # run folders written before screening existed were trained without it
    assert AutoencoderConfig.from_dict(old).rare_fraction == 0.0
    for bad in (-0.1, 0.5, "x"):
        with pytest.raises(ConfigError, match="rare_fraction"):
            AutoencoderConfig(rare_fraction=bad)


def test_interrupted_run_with_screened_rows_resumes_to_the_same_weights(tmp_path):
    from sigae.training.loop import TrainingInterrupted

    x, _ = spiked(n=400, length=64, n_anomalies=5, seed=4)
    # restore_best off: the weights compared are those of the last epoch, not a restored PCA start
    config = AutoencoderConfig(**{**TINY, "latent_dim": 16, "restore_best": False})
    options = dict(epochs=3, batch_size=50, seed=0, verbose=0)
    whole = SignalAutoencoder(config).fit(x, run_dir=tmp_path / "whole", **options)
    steps = iter(range(10**6))
    with pytest.raises(TrainingInterrupted):  # in the middle of epoch 2 (about 6 steps per epoch)
        SignalAutoencoder(config).fit(x, run_dir=tmp_path / "cut", should_stop=lambda: next(steps) == 8, **options)
    resumed = SignalAutoencoder.resume(tmp_path / "cut", x, verbose=0)
    assert len(whole.screened_index_) > 0
    np.testing.assert_array_equal(resumed.screened_index_, whole.screened_index_)
    for a, b in zip(resumed.autoencoder.get_weights(), whole.autoencoder.get_weights()):
        assert np.array_equal(a, b)  # same rows, same shuffles, deterministic ops: bitwise equal


@pytest.mark.parametrize("value", ["0.5", "-1", "abc", "nan"])
def test_rare_fraction_option_range_is_one_line(tmp_path, capsys, value):
    from sigae.cli import main

    x = make_signals(n=40, length=64)
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(SystemExit) as exit_:  # argparse's own exit for option errors
        main(["train", str(tmp_path / "x.npy"), f"--rare-fraction={value}", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "--rare-fraction" in err
    assert "[0, 0.5)" in err or "invalid number" in err
    assert not (tmp_path / "run").exists()


def test_labels_cannot_name_a_variable_of_a_npy_file(tmp_path, capsys):
    from sigae.cli import main

    x, _ = spiked(n=60, length=64, n_anomalies=1)
    np.save(tmp_path / "x.npy", x)
    code = main(["train", str(tmp_path / "x.npy"), "--labels", "labels", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and ".npy file, which holds one array" in err
    assert not (tmp_path / "run").exists()


def test_epoch_0_of_the_history_survives_save_and_load(tmp_path):
    x, _ = spiked(n=400, length=64, n_anomalies=5, seed=4)
    model = SignalAutoencoder(AutoencoderConfig(**{**TINY, "latent_dim": 16}))
    model.fit(x, epochs=2, batch_size=50, seed=0, verbose=0, run_dir=tmp_path / "run")
    assert model.history_.initial_val_loss is not None  # the PCA start's validation loss, drawn in loss.png
    loaded = sigae_load(tmp_path / "run")
    assert loaded.history_.initial_val_loss == model.history_.initial_val_loss
    assert loaded.history_.best_epoch == model.history_.best_epoch
