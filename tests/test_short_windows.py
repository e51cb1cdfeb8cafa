"""Short windows (#25): a latent code that could hold a whole window copies it, so its reconstruction error
says nothing; fit_recordings cuts such a code to a quarter of the window's values."""

import numpy as np

from sigae import SignalAutoencoder
from sigae.evaluation.scoring import auroc
from sigae.estimator.windowed import code_for_window
from sigae.model.config import AutoencoderConfig

QUIET = {"verbose": 0, "log": lambda *a: None}


def test_a_code_larger_than_half_the_window_is_cut_to_a_quarter():
    config = AutoencoderConfig.from_preset("reconstruction")          # latent_dim 32
    said = []
    assert code_for_window(config, 16, 1, said.append).latent_dim == 4
    assert "a quarter of a window's 16 values" in said[0]
    assert code_for_window(config, 24, 1, said.append).latent_dim == 6
    assert code_for_window(config, 63, 1, said.append).latent_dim == 15
    assert code_for_window(config, 64, 1, said.append) is config          # 32 of 64 values: kept
    assert code_for_window(config, 16, 4, said.append) is config          # 16 points x 4 channels
    seed = AutoencoderConfig.from_preset("seed")
    assert code_for_window(seed, 16, 1, said.append) is seed              # the seed decoder needs its 32


def test_a_short_window_model_scores_an_anomaly_above_normal_points(tmp_path):
    """Window 16 with the default code of 32: the model trained has a code of 4 (stored in config.json), and
    the injected anomaly's points get the highest scores (AUC-ROC > 0.95; with a code of 32 the scores were
    rounding noise)."""
    rng = np.random.default_rng(0)
    t = np.arange(4000)
    x = np.sin(2 * np.pi * t / 10) + 0.3 * np.sin(2 * np.pi * t / 5 + 1) + 0.03 * rng.standard_normal(len(t))
    labels = np.zeros(len(t), dtype=bool)
    for a in (2600, 3100, 3500):
        x[a:a + 6] = x[a]                                                 # flat stretches
        labels[a:a + 6] = True
    model = SignalAutoencoder(preset="reconstruction", filters=(16, 8))
    model.fit_recordings(x[:2000], 16, 2, epochs=3, seed=0, run_dir=tmp_path / "run", **QUIET)
    assert model.config.latent_dim == 4
    assert SignalAutoencoder.load(tmp_path / "run").config.latent_dim == 4
    result = model.score_recording(x)
    assert auroc(result.point_score, labels) > 0.95
