"""The default model (PCA-initialized linear path beside the convolutional one) and the seed preset."""

import json

import numpy as np
import pytest

from sigae import AutoencoderConfig, ConfigError, SignalAutoencoder
from sigae.model.network import build_models, init_linear_path, parameter_table
from sigae.evaluation.scoring import PCABaseline

from conftest import TINY, make_signals


def test_seed_preset_is_the_seed_model():
    """--preset seed: seed thread 003's layers, names and 15,054,773 parameters at 501 points."""
    config = AutoencoderConfig.from_preset("seed", input_length=501)
    assert (config.decoder, config.linear_path, config.latent_activation, config.restore_best) == \
        ("seed", False, "tanh", False)
    encoder, decoder, autoencoder = build_models(config)
    assert autoencoder.count_params() == 15_054_773
    assert [layer.name for layer in encoder.layers[1:]] == [
        "encoder_conv1", "encoder_pool1", "encoder_conv2", "encoder_pool2", "encoder_flatten", "encoder_dense"]
    assert [layer.name for layer in decoder.layers[1:]] == [
        "decoder_reshape_in", "decoder_conv1", "decoder_upsample1", "decoder_conv2", "decoder_upsample2",
        "decoder_flatten", "decoder_dense", "decoder_reshape_out"]
    assert encoder.get_layer("encoder_dense").activation.__name__ == "tanh"


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown preset 'fast'"):
        AutoencoderConfig.from_preset("fast")
    with pytest.raises(ConfigError, match="config or a preset"):
        SignalAutoencoder(AutoencoderConfig(), preset="seed")


def test_version_1_config_files_load_as_the_seed_architecture():
    """Run folders written before the linear path existed keep meaning what they meant."""
    old = {k: v for k, v in AutoencoderConfig.from_preset("seed", input_length=64, **TINY).to_dict().items()
           if k not in ("latent_activation", "linear_path", "restore_best")}
    old.update(version=1, activation="relu", decoder="mirror")
    config = AutoencoderConfig.from_dict(json.loads(json.dumps(old)))
    assert (config.linear_path, config.restore_best, config.latent_activation) == (False, False, "relu")
    assert config.version == 4


@pytest.mark.parametrize("decoder,tied", [("mirror", False), ("mirror", True), ("seed", False)])
def test_linear_path_reproduces_pca_exactly_at_initialization(decoder, tied):
    """Untrained, the default model is PCA: codes are PCA's codes and reconstructions PCA's reconstructions."""
    x = make_signals(n=50, length=64, seed=2)[:, :, None]
    x = (x - x.mean()) / x.std()
    config = AutoencoderConfig(input_length=64, decoder=decoder, tied=tied, **TINY)
    encoder, decoder_model, autoencoder = build_models(config)
    pca = PCABaseline(config.latent_dim).fit(x)
    init_linear_path(encoder, decoder_model, pca.mean_, pca.components_)
    # float32 weights and matmuls against float64 SVD: ~1e-6 relative rounding on values of order 1.
    np.testing.assert_allclose(encoder(x.astype("float32")).numpy(), pca.transform(x), atol=2e-5)
    np.testing.assert_allclose(autoencoder(x.astype("float32")).numpy(), pca.reconstruct(x), atol=2e-5)


def test_fewer_training_signals_than_latent_size_pads_the_linear_path_with_zeros():
    x = make_signals(n=6, length=64, seed=3)
    model = SignalAutoencoder(input_length=64, **{**TINY, "latent_dim": 8}).fit(
        x, epochs=1, batch_size=4, validation_split=0.0, seed=0, verbose=0)
    kernel = model.encoder.get_layer("encoder_linear").kernel.numpy()
    # 6 signals span at most 6 directions; the other 2 columns start at zero (one epoch of Adam moves them
    # by at most ~1e-6 from there, far below the unit-norm components).
    assert np.all(np.isfinite(kernel)) and np.count_nonzero(np.linalg.norm(kernel, axis=0) > 1e-3) <= 6


def test_default_never_ends_worse_than_its_pca_start_on_validation():
    """restore_best counts the untrained (PCA) model as epoch 0: even a run that diverges ends at or
    below PCA's validation MSE."""
    x = make_signals(n=60, length=64, seed=4)
    model = SignalAutoencoder(input_length=64, learning_rate=0.5, **TINY).fit(x, epochs=3, batch_size=8, seed=0,
                                                                           verbose=0)
    ae, pca = model.metrics_["autoencoder"]["val_mse"], model.metrics_["pca"]["val_mse"]
    # Same weights as PCA's SVD up to float32 rounding of the forward pass.
    assert ae <= pca * (1 + 1e-5)
    assert model.history_.best_epoch is not None


def test_default_moves_away_from_pca_where_it_helps():
    """Bumps of one varying width: PCA's first code orders them by width but its linear decoder cannot
    draw a bump from it; the convolutional decoder path can. With a 1-number code, training must end
    well below PCA-1's validation MSE (measured: 0.0017 vs 0.0156)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 64)
    width = rng.uniform(0.04, 0.2, (200, 1))
    x = np.exp(-0.5 * ((t[None, :] - 0.5) / width) ** 2) + 0.01 * rng.standard_normal((200, 64))
    model = SignalAutoencoder(input_length=64, encoder="conv", filters=(8, 4), latent_dim=1).fit(
        x, epochs=30, batch_size=16, seed=0, verbose=0)
    assert model.history_.best_epoch > 0
    assert model.metrics_["autoencoder"]["val_mse"] < 0.5 * model.metrics_["pca"]["val_mse"]


def test_default_is_deterministic_with_a_seed():
    x = make_signals(n=40, length=64, seed=5)
    a, b = (SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=2, batch_size=8, seed=3, verbose=0)
            for _ in range(2))
    for wa, wb in zip(a.autoencoder.get_weights(), b.autoencoder.get_weights()):
        assert np.array_equal(wa, wb)
    assert np.array_equal(a.encode(x), b.encode(x))


def test_parity_after_fit_and_after_load(tmp_path):
    x = make_signals(n=40, length=64, seed=6)
    model = SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=2, batch_size=8, seed=0, verbose=0)
    assert np.array_equal(model.decode(model.encode(x)), model.reconstruct(x))
    loaded = SignalAutoencoder.load(model.save(tmp_path / "run"))
    assert np.array_equal(loaded.reconstruct(x), model.reconstruct(x))
    assert np.array_equal(loaded.decode(loaded.encode(x)), loaded.reconstruct(x))
    rows = {r["layer"] for r in parameter_table(loaded.autoencoder)}
    assert {"encoder_linear", "decoder_linear", "encoder_dense"} <= rows


def test_codes_separate_two_classes_under_the_feature_protocol():
    """The evaluate_features protocol on a tiny synthetic two-class set: codes learned without labels,
    an RBF SVM on the train codes, accuracy on the test codes."""
    pytest.importorskip("sklearn")
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "evaluate_features", Path(__file__).parent.parent / "scripts" / "evaluate_features.py")
    features = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(features)
    rng = np.random.default_rng(1)
    t = np.linspace(0, 1, 64)
    y = np.repeat([0, 1], 40)
    width = np.where(y == 0, 0.05, 0.12)[:, None]  # narrow vs wide bumps at random positions
    x = np.exp(-0.5 * ((t[None, :] - rng.uniform(0.3, 0.7, (80, 1))) / width) ** 2)
    x += 0.05 * rng.standard_normal(x.shape)
    train = np.arange(80) % 2 == 0
    model = SignalAutoencoder(input_length=64, **TINY).fit(x[train], epochs=5, batch_size=8, seed=0, verbose=0)
    codes = model.encode(x)
    accuracy = features.svm_accuracy(codes[train], y[train], codes[~train], y[~train])
    assert accuracy >= 0.9


def test_train_labels_reports_linear_probe_of_codes_and_pca(tmp_path, capsys):
    """sigae-train --labels: cross-validated linear-probe accuracy of codes and of PCA codes, in
    metrics.json and the summary; a wrong variable fails before training and writes nothing."""
    pytest.importorskip("sklearn")
    import scipy.io

    from sigae.cli import main
    from sigae.evaluation.probe import linear_probe_accuracy

    x = make_signals(n=60, length=64, seed=7)
    y = (np.arange(60) % 2).astype(np.uint8)
    x[y == 1] += 0.5 * np.sin(np.linspace(0, 6, 64))  # a class difference a linear probe can see
    path = tmp_path / "x.mat"
    scipy.io.savemat(path, {"signals": x, "labels": y})
    out = tmp_path / "run"
    args = [str(path), "--var", "signals", "--epochs", "1", "--batch-size", "16", "--seed", "0", "--quiet",
            "--out", str(out), "--labels", "labels"]
    assert main(["train"] + args) == 0
    probe = json.loads((out / "metrics.json").read_text())["linear_probe"]
    assert "linear probe" in capsys.readouterr().out
    model = SignalAutoencoder.load(out)
    assert probe["codes"] == linear_probe_accuracy(model.encode(x), y, seed=0)
    assert probe["codes"] >= 0.9 and probe["pca"] >= 0.9
    bad = tmp_path / "bad"
    assert main(["train", str(path), "--var", "signals", "--epochs", "1", "--out", str(bad), "--labels", "nope"]) == 2
    assert not bad.exists()
    assert "no variable 'nope'" in capsys.readouterr().err
