"""Runs a user can rely on: interrupt and resume, atomic outputs, numerical faults, safe loading."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import scipy.io

import sigae
from sigae import RunFolderError, SignalAutoencoder

from conftest import TINY, make_signals

TRAIN = ["--epochs", "25", "--batch-size", "8", "--latent-dim", "4", "--seed", "3", "--quiet"]


def _cli(*args, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "sigae", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def _wait_for(path, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{path} never appeared: {proc.communicate()}")
        time.sleep(0.05)


def _weights(run):
    return sigae.load(run).autoencoder.get_weights()


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "signals.mat"
    scipy.io.savemat(path, {"signals": make_signals(n=200, seed=9)})
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data_file):
    run = tmp_path_factory.mktemp("runs") / "full"
    proc = _cli("train", data_file, "--out", run, *TRAIN)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return run


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_run_resumes(tmp_path, data_file, uninterrupted, sig):
    run = tmp_path / "run"
    proc = _cli("train", data_file, "--out", run, *TRAIN)
    _wait_for(run / "checkpoints" / "last.npz", proc)
    time.sleep(0.3)  # mid-epoch, a few steps later
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    state = json.loads((run / "run.json").read_text())
    if state["complete"]:
        pytest.skip("training finished before the signal arrived")
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and f"sigae-train --resume {run}" in err
        assert state["status"] == "interrupted"
    with pytest.raises(RunFolderError, match=r"SignalAutoencoder\.resume\("):  # from Python, in Python's words
        sigae.load(run)
    resumed = _cli("train", "--resume", run, "--quiet")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 25 and [int(r.split(",")[0]) for r in history[1:]] == list(range(1, 26))
    got = _weights(run)
    if sig == signal.SIGINT:
        # Same seed, same data, deterministic ops: the resumed run equals the uninterrupted one bitwise.
        for a, b in zip(got, _weights(uninterrupted)):
            assert np.array_equal(a, b)


def test_atomic_output_is_never_truncated(tmp_path):
    """Kill a writer at random moments: the file is either the old complete one or the new complete one."""
    target = tmp_path / "out.mat"
    script = (
        "import numpy as np, sys\n"
        "from sigae.data.files import atomic_path\n"
        "import scipy.io\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1\n"
        "    with atomic_path(sys.argv[1]) as tmp:\n"
        "        scipy.io.savemat(tmp, {'x': np.full((300, 501), float(i))})\n"
    )
    for delay in (0.4, 0.7, 1.1):
        proc = subprocess.Popen([sys.executable, "-c", script, str(target)])
        time.sleep(delay)
        proc.kill()
        proc.wait()
        if target.exists():
            x = scipy.io.loadmat(target)["x"]
            assert x.shape == (300, 501) and np.all(x == x[0, 0])


def test_nan_loss_stops_at_once_and_keeps_best(tmp_path, tiny_config):
    """Inject a NaN into a weight after epoch 3: epoch 4's first step must stop training, keep the best epoch
    (it beats a constant prediction) with a warning, and leave its checkpoint on disk."""
    from sigae.data.preprocessing import SigaeWarning
    from sigae.model.network import build_models
    from sigae.training import load_checkpoint, train_autoencoder

    _, _, autoencoder = build_models(tiny_config)
    x = (make_signals(n=32)[:, :, None] - 3.0).astype("float32")
    snapshots = {}

    def poison(epoch, history):
        snapshots[epoch] = autoencoder.get_weights()
        if epoch == 3:
            kernel = autoencoder.get_layer("encoder").get_layer("encoder_dense").kernel
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))

    with pytest.warns(SigaeWarning, match="training loss became NaN/Inf at epoch 4.*weights of epoch 3"):
        history = train_autoencoder(autoencoder, x, None, epochs=6, batch_size=8, learning_rate=1e-2, verbose=0,
                                    checkpoint_dir=tmp_path, on_epoch_end=poison)
    assert history.best_epoch == 3 and history.nonfinite_epoch == 4 and len(history.loss) == 3
    for restored, kept in zip(autoencoder.get_weights(), snapshots[3]):
        assert np.array_equal(restored, kept)
    state = load_checkpoint(tmp_path / "best.npz", autoencoder)
    assert state["epoch"] == 3 and all(np.isfinite(w).all() for w in autoencoder.get_weights())


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_extreme_magnitudes_train_without_nan(scale):
    x = make_signals(n=40) * scale
    model = SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=1, batch_size=8, verbose=0, seed=0)
    rec = model.reconstruct(x)
    assert np.isfinite(rec).all() and np.isfinite(model.encode(x)).all()
    assert np.abs(rec).max() < 100 * np.abs(x).max()


@pytest.fixture
def tampered(tmp_path, trained):
    """A copy of the trained run folder, to damage."""
    copy = tmp_path / "tampered"
    shutil.copytree(trained[1], copy)
    return copy


def test_lambda_layer_in_model_file_is_refused(tampered):
    import keras

    inputs = keras.Input((64, 1))
    keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs)).save(tampered / "model.keras")
    with pytest.raises(RunFolderError, match="cannot load the model safely"):
        sigae.load(tampered)


def test_unknown_class_in_model_file_is_refused(tampered):
    archive = tampered / "model.keras"
    with zipfile.ZipFile(archive) as src:
        files = {name: src.read(name) for name in src.namelist()}
    files["config.json"] = files["config.json"].replace(b'"Conv1D"', b'"EvilLayer"', 1)
    with zipfile.ZipFile(archive, "w") as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    with pytest.raises(RunFolderError, match="cannot load the model safely"):
        sigae.load(tampered)


def test_mismatched_config_is_refused(tampered):
    config = json.loads((tampered / "config.json").read_text())
    config["latent_dim"] = 5
    (tampered / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunFolderError, match="disagree"):
        sigae.load(tampered)


def test_constant_signals_train_with_a_warning_and_no_nan():
    from sigae.data.preprocessing import SigaeWarning

    x = np.full((20, 64), 7.5)
    with pytest.warns(SigaeWarning, match="zero spread"):
        model = SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=1, batch_size=5, verbose=0, seed=0)
    rec = model.reconstruct(x)
    # The normalized signals are all zero, so the model only has to learn a constant: close, and never NaN.
    assert np.isfinite(rec).all() and np.abs(rec - 7.5).max() < 1.0
