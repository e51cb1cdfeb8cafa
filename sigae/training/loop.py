"""The training loop: one compiled step, early stopping, NaN guard, history.

A hand-written loop instead of ``Model.fit`` so that the step, the shuffling
and the stopping rules are ours: the same loop serves every use and its
behaviour does not depend on Keras' callback machinery.

:func:`train_autoencoder` builds the optimizer and the step, then drives a :class:`_Loop` (what the epochs share:
best loss and weights, epochs waited, history, checkpoints) epoch by epoch. The step itself is in
:mod:`sigae.training.step`, checkpoints in :mod:`sigae.training.checkpoints`, inference and the validation loss
in :mod:`sigae.training.prediction`.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sigae.data.preprocessing import SigaeWarning
from sigae.errors import TrainingError
from sigae.training.callbacks import loop_callbacks
from sigae.training.checkpoints import CheckpointWriter, checkpoint_arrays, load_checkpoint, write_npz
from sigae.training.optimizer import make_optimizer
from sigae.training.prediction import constant_mse, make_predict_fn, mse_per_batch
from sigae.training.step import EpochBatches, make_train_step


@dataclass
class History:
    """Per-epoch losses (mean squared error in normalized units)."""

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    nonfinite_epoch: int | None = None
    """The epoch whose loss became NaN/Inf (training stopped there and kept ``best_epoch``), if any."""
    warning: str | None = None
    initial_val_loss: float | None = None
    """Validation loss of the untrained model (epoch 0), when ``restore_best`` counted it."""

    def as_state(self) -> dict:
        return asdict(self)

    def to_csv(self) -> str:
        rows = ["epoch,loss,val_loss,seconds"]
        for i, loss in enumerate(self.loss):
            val = repr(self.val_loss[i]) if i < len(self.val_loss) else ""  # empty without a validation split
            rows.append(f"{i + 1},{loss!r},{val},{self.seconds[i]:.3f}")
        return "\n".join(rows) + "\n"


class TrainingInterrupted(Exception):
    """Training stopped on request (SIGINT/SIGTERM) after finishing a step."""

    def __init__(self, epochs_done: int):
        super().__init__(f"training interrupted; {epochs_done} epoch(s) completed")
        self.epochs_done = epochs_done


class TrainingFailed(TrainingError):
    """The loss became NaN/Inf before any epoch did better than a constant: there is no model worth keeping.

    ``reason`` says what happened, ``remedy`` what to change; resuming would repeat the failure."""

    def __init__(self, reason: str, remedy: str, epoch: int):
        super().__init__(f"training failed: {reason}; {remedy}")
        self.reason, self.remedy, self.epoch = reason, remedy, epoch


def train_autoencoder(autoencoder, x_train: np.ndarray, x_val: np.ndarray | None, *, epochs: int,
                      batch_size: int, learning_rate: float, lr_schedule: str = "constant",
                      trim_fraction: float = 0.0,
                      patience: int | None = None, restore_best: bool = False, seed: int | None = None,
                      verbose="auto", log=print,
                      checkpoint_dir=None, resume: bool = False, should_stop=None,
                      on_epoch_end=None, strategy=None, forward=None, predict_forward=None,
                      callbacks=None, codes=None) -> History:
    """Train *autoencoder* to reproduce its input (MSE, Adam).

    *x_train* / *x_val* are normalized float32 arrays ``(n, L, C)``, or
    :class:`sigae.training.data.StreamedPart` s read from a file as training goes. With
    *patience*, training stops when the monitored loss (validation if there is
    a validation set, else training) has not improved for that many epochs, and
    the best weights are restored. With *restore_best*, the best epoch's weights are restored at the end
    whatever *patience* is, and the untrained model counts as epoch 0 (so a model that starts at a good
    solution, such as the PCA-initialized linear path, never ends worse on the monitored loss).

    A NaN/Inf loss (training, checked every step, or validation, every epoch)
    stops training at once. If an earlier epoch did better than a constant
    prediction (:func:`constant_mse` of the monitored signals), its weights are
    restored, ``history.nonfinite_epoch`` and ``history.warning`` say what
    happened and a :class:`~sigae.data.preprocessing.SigaeWarning` is issued;
    otherwise :class:`TrainingFailed` is raised (no usable model; resuming
    would repeat the failure).

    With *checkpoint_dir*, ``last.npz`` (weights, optimizer state, epoch,
    history) is written after every epoch, by a background thread while the
    next epoch trains (:class:`CheckpointWriter`), and ``best.npz`` (a hard
    link to the same file) whenever the monitored loss improves; *resume*
    continues from ``last.npz`` exactly as an uninterrupted run would.

    With *trim_fraction* > 0, the gradient of each batch comes from its
    best-reconstructed signals only: the worst ``trim_fraction`` of each batch
    is left out, so a few anomalous signals in the training data are not
    learned (and still stand out when scored): iterative trimmed loss minimization (Shen & Sanghavi, "Learning
    with bad training data via iterative trimmed loss minimization", ICML 2019). The reported loss is the plain
    mean over all signals. *should_stop* is polled after every step; when
    it returns true, :class:`TrainingInterrupted` is raised (the last completed
    epoch is in ``last.npz``).

    *forward* (``x -> autoencoder(x, training=True)``) and *predict_forward* (the same for the validation
    loss) default to calling the model; :mod:`sigae.model.fastpath` gives faster ones.

    *callbacks*: ``keras.callbacks.Callback`` objects, called as ``Model.fit`` calls them
    (:mod:`sigae.training.callbacks` says which hooks and logs).

    *codes*: ``(decoder, z_train, z_val)`` when the encoder is frozen (nothing in it trains): its codes of
    *x_train* / *x_val*, computed once, and the decoder the steps then run on them (``forward`` maps codes
    to reconstructions). The same model and loss; each step skips the encoder.
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    forward = forward or (lambda x: autoencoder(x, training=True))
    optimizer = make_optimizer(autoencoder, strategy, learning_rate, lr_schedule,
                               epochs * math.ceil(len(x_train) / batch_size))
    train_step = make_train_step(strategy, optimizer, forward, autoencoder, trim_fraction, codes is not None)
    loop = _Loop(autoencoder, optimizer, x_train, x_val, epochs=epochs, batch_size=batch_size,
                 learning_rate=learning_rate, patience=patience, seed=seed, mode=_progress(verbose), log=log,
                 checkpoint_dir=checkpoint_dir, strategy=strategy, predict_forward=predict_forward, codes=codes)
    if resume:
        loop.resume()
    if restore_best and not resume:
        loop.count_untrained_model()
    hooks = loop_callbacks(callbacks, autoencoder, optimizer, epochs=epochs, steps=loop.steps, verbose=loop.mode)
    hooks.train_begin()
    try:
        for epoch in range(loop.first_epoch, epochs + 1):
            if loop.history.stopped_early:
                break
            loop.run_epoch(epoch, train_step, hooks, should_stop, on_epoch_end)
    except _NonFinite as stop:
        loop.stop_for_nonfinite(stop.epoch, stop.which)  # called from here: its warning's stacklevel counts on it
        return loop.history
    finally:
        if loop.writer is not None:
            loop.writer.wait()
        hooks.train_end()
    if (patience is not None or restore_best) and loop.best_weights is not None:
        loop.restore(loop.best_weights)
    return loop.history


class _NonFinite(Exception):
    """A NaN/Inf loss at *epoch*: *which* is "training" or "validation"."""

    def __init__(self, epoch, which):
        self.epoch, self.which = epoch, which


def _progress(verbose):
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(verbose)


class _Loop:
    """What the epochs of one :func:`train_autoencoder` call share, and the parts of an epoch in order.

    ``best`` / ``best_weights`` (device-side copies) / ``waited`` track the monitored loss (validation if there
    is a validation set, else training); ``history`` is returned; ``writer`` writes the checkpoints.
    """

    def __init__(self, autoencoder, optimizer, x_train, x_val, *, epochs, batch_size, learning_rate, patience, seed,
                 mode, log, checkpoint_dir, strategy, predict_forward, codes):
        self.autoencoder, self.optimizer, self.x_train, self.x_val, self.codes = (autoencoder, optimizer, x_train,
                                                                                  x_val, codes)
        self.epochs, self.batch_size, self.learning_rate, self.patience = epochs, batch_size, learning_rate, patience
        self.mode, self.log = mode, log
        self.n = len(x_train)
        self.steps = math.ceil(self.n / batch_size)
        self.batches = EpochBatches(x_train, batch_size, seed, codes, strategy)
        self.streamed = self.batches.streamed
        self.predict = make_predict_fn(autoencoder if codes is None else codes[0], predict_forward)
        self.rng = np.random.default_rng(seed)
        self.history = History()
        self.best, self.best_weights, self.waited, self.first_epoch = math.inf, None, 0, 1
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.writer = CheckpointWriter(self.checkpoint_dir) if self.checkpoint_dir is not None else None
        self.weights = autoencoder.weights

    # ------------------------------------------------------------------ weights and losses
    def snapshot(self):
        """Device-side copies of the weights (no host round trip): TensorFlow copies a variable's buffer on its
        next update only while such a read of it is alive."""
        import tensorflow as tf

        return [tf.identity(w.value) for w in self.weights]

    def restore(self, values):
        for w, value in zip(self.weights, values):
            w.assign(value)

    def has_validation(self) -> bool:
        return self.x_val is not None and len(self.x_val) > 0

    def validation_loss(self):
        if self.x_val is None or not len(self.x_val):
            return None
        if not self.streamed:
            return mse_per_batch(self.predict, self.x_val, inputs=None if self.codes is None else self.codes[2])
        total = sum(mse_per_batch(self.predict, xb) * len(xb) for xb in self.x_val.blocks())
        return total / len(self.x_val)

    def state(self, epoch: int) -> dict:
        """The loop state a checkpoint holds after *epoch*."""
        return {"epoch": epoch, "best": self.best, "waited": self.waited, "history": self.history.as_state()}

    # ------------------------------------------------------------------ before the first epoch
    def resume(self):
        """Continue from ``last.npz``: weights, optimizer, loop state, the shuffles already drawn, best weights."""
        state = load_checkpoint(self.checkpoint_dir / "last.npz", self.autoencoder, self.optimizer)
        self.history = History(**state["history"])
        self.best, self.waited, self.first_epoch = state["best"], state["waited"], state["epoch"] + 1
        for _ in range(0 if self.streamed else state["epoch"]):
            self.rng.permutation(self.n)  # replay the shuffles of the epochs already done
        if (self.checkpoint_dir / "best.npz").is_file():
            current = self.snapshot()
            load_checkpoint(self.checkpoint_dir / "best.npz", self.autoencoder)
            self.best_weights = self.snapshot()
            self.restore(current)
        if self.mode:
            self.log(f"resuming after epoch {state['epoch']} of {self.epochs}")

    def count_untrained_model(self):
        """Make the untrained model epoch 0, the best so far, when its validation loss is finite (restore_best)."""
        initial = self.validation_loss()
        if initial is not None and math.isfinite(initial):
            self.best, self.best_weights, self.history.best_epoch = initial, self.snapshot(), 0
            self.history.initial_val_loss = initial
            if self.checkpoint_dir is not None:  # so that a resumed run can still restore epoch 0
                write_npz(self.checkpoint_dir / "best.npz",
                          checkpoint_arrays(self.autoencoder, self.optimizer, self.state(0)))

    # ------------------------------------------------------------------ an epoch
    def run_epoch(self, epoch, train_step, hooks, should_stop, on_epoch_end):
        """Train one epoch, then record it, judge it (best, patience) and checkpoint it."""
        import keras

        hooks.epoch_begin(epoch)
        start = time.perf_counter()
        bar = keras.utils.Progbar(self.steps, stateful_metrics=["loss", "val_loss"]) if self.mode == 1 else None
        if bar is not None:
            self.log(f"Epoch {epoch}/{self.epochs}")
        train_loss = self.train_steps(epoch, train_step, hooks, should_stop, bar)
        val_loss = self.validation_loss()
        if val_loss is not None and not math.isfinite(val_loss):
            raise _NonFinite(epoch, "validation")
        self.record(epoch, train_loss, val_loss, start, bar)
        improved = self.judge(epoch, train_loss if val_loss is None else val_loss)
        if hooks.epoch_end(epoch, train_loss, val_loss):
            self.history.stopped_early = True
        if self.writer is not None:
            self.writer.submit(self.autoencoder, self.optimizer, self.state(epoch), best=improved)
        if on_epoch_end is not None:
            on_epoch_end(epoch, self.history)

    def train_steps(self, epoch, train_step, hooks, should_stop, bar) -> float:
        """The epoch's steps; return its training loss (the mean over the signals it saw)."""
        import tensorflow as tf

        n, batch_size = self.n, self.batch_size
        total = 0.0
        batches = self.batches(epoch, self.rng)
        for step in range(self.steps):
            global_n = min(batch_size, n - step * batch_size)
            hooks.batch_begin(step)
            loss = float(train_step(next(batches), tf.constant(global_n, tf.float32)))
            stop = hooks.batch_end(step, (total + loss * global_n) / min(n, (step + 1) * batch_size))
            if not math.isfinite(loss):
                raise _NonFinite(epoch, "training")
            total += loss * global_n
            if bar is not None:
                bar.update(step + 1, [("loss", total / min(n, (step + 1) * batch_size))], finalize=False)
            if should_stop is not None and should_stop():
                raise TrainingInterrupted(epoch - 1)
            if stop:  # a callback set model.stop_training
                self.history.stopped_early = True
                break
        return total / min(n, (step + 1) * batch_size)  # n unless a callback stopped the epoch

    def record(self, epoch, train_loss, val_loss, start, bar):
        """The epoch's losses and time into the history, and its progress line."""
        history = self.history
        history.loss.append(train_loss)
        if val_loss is not None:
            history.val_loss.append(val_loss)
        history.seconds.append(time.perf_counter() - start)
        if bar is not None:
            bar.update(self.steps, [("loss", train_loss)] + ([("val_loss", val_loss)] if val_loss is not None else []),
                       finalize=True)
        elif self.mode == 2:
            val_text = "" if val_loss is None else f" - val_loss {val_loss:.6g}"
            self.log(f"epoch {epoch}/{self.epochs} - loss {train_loss:.6g}{val_text} - {history.seconds[-1]:.1f}s")

    def judge(self, epoch, monitored) -> bool:
        """Keep the epoch's weights if *monitored* improved (return True), else count it towards *patience*."""
        if monitored < self.best:
            self.best, self.waited, self.history.best_epoch = monitored, 0, epoch
            self.best_weights = self.snapshot()
            return True
        self.waited += 1
        if self.patience is not None and self.waited >= self.patience:
            self.history.stopped_early = True
            if self.mode:
                self.log(f"early stopping at epoch {epoch}: no improvement for {self.patience} epochs; "
                         f"restoring the weights of epoch {self.history.best_epoch}")
        return False

    # ------------------------------------------------------------------ a NaN/Inf loss
    def stop_for_nonfinite(self, epoch, which):
        """Keep the best epoch if it beats a constant prediction (warning), else fail: nothing is usable."""
        history, best, learning_rate = self.history, self.best, self.learning_rate
        monitored_name = "validation loss" if self.has_validation() else "training loss"
        baseline = constant_mse(self.x_val if self.has_validation() else self.x_train)
        if self.best_weights is not None and best < baseline:
            self.restore(self.best_weights)
            history.nonfinite_epoch = epoch
            history.warning = (f"the {which} loss became NaN/Inf at epoch {epoch}; training stopped there and the "
                               f"model keeps the weights of epoch {history.best_epoch} ({monitored_name} {best:.6g}); "
                               f"a lower --learning-rate (this run: {learning_rate:g}) may train further")
            warnings.warn(history.warning, SigaeWarning, stacklevel=3)
            return
        if self.best_weights is None:
            reason = f"the {which} loss became NaN/Inf at epoch {epoch}, before any epoch finished with a finite loss"
        else:
            reason = (f"the {which} loss became NaN/Inf at epoch {epoch}, and no earlier epoch did better than a "
                      f"constant prediction (best: epoch {history.best_epoch}, {monitored_name} {best:.6g}, "
                      f"constant {baseline:.6g})")
        raise TrainingFailed(reason, f"retrain with a lower --learning-rate (this run: {learning_rate:g}) or check "
                                     "the input for extreme values", epoch)
