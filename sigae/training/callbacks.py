"""Keras callbacks under sigae's own training loop, and TensorBoard logging.

:func:`sigae.training.loop.train_autoencoder` is a hand-written loop, not
``Model.fit``; :class:`LoopCallbacks` calls the standard
``keras.callbacks.Callback`` hooks from it through
``keras.callbacks.CallbackList``, so ``CSVLogger``, ``TerminateOnNaN``,
``EarlyStopping``, ``TensorBoard``, ``ReduceLROnPlateau`` and user callbacks
work as under ``fit``:

* ``set_model(autoencoder)`` and ``set_params({"epochs", "steps", "verbose"})``;
  during training ``autoencoder.optimizer`` is the loop's Adam (so callbacks
  that read or set ``model.optimizer.learning_rate`` work) and it is removed
  again at the end, so the saved model is unchanged;
* ``on_train_begin`` / ``on_train_end`` (also when training stops on a NaN
  loss or on Ctrl-C, so ``CSVLogger`` closes its file);
* ``on_epoch_begin(epoch)`` / ``on_epoch_end(epoch, logs)`` with ``logs``
  holding ``loss``, ``val_loss`` (when there is a validation split) and
  ``learning_rate``; epochs count from 0, as in Keras;
* ``on_train_batch_begin(step)`` / ``on_train_batch_end(step, {"loss": ...})``
  with the running mean of the epoch's loss so far, as ``fit`` reports it.

Losses are mean squared errors in normalized units, the numbers of
``history.csv`` (which stays the record of a run). Setting
``model.stop_training = True`` in an epoch hook ends training after that
epoch (``History.stopped_early``); in a batch hook, after that batch (the
epoch's loss is then the mean over the signals it saw). A NaN/Inf loss always
ends training with :class:`sigae.TrainingError` (best finite weights kept),
whether or not ``TerminateOnNaN`` is among the callbacks.
"""

from __future__ import annotations

from pathlib import Path

from sigae.errors import ConfigError


class NoCallbacks:
    """The hooks the training loop calls, doing nothing (no callbacks given)."""

    def train_begin(self):
        pass

    def train_end(self):
        pass

    def epoch_begin(self, epoch: int):
        pass

    def epoch_end(self, epoch: int, loss: float, val_loss: float | None) -> bool:
        return False

    def batch_begin(self, step: int):
        pass

    def batch_end(self, step: int, mean_loss: float) -> bool:
        return False


class LoopCallbacks(NoCallbacks):
    """Standard Keras callbacks driven by sigae's training loop (epochs are 1-based in the loop, 0-based here)."""

    def __init__(self, callbacks, model, optimizer, *, epochs: int, steps: int, verbose: int = 0):
        import keras

        self.model, self.optimizer = model, optimizer
        self.list = keras.callbacks.CallbackList(list(callbacks), add_history=False, add_progbar=False,
                                                 model=None, epochs=epochs, steps=steps, verbose=verbose)
        self._had_optimizer = "optimizer" in vars(model)
        self._previous_optimizer = vars(model).get("optimizer")
        self._ended = True

    def train_begin(self):
        self.model.optimizer = self.optimizer
        self.model.stop_training = False
        self.list.set_model(self.model)
        self._ended = False
        self.list.on_train_begin()

    def train_end(self):
        if self._ended:
            return
        self._ended = True
        try:
            self.list.on_train_end()
        finally:
            if self._had_optimizer:
                self.model.optimizer = self._previous_optimizer
            else:
                del self.model.optimizer

    def _stop(self) -> bool:
        return bool(getattr(self.model, "stop_training", False))

    def epoch_begin(self, epoch: int):
        self.list.on_epoch_begin(epoch - 1)

    def epoch_end(self, epoch: int, loss: float, val_loss: float | None) -> bool:
        logs = {"loss": float(loss)}
        if val_loss is not None:
            logs["val_loss"] = float(val_loss)
        logs["learning_rate"] = current_learning_rate(self.optimizer)
        self.list.on_epoch_end(epoch - 1, logs)
        return self._stop()

    def batch_begin(self, step: int):
        self.list.on_train_batch_begin(step)

    def batch_end(self, step: int, mean_loss: float) -> bool:
        self.list.on_train_batch_end(step, {"loss": float(mean_loss)})
        return self._stop()


def current_learning_rate(optimizer) -> float:
    """The learning rate the next step will use (a schedule evaluated at the optimizer's step count)."""
    from keras import ops

    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer under mixed precision
    return float(ops.convert_to_numpy(inner.learning_rate))


def loop_callbacks(callbacks, model, optimizer, *, epochs: int, steps: int, verbose: int = 0) -> NoCallbacks:
    """The hooks object :func:`sigae.training.loop.train_autoencoder` calls: no-ops without *callbacks*."""
    if not callbacks:
        return NoCallbacks()
    return LoopCallbacks(check_callbacks(callbacks), model, optimizer, epochs=epochs, steps=steps, verbose=verbose)


def check_callbacks(callbacks) -> list:
    """*callbacks* as a list of ``keras.callbacks.Callback``; ConfigError naming the first that is not one."""
    import keras

    if isinstance(callbacks, keras.callbacks.Callback):
        callbacks = [callbacks]
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise ConfigError(f"callbacks: expected a list of keras.callbacks.Callback, got {type(callbacks).__name__}") \
            from None
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, keras.callbacks.Callback):
            raise ConfigError(f"callbacks: item {i} is a {type(cb).__name__}, not a keras.callbacks.Callback")
    return callbacks


# ---------------------------------------------------------------------------- TensorBoard
TENSORBOARD_HINT = "install it with: pip install -e '.[tensorboard]' (or pip install tensorboard)"


def check_tensorboard_available(option: str = "tensorboard") -> None:
    """TensorFlow's tf.summary writes scalars only with the ``tensorboard`` package; say so in one line."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(f"{option}: the tensorboard package is not installed; {TENSORBOARD_HINT}")


def tensorboard_callback(log_dir):
    """Keras' own ``TensorBoard`` callback writing per-epoch scalars to *log_dir*.

    Runs ``log_dir/train`` (``epoch_loss``, ``epoch_learning_rate``) and
    ``log_dir/validation`` (``epoch_loss``): TensorBoard draws training and
    validation loss in one chart. No graph, histograms or profiling.
    """
    import keras

    check_tensorboard_available()
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False, profile_batch=0,
                                       histogram_freq=0, update_freq="epoch")


def write_pca_baseline(log_dir, metrics: dict, first_epoch: int = 1) -> None:
    """The PCA baseline's MSE as constant lines beside the losses: runs ``log_dir/pca_train`` and
    ``log_dir/pca_validation``, tag ``epoch_loss``, at every epoch step of the run (0-based, as Keras writes).

    *metrics* is ``SignalAutoencoder.metrics_`` (``metrics.json``): the PCA with ``latent_dim``
    components fitted on the normalized training signals, its MSE in normalized units.
    """
    import tensorflow as tf

    check_tensorboard_available()
    pca = metrics["pca"]
    steps = range(first_epoch - 1, metrics["epochs_run"])
    for run, key in (("pca_train", "train_mse"), ("pca_validation", "val_mse")):
        if key not in pca:
            continue
        writer = tf.summary.create_file_writer(str(Path(log_dir) / run))
        with writer.as_default():
            for step in steps:
                tf.summary.scalar("epoch_loss", float(pca[key]), step=step)
        writer.close()


def fit_callbacks(callbacks=None, tensorboard=None) -> list:
    """The callbacks of ``SignalAutoencoder.fit(callbacks=..., tensorboard=DIR)``, checked before training starts."""
    result = check_callbacks(callbacks) if callbacks is not None else []
    if tensorboard is not None:
        result.append(tensorboard_callback(tensorboard))
    return result
