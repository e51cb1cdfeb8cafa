"""Windowed runs (windows of recordings) interrupted and resumed end as the uninterrupted run: same weights,
same windowing.json; other data is refused before any training."""

import json

import numpy as np
import pytest
import scipy.io
from conftest import TINY
from test_recordings_cli import FLAGS, run_cli

import sigae
from sigae import DataError, RunFolderError, SignalAutoencoder
from sigae.training.loop import TrainingInterrupted

# restore_best off: the weights compared are those of the last epoch, not a restored PCA start
CONFIG = {**TINY, "decoder": "mirror", "restore_best": False}
OPTIONS = {"epochs": 3, "batch_size": 32, "seed": 0, "verbose": 0, "log": lambda *a: None}


def series(n=1600, channels=2, seed=5):
    """Sines of period 40 (and 27 for the second channel) with noise: (n, channels)."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    x = np.stack([np.sin(2 * np.pi * t / 40), np.cos(2 * np.pi * t / 27)][:channels], axis=1)
    return x + 0.05 * rng.standard_normal(x.shape)


def stop_after(n_steps):
    steps = iter(range(10**6))
    return lambda: next(steps) == n_steps


def assert_same_weights(a, b):
    wa, wb = a.autoencoder.get_weights(), b.autoencoder.get_weights()
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        assert np.array_equal(u, v)  # same windows, same split, same shuffles: bitwise equal


@pytest.mark.parametrize("stream", [False, True])
def test_interrupted_fit_recordings_resumes_to_the_same_weights(tmp_path, stream):
    x = series()
    whole = SignalAutoencoder(**CONFIG).fit_recordings(x, 32, 2, run_dir=tmp_path / "whole", stream=stream, **OPTIONS)
    # (1600 - 32) / 2 + 1 windows less the validation segment: about 20 steps of 32 an epoch; stop inside epoch 2
    with pytest.raises(TrainingInterrupted):
        SignalAutoencoder(**CONFIG).fit_recordings(x, 32, 2, run_dir=tmp_path / "cut", stream=stream,
                                                   should_stop=stop_after(30), **OPTIONS)
    assert not (tmp_path / "cut" / "windowing.json").exists()
    with pytest.raises(RunFolderError, match=r"resume_recordings\('"):  # loading it says how to go on
        sigae.load(tmp_path / "cut")
    with pytest.raises(RunFolderError, match="resume_recordings"):  # resume() is for cut signals
        SignalAutoencoder.resume(tmp_path / "cut", np.zeros((10, 32, 2)))
    resumed = SignalAutoencoder.resume_recordings(tmp_path / "cut", x, verbose=0, log=lambda *a: None)
    assert_same_weights(resumed, whole)
    assert resumed.windowing_ == whole.windowing_
    assert (json.loads((tmp_path / "cut" / "windowing.json").read_text())
            == json.loads((tmp_path / "whole" / "windowing.json").read_text()))
    loaded = sigae.load(tmp_path / "cut")
    assert_same_weights(loaded, whole)
    assert loaded.windowing_ == whole.windowing_
    assert not (tmp_path / "cut" / "checkpoints").exists()


def test_resume_refuses_other_recordings(tmp_path):
    x = series(channels=1)
    with pytest.raises(TrainingInterrupted):
        SignalAutoencoder(**CONFIG).fit_recordings(x, 32, 2, run_dir=tmp_path / "cut", should_stop=stop_after(5),
                                                   **OPTIONS)
    other = x.copy()
    other[-1] += 1.0  # same length, one value changed at the end
    for bad, match in [(other, "other values than recording 1 of the run"),
                       (x[:1500], "1500 points x 1 channel.*has 1600 x 1"),
                       (series(channels=2), "1600 points x 2 channel.*has 1600 x 1"),
                       ([x, x], "2 recording.*started on 1")]:
        with pytest.raises(DataError, match=match):
            SignalAutoencoder.resume_recordings(tmp_path / "cut", bad, verbose=0, log=lambda *a: None)
    with pytest.raises(DataError, match="trained on arrays"):  # nothing to read them again from
        SignalAutoencoder.resume_recordings(tmp_path / "cut", verbose=0, log=lambda *a: None)
    with pytest.raises(RunFolderError, match="training.json is missing"):
        sigae.estimator.windowed.resume_recordings(tmp_path / "nope")  # no training.json
    assert not (tmp_path / "cut" / "windowing.json").exists()


def test_sigae_train_resume_of_a_windowed_run(tmp_path, capsys, monkeypatch):
    from sigae.cli.train import StopRequest

    x = series(channels=1)[:, 0]
    scipy.io.savemat(tmp_path / "a.mat", {"x": x[:, None]})
    flags = [*FLAGS, "--preset", "reconstruction"]
    args = ["train", tmp_path / "a.mat", "--window", "32", "--hop", "2", "--fs", "50"]
    code, _, err = run_cli(capsys, *args, "--out", tmp_path / "whole", *flags)
    assert code == 0, err

    steps = iter(range(10**6))
    monkeypatch.setattr(StopRequest, "install", lambda self: (lambda: next(steps) == 30))  # Ctrl-C in epoch 2
    code, _, err = run_cli(capsys, *args, "--out", tmp_path / "cut", *flags)
    assert code == 130 and f"resume with: sigae-train --resume {tmp_path / 'cut'}" in err, err
    monkeypatch.setattr(StopRequest, "install", lambda self: (lambda: False))

    other = x.copy()
    other[5] += 1.0
    scipy.io.savemat(tmp_path / "b.mat", {"x": other[:, None]})
    scipy.io.savemat(tmp_path / "short.mat", {"x": x[:1000, None]})
    for bad, match in [("b.mat", "other values than recording 1 of the run"), ("short.mat", "1000 points")]:
        code, _, err = run_cli(capsys, "train", "--resume", tmp_path / "cut", tmp_path / bad, "--quiet")
        assert code == 2 and match in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run_cli(capsys, "train", "--resume", tmp_path / "cut", "--window", "64", "--quiet")
    assert code == 2 and "--window 64: the run was started with --window 32" in err, err
    assert not (tmp_path / "cut" / "windowing.json").exists()

    code, _, err = run_cli(capsys, "train", "--resume", tmp_path / "cut", "--quiet")  # FILE from the run
    assert code == 0, err
    assert_same_weights(sigae.load(tmp_path / "cut"), sigae.load(tmp_path / "whole"))
    assert (json.loads((tmp_path / "cut" / "windowing.json").read_text())
            == json.loads((tmp_path / "whole" / "windowing.json").read_text()))
    code, _, err = run_cli(capsys, "train", "--resume", tmp_path / "cut")
    assert code == 2 and "already complete" in err


def test_a_run_stopped_while_calibrating_its_threshold_is_not_complete_and_resumes(tmp_path, monkeypatch):
    """windowing.json is written with the results, before run.json marks the run complete: a run stopped after
    its last epoch, while its point threshold is computed, is an interrupted run (not a model of cut signals)
    and resuming it only computes the threshold."""
    from sigae.estimator import windowed

    x = series(n=800, channels=1)
    whole = SignalAutoencoder(**CONFIG).fit_recordings(x, 32, 2, run_dir=tmp_path / "whole", **OPTIONS)
    real = windowed.segment_point_scores

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(windowed, "segment_point_scores", killed)
    with pytest.raises(KeyboardInterrupt):
        SignalAutoencoder(**CONFIG).fit_recordings(x, 32, 2, run_dir=tmp_path / "cut", **OPTIONS)
    monkeypatch.setattr(windowed, "segment_point_scores", real)
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["complete"] is False
    with pytest.raises(RunFolderError, match="not complete"):
        sigae.load(tmp_path / "cut")
    resumed = SignalAutoencoder.resume_recordings(tmp_path / "cut", x, verbose=0, log=lambda *a: None)
    assert_same_weights(resumed, whole)
    assert sigae.load(tmp_path / "cut").windowing_ == whole.windowing_


def test_sigae_train_resume_of_a_folder_of_recordings(tmp_path, capsys, monkeypatch):
    """Several files: each read again from the path the run records, in the run's order."""
    from sigae.cli.train import StopRequest

    data = tmp_path / "data"
    data.mkdir()
    x = series(n=1200, channels=1)[:, 0]
    scipy.io.savemat(data / "a.mat", {"x": x[:700, None]})
    scipy.io.savemat(data / "b.mat", {"x": x[500:, None]})
    monkeypatch.chdir(tmp_path)
    args = ["train", "data", "--var", "x", "--window", "32", "--hop", "2", *FLAGS, "--preset", "reconstruction"]
    assert run_cli(capsys, *args, "--out", tmp_path / "whole")[0] == 0
    steps = iter(range(10**6))
    monkeypatch.setattr(StopRequest, "install", lambda self: (lambda: next(steps) == 20))
    assert run_cli(capsys, *args, "--out", tmp_path / "cut")[0] == 130
    monkeypatch.setattr(StopRequest, "install", lambda self: (lambda: False))
    monkeypatch.chdir(data)  # the run records absolute paths: the relative "data" given at training time still works
    code, _, err = run_cli(capsys, "train", "--resume", tmp_path / "cut", "--quiet")
    assert code == 0, err
    assert_same_weights(sigae.load(tmp_path / "cut"), sigae.load(tmp_path / "whole"))
    assert (json.loads((tmp_path / "cut" / "windowing.json").read_text())
            == json.loads((tmp_path / "whole" / "windowing.json").read_text()))
