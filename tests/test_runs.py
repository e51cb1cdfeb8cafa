"""Run folders as users meet them: failed runs (NaN/Inf), what a finished folder keeps, lazy models,
inference calls of any size without retracing."""

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import sigae
from sigae import SignalAutoencoder
from sigae.cli import run as cli_run
from sigae.data.preprocessing import SigaeWarning
from sigae.training.loop import TrainingFailed

from conftest import TINY, make_signals

BUGCASES = Path(__file__).resolve().parents[2] / "shared" / "bugcases"
if not BUGCASES.is_dir():
    BUGCASES = Path("/work/shared/bugcases")


@pytest.fixture
def damped_sines(tmp_path):
    """The field report's file (60 damped sines x 64), or the same kind of data rebuilt when it is absent."""
    source = BUGCASES / "damped_sines_60x64.mat"
    path = tmp_path / "damped_sines_60x64.mat"
    if source.is_file():
        path.write_bytes(source.read_bytes())
    else:
        scipy.io.savemat(path, {"signals": make_signals(n=60, seed=5)})
    return path


# ---------------------------------------------------------------------------- failed runs
def test_diverged_run_is_recorded_as_failed_and_never_advised_for_resume(tmp_path, damped_sines, capsys):
    """The field report's command: --learning-rate 1e30 diverges in epoch 1 (validation loss ~1e62), NaN in 2."""
    out = tmp_path / "runs" / "nan"
    args = [str(damped_sines), "--preset", "seed", "--epochs", "2", "--decoder", "mirror", "--seed", "0", "--quiet"]
    assert cli_run("train", args + ["--learning-rate", "1e30", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "training failed: " in err and "NaN/Inf at epoch" in err
    assert "--learning-rate" in err and "--resume" not in err
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "failed" and state["complete"] is False and state["failed_at_epoch"] in (1, 2)
    assert "NaN/Inf" in state["reason"] and "constant prediction" in state["reason"]
    # Nothing that suggests a usable or resumable model is left behind.
    assert not (out / "model.keras").exists() and not (out / "checkpoints").exists()
    for command, argv in (("info", [str(out)]), ("score", [str(out), str(damped_sines), "-o", str(tmp_path / "s.csv")])):
        assert cli_run(command, argv) == 2
        err = capsys.readouterr().err.strip()
        assert f"{out}: failed: " in err and "retrain" in err and "--resume" not in err, err
        assert f"sigae-train {damped_sines.resolve()} --out {out} --learning-rate 0.001" in err
    assert not (tmp_path / "s.csv").exists()
    assert cli_run("train", ["--resume", str(out)]) == 2
    assert "resuming would repeat the failure" in capsys.readouterr().err
    # The same --out works again without --overwrite (a failed folder holds nothing worth keeping).
    assert cli_run("train", [a for a in args if a != "--quiet"] + ["--out", str(out)]) == 0  # the note is said
    assert "replacing the failed run" in capsys.readouterr().out
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert sigae.load(out).history_.loss and len(sigae.load(out).history_.loss) == 2


def test_a_complete_folder_still_needs_overwrite(tmp_path, damped_sines, capsys):
    out = tmp_path / "done"
    args = [str(damped_sines), "--epochs", "1", "--decoder", "mirror", "--seed", "0", "--quiet", "--out", str(out)]
    assert cli_run("train", args) == 0
    assert cli_run("train", args) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_nan_in_epoch_1_fails_without_a_model(tiny_config):
    """No epoch ever finished: there is nothing to keep, whatever the loss."""
    from sigae.model.network import build_models
    from sigae.training.loop import train_autoencoder

    _, _, autoencoder = build_models(tiny_config)
    kernel = autoencoder.get_layer("encoder").get_layer("encoder_dense").kernel
    kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))
    x = (make_signals(n=32)[:, :, None] - 3.0).astype("float32")
    with pytest.raises(TrainingFailed, match="training loss became NaN/Inf at epoch 1, before any epoch finished"):
        train_autoencoder(autoencoder, x, None, epochs=3, batch_size=8, learning_rate=1e-3, verbose=0)


def _poison_after(epoch_to_poison, monkeypatch, what="weights"):
    """Patch training.train_autoencoder so that after *epoch_to_poison* the encoder's Dense kernel (or the
    validation signals) become NaN/Inf; return the per-epoch weight snapshots."""
    import sigae.training.loop as training

    real = training.train_autoencoder
    snapshots = {}

    def train(autoencoder, x_train, x_val, **kwargs):
        user_hook = kwargs.get("on_epoch_end")

        def hook(epoch, history):
            snapshots[epoch] = autoencoder.get_weights()
            if epoch == epoch_to_poison:
                if what == "weights":
                    kernel = autoencoder.get_layer("encoder").get_layer("encoder_dense").kernel
                    kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))
                else:
                    x_val[0, 0, 0] = np.inf  # validation only: training signals and weights stay finite
            if user_hook is not None:
                user_hook(epoch, history)

        return real(autoencoder, x_train, x_val, **{**kwargs, "on_epoch_end": hook})

    monkeypatch.setattr(training, "train_autoencoder", train)
    return snapshots


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the final metrics meet the poisoned signal
@pytest.mark.parametrize("what,which", [("weights", "training"), ("validation", "validation")])
def test_nan_after_good_epochs_keeps_the_best_epoch_with_a_warning(tmp_path, monkeypatch, what, which):
    snapshots = _poison_after(4, monkeypatch, what)
    x = make_signals(n=80, seed=3)
    run = tmp_path / "run"
    with pytest.warns(SigaeWarning, match=f"the {which} loss became NaN/Inf at epoch 5; .*keeps the weights of epoch"):
        # cross_fit_folds=0: fold models would train through the patched loop and overwrite the snapshots
        model = SignalAutoencoder(input_length=64, learning_rate=1e-2, cross_fit_folds=0, **TINY).fit(
            x, epochs=8, batch_size=16, seed=0, verbose=0, run_dir=run)
    best = model.history_.best_epoch
    assert model.history_.nonfinite_epoch == 5 and len(model.history_.loss) == 4 and best is not None
    # The kept weights are exactly those at the end of the best epoch (restored, not recomputed).
    for kept, saved in zip(model.autoencoder.get_weights(), snapshots[best]):
        assert np.array_equal(kept, saved)
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "complete" and "NaN/Inf at epoch 5" in state["warning"]
    loaded = sigae.load(run)
    assert "NaN/Inf at epoch 5" in loaded.metrics_["warning"]
    assert np.isfinite(loaded.reconstruct(x)).all()


def test_validation_nan_in_epoch_1_fails_naming_validation(tiny_config):
    from sigae.model.network import build_models
    from sigae.training.loop import train_autoencoder

    _, _, autoencoder = build_models(tiny_config)
    x = (make_signals(n=40)[:, :, None] - 3.0).astype("float32")
    x_val = x[32:].copy()
    x_val[1, 5, 0] = np.inf
    with pytest.raises(TrainingFailed, match="the validation loss became NaN/Inf at epoch 1") as caught:
        train_autoencoder(autoencoder, x[:32], x_val, epochs=3, batch_size=8, learning_rate=1e-3, verbose=0)
    assert caught.value.epoch == 1


def test_cli_warns_and_exits_0_when_the_best_epoch_is_kept(tmp_path, monkeypatch, damped_sines, capsys):
    _poison_after(2, monkeypatch)
    out = tmp_path / "kept"
    code = cli_run("train", [str(damped_sines), "--epochs", "4", "--decoder", "mirror", "--seed", "0",
                             "--preset", "reconstruction",
                             "--learning-rate", "1e-2", "--batch-size", "8", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "sigae-train: warning: the training loss became NaN/Inf at epoch 3" in captured.err
    assert "warning: the training loss became NaN/Inf at epoch 3" in captured.out  # in the summary too
    assert sigae.load(out).history_.loss


# ---------------------------------------------------------------------------- what a finished folder keeps
def _size(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def test_finished_run_folder_keeps_only_what_it_needs(tmp_path):
    x = make_signals(n=60, seed=2)
    run = tmp_path / "run"
    SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=2, batch_size=16, seed=0, verbose=0, run_dir=run)
    assert not (run / "checkpoints").exists()
    assert _size(run) <= (run / "model.keras").stat().st_size + 5 * 2**20
    assert {p.name for p in run.iterdir()} == {
        "model.keras", "config.json", "normalizer.json", "training.json", "split.npz", "run.json", "history.csv",
        "metrics.json", "threshold.json", "train_scores.npy", "cross_fitted.npz", "loss.png", "reconstructions.png"}


def test_keep_checkpoints_keeps_best_and_last(tmp_path):
    from sigae.training.checkpoints import load_checkpoint

    x = make_signals(n=60, seed=2)
    run = tmp_path / "run"
    model = SignalAutoencoder(preset="seed", input_length=64, **TINY).fit(x, epochs=3, batch_size=16, seed=0,
                                                                         verbose=0, run_dir=run, keep_checkpoints=True)
    state = load_checkpoint(run / "checkpoints" / "last.npz", model.autoencoder)
    assert state["epoch"] == 3
    # Without patience the model is the last epoch's: the checkpoint holds exactly these weights.
    for a, b in zip(model.autoencoder.get_weights(), sigae.load(run).autoencoder.get_weights()):
        assert np.array_equal(a, b)
    best = load_checkpoint(run / "checkpoints" / "best.npz", model.autoencoder)
    assert best["epoch"] == model.history_.best_epoch


@pytest.mark.parametrize("background", [True, False])
def test_best_checkpoint_is_a_link_not_a_second_copy(tmp_path, tiny_config, monkeypatch, background):
    """An improving epoch writes ~3x the model once: best.npz is the same file as last.npz."""
    import sigae.training.checkpoints
    from sigae.model.network import build_models
    from sigae.training.loop import train_autoencoder

    monkeypatch.setattr(sigae.training.checkpoints, "CHECKPOINT_IN_BACKGROUND", background)

    _, _, autoencoder = build_models(tiny_config)
    x = (make_signals(n=32)[:, :, None] - 3.0).astype("float32")
    history = train_autoencoder(autoencoder, x, None, epochs=2, batch_size=8, learning_rate=1e-2, verbose=0,
                                checkpoint_dir=tmp_path)
    assert history.best_epoch == 2  # the second epoch improved, so both files are its checkpoint
    assert os.path.samefile(tmp_path / "last.npz", tmp_path / "best.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "last.npz"]  # no temporary file left


# ---------------------------------------------------------------------------- models before fit
def test_autoencoder_is_built_on_first_access_for_the_configured_length():
    import keras

    model = SignalAutoencoder(input_length=80, **TINY)
    assert isinstance(model.autoencoder, keras.Model)
    assert model.autoencoder.input_shape == (None, 80, 1) and model.autoencoder.output_shape == (None, 80, 1)
    assert model.encoder is model.autoencoder.get_layer("encoder")
    assert model.decoder is model.autoencoder.get_layer("decoder")
    assert model.encoder.output_shape == (None, 4)
    model.autoencoder.summary(print_fn=lambda *a, **k: None)
    assert "unfitted" in repr(model)
    with pytest.raises(sigae.NotFittedError):
        model.encode(make_signals(n=2, length=80))


# ---------------------------------------------------------------------------- inference calls
class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_no_retracing_warnings_for_any_number_of_signals_or_models(trained):
    """TensorFlow warns after 5 traces of the same function code; each loaded model used to add one."""
    import tensorflow as tf  # noqa: F401  (its logger exists once it is imported)

    _, run, x = trained
    records = _Records()
    logger = logging.getLogger("tensorflow")
    logger.addHandler(records)
    try:
        for i in range(7):
            model = sigae.load(run)
            for n in (1, 2, 3, 5, 8, 13, 40, 80):
                model.encode(x[:n])
                model.reconstruct(x[(i % 3):(i % 3) + n])
    finally:
        logger.removeHandler(records)
    assert not [m for m in records.messages if "retracing" in m], records.messages[:1]


@pytest.mark.parametrize("batch_size", [None, 7])
def test_padding_rows_change_nothing(trained, batch_size):
    """Calls of every size give each signal the code it gets inside a larger call."""
    model, _, x = trained
    full = model.encode(x, batch_size=batch_size)
    for n in (1, 2, 6, 7, 8, 33, 79):
        part = model.encode(x[:n], batch_size=batch_size)
        assert part.shape == (n, 4)
        # Batches of different sizes may be blocked differently by oneDNN: float32 rounding only.
        np.testing.assert_allclose(part, full[:n], rtol=0, atol=1e-6)
    assert np.array_equal(model.decode(model.encode(x[:5])), model.reconstruct(x[:5]))


def test_padded_sizes():
    from sigae.training.prediction import SMALL_PREDICT_BATCH, padded_size

    assert SMALL_PREDICT_BATCH == 32
    assert [padded_size(m, 1024) for m in (1, 32, 33, 1000, 1024)] == [32, 32, 1024, 1024, 1024]
    assert [padded_size(m, 7) for m in (1, 7)] == [7, 7]


# ---------------------------------------------------------------------------- final passes
@pytest.mark.parametrize("n", [300, 40])
def test_pca_baseline_through_the_covariance_matches_an_svd(n):
    """PCABaseline.fit uses eigh of the covariance (10x cheaper than an SVD next to TensorFlow): the
    reconstructions equal those of the SVD's components to float64 rounding of a squared condition number."""
    from sigae.evaluation.scoring import PCABaseline

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(n, 6)) @ rng.normal(size=(6, 64)) + 0.1 * rng.normal(size=(n, 64)))[:, :, None]
    new = rng.normal(size=(20, 64, 1))
    flat = x.reshape(n, -1)
    mean = flat.mean(axis=0)
    vt = np.linalg.svd(flat - mean, full_matrices=False)[2][:8]
    expected = ((new.reshape(20, -1) - mean) @ vt.T @ vt + mean).reshape(new.shape)
    np.testing.assert_allclose(PCABaseline(8).fit(x).reconstruct(new), expected, rtol=0, atol=1e-8)


def test_default_model_keeps_its_pca_start_when_training_diverges(tmp_path, damped_sines, capsys):
    """The field report's command with the reconstruction preset (the default until config version 4): its
    PCA start is epoch 0 and beats a constant prediction, so a diverging run ends with that model, a warning,
    exit 0 and a complete folder."""
    out = tmp_path / "runs" / "nan-default"
    args = [str(damped_sines), "--epochs", "2", "--seed", "0", "--quiet", "--learning-rate", "1e30",
            "--preset", "reconstruction", "--rare-fraction", "0", "--out", str(out)]  # PCA start = the baseline
    assert cli_run("train", args) == 0
    assert "warning" in capsys.readouterr().err
    state = json.loads((out / "run.json").read_text())
    assert state["complete"] is True and "NaN/Inf" in state["warning"]
    model = sigae.load(out)
    assert model.metrics_["best_epoch"] == 0
    assert model.metrics_["autoencoder"]["val_mse"] <= model.metrics_["pca"]["val_mse"] * (1 + 1e-5)


def test_outputs_get_the_usual_permissions(tmp_path):
    """Atomic writes go through mkstemp/mkdtemp (0600/0700); the files and run folder must end up as open()
    and mkdir() would make them under the process umask, so colleagues can read a shared run."""
    old = os.umask(0o022)
    try:
        x = make_signals(n=30, seed=3)
        run = SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=1, batch_size=8, seed=0, verbose=0).save(
            tmp_path / "run")
    finally:
        os.umask(old)
    assert run.stat().st_mode & 0o777 == 0o755
    assert (run / "config.json").stat().st_mode & 0o777 == 0o644
    assert (run / "model.keras").stat().st_mode & 0o777 == 0o644
