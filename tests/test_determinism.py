"""With a seed on a CPU, training is bitwise reproducible."""

import numpy as np

from sigae import SignalAutoencoder

from conftest import TINY, make_signals


def _fit(seed):
    x = make_signals(n=40, seed=5)
    return SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=2, batch_size=8, seed=seed, verbose=0)


def test_two_seeded_runs_are_bitwise_identical():
    a, b = _fit(11), _fit(11)
    for wa, wb in zip(a.autoencoder.get_weights(), b.autoencoder.get_weights()):
        assert np.array_equal(wa, wb)
    assert a.history_.loss == b.history_.loss and a.history_.val_loss == b.history_.val_loss
    assert np.array_equal(a.val_index_, b.val_index_)
    for key in ("train_mse", "val_mse"):
        assert a.metrics_["autoencoder"][key] == b.metrics_["autoencoder"][key]


def test_another_seed_gives_another_run():
    a, b = _fit(11), _fit(12)
    assert not np.array_equal(a.autoencoder.get_weights()[0], b.autoencoder.get_weights()[0])
