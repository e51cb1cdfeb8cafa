"""Shared fixtures: small synthetic signals and tiny models, so the suite stays fast."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
import scipy.io

from sigae import AutoencoderConfig

TINY = dict(encoder="conv", filters=(8, 4), kernel_sizes=(3, 3), pool_sizes=(2, 2), latent_dim=4)
"""A tiny convolutional model (the reconstruction preset's encoder) for tests of the machinery around it;
the default kernels encoder has its own tests (test_kernels.py)."""


def make_signals(n=64, length=64, seed=0):
    """Damped sinusoids with random amplitude, frequency, phase and decay, in original units (offset 3)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    amp = rng.uniform(0.5, 2, (n, 1))
    freq = rng.uniform(1, 4, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    decay = rng.uniform(0.5, 3, (n, 1))
    return 3.0 + amp * np.exp(-decay * t) * np.sin(2 * np.pi * freq * t + phase) + 0.01 * rng.standard_normal((n, length))


@pytest.fixture
def signals():
    return make_signals()


@pytest.fixture
def tiny_config():
    return AutoencoderConfig(input_length=64, **TINY)


@pytest.fixture
def signals_mat(tmp_path, signals):
    path = tmp_path / "signals.mat"
    scipy.io.savemat(path, {"signals": signals, "labels": (np.arange(len(signals)) % 16 == 0).astype(np.uint8)})
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny model trained for a few epochs and saved once for the whole session: (model, run_dir, x)."""
    from sigae import SignalAutoencoder

    x = make_signals(n=80, seed=1)
    model = SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=3, batch_size=16, seed=0, verbose=0)
    run = tmp_path_factory.mktemp("run") / "tiny"
    model.save(run)
    return model, run, x
