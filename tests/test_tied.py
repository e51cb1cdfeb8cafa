"""Tied weights: one variable read at call time, through training and save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import sigae
from sigae import SignalAutoencoder
from sigae.model.network import build_models, parameter_table
from sigae.training.loop import train_autoencoder

from conftest import TINY, make_signals


def _train_steps(autoencoder, x, steps=3):
    """Real optimizer steps (the tie must hold after training, not only at initialisation)."""
    optimizer = keras.optimizers.Adam(1e-2)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(autoencoder(x, training=True) - x))
        grads = tape.gradient(loss, autoencoder.trainable_variables)
        optimizer.apply_gradients(zip(grads, autoencoder.trainable_variables))


def _assert_tied(encoder, decoder):
    dense, twin = decoder.get_layer("decoder_dense"), encoder.get_layer("encoder_dense")
    assert np.array_equal(dense.tied_kernel.numpy(), twin.kernel.numpy().T)
    # Behaviour, not just the property: the layer's output uses the encoder's current kernel.
    z = np.random.default_rng(0).normal(size=(3, twin.kernel.shape[1])).astype("float32")
    expected = np.tanh(z @ twin.kernel.numpy().T + dense.bias.numpy())
    np.testing.assert_allclose(dense(z).numpy(), expected, rtol=1e-5, atol=1e-6)  # float32 matmul order
    for i in (1, 2):
        deconv, conv = decoder.get_layer(f"decoder_deconv{i}"), encoder.get_layer(f"encoder_conv{3 - i}")
        assert np.array_equal(deconv.tied_kernel.numpy(), conv.kernel.numpy())


def test_tie_holds_after_training(tiny_config):
    encoder, decoder, autoencoder = build_models(tiny_config.with_updates(decoder="mirror", tied=True))
    before = encoder.get_layer("encoder_dense").kernel.numpy().copy()
    _train_steps(autoencoder, make_signals(n=16)[:, :, None].astype("float32"))
    assert not np.array_equal(before, encoder.get_layer("encoder_dense").kernel.numpy())  # it did train
    _assert_tied(encoder, decoder)


def test_transposed_conv_is_the_adjoint_of_the_encoder_conv(tiny_config):
    """<conv(x), y> == <conv_transpose(y), x> with the same kernel: the convolutional 'transpose'."""
    encoder, decoder, _ = build_models(tiny_config.with_updates(decoder="mirror", tied=True))
    kernel = encoder.get_layer("encoder_conv1").kernel
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 20, 1)).astype("float32")
    y = rng.normal(size=(2, 18, kernel.shape[2])).astype("float32")
    forward = keras.ops.conv(x, kernel, padding="valid").numpy()
    backward = keras.ops.conv_transpose(y, kernel, padding="valid").numpy()
    assert np.sum(forward * y) == pytest.approx(np.sum(backward * x), rel=1e-4)  # float32 sums


def test_seed_001_build_time_transpose_breaks_the_same_check():
    """Seed 001's DenseTied transposed once in build(): a copy, which training leaves behind."""

    class BuildTimeTiedDense(keras.layers.Layer):
        def __init__(self, units, source, **kwargs):
            super().__init__(**kwargs)
            self.units, self._source = units, [source]

        def build(self, input_shape):
            self.kernel = keras.ops.transpose(self._source[0].kernel)  # the seed's mistake
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros")

        def call(self, x):
            return keras.ops.matmul(x, self.kernel) + self.bias

    inputs = keras.Input((8,))
    dense = keras.layers.Dense(3, name="enc")
    decoded = BuildTimeTiedDense(8, dense)(dense(inputs))
    model = keras.Model(inputs, decoded)
    x = np.random.default_rng(0).normal(size=(16, 8)).astype("float32")
    _train_steps(model, x)
    tied = model.layers[-1]
    assert not np.array_equal(tied.kernel.numpy(), dense.kernel.numpy().T)


def test_tie_survives_save_load_and_further_training(tmp_path, tiny_config):
    x = make_signals(n=32)
    model = SignalAutoencoder(tiny_config, decoder="mirror", tied=True).fit(x, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "run")
    loaded = sigae.load(tmp_path / "run")
    _assert_tied(loaded.encoder, loaded.decoder)
    # One variable: the decoder layers own only their biases.
    assert [w.name for w in loaded.decoder.get_layer("decoder_dense").weights] == ["bias"]
    train_autoencoder(loaded.autoencoder, loaded.normalizer.transform(x)[:, :, None].astype("float32"), None,
                      epochs=2, batch_size=8, learning_rate=1e-2, verbose=0)
    _assert_tied(loaded.encoder, loaded.decoder)
    assert np.array_equal(loaded.decode(loaded.encode(x)), loaded.reconstruct(x))


def test_shared_weights_counted_once(tiny_config):
    _, _, untied = build_models(tiny_config.with_updates(decoder="mirror"))
    _, _, tied = build_models(tiny_config.with_updates(decoder="mirror", tied=True))
    rows = parameter_table(tied)
    shared = sum(r["weights"] for r in parameter_table(untied) if r["part"] == "decoder")
    assert tied.count_params() == untied.count_params() - shared == sum(r["total"] for r in rows)
    assert {r["layer"]: r["tied_to"] for r in rows if r["tied_to"]} == {
        "decoder_dense": "encoder_dense", "decoder_deconv1": "encoder_conv2", "decoder_deconv2": "encoder_conv1",
        "decoder_linear": "encoder_linear"}


@pytest.mark.parametrize("decoder,tied", [("mirror", False), ("mirror", True)])
def test_mirror_variants_parity_and_save_load(tmp_path, decoder, tied):
    x = make_signals(n=32, length=51)  # odd length: padding must restore exactly 51 points
    model = SignalAutoencoder(input_length=51, decoder=decoder, tied=tied, **TINY).fit(
        x, epochs=1, batch_size=8, verbose=0, seed=1)
    assert model.reconstruct(x).shape == x.shape
    assert np.array_equal(model.decode(model.encode(x)), model.reconstruct(x))
    model.save(tmp_path / "run")
    loaded = sigae.load(tmp_path / "run")
    assert np.array_equal(loaded.reconstruct(x), model.reconstruct(x))
    xn = loaded.normalizer.transform(x)[:, :, None].astype("float32")
    assert np.array_equal(loaded.decoder(loaded.encoder(xn)).numpy(), loaded.autoencoder(xn).numpy())


PLAIN_KERAS = """
import sys
{imports}
import numpy as np
assert {lazy}
model = keras.models.load_model(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], model.predict(x, verbose=0))
print(type(model).__name__)
"""


@pytest.fixture(scope="module")
def tied_run(tmp_path_factory):
    x = make_signals(n=24, seed=4)
    run = tmp_path_factory.mktemp("tied") / "run"
    SignalAutoencoder(input_length=64, decoder="mirror", tied=True, **TINY).fit(
        x, epochs=2, batch_size=8, verbose=0, seed=0).save(run)
    return run, x


@pytest.mark.parametrize("imports,lazy", [
    # sigae first (the field report's order): importing sigae must not import Keras or TensorFlow itself.
    ("import sigae", "'keras' not in sys.modules and 'tensorflow' not in sys.modules\nimport keras"),
    ("import keras\nimport sigae", "True"),
])
def test_tied_model_loads_and_computes_the_same_in_plain_keras(tmp_path, tied_run, imports, lazy):
    """Field report: after `import sigae`, keras.models.load_model of a tied run failed (class not found), and
    with `import sigae.model.layers` it loaded but was not linked."""
    import shutil
    import subprocess
    import sys

    run, x = tied_run
    shutil.copytree(run, tmp_path / "run")
    xn = sigae.load(tmp_path / "run").normalizer.transform(x)[:, :, None].astype("float32")
    np.save(tmp_path / "x.npy", xn)
    script = PLAIN_KERAS.format(imports=imports, lazy=lazy)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "run" / "model.keras"), str(tmp_path / "x.npy"),
                           str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "TiedAutoencoder"
    expected = sigae.load(tmp_path / "run").autoencoder.predict(xn, verbose=0)
    # Same weights, same layers, same batch: the same float32 arithmetic.
    assert np.array_equal(np.load(tmp_path / "y.npy"), expected)


def test_tied_model_loaded_by_keras_keeps_the_tie_when_trained(tied_run):
    model = keras.models.load_model(tied_run[0] / "model.keras")
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    _train_steps(model, make_signals(n=16)[:, :, None].astype("float32") - 3.0)
    _assert_tied(encoder, decoder)


def test_untied_models_stay_plain_keras_models(tiny_config):
    _, _, autoencoder = build_models(tiny_config.with_updates(decoder="mirror"))
    assert type(autoencoder).__name__ == "Functional"
