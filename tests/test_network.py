"""The network: built once, parity by construction, shapes from the config."""

import numpy as np
import pytest

from sigae import AutoencoderConfig, ConfigError
from sigae.model.network import SubmodelMismatchError, build_models, check_submodels, parameter_table


@pytest.mark.parametrize("decoder,tied", [("seed", False), ("mirror", False), ("mirror", True)])
def test_decoder_of_encoder_equals_autoencoder_exactly(tiny_config, decoder, tied):
    encoder, decoder_model, autoencoder = build_models(tiny_config.with_updates(decoder=decoder, tied=tied))
    x = np.random.default_rng(0).normal(size=(5, 64, 1)).astype("float32")
    # Same sub-model objects, same input, same eager call path: the same float ops run, so bitwise equal.
    assert np.array_equal(decoder_model(encoder(x)).numpy(), autoencoder(x).numpy())
    # predict() batches and compiles separately; float32 reassociation allows tiny differences.
    np.testing.assert_allclose(decoder_model.predict(encoder.predict(x, verbose=0), verbose=0),
                               autoencoder.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    check_submodels(encoder, decoder_model, autoencoder)


def test_submodels_share_weights_with_autoencoder(tiny_config):
    encoder, decoder, autoencoder = build_models(tiny_config)
    assert autoencoder.get_layer("encoder") is encoder and autoencoder.get_layer("decoder") is decoder
    layer = encoder.get_layer("encoder_dense")
    layer.kernel.assign(layer.kernel.numpy() + 1.0)
    inner = autoencoder.get_layer("encoder").get_layer("encoder_dense")
    assert np.array_equal(inner.kernel.numpy(), layer.kernel.numpy())


def test_seed_bug_rebuilt_submodels_are_detected(tiny_config):
    """Seed 003: calling Encoder()/Decoder() again after training builds new, untrained sub-models."""
    _, _, autoencoder = build_models(tiny_config)
    rebuilt_encoder, rebuilt_decoder, _ = build_models(tiny_config)
    x = np.random.default_rng(1).normal(size=(4, 64, 1)).astype("float32")
    # The rebuilt pair gives a different answer (fresh random weights)...
    assert not np.allclose(rebuilt_decoder(rebuilt_encoder(x)).numpy(), autoencoder(x).numpy())
    # ...and check_submodels says so.
    with pytest.raises(SubmodelMismatchError, match="built a second time"):
        check_submodels(rebuilt_encoder, rebuilt_decoder, autoencoder)


@pytest.mark.parametrize("length", [10, 11, 64, 251, 427])
@pytest.mark.parametrize("decoder", ["seed", "mirror"])
def test_any_surviving_length_round_trips_its_shape(length, decoder):
    config = AutoencoderConfig(input_length=length, channels=2, filters=(4, 3), latent_dim=5, decoder=decoder)
    encoder, _, autoencoder = build_models(config)
    x = np.zeros((2, length, 2), dtype="float32")
    assert autoencoder(x).shape == (2, length, 2)
    assert encoder(x).shape == (2, 5)


def test_too_short_input_is_a_clear_error():
    with pytest.raises(ConfigError, match="input_length 9 is too short.*minimum is 10"):
        AutoencoderConfig(input_length=9)


def test_seed_architecture_parameter_counts_by_hand():
    """Seed 000's point: a layer's bias count is its own unit count, so mirrors are not symmetric."""
    _, _, autoencoder = build_models(AutoencoderConfig.from_preset("seed"))
    rows = {r["layer"]: r for r in parameter_table(autoencoder)}
    # Encoder: 501 -> conv3 499x256 -> pool 249 -> conv3 247x32 -> pool 123 -> flatten 3936 -> dense 32.
    assert (rows["encoder_conv1"]["weights"], rows["encoder_conv1"]["biases"]) == (3 * 1 * 256, 256)
    assert (rows["encoder_conv2"]["weights"], rows["encoder_conv2"]["biases"]) == (3 * 256 * 32, 32)
    assert (rows["encoder_dense"]["weights"], rows["encoder_dense"]["biases"]) == (123 * 32 * 32, 32)
    # Decoder: (32,1) -> conv3 30x32 -> up 60 -> conv3 58x256 -> up 116 -> flatten 29696 -> dense 501.
    assert (rows["decoder_conv1"]["weights"], rows["decoder_conv1"]["biases"]) == (3 * 1 * 32, 32)
    assert (rows["decoder_conv2"]["weights"], rows["decoder_conv2"]["biases"]) == (3 * 32 * 256, 256)
    assert (rows["decoder_dense"]["weights"], rows["decoder_dense"]["biases"]) == (116 * 256 * 501, 501)
    encoder_total = 1024 + 24608 + 125984
    decoder_total = 128 + 24832 + (116 * 256 * 501 + 501)
    assert sum(r["total"] for r in rows.values() if r["part"] == "encoder") == encoder_total
    assert sum(r["total"] for r in rows.values()) == autoencoder.count_params() == encoder_total + decoder_total
