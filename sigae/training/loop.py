"""The training loop: one compiled step, early stopping, NaN guard, history.

A hand-written loop instead of ``Model.fit`` so that the step, the shuffling
and the stopping rules are ours: the same loop serves every use and its
behaviour does not depend on Keras' callback machinery.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sigae.training.callbacks import loop_callbacks
from sigae.errors import ConfigError, RunFolderError, TrainingError
from sigae.data.preprocessing import SigaeWarning


def set_seed(seed: int | None) -> None:
    """Seed Python, numpy and TensorFlow, and ask TensorFlow for deterministic ops."""
    if seed is None:
        return
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


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


def make_predict_fn(model, call=None):
    """A compiled inference call of *model* (no training-mode layers), through *call* (``x -> model(x)``,
    e.g. a :mod:`sigae.model.fastpath` function) when given.

    The function is traced once, here, for any number of signals (a concrete function of a
    ``(None, L, C)`` signature), so calls with new batch sizes never retrace, and making one per model
    (loading several run folders in one process) does not trip TensorFlow's "triggered tf.function
    retracing" warning, which counts traces of the same Python code across instances.
    """
    import tensorflow as tf

    spec = tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32)
    call = call or (lambda x: model(x, training=False))

    def predict(x):
        return tf.cast(call(x), tf.float32)  # float16 under mixed precision

    concrete = tf.function(predict).get_concrete_function(spec)
    return lambda x: concrete(tf.convert_to_tensor(x, tf.float32))


PREDICT_BATCH = 256
"""Signals per inference call: as fast as larger batches on a CPU through Keras' layers, and the first
convolution's activations (501 x 256 floats per signal) stay near 130 MB instead of 1 GB at 2048."""
FUSED_PREDICT_BATCH = 1024
"""The same when the first stage is fused (sigae.model.fastpath): its 501 x 256 activations are never stored, so 1024
signals encode 15-20% faster than 256 on a CPU for about 250 MB more (streamed encode/score stay near 1.3 GB)."""
SMALL_PREDICT_BATCH = 32
"""Calls of at most this many signals are padded to it, not to the full inference batch."""


def padded_size(m: int, batch_size: int) -> int:
    """The batch shape a block of *m* <= *batch_size* signals is padded to: *batch_size*, or
    :data:`SMALL_PREDICT_BATCH` for small blocks.

    Compiled kernels (XLA's fused first stage above all) are specialised to the batch size, and compiling
    one costs as much as encoding about a thousand signals; padding every block to one of two fixed sizes
    means a model compiles at most twice, whatever the numbers of signals it is called with. Each signal
    is computed independently (no layer mixes signals), so the padding rows change nothing but time.
    """
    small = min(SMALL_PREDICT_BATCH, batch_size)
    return small if m <= small else batch_size


def predict_batches(fn, x: np.ndarray, batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """Apply compiled *fn* to float32 *x* in batches of *batch_size* (the last one padded, see
    :func:`padded_size`) and stack the results."""
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        m = len(xb)
        size = padded_size(m, batch_size)
        if size > m:
            xb = np.concatenate([xb, np.zeros((size - m,) + xb.shape[1:], dtype=xb.dtype)])
        out.append(fn(xb).numpy()[:m])
    return np.concatenate(out, axis=0) if out else np.zeros((0,), dtype=np.float32)


def mse_per_batch(fn, x: np.ndarray, batch_size: int = PREDICT_BATCH, inputs: np.ndarray | None = None) -> float:
    """Mean squared reconstruction error of *x* under compiled autoencoder *fn* (the validation loss: the
    same array every epoch, so its batch shapes are compiled once and need no padding); *fn* is applied to
    *inputs* (e.g. the codes of *x*, for a decoder) when given."""
    inputs = x if inputs is None else inputs
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        total += float(np.sum(np.square(fn(inputs[i:i + batch_size]).numpy() - xb, dtype=np.float64)))
    return total / x.size


def constant_mse(x) -> float:
    """MSE of the best constant prediction of *x* (its variance over all values): the error a model must beat
    to be of any use. *x* is an array or a streamed part with ``blocks()``; NaN/Inf values (what may have
    broken the loss) are left out."""
    blocks = [x] if isinstance(x, np.ndarray) else x.blocks()
    count, total, squares = 0, 0.0, 0.0
    for block in blocks:
        block = np.asarray(block, dtype=np.float64)
        block = block[np.isfinite(block)]
        count += block.size
        total += float(block.sum())
        squares += float(np.square(block).sum())
    return squares / count - (total / count) ** 2 if count else math.inf


def _progress(verbose):
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(verbose)


STRATEGIES = ("auto", "default", "mirrored", "multiworker")


def make_strategy(name: str = "default"):
    """A tf.distribute strategy by name.

    ``auto``: MirroredStrategy over all GPUs when there are several, else the
    default strategy; ``mirrored``: MirroredStrategy over the visible devices;
    ``multiworker``: MultiWorkerMirroredStrategy configured by ``TF_CONFIG``
    (create it before any other TensorFlow work, as TensorFlow requires).
    """
    import os

    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError("--strategy multiworker: set TF_CONFIG on every worker (see docs/guides/distributed.md)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"--strategy: unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")


def is_chief(strategy) -> bool:
    """True where run folders are written: one process per training job."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if "chief" in resolver.cluster_spec().as_dict():
        return task_type == "chief"
    return task_type == "worker" and task_id == 0


def make_learning_rate(learning_rate: float, schedule: str, total_steps: int):
    """A constant rate, or cosine decay from *learning_rate* to 1% of it over *total_steps* (Loshchilov &
    Hutter, "SGDR: stochastic gradient descent with warm restarts", ICLR 2017, without restarts)."""
    import keras

    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, total_steps), alpha=0.01)
    return learning_rate


def make_adam(learning_rate):
    """Keras' Adam (Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015), with each
    variable's update run as TensorFlow's fused Adam kernel.

    The formula is Keras' (``m``, ``v``, bias-corrected step, epsilon outside
    the square root) and the optimizer's variables are Keras' own, so
    checkpoints and schedules are unchanged; but one kernel reads and writes
    each weight once, where Keras' element-wise ops make several passes over
    the seed model's 15 million weights (measured on 2 CPU cores: 9 ms per
    update instead of 30).
    """
    import keras
    import tensorflow as tf

    def handle(variable):
        """The resource handle of a tf.Variable, or of the tf.Variable inside a Keras variable."""
        tf_variable = variable if isinstance(variable, tf.Variable) else getattr(variable, "value", None)
        return getattr(tf_variable, "handle", None)

    class FusedAdam(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            index = self._get_variable_index(variable)
            m, v = self._momentums[index], self._velocities[index]
            handles = [handle(variable), handle(m), handle(v)]
            if self.amsgrad or any(h is None or h.dtype != tf.resource for h in handles):
                return super().update_step(gradient, variable, learning_rate)
            dtype = variable.dtype
            step = tf.cast(self.iterations + 1, dtype)
            beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
            tf.raw_ops.ResourceApplyAdam(
                var=handles[0], m=handles[1], v=handles[2], beta1_power=tf.pow(beta_1, step),
                beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
                epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))

    return FusedAdam(learning_rate=learning_rate)


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


def _checkpoint_arrays(autoencoder, optimizer, state: dict) -> dict:
    """Host copies of the weights, optimizer state and loop state (taken on the training thread)."""
    arrays = {f"weight_{i:04d}": w for i, w in enumerate(autoencoder.get_weights())}
    arrays.update({f"optimizer_{i:04d}": np.array(v) for i, v in enumerate(optimizer.variables)})
    arrays["state"] = np.frombuffer(json.dumps(state).encode("utf-8"), dtype=np.uint8)
    return arrays


def _write_npz(path: Path, arrays: dict) -> None:
    from sigae.data.files import atomic_path

    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def _link_or_copy(source: Path, target: Path) -> None:
    """Make *target* the same file as *source* atomically: a hard link (no bytes written), else a copy."""
    import os
    import shutil

    from sigae.data.files import atomic_path

    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:  # file systems without hard links
            shutil.copyfile(source, tmp)


def _save_checkpoint(path: Path, autoencoder, optimizer, state: dict) -> None:
    """Weights, optimizer state and loop state in one .npz, written atomically."""
    _write_npz(path, _checkpoint_arrays(autoencoder, optimizer, state))


CHECKPOINT_IN_BACKGROUND = True
"""Write checkpoints on a background thread (True) or on the training thread (False: one write plus a hard
link per epoch, no extra host copy alive during the next epoch; see docs/background/performance.md)."""


class CheckpointWriter:
    """Writes ``last.npz`` (and ``best.npz``) after an epoch, off the training thread.

    The arrays are copied on the training thread (so the file holds exactly the epoch's end state) and
    written by one background thread while the next epoch trains; a new checkpoint waits for the previous
    one, so ``last.npz`` is never more than the epoch in progress behind, and :meth:`wait` (called before
    training returns or raises) leaves it at the last completed epoch. Each file is written to a temporary
    name and renamed, so a kill at any moment leaves the previous complete checkpoint. When the epoch is
    also the best so far, ``best.npz`` becomes a hard link to the same file instead of a second copy of
    ~180 MB (the seed model's weights and Adam moments).
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._thread = None
        self._error = None

    def submit(self, autoencoder, optimizer, state: dict, best: bool) -> None:
        import threading

        self.wait()  # first: never two host copies at once (the seed model's is 180 MB)
        arrays = _checkpoint_arrays(autoencoder, optimizer, state)
        if not CHECKPOINT_IN_BACKGROUND:
            self._write(arrays, best)
            return self.wait()
        self._thread = threading.Thread(target=self._write, args=(arrays, best), name="sigae-checkpoint")
        self._thread.start()

    def _write(self, arrays: dict, best: bool) -> None:
        try:
            last = self.directory / "last.npz"
            _write_npz(last, arrays)
            arrays.clear()  # free the host copy as soon as it is on disk
            if best:
                _link_or_copy(last, self.directory / "best.npz")
        except BaseException as exc:  # reported on the training thread by wait()
            self._error = exc

    def wait(self) -> None:
        """Block until the checkpoint in flight is on disk; re-raise its error, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise RunFolderError(f"{self.directory}: cannot write a checkpoint ({error})") from error


def load_checkpoint(path: Path, autoencoder, optimizer=None) -> dict:
    """Restore weights (and optimizer state) from a checkpoint; return its loop state."""
    try:
        with np.load(path, allow_pickle=False) as data:
            names = sorted(data.files)
            weights = [data[k] for k in names if k.startswith("weight_")]
            opt_values = [data[k] for k in names if k.startswith("optimizer_")]
            state = json.loads(data["state"].tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise RunFolderError(f"{path}: unreadable checkpoint ({exc})") from None
    try:
        autoencoder.set_weights(weights)
        if optimizer is not None:
            if len(opt_values) != len(optimizer.variables):
                raise ValueError(f"{len(opt_values)} optimizer values for {len(optimizer.variables)} variables")
            for variable, value in zip(optimizer.variables, opt_values):
                variable.assign(value)
    except ValueError as exc:
        raise RunFolderError(f"{path}: checkpoint does not fit this model ({exc})") from None
    return state


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
    import keras
    import tensorflow as tf

    n = len(x_train)
    steps = math.ceil(n / batch_size)
    strategy = strategy or tf.distribute.get_strategy()
    forward = forward or (lambda x: autoencoder(x, training=True))
    variables = autoencoder.trainable_variables
    mixed = autoencoder.compute_dtype == "float16"
    with strategy.scope():
        optimizer = make_adam(make_learning_rate(learning_rate, lr_schedule, epochs * steps))
        if mixed:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(variables)

    def replica_step(batch, global_n):
        # Each replica sums its signals' errors and divides by the global batch size, so the sum over
        # replicas (and the gradients Keras all-reduces) is the mean over the global batch.
        xb, inputs = batch if codes is not None else (batch, batch)
        with tf.GradientTape() as tape:
            output = tf.cast(forward(inputs), tf.float32)  # the loss stays float32
            per_signal = tf.reduce_mean(tf.square(output - xb), axis=[1, 2])
            loss = tf.reduce_sum(per_signal) / global_n
            objective = loss
            if trim_fraction > 0:
                keep = tf.cast(tf.math.ceil(tf.cast(tf.shape(per_signal)[0], tf.float32) * (1 - trim_fraction)),
                               tf.int32)
                kept = -tf.math.top_k(-per_signal, keep, sorted=False).values
                objective = tf.reduce_sum(kept) / (global_n * (1 - trim_fraction))
            scaled = optimizer.scale_loss(objective) if mixed else objective
        optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return loss

    @tf.function(reduce_retracing=True)
    def train_step(batch, global_n):
        per_replica = strategy.run(replica_step, args=(batch, global_n))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    shard_by_data = tf.data.Options()
    shard_by_data.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA

    streamed = not isinstance(x_train, np.ndarray)

    def epoch_batches(epoch, rng):
        """The epoch's global batches, split across replicas (and workers) by the strategy."""
        if streamed:  # batches read from the file as they are needed
            epoch_rng = np.random.default_rng(None if seed is None else [seed, epoch])
            spec = tf.TensorSpec((None,) + tuple(x_train.shape[1:]), tf.float32)
            dataset = tf.data.Dataset.from_generator(lambda: x_train.batches(batch_size, epoch_rng),
                                                     output_signature=spec).prefetch(2)
        else:
            order = rng.permutation(n)
            slices = x_train[order] if codes is None else (x_train[order], codes[1][order])
            dataset = tf.data.Dataset.from_tensor_slices(slices).batch(batch_size)
        return iter(strategy.experimental_distribute_dataset(dataset.with_options(shard_by_data)))

    def validation_loss():
        if x_val is None or not len(x_val):
            return None
        if not streamed:
            return mse_per_batch(predict, x_val, inputs=None if codes is None else codes[2])
        total = sum(mse_per_batch(predict, xb) * len(xb) for xb in x_val.blocks())
        return total / len(x_val)

    predict = make_predict_fn(autoencoder if codes is None else codes[0], predict_forward)
    rng = np.random.default_rng(seed)
    mode = _progress(verbose)
    history = History()
    best, best_weights, waited, first_epoch = math.inf, None, 0, 1
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    writer = CheckpointWriter(checkpoint_dir) if checkpoint_dir is not None else None
    weights = autoencoder.weights

    def snapshot():
        # Device-side copies of the weights (no host round trip): TensorFlow copies a variable's buffer on
        # its next update only while such a read of it is alive.
        return [tf.identity(w.value) for w in weights]

    def restore(values):
        for w, value in zip(weights, values):
            w.assign(value)

    if resume:
        state = load_checkpoint(checkpoint_dir / "last.npz", autoencoder, optimizer)
        history = History(**state["history"])
        best, waited, first_epoch = state["best"], state["waited"], state["epoch"] + 1
        for _ in range(0 if streamed else state["epoch"]):
            rng.permutation(n)  # replay the shuffles of the epochs already done
        if (checkpoint_dir / "best.npz").is_file():
            current = snapshot()
            load_checkpoint(checkpoint_dir / "best.npz", autoencoder)
            best_weights = snapshot()
            restore(current)
        if mode:
            log(f"resuming after epoch {state['epoch']} of {epochs}")

    if restore_best and not resume:
        initial = validation_loss()
        if initial is not None and math.isfinite(initial):
            best, best_weights, history.best_epoch = initial, snapshot(), 0
            history.initial_val_loss = initial
            if checkpoint_dir is not None:  # so that a resumed run can still restore epoch 0
                _write_npz(checkpoint_dir / "best.npz", _checkpoint_arrays(
                    autoencoder, optimizer, {"epoch": 0, "best": best, "waited": 0, "history": history.as_state()}))
    hooks = loop_callbacks(callbacks, autoencoder, optimizer, epochs=epochs, steps=steps, verbose=mode)

    class NonFinite(Exception):
        def __init__(self, epoch, which):
            self.epoch, self.which = epoch, which

    def stop_for_nonfinite(epoch, which):
        """Keep the best epoch if it beats a constant prediction (warning), else fail: nothing is usable."""
        monitored_name = "validation loss" if x_val is not None and len(x_val) else "training loss"
        baseline = constant_mse(x_val if x_val is not None and len(x_val) else x_train)
        if best_weights is not None and best < baseline:
            restore(best_weights)
            history.nonfinite_epoch = epoch
            history.warning = (f"the {which} loss became NaN/Inf at epoch {epoch}; training stopped there and the "
                               f"model keeps the weights of epoch {history.best_epoch} ({monitored_name} {best:.6g}); "
                               f"a lower --learning-rate (this run: {learning_rate:g}) may train further")
            warnings.warn(history.warning, SigaeWarning, stacklevel=3)
            return
        if best_weights is None:
            reason = f"the {which} loss became NaN/Inf at epoch {epoch}, before any epoch finished with a finite loss"
        else:
            reason = (f"the {which} loss became NaN/Inf at epoch {epoch}, and no earlier epoch did better than a "
                      f"constant prediction (best: epoch {history.best_epoch}, {monitored_name} {best:.6g}, "
                      f"constant {baseline:.6g})")
        raise TrainingFailed(reason, f"retrain with a lower --learning-rate (this run: {learning_rate:g}) or check "
                                     "the input for extreme values", epoch)

    hooks.train_begin()
    try:
        for epoch in range(first_epoch, epochs + 1):
            if history.stopped_early:
                break
            hooks.epoch_begin(epoch)
            start = time.perf_counter()
            bar = keras.utils.Progbar(steps, stateful_metrics=["loss", "val_loss"]) if mode == 1 else None
            if bar is not None:
                log(f"Epoch {epoch}/{epochs}")
            total = 0.0
            batches = epoch_batches(epoch, rng)
            for step in range(steps):
                global_n = min(batch_size, n - step * batch_size)
                hooks.batch_begin(step)
                loss = float(train_step(next(batches), tf.constant(global_n, tf.float32)))
                stop = hooks.batch_end(step, (total + loss * global_n) / min(n, (step + 1) * batch_size))
                if not math.isfinite(loss):
                    raise NonFinite(epoch, "training")
                total += loss * global_n
                if bar is not None:
                    bar.update(step + 1, [("loss", total / min(n, (step + 1) * batch_size))], finalize=False)
                if should_stop is not None and should_stop():
                    raise TrainingInterrupted(epoch - 1)
                if stop:  # a callback set model.stop_training
                    history.stopped_early = True
                    break
            train_loss = total / min(n, (step + 1) * batch_size)  # n unless a callback stopped the epoch
            val_loss = validation_loss()
            if val_loss is not None and not math.isfinite(val_loss):
                raise NonFinite(epoch, "validation")
            history.loss.append(train_loss)
            if val_loss is not None:
                history.val_loss.append(val_loss)
            history.seconds.append(time.perf_counter() - start)
            monitored = train_loss if val_loss is None else val_loss

            if bar is not None:
                bar.update(steps, [("loss", train_loss)] + ([("val_loss", val_loss)] if val_loss is not None else []),
                           finalize=True)
            elif mode == 2:
                val_text = "" if val_loss is None else f" - val_loss {val_loss:.6g}"
                log(f"epoch {epoch}/{epochs} - loss {train_loss:.6g}{val_text} - {history.seconds[-1]:.1f}s")

            improved = monitored < best
            if improved:
                best, waited, history.best_epoch = monitored, 0, epoch
                best_weights = snapshot()
            else:
                waited += 1
                if patience is not None and waited >= patience:
                    history.stopped_early = True
                    if mode:
                        log(f"early stopping at epoch {epoch}: no improvement for {patience} epochs; "
                            f"restoring the weights of epoch {history.best_epoch}")
            if hooks.epoch_end(epoch, train_loss, val_loss):
                history.stopped_early = True
            if writer is not None:
                state = {"epoch": epoch, "best": best, "waited": waited, "history": history.as_state()}
                writer.submit(autoencoder, optimizer, state, best=improved)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
    except NonFinite as stop:
        stop_for_nonfinite(stop.epoch, stop.which)
        return history
    finally:
        if writer is not None:
            writer.wait()
        hooks.train_end()
    if (patience is not None or restore_best) and best_weights is not None:
        restore(best_weights)
    return history
