"""SignalAutoencoder: parity after fit and after save/load, original units, errors."""

import json

import numpy as np
import pytest

import sigae
from sigae import DataError, NotFittedError, OutputExistsError, RunFolderError, SignalAutoencoder
from sigae.model.network import check_submodels

from conftest import TINY, make_signals


def test_parity_after_fit(trained):
    model, _, x = trained
    check_submodels(model.encoder, model.decoder, model.autoencoder)
    xn = model.normalizer.transform(x)[:, :, None].astype("float32")
    # Same objects, same input, same eager path: bitwise equal.
    assert np.array_equal(model.decoder(model.encoder(xn)).numpy(), model.autoencoder(xn).numpy())
    # The API composes the same compiled sub-model calls: decode(encode(x)) is reconstruct(x).
    assert np.array_equal(model.decode(model.encode(x)), model.reconstruct(x))


def test_submodel_weights_are_the_autoencoders(trained, tiny_config):
    model = SignalAutoencoder(tiny_config).fit(make_signals(n=20), epochs=1, batch_size=10, verbose=0, seed=3)
    inner = model.autoencoder.get_layer("decoder").get_layer("decoder_dense")
    new_bias = inner.bias.numpy() + 0.5
    model.decoder.get_layer("decoder_dense").bias.assign(new_bias)
    assert np.array_equal(inner.bias.numpy(), new_bias)


def test_save_load_keeps_parity_and_results(trained):
    model, run, x = trained
    loaded = sigae.load(run)
    check_submodels(loaded.encoder, loaded.decoder, loaded.autoencoder)
    # Same weights, same compiled call path on this machine: identical numbers.
    assert np.array_equal(loaded.encode(x), model.encode(x))
    assert np.array_equal(loaded.reconstruct(x), model.reconstruct(x))
    assert np.array_equal(loaded.decode(loaded.encode(x)), loaded.reconstruct(x))
    xn = loaded.normalizer.transform(x)[:, :, None].astype("float32")
    assert np.array_equal(loaded.decoder(loaded.encoder(xn)).numpy(), loaded.autoencoder(xn).numpy())
    assert loaded.history_.loss == pytest.approx(model.history_.loss, rel=1e-12)


def test_reconstruction_is_in_original_units(trained):
    model, _, x = trained
    rec = model.reconstruct(x)
    assert rec.shape == x.shape
    # The signals sit around 3.0 (see make_signals); a normalized-units output would sit around 0.
    assert abs(rec.mean() - x.mean()) < 0.3 * x.std()


def test_metrics_report_pca_baseline(trained):
    model, run, _ = trained
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["pca"]["components"] == TINY["latent_dim"]
    assert metrics["n_train"] + metrics["n_val"] == 80 and metrics["n_val"] == 16
    for key in ("train_mse", "val_mse", "train_mse_original_units", "val_mse_original_units"):
        assert metrics["autoencoder"][key] > 0 and metrics["pca"][key] > 0


def test_per_signal_model_needs_stats_to_decode(tiny_config):
    x = make_signals(n=20)
    model = SignalAutoencoder(tiny_config, normalize="per-signal").fit(x, epochs=1, batch_size=10, verbose=0)
    with pytest.raises(sigae.ConfigError, match="signal_stats"):
        model.decode(model.encode(x))
    assert np.array_equal(model.decode(model.encode(x), stats=model.signal_stats(x)), model.reconstruct(x))


def test_unfitted_and_wrong_shapes_are_clear_errors(trained, tiny_config):
    with pytest.raises(NotFittedError):
        SignalAutoencoder(tiny_config).encode(make_signals(n=3))
    model, _, _ = trained
    with pytest.raises(DataError, match="expects 64 points"):
        model.encode(np.zeros((3, 50)))
    with pytest.raises(DataError, match="NaN/Inf"):
        model.encode(np.full((3, 64), np.nan))
    with pytest.raises(DataError, match=r"expected shape \(n, 4\)"):
        model.decode(np.zeros((3, 5)))


def test_save_refuses_existing_folder_and_load_refuses_broken_ones(trained, tmp_path):
    model, run, _ = trained
    with pytest.raises(OutputExistsError, match=r"pass overwrite=True to replace it"):  # the API's words
        model.save(run)
    with pytest.raises(RunFolderError, match="no such directory"):
        sigae.load(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(RunFolderError, match=r"notes.txt: not a run folder \(a file, not a folder\)"):
        sigae.load(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match=r"empty: not a run folder \(it holds none of model.keras"):
        sigae.load(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(RunFolderError, match="missing model.keras"):
        sigae.load(broken)


def test_summary_says_plainly_when_pca_wins(tiny_config):
    """Signals in a 3-dimensional linear subspace: PCA with 4 components is exact, the autoencoder is not."""
    from sigae.cli.summary import training_summary

    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 64))
    x = rng.normal(size=(60, 3)) @ basis
    model = SignalAutoencoder(tiny_config).fit(x, epochs=2, batch_size=10, verbose=0, seed=0)
    metrics = model.metrics_
    assert metrics["pca"]["val_mse"] < 1e-12  # exact up to float64 rounding; the model (float32) up to its rounding
    summary = training_summary(metrics)
    assert "reconstruct the held-out signals to float rounding" in summary and "worse" not in summary


def _metrics(**changes):
    base = {"epochs_run": 10, "train_seconds": 1.0, "best_epoch": 4, "parameters": 100, "n_signals": 1000,
            "autoencoder": {"train_mse": 0.01, "val_mse": 0.012}, "pca": {"components": 32, "train_mse": 0.01,
                                                                         "val_mse": 0.010},
            "val_mse_ratio_to_pca": 1.2, "beats_pca": False}
    return {**base, **changes}


def test_summary_notes_follow_what_happened():
    from sigae.cli.summary import training_summary

    worse = training_summary(_metrics())
    assert "reconstructs worse than a linear PCA with 32 components" in worse and "--decoder" not in worse
    screened = _metrics(best_epoch=0, screening={"rare_fraction": 0.01, "n_screened": 50})
    text = training_summary(screened)
    assert "screened: 50 of 1000 signals (5.0%) left out" in text
    assert "the model's start, PCA-32 of the signals kept by screening, so the model is that PCA" in text
    assert "partly reconstructs the screened validation signals" in text  # why its MSE is above PCA-32's
    kept_and_better = training_summary({**screened, "val_mse_ratio_to_pca": 0.98, "beats_pca": True})
    assert "the model is that PCA" in kept_and_better and "partly reconstructs" not in kept_and_better
    kernels = training_summary({**screened, "kernel_code_dims": 16})
    assert "16 of its 32 numbers summarize random-kernel features" in kernels
    assert "best epoch 0 is the model as fit set it up before training" in kernels
    assert "the val_loss of each epoch leaves the screened signals out" in kernels  # why it is below the MSE shown
    assert "best epoch 0" not in training_summary({**screened, "kernel_code_dims": 16, "best_epoch": 3})
    linear = training_summary(_metrics(best_epoch=0, val_mse_ratio_to_pca=1.0, beats_pca=True))
    assert "so the model is PCA-32: these signals look linear" in linear
    # a model of recordings trains on windows: the counts are of windows, and say so
    windows = training_summary({**screened, "n_signals": 199842, "source": {"windowed": True}})
    assert "screened: 50 of 199842 windows (0.0%) left out" in windows and "training windows share" in windows
    assert "window numbers (0-based) in split.npz" in windows and " signals" not in windows


def test_errors_speak_the_words_of_the_interface_in_use(trained, tmp_path):
    """The same mistake, from Python and from the command line: each names its own setting."""
    from sigae.errors import command_line_words

    model, run, x = trained
    with pytest.raises(OutputExistsError, match="pass overwrite=True"):
        SignalAutoencoder(input_length=64).fit(x, epochs=1, run_dir=run, verbose=0)
    with pytest.raises(sigae.ConfigError, match=r"^epochs: must be a whole number >= 1, got 0"):
        SignalAutoencoder(input_length=64).fit(x, epochs=0, verbose=0)
    with pytest.raises(sigae.ConfigError, match=r"^threshold: 'p200' is not a percentile"):
        model.score(x, threshold="p200")
    with command_line_words():
        with pytest.raises(OutputExistsError, match="pass --overwrite"):
            model.save(run)
        with pytest.raises(sigae.ConfigError, match=r"^--epochs: must be"):
            SignalAutoencoder(input_length=64).fit(x, epochs=0, verbose=0)
