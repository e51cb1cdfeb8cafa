"""The training objective: plain MSE, and the trimmed MSE that leaves a batch's worst signals out."""

import numpy as np
import pytest

from sigae import AutoencoderConfig, ConfigError
from sigae.model.network import build_models
from sigae.training import set_seed, train_autoencoder

from conftest import TINY, make_signals


def _one_step(x, trim_fraction):
    """Weights after one Adam step on the whole of *x* as a single batch, from a fixed start."""
    set_seed(0)
    _, _, autoencoder = build_models(AutoencoderConfig(input_length=64, **TINY))
    train_autoencoder(autoencoder, x, None, epochs=1, batch_size=len(x), learning_rate=1e-3,
                      trim_fraction=trim_fraction, seed=0, verbose=0)
    return autoencoder.get_weights()


def test_trimmed_step_ignores_the_worst_signal_of_the_batch():
    normal = (make_signals(n=9, seed=2) - 3.0).astype(np.float32)[..., None]
    outlier = normal[:1] + 20.0  # far worse reconstructed than any normal signal
    with_outlier = np.concatenate([normal, outlier])

    clean = _one_step(normal, 0.0)
    trimmed = _one_step(with_outlier, 0.1)  # keeps ceil(0.9 * 10) = 9 signals: the normal ones
    plain = _one_step(with_outlier, 0.0)
    # Trimming 1 of 10 is the mean over the other 9, the same objective as training on them alone; only the
    # order of float32 sums differs, hence the tolerance.
    for a, b in zip(trimmed, clean):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # Without trimming the outlier dominates the gradient and the step goes elsewhere.
    assert max(np.abs(a - b).max() for a, b in zip(plain, clean)) > 1e-4


def test_trim_fraction_is_validated():
    with pytest.raises(ConfigError, match="trim_fraction"):
        AutoencoderConfig(trim_fraction=0.5)
    with pytest.raises(ConfigError, match="trim_fraction"):
        AutoencoderConfig(trim_fraction=-0.1)


@pytest.mark.parametrize("strategy", ["default", "mirrored"])
def test_fused_adam_is_keras_adam_in_one_kernel(monkeypatch, strategy):
    import keras
    import tensorflow as tf

    from sigae.training import make_adam, make_strategy

    rng = np.random.default_rng(0)
    start = [rng.normal(size=(30, 20)).astype(np.float32), rng.normal(size=(20,)).astype(np.float32)]
    grads = [[tf.constant(rng.normal(size=w.shape).astype(np.float32)) for w in start] for _ in range(5)]

    def run(optimizer_factory):
        with make_strategy(strategy).scope():
            variables = [keras.Variable(w) for w in start]
            optimizer = optimizer_factory()
            optimizer.build(variables)

        @tf.function
        def step(g):
            optimizer.apply_gradients(zip(g, variables))

        for g in grads:
            tf.distribute.get_strategy()  # steps run outside any replica context, as in a plain loop
            step(g)
        return [v.numpy() for v in variables]

    reference = run(lambda: keras.optimizers.Adam(1e-2))

    def refuse(*args, **kwargs):
        raise AssertionError("fell back to Keras' element-wise Adam")

    monkeypatch.setattr(keras.optimizers.Adam, "update_step", refuse)
    fused = run(lambda: make_adam(1e-2))
    # Same formula, different float32 rounding order (b1*m + (1-b1)*g vs m + (g-m)*(1-b1)).
    for a, b in zip(fused, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert not np.allclose(a, start[0] if a.ndim == 2 else start[1])  # the steps did move the weights
