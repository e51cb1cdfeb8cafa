"""The default encoder: MiniRocket's random dilated kernels (sigae.model.kernels) into a 32-number code."""

import json

import numpy as np
import pytest

from sigae import AutoencoderConfig, ConfigError, SignalAutoencoder
from sigae.model.kernels import N_BASE_KERNELS, KernelFeatures, base_kernels, dilations_for
from sigae.model.network import build_models, check_submodels, parameter_table
from sigae.evaluation.scoring import PCABaseline

SMALL = dict(kernel_features=84 * 6, filters=(8, 4), kernel_sizes=(3, 3), pool_sizes=(2, 2))


def shape_classes(n=160, length=128, seed=0):
    """Two classes that differ only by the direction of a chirp (rising or falling frequency, the same power
    spectrum) placed at a random position in noise: PCA's codes follow positions and spectra, so they do not
    tell the classes apart (1-NN 0.675 at seed 0), while the kernel features count shapes wherever they sit."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = 0.2 * rng.standard_normal((n, length))
    s = np.arange(16) / 16
    phase = 2 * np.pi * (2 * s + 4 * s ** 2)
    for i in range(n):
        centre = int(rng.uniform(20, length - 20))
        x[i, centre - 8:centre + 8] += 2 * np.sin(phase if y[i] == 0 else phase[::-1])
    return x, y


def nn_accuracy(train, y_train, test, y_test):
    distances = ((test[:, None, :] - train[None, :, :]) ** 2).sum(axis=2)
    return float(np.mean(y_train[distances.argmin(axis=1)] == y_test))


def test_the_84_kernels_are_minirockets():
    kernels = base_kernels()
    assert kernels.shape == (9, 84)
    assert np.all(kernels.sum(axis=0) == 0)  # -1 x 6 + 2 x 3: a constant offset gives zero
    assert len({tuple(k) for k in kernels.T}) == 84
    dilations, counts = dilations_for(501, 10_000)
    assert dilations[0] == 1 and dilations[-1] == 62  # 2 ** log2((501 - 1) / 8), as MiniRocket
    assert N_BASE_KERNELS * counts.sum() == 9_996


def test_features_are_the_proportion_of_positive_values_exactly():
    """Integer-valued signals make every convolution exact, so the layer's PPV equals a direct count."""
    rng = np.random.default_rng(0)
    x = rng.integers(-5, 6, size=(3, 40, 1)).astype("float32")
    layer = KernelFeatures(40, 1, 84 * 2)
    layer.fit_biases(x, seed=0)
    features = np.asarray(layer(x))
    biases = layer.biases.numpy()
    kernels = base_kernels()
    column = 0
    for i, (dilation, count) in enumerate(zip(layer.dilations, layer.counts)):
        pad = 4 * int(dilation)
        padded = np.pad(x[:, :, 0], ((0, 0), (pad, pad)))
        for k in range(84):
            conv = sum(kernels[j, k] * padded[:, j * dilation: j * dilation + 40] for j in range(9))
            part = conv if (i + k) % 2 == 0 else conv[:, pad:40 - pad]
            for b in biases[column:column + count]:
                expected = np.mean(part > b, axis=1)
                np.testing.assert_array_equal(features[:, column], expected.astype("float32"))
                column += 1
    assert column == layer.n_features


@pytest.mark.parametrize("channels", [1, 3])
def test_decoder_of_encoder_equals_autoencoder_fresh_fitted_and_loaded(tmp_path, channels):
    x = np.random.default_rng(1).normal(size=(60, 64, channels))
    model = SignalAutoencoder(input_length=64, channels=channels, latent_dim=8, **SMALL)
    model.build()
    xs = x[:5].astype("float32")
    assert np.array_equal(model.decoder(model.encoder(xs)).numpy(), model.autoencoder(xs).numpy())
    model.fit(x, epochs=2, batch_size=16, seed=0, verbose=0)
    check_submodels(model.encoder, model.decoder, model.autoencoder)
    xn = model.normalizer.transform(x[:5]).astype("float32")
    assert np.array_equal(model.decoder(model.encoder(xn)).numpy(), model.autoencoder(xn).numpy())
    np.testing.assert_array_equal(model.decode(model.encode(x)), model.reconstruct(x))
    model.save(tmp_path / "run")
    loaded = SignalAutoencoder.load(tmp_path / "run")
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
    assert np.array_equal(loaded.decoder(loaded.encoder(xn)).numpy(), loaded.autoencoder(xn).numpy())


def test_the_encoder_is_frozen_and_training_moves_only_the_decoder():
    x = np.random.default_rng(2).normal(size=(50, 64))
    # restore_best off: on noise no epoch may beat the PCA start, and the best epoch would be the start
    model = SignalAutoencoder(input_length=64, latent_dim=8, restore_best=False, **SMALL)
    model.fit(x, epochs=1, batch_size=16, seed=0, verbose=0)
    codes = model.encode(x)
    before = [w.numpy().copy() for w in model.decoder.weights]
    model.fit(x, epochs=3, batch_size=16, seed=0, verbose=0)
    assert model.encoder.trainable_weights == []
    np.testing.assert_array_equal(model.encode(x), codes)  # same data, same seed: the same code
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.decoder.weights))


def test_codes_are_deterministic_with_a_seed():
    x, _ = shape_classes(n=60, length=64)
    a = SignalAutoencoder(input_length=64, latent_dim=8, **SMALL).fit(x, epochs=2, batch_size=16, seed=3, verbose=0)
    b = SignalAutoencoder(input_length=64, latent_dim=8, **SMALL).fit(x, epochs=2, batch_size=16, seed=3, verbose=0)
    np.testing.assert_array_equal(a.encode(x), b.encode(x))
    np.testing.assert_array_equal(a.reconstruct(x), b.reconstruct(x))


def test_codes_separate_shapes_at_random_positions_where_pca_codes_fail():
    x, y = shape_classes(n=240, length=128, seed=0)
    train, test = np.arange(240) < 160, np.arange(240) >= 160
    model = SignalAutoencoder(input_length=128)
    model.fit(x[train], epochs=1, seed=0, verbose=0)
    codes = model.encode(x)
    pca = PCABaseline(32).fit(model.normalizer.transform(x[train]))
    pca_codes = pca.transform(model.normalizer.transform(x))
    sigae_acc = nn_accuracy(codes[train], y[train], codes[test], y[test])
    pca_acc = nn_accuracy(pca_codes[train], y[train], pca_codes[test], y[test])
    # Measured 1.000 vs 0.675 (seed 0): a margin far beyond the 80 test signals' granularity (0.0125).
    assert sigae_acc >= 0.9, (sigae_acc, pca_acc)
    assert pca_acc <= 0.8 and sigae_acc - pca_acc >= 0.2, (sigae_acc, pca_acc)


def test_config_fields_presets_and_older_files():
    default = AutoencoderConfig()
    assert (default.encoder, default.kernel_code_dims) == ("kernels", 16)
    assert AutoencoderConfig(latent_dim=4).kernel_code_dims == 2
    assert AutoencoderConfig.from_preset("reconstruction").encoder == "conv"
    assert AutoencoderConfig.from_preset("seed").encoder == "conv"
    v3 = {k: v for k, v in AutoencoderConfig().to_dict().items() if k not in ("encoder", "kernel_features",
                                                                              "kernel_code_share")}
    v3["version"] = 3
    assert AutoencoderConfig.from_dict(json.loads(json.dumps(v3))).encoder == "conv"  # what v3 files meant
    with pytest.raises(ConfigError, match="tied weights need the convolutional encoder"):
        AutoencoderConfig(tied=True)
    with pytest.raises(ConfigError, match="kernel_code_share"):
        AutoencoderConfig(kernel_code_share=0)
    with pytest.raises(ConfigError, match="encoder must be one of"):
        AutoencoderConfig(encoder="rocket")


def test_parameter_table_counts_the_fixed_biases():
    _, _, autoencoder = build_models(AutoencoderConfig(input_length=64, latent_dim=8, **SMALL))
    assert autoencoder.get_layer("encoder").get_layer("encoder_kernels").count_params() == 84 * 6
    row = next(r for r in parameter_table(autoencoder) if r["layer"] == "encoder_kernels")
    assert (row["weights"], row["biases"], row["total"]) == (0, 84 * 6, 84 * 6)  # sigae-info's columns add up


def test_wide_signals_fit_pca_through_a_thin_svd():
    """Fewer signals than values per signal: the thin SVD's subspace is the covariance route's."""
    x = np.random.default_rng(0).normal(size=(40, 300, 4))
    thin = PCABaseline(10).fit(x)
    dense = PCABaseline(10).fit_chunks([x])
    np.testing.assert_allclose(thin.components_.T @ thin.components_, dense.components_.T @ dense.components_,
                               atol=1e-8)
