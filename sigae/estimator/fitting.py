"""Fitting a :class:`sigae.SignalAutoencoder`: the split, the normalizer, screening, the run folder, the
training loop and what is recorded after it, and resuming an interrupted run from its folder.

:meth:`SignalAutoencoder.fit` and :meth:`SignalAutoencoder.resume` are the public doors; the functions here
take the model and set its fitted attributes.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from sigae.data.io import SignalDataset
from sigae.data.preprocessing import make_normalizer
from sigae.data.signals import as_signals, channel_count
from sigae.errors import DataError, RunFolderError, option
from sigae.estimator.cross_fitting import cross_fit
from sigae.estimator.fit_results import record_results
from sigae.estimator.preparation import (kept_mask, screen_rows, start_from_pca, training_calls,
                                         streamed_parts)
from sigae.model.config import AutoencoderConfig
from sigae.runs.folder import read_normalizer, write_results, write_setup
from sigae.runs.state import (failed_run_message, is_failed_run, prepare_run_dir, read_json, record_failure,
                              run_state, worker_run_dir, write_run_state)
from sigae.training.options import FitOptions


def fit_model(model, x, options: FitOptions | None, recipe: dict, *, run_dir=None, overwrite: bool = False,
              verbose="auto", log=print, should_stop=None, source: dict | None = None, strategy="default",
              callbacks=None, tensorboard=None, validation_rows=None, layout: str | None = None,
              after_training=None):
    """:meth:`SignalAutoencoder.fit`: *options* with the *recipe* keywords replaced (:class:`FitOptions`)."""
    from sigae.training.callbacks import fit_callbacks

    callbacks = fit_callbacks(callbacks, tensorboard)
    x = x if isinstance(x, SignalDataset) else as_signals(x, layout=layout)
    o = FitOptions.from_keywords(options, **recipe)
    n = len(x)
    n_val = int(round(n * o.validation_split)) if validation_rows is None else len(validation_rows)
    if o.validation_split > 0 and validation_rows is None and (n_val < 1 or n - n_val < 1):
        raise DataError(f"signals: {n} signals cannot be split {1 - o.validation_split:.0%}/"
                        f"{o.validation_split:.0%} into non-empty training and validation sets")
    if n - n_val < 2:
        raise DataError(f"signals: only {n - n_val} training signal(s); need at least 2")
    model.config = model.config.with_updates(input_length=x.shape[1], channels=channel_count(x.shape))
    model.windowing_ = None  # set again by sigae.estimator.windowed.fit_recordings after training on windows
    strategy = resolve_strategy(strategy)
    seed = o.seed
    if strategy is not None and seed is None and not is_chief_only(strategy):
        seed = 0  # every worker must draw the same split and shuffles
    if run_dir is not None:
        run_dir = worker_run_dir() if is_other_worker(strategy) else prepare_run_dir(run_dir, overwrite)

    order = np.random.default_rng(seed).permutation(n)
    if validation_rows is not None:
        val = np.zeros(n, dtype=bool)
        val[np.asarray(validation_rows, dtype=np.int64)] = True
        order = np.concatenate([np.flatnonzero(val), np.flatnonzero(~val)])
    model.train_index_, model.val_index_ = np.sort(order[n_val:]), np.sort(order[:n_val])
    model.normalizer = make_normalizer(model.config.normalize)
    if isinstance(x, SignalDataset):
        model.normalizer.fit_chunks(streamed_parts(model, x)[0].raw_blocks())
    else:
        model.normalizer.fit(x[model.train_index_])
    model.screened_index_ = screen_rows(model, x)
    model.training_ = {"epochs": o.epochs, "batch_size": o.batch_size, "validation_split": o.validation_split,
                       "patience": o.patience, "seed": seed, "threshold_percentile": o.threshold_percentile,
                       "n_signals": n, "source": source, "mixed_precision": bool(o.mixed_precision),
                       "keep_checkpoints": bool(o.keep_checkpoints)}
    if run_dir is not None:
        write_setup(model, run_dir)
    try:
        return train_model(model, x, run_dir, resume=False, verbose=verbose, log=log, should_stop=should_stop,
                           strategy=strategy, callbacks=callbacks, tensorboard=tensorboard,
                           after_training=after_training)
    finally:
        if run_dir is not None and is_other_worker(strategy):
            shutil.rmtree(run_dir, ignore_errors=True)


def resume_model(model_class, run_dir, x, verbose="auto", log=print, should_stop=None, callbacks=None,
                 tensorboard=None, layout: str | None = None, after_training=None):
    """:meth:`SignalAutoencoder.resume`: a *model_class* instance from the interrupted run in *run_dir*, trained
    on from its last completed epoch. Raises RunFolderError when the folder cannot be resumed."""
    from sigae.training.callbacks import fit_callbacks

    callbacks = fit_callbacks(callbacks, tensorboard)
    run_dir = Path(run_dir)
    if is_failed_run(run_dir):
        raise RunFolderError(f"{run_dir}: cannot resume, resuming would repeat the failure; "
                             + failed_run_message(run_dir, run_state(run_dir)).split(": ", 1)[1])
    state = read_json(run_dir / "run.json", run_dir) if (run_dir / "run.json").is_file() else {}
    if state.get("complete"):  # (its checkpoints are gone too)
        raise RunFolderError(f"{run_dir}: the run is already complete; nothing to resume")
    for name in ("config.json", "normalizer.json", "training.json", "split.npz", "checkpoints/last.npz"):
        if not (run_dir / name).is_file():
            raise RunFolderError(f"{run_dir}: cannot resume, {name} is missing"
                                 + (" (no epoch was completed)" if name.startswith("checkpoints") else ""))
    obj = model_class(AutoencoderConfig.load(run_dir / "config.json"))
    obj.normalizer = read_normalizer(run_dir)
    obj.training_ = read_json(run_dir / "training.json", run_dir)
    if (obj.training_.get("source") or {}).get("windowed") and after_training is None:
        raise RunFolderError(f"{run_dir}: a run on windows of recordings; continue it with "
                             + option(f"sigae-train --resume {run_dir}",
                                      f"SignalAutoencoder.resume_recordings('{run_dir}')"))
    with np.load(run_dir / "split.npz", allow_pickle=False) as split:
        obj.train_index_, obj.val_index_ = split["train"], split["val"]
        if "screened" in split:
            obj.screened_index_ = split["screened"]
    if isinstance(x, SignalDataset):
        obj.check_shape(np.zeros((1, x.shape[1], channel_count(x.shape))), str(x.source.path))
    else:
        x = as_signals(x, layout=layout)
        obj.check_shape(x, "signals")
    if len(x) != obj.training_["n_signals"]:
        raise DataError(f"signals: {len(x)} signals, but the run was started on {obj.training_['n_signals']}")
    return train_model(obj, x, run_dir, resume=True, verbose=verbose, log=log, should_stop=should_stop,
                       callbacks=callbacks, tensorboard=tensorboard, after_training=after_training)


def training_parts(model, x):
    """The normalized training and validation signals the loop steps on (screened rows left out), the
    ``(original, normalized)`` pairs of every training and validation row for the metrics, and the
    validation signals shown in ``reconstructions.png`` (set on the model)."""
    if isinstance(x, SignalDataset):
        xn_train, xn_val = streamed_parts(model, x)
        all_train, all_val = streamed_parts(model, x, screened=False)
        train_pairs, val_pairs = all_train.pairs, all_val.pairs
        shown = xn_val if len(xn_val) else xn_train
        model.figure_signals_ = next(shown.raw_blocks())[:4]
        model.figure_rows_ = np.flatnonzero(shown.mask)[:len(model.figure_signals_)]
    else:
        x_train, x_val = x[model.train_index_], x[model.val_index_]
        xn_all = model.normalizer.transform(x_train).astype(np.float32)
        xn_train = xn_all[kept_mask(model)] if len(model.screened_index_) else xn_all
        xn_val_all = model.normalizer.transform(x_val).astype(np.float32)
        xn_val = xn_val_all[kept_mask(model, model.val_index_)]
        train_pairs, val_pairs = lambda: [(x_train, xn_all)], lambda: [(x_val, xn_val_all)]
        model.figure_rows_ = (model.val_index_ if len(model.val_index_) else model.train_index_)[:4]
        model.figure_signals_ = x[model.figure_rows_]
    if not len(xn_val):
        xn_val = val_pairs = None
    return xn_train, xn_val, train_pairs, val_pairs


def train_model(model, x, run_dir, resume, verbose, log, should_stop, strategy=None, callbacks=None,
                tensorboard=None, after_training=None):
    """Build (or rebuild, resuming), start from PCA where the architecture says so, run the training loop,
    record the results and write them into *run_dir*."""
    from sigae.data.files import write_text
    from sigae.training.loop import TrainingFailed, TrainingInterrupted, train_autoencoder
    from sigae.training.strategy import set_seed

    t = model.training_
    set_seed(t["seed"])
    xn_train, xn_val, train_pairs, val_pairs = training_parts(model, x)
    build_for_training(model, strategy, t.get("mixed_precision", False))
    if not resume:
        start_from_pca(model, xn_train, t["seed"])
    elif not model.encoder.trainable_weights and isinstance(xn_train, np.ndarray):
        # a frozen encoder (the kernels encoder): its codes are those of the encoder the run started with
        from sigae.training.checkpoints import load_checkpoint

        load_checkpoint(run_dir / "checkpoints" / "last.npz", model.autoencoder)
    codes, forward, predict_forward = training_calls(model, xn_train, xn_val)

    def write_history(epoch, history):
        write_text(run_dir / "history.csv", history.to_csv())

    start = time.perf_counter()
    try:
        model.history_ = train_autoencoder(
            model.autoencoder, xn_train, xn_val, epochs=t["epochs"], batch_size=t["batch_size"],
            learning_rate=model.config.learning_rate, lr_schedule=model.config.lr_schedule,
            trim_fraction=model.config.trim_fraction, patience=t["patience"],
            restore_best=model.config.restore_best,
            seed=t["seed"], verbose=verbose, log=log, should_stop=should_stop, resume=resume,
            checkpoint_dir=None if run_dir is None else run_dir / "checkpoints",
            on_epoch_end=None if run_dir is None else write_history, strategy=strategy,
            forward=forward, predict_forward=predict_forward,
            callbacks=callbacks, codes=codes)
    except TrainingInterrupted as exc:
        if run_dir is not None:
            write_run_state(run_dir, model.config, status="interrupted", epochs_done=exc.epochs_done)
        raise
    except TrainingFailed as exc:
        if run_dir is not None:
            record_failure(run_dir, model.config, t, exc)
        raise
    seconds = time.perf_counter() - start
    out_of_fold = None
    if isinstance(x, np.ndarray) and strategy is None and not (t.get("source") or {}).get("windowed"):
        out_of_fold = cross_fit(model, x)
    record_results(model, train_pairs, val_pairs, seconds, tensorboard, out_of_fold)
    if after_training is not None:
        after_training(model)
    if run_dir is not None:
        write_results(model, run_dir)
        if not t.get("keep_checkpoints", False):
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # a complete run needs none of it
    return model


def build_for_training(model, strategy, mixed_precision: bool) -> None:
    """Build under the strategy's scope, with the mixed float16 policy if asked."""
    import contextlib

    import keras

    previous = keras.config.dtype_policy()
    if mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model.build()
    finally:
        keras.config.set_dtype_policy(previous)


def resolve_strategy(strategy):
    """None for the default strategy (the plain path), else a tf.distribute strategy."""
    if strategy is None or strategy == "default":
        return None
    if isinstance(strategy, str):
        from sigae.training.strategy import make_strategy

        strategy = make_strategy(strategy)
    import tensorflow as tf

    return None if strategy is tf.distribute.get_strategy() else strategy


def is_chief_only(strategy) -> bool:
    """True when the strategy runs in this one process (no other workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or not resolver.cluster_spec().as_dict()


def is_other_worker(strategy) -> bool:
    """True in a worker that is not the chief: it trains in a temporary folder, removed afterwards."""
    if strategy is None or is_chief_only(strategy):
        return False
    from sigae.training.strategy import is_chief

    return not is_chief(strategy)
