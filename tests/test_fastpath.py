"""sigae.model.fastpath: the rewritten arithmetic equals the Keras layers' up to float32 rounding."""

import numpy as np
import pytest
import tensorflow as tf

from sigae import AutoencoderConfig, SignalAutoencoder
from sigae.model.fastpath import (decoder_call, encoder_call, folded_decoder_ok, fused_encoder_ok,
                            training_call)
from sigae.model.network import build_models

from conftest import TINY, make_signals

# The rewrites change only the order of float32 additions (a sum of three products per conv output, two kernel
# rows added before the product); on outputs of size ~1 that moves the last few bits: 1e-5 is ~100 ulp.
ATOL = 1e-5


def _refuse(layer):
    """Make *layer* fail if called: proves the fast path computes that layer itself."""
    def fail(*args, **kwargs):
        raise AssertionError(f"{layer.name} was called through Keras")
    layer.call = fail


@pytest.mark.parametrize("length,pool,activation", [(64, 2, "tanh"), (65, 2, "tanh"), (70, 3, "relu"),
                                                    (64, 2, "sigmoid")])
def test_fast_calls_equal_the_keras_models(length, pool, activation):
    # Odd lengths: MaxPooling1D drops the last convolution output(s), the fused stage must too.
    config = AutoencoderConfig.from_preset("seed", input_length=length, **{**TINY, "pool_sizes": (pool, 2)},
                                         activation=activation)
    encoder, decoder, autoencoder = build_models(config)
    x = np.random.default_rng(0).normal(size=(6, length, 1)).astype("float32")
    z_keras, y_keras = encoder(x).numpy(), autoencoder(x).numpy()
    decoded_keras = decoder(z_keras).numpy()
    assert fused_encoder_ok(config, encoder) and folded_decoder_ok(config, decoder)
    _refuse(encoder.get_layer("encoder_conv1"))
    _refuse(decoder.get_layer("decoder_dense"))
    encode, decode = tf.function(encoder_call(encoder, config)), tf.function(decoder_call(decoder, config))
    z = encode(x).numpy()
    np.testing.assert_allclose(z, z_keras, atol=ATOL)
    np.testing.assert_allclose(decode(z_keras).numpy(), decoded_keras, atol=ATOL)
    np.testing.assert_allclose(decode(z).numpy(), y_keras, atol=ATOL)


def test_seed_architecture_fast_calls_equal_keras():
    config = AutoencoderConfig.from_preset("seed")  # 501 points, 256/32 filters: the model the rewrites are for
    encoder, decoder, autoencoder = build_models(config)
    x = np.random.default_rng(1).normal(size=(4, 501, 1)).astype("float32")
    z = tf.function(encoder_call(encoder, config))(x).numpy()
    np.testing.assert_allclose(z, encoder(x).numpy(), atol=ATOL)
    np.testing.assert_allclose(tf.function(decoder_call(decoder, config))(z).numpy(), decoder(z).numpy(), atol=ATOL)


def test_training_call_gradients_equal_keras():
    config = AutoencoderConfig.from_preset("seed", input_length=64, **TINY)
    encoder, decoder, autoencoder = build_models(config)
    x = tf.constant(np.random.default_rng(2).normal(size=(8, 64, 1)).astype("float32"))
    forward = training_call(encoder, decoder, config)

    def gradients(call):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(call(x) - x))
        return tape.gradient(loss, autoencoder.trainable_variables)

    fast, keras_grads = gradients(forward), gradients(lambda v: autoencoder(v, training=True))
    for f, k, v in zip(fast, keras_grads, autoencoder.trainable_variables):
        # Every rewritten row pair gets the same gradient, as upsampling's two copies do in Keras.
        np.testing.assert_allclose(f.numpy(), k.numpy(), atol=1e-6, rtol=1e-4, err_msg=v.path)


@pytest.mark.parametrize("overrides,fused,folded", [(dict(decoder="mirror"), True, False),
                                                     (dict(decoder="mirror", tied=True), True, False),
                                                     (dict(activation="gelu"), False, True)])
def test_other_architectures_run_through_keras(overrides, fused, folded):
    config = AutoencoderConfig.from_preset("seed", input_length=64, **TINY, **overrides)
    encoder, decoder, _ = build_models(config)
    # gelu is not monotone (pooling before it would change the result); only the seed decoder ends in
    # UpSampling1D, Flatten, Dense.
    assert (fused_encoder_ok(config, encoder), folded_decoder_ok(config, decoder)) == (fused, folded)
    x = np.random.default_rng(3).normal(size=(3, 64, 1)).astype("float32")
    z = encoder(x)
    # The fallback is the Keras call itself: same ops, bitwise equal.
    if not fused:
        assert np.array_equal(encoder_call(encoder, config)(x).numpy(), z.numpy())
    if not folded:
        assert np.array_equal(decoder_call(decoder, config)(z).numpy(), decoder(z).numpy())


def test_without_xla_the_first_stage_runs_through_keras(monkeypatch):
    import sigae.model.fastpath as fastpath

    config = AutoencoderConfig.from_preset("seed", input_length=64, **TINY)
    encoder, _, _ = build_models(config)
    assert fastpath.xla_available()  # this build has XLA, so the fused stage is used by default
    monkeypatch.setattr(fastpath, "xla_available", lambda: False)
    assert not fused_encoder_ok(config, encoder)
    x = np.random.default_rng(5).normal(size=(3, 64, 1)).astype("float32")
    assert np.array_equal(encoder_call(encoder, config)(x).numpy(), encoder(x).numpy())


def test_estimator_uses_the_fast_path_and_stays_exactly_composable():
    x = make_signals(n=40, seed=4)
    model = SignalAutoencoder(preset="seed", input_length=64, **TINY).fit(x, epochs=2, batch_size=16, seed=0,
                                                                         verbose=0)
    xn = model.normalizer.transform(x).astype("float32")
    np.testing.assert_allclose(model.encode(x), model.encoder(xn).numpy(), atol=ATOL)
    # encode, decode and reconstruct share one call path, so their composition is exact.
    assert np.array_equal(model.decode(model.encode(x)), model.reconstruct(x))
