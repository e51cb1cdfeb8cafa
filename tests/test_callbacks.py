"""Keras callbacks under sigae's training loop, and TensorBoard scalars read back with TensorBoard's reader."""

import csv
import json

import keras
import numpy as np
import pytest

from sigae import ConfigError, SignalAutoencoder, TrainingError

from conftest import TINY, make_signals


class Recorder(keras.callbacks.Callback):
    """Writes down every hook call with a copy of its logs."""

    def __init__(self, stop_at_batch=None):
        super().__init__()
        self.calls, self.stop_at_batch = [], stop_at_batch

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", dict(self.params), self.model, self.model.optimizer))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, dict(logs)))
        if self.stop_at_batch == batch:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))

    def of(self, kind):
        return [c for c in self.calls if c[0] == kind]


def _model():
    return SignalAutoencoder(input_length=64, **TINY)


def test_callback_sees_every_epoch_with_the_history_losses():
    x = make_signals(n=40)
    rec = Recorder()
    model = _model().fit(x, epochs=3, batch_size=16, seed=0, verbose=0, callbacks=[rec])
    begin = rec.calls[0]
    assert begin[0] == "train_begin" and begin[2] is model.autoencoder
    assert begin[1] == {"epochs": 3, "steps": 2, "verbose": 0}  # 32 training signals in batches of 16
    assert begin[3] is not None  # the loop's optimizer, for callbacks that read model.optimizer
    assert rec.calls[-1] == ("train_end",) and len(rec.of("train_end")) == 1
    ends = rec.of("epoch_end")
    assert [e[1] for e in ends] == [0, 1, 2] and [e[1] for e in rec.of("epoch_begin")] == [0, 1, 2]
    # The logs are the very numbers of history.csv (same Python floats).
    assert [e[2]["loss"] for e in ends] == model.history_.loss
    assert [e[2]["val_loss"] for e in ends] == model.history_.val_loss
    assert all(e[2]["learning_rate"] == pytest.approx(1e-3, rel=1e-7) for e in ends)  # float32 variable
    batches = rec.of("batch_end")
    assert [b[1] for b in batches] == [0, 1] * 3
    # The last batch's running mean is the epoch's loss.
    assert [b[2]["loss"] for b in batches[1::2]] == pytest.approx(model.history_.loss, rel=1e-12)
    # The optimizer is lent to the model only during training: the saved model is unchanged.
    assert "optimizer" not in vars(model.autoencoder)


def test_csv_logger_writes_the_history(tmp_path):
    x = make_signals(n=40)
    model = _model().fit(x, epochs=2, batch_size=16, seed=0, verbose=0,
                         callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))])
    with open(tmp_path / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["loss"]) for r in rows] == model.history_.loss
    assert [float(r["val_loss"]) for r in rows] == model.history_.val_loss


def test_stop_training_from_an_epoch_hook_ends_the_run():
    x = make_signals(n=40)
    stopper = keras.callbacks.EarlyStopping(monitor="loss", min_delta=1e9, patience=1)  # never "improves"
    model = _model().fit(x, epochs=10, batch_size=16, seed=0, verbose=0, callbacks=[stopper])
    assert len(model.history_.loss) == 2 and model.history_.stopped_early
    assert model.metrics_["epochs_run"] == 2 and model.metrics_["stopped_early"] is True


def test_stop_training_from_a_batch_hook_ends_the_epoch_there():
    x = make_signals(n=40)
    rec = Recorder(stop_at_batch=0)
    model = _model().fit(x, epochs=5, batch_size=16, seed=0, verbose=0, callbacks=[rec])
    assert len(rec.of("batch_end")) == 1 and len(model.history_.loss) == 1
    # The epoch's loss is the mean over the 16 signals it trained on, as the batch hook saw it.
    assert model.history_.loss[0] == rec.of("batch_end")[0][2]["loss"]
    assert rec.of("epoch_end")[0][2]["loss"] == model.history_.loss[0]


def test_learning_rate_scheduler_sets_the_loops_rate():
    x = make_signals(n=40)
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else 0.0)
    rec = Recorder()
    model = _model().fit(x, epochs=3, batch_size=16, seed=0, verbose=0, callbacks=[scheduler, rec])
    assert [e[2]["learning_rate"] for e in rec.of("epoch_end")][1:] == [0.0, 0.0]
    # A zero rate leaves Adam's update exactly zero: the weights, hence the validation loss, stop moving.
    assert model.history_.val_loss[0] == model.history_.val_loss[1] == model.history_.val_loss[2]


def test_terminate_on_nan_stops_a_diverging_run(tmp_path):
    x = make_signals(n=40)
    rec, nan = Recorder(), keras.callbacks.TerminateOnNaN()
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match="NaN/Inf"):
        SignalAutoencoder(preset="seed", input_length=64, learning_rate=1e30, **TINY).fit(
            x, epochs=5, batch_size=8, seed=0, verbose=0, run_dir=run, callbacks=[nan, rec])
    assert rec.model.stop_training is True  # TerminateOnNaN saw the non-finite loss and asked to stop
    last = rec.of("batch_end")[-1][2]["loss"]
    assert not np.isfinite(last)
    assert rec.calls[-1] == ("train_end",)  # callbacks are closed even though training failed
    # The run folder is marked incomplete and holds no model: sigae.load refuses it.
    assert json.loads((run / "run.json").read_text())["complete"] is False
    assert not (run / "model.keras").exists()


def test_callbacks_must_be_keras_callbacks():
    with pytest.raises(ConfigError, match="item 1 is a str"):
        _model().fit(make_signals(n=20), epochs=1, verbose=0, callbacks=[keras.callbacks.Callback(), "x"])


def _scalars(folder, tag="epoch_loss"):
    """(steps, values) of a scalar tag, read with TensorBoard's own event reader."""
    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.TENSORS: 0})
    acc.Reload()
    events = acc.Tensors(tag)  # tf.summary.scalar (TF2) writes tensor events
    return [e.step for e in events], [float(tf.make_ndarray(e.tensor_proto)) for e in events]


def test_tensorboard_holds_losses_learning_rate_and_pca_baseline(tmp_path):
    x = make_signals(n=40)
    model = _model().fit(x, epochs=3, batch_size=16, seed=0, verbose=0, tensorboard=tmp_path / "tb")
    steps, loss = _scalars(tmp_path / "tb" / "train")
    assert steps == [0, 1, 2]
    # tf.summary stores float32: the history's float64 losses rounded once.
    assert loss == pytest.approx(model.history_.loss, rel=1e-6)
    assert _scalars(tmp_path / "tb" / "validation")[1] == pytest.approx(model.history_.val_loss, rel=1e-6)
    assert _scalars(tmp_path / "tb" / "train", "epoch_learning_rate")[1] == pytest.approx([1e-3] * 3, rel=1e-6)
    pca = model.metrics_["pca"]
    assert _scalars(tmp_path / "tb" / "pca_train") == ([0, 1, 2], pytest.approx([pca["train_mse"]] * 3, rel=1e-6))
    assert _scalars(tmp_path / "tb" / "pca_validation")[1] == pytest.approx([pca["val_mse"]] * 3, rel=1e-6)


def test_sigae_train_tensorboard_option(tmp_path, signals_mat):
    from sigae.cli import main

    code = main(["train", str(signals_mat), "--out", str(tmp_path / "run"), "--epochs", "2", "--decoder", "mirror",
                 "--latent-dim", "4", "--seed", "0", "--quiet", "--tensorboard", str(tmp_path / "tb")])
    assert code == 0
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]
    steps, loss = _scalars(tmp_path / "tb" / "train")
    assert steps == [0, 1]
    assert loss == pytest.approx([float(row.split(",")[1]) for row in history], rel=1e-6)


def test_tensorboard_without_its_package_is_one_line_before_anything_is_written(tmp_path, signals_mat, capsys,
                                                                                monkeypatch):
    import importlib.util

    from sigae.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    code = main(["train", str(signals_mat), "--out", str(tmp_path / "run"), "--epochs", "1", "--quiet",
                 "--tensorboard", str(tmp_path / "tb")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install -e '.[tensorboard]'" in err[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "tb").exists()
