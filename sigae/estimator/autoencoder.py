"""SignalAutoencoder: the object users fit, save, load and put to work.

It takes raw signals ``(n, L)`` or ``(n, L, C)`` in original units, normalizes
inside, and returns reconstructions in original units. ``.encoder`` and
``.decoder`` are always the sub-models of ``.autoencoder`` (never rebuilt), so
``decode(encode(x))`` is ``reconstruct(x)``, before and after save/load.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from sigae import __version__
from sigae.model.config import AutoencoderConfig
from sigae.errors import ConfigError, DataError, NotFittedError, OutputExistsError, RunFolderError, option
from sigae.data.io import SignalDataset
from sigae.data.preprocessing import make_normalizer, normalizer_from_dict
from sigae.evaluation.scoring import (PCABaseline, ScoreResult, calibrate_threshold, per_point_error, reconstruction_error,
                      resolve_threshold)
from sigae.training.prediction import FUSED_PREDICT_BATCH, PREDICT_BATCH

MODEL_FILE = "model.keras"
KERNEL_PREDICT_VALUES = 2 ** 25
"""Kernel-feature comparisons (signals x points x features) per inference call of the kernels encoder:
about 128 MB of float32 at a time."""


def as_signals(x, name: str = "signals", layout: str | None = "NLC") -> np.ndarray:
    """Validate and return *x* as float64 ``(n, L, C)``.

    *layout* names the axes of a 3-D *x* ("NLC": signals, points, channels; "NCL": signals, channels, points as
    aeon, MNE and PyTorch keep them; any order of N, L, C); None is NLC, refused when that reading has as many
    channels as points or more (the axes are then almost surely in another order). Raises DataError.
    """
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: not a real numeric array ({exc})") from None
    if x.ndim == 3:
        from sigae.data.io.convert import LAYOUTS

        chosen = (layout or "NLC").upper() if isinstance(layout, str) or layout is None else layout
        if chosen not in LAYOUTS:
            raise ConfigError(f"layout: must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        x = np.transpose(x, tuple(chosen.index(axis) for axis in "NLC"))
        if layout is None and x.shape[2] >= x.shape[1] > 0:
            raise DataError(f"{name}: shape {x.shape} read as {x.shape[0]} signals x {x.shape[1]} points x "
                            f"{x.shape[2]} channels: {'more' if x.shape[2] > x.shape[1] else 'as many'} channels "
                            "than points, so the axes are probably in another order; pass layout='NCL' for "
                            "signals x channels x points (aeon, MNE, PyTorch), or layout='NLC' to take it as it is")
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise DataError(f"{name}: expected an array shaped (signals, points) or (signals, points, channels), "
                        f"got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise DataError(f"{name}: empty array of shape {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise DataError(f"{name}: {int(bad.sum())} NaN/Inf values; first at signal {first[0] + 1}, "
                        f"point {first[1] + 1} (1-based)")
    return x


class SignalAutoencoder:
    """A 1-D convolutional autoencoder for equal-length signals.

    ``SignalAutoencoder(config=None, preset=None, **overrides)``: *overrides* are
    fields of :class:`AutoencoderConfig` (e.g. ``latent_dim=16``); *preset*
    ``"seed"`` starts from the seed architecture and recipe (the original model: Conv1D(256, 3, tanh) and
    Conv1D(32, 3, tanh) stages with max pooling, a Dense(32, tanh) bottleneck and the seed decoder) instead of
    the default (see :meth:`AutoencoderConfig.from_preset`).
    """

    def __init__(self, config: AutoencoderConfig | dict | None = None, preset: str | None = None, **overrides):
        if config is not None and preset is not None:
            raise ConfigError("SignalAutoencoder: give a config or a preset, not both")
        if config is None:
            config = AutoencoderConfig.from_preset(preset or "default")
        elif isinstance(config, dict):
            config = AutoencoderConfig.from_dict(config)
        self.config = config.with_updates(**overrides) if overrides else config
        self._encoder = self._decoder = self._autoencoder = None
        self.normalizer = None
        self.history_ = None
        self.metrics_ = None
        self.threshold_ = None
        self.train_scores_ = None
        self.train_index_ = self.val_index_ = None
        self.screened_index_ = np.zeros(0, dtype=np.int64)
        self.training_ = None
        self.windowing_ = None  # window, hop, fs, point threshold of a model of recordings (sigae.estimator.windowed)
        self._predict_fns = {}
        self._val_sample = self._val_rows = None

    # ------------------------------------------------------------------ building
    @property
    def autoencoder(self):
        """The Keras model ``Model(x, decoder(encoder(x)))``, built on first access for ``config.input_length``
        (untrained until :meth:`fit`), so ``SignalAutoencoder().autoencoder.summary()`` works before fitting."""
        if self._autoencoder is None:
            self.build()
        return self._autoencoder

    @property
    def encoder(self):
        """The encoder sub-model of :attr:`autoencoder`: signals ``(n, L, C)`` -> latent codes ``(n, latent_dim)``."""
        if self._encoder is None:
            self.build()
        return self._encoder

    @property
    def decoder(self):
        """The decoder sub-model of :attr:`autoencoder`: latent codes ``(n, latent_dim)`` -> signals ``(n, L, C)``."""
        if self._decoder is None:
            self.build()
        return self._decoder

    def _set_models(self, autoencoder) -> None:
        from sigae.model.network import link_ties, submodels

        self._autoencoder = autoencoder
        self._encoder, self._decoder = submodels(autoencoder)
        link_ties(self._encoder, self._decoder)
        self._predict_fns = {}

    def build(self) -> "SignalAutoencoder":
        """Build the three models from ``self.config`` (untrained)."""
        from sigae.model.network import build_models

        _, _, autoencoder = build_models(self.config)
        self._set_models(autoencoder)
        return self

    def _check_ready(self):
        if self._autoencoder is None or self.normalizer is None:
            raise NotFittedError("SignalAutoencoder is not fitted yet; call fit(x) or SignalAutoencoder.load(dir)")

    def _check_shape(self, x: np.ndarray, name: str) -> None:
        expected = (self.config.input_length, self.config.channels)
        if x.shape[1:] != expected:
            length, channels = expected
            fix = ""
            if x.shape[1:] == (channels, length):
                fix = "; the axes look swapped: pass x.transpose(0, 2, 1) (load files with layout='NCL')"
            elif channels > 1 and x.shape[2] == 1 and x.shape[:2] == (length, channels):
                fix = f"; for one signal of {length} points x {channels} channels pass x[None] (shape (1, {length}, " \
                      f"{channels}))"
            elif channels == 1 and x.shape[2] == 1 and x.shape[0] == length:
                fix = f"; signals as columns? pass x.T (shape ({x.shape[1]}, {length}))"
            raise DataError(f"{name}: signals of {x.shape[1]} points x {x.shape[2]} channel(s), but the model "
                            f"expects {length} points x {channels} channel(s){fix}")

    # ------------------------------------------------------------------ training
    def fit(self, x, epochs: int = 100, batch_size: int = 100, validation_split: float = 0.2,
            verbose="auto", patience: int | None = None, seed: int | None = None,
            threshold_percentile: float = 99.0, log=print, run_dir=None, overwrite: bool = False,
            should_stop=None, source: dict | None = None, strategy="default",
            mixed_precision: bool = False, callbacks=None, tensorboard=None,
            validation_rows=None, keep_checkpoints: bool = False, layout: str | None = None,
            after_training=None) -> "SignalAutoencoder":
        """Fit the normalizer on the training split, then train the autoencoder.

        *x*: signals ``(n, L)`` or ``(n, L, C)`` in original units; a 3-D *x* in another *layout* is named so
        (``layout="NCL"`` for ``(n, C, L)``, as aeon, MNE and PyTorch keep signals); without *layout* a 3-D *x*
        whose ``(n, L, C)`` reading has as many channels as points or more is refused (DataError) rather than
        trained on with its axes swapped (:func:`as_signals`).

        The validation split is a random subset (seeded by *seed*), not the
        last rows, so sorted files are split fairly. After training it records
        ``history_``, ``metrics_`` (autoencoder vs PCA baseline) and
        ``threshold_`` (anomaly threshold calibrated on the training signals).

        With *run_dir*, the run folder is written as training goes: config,
        normalizer and split first, then a checkpoint and ``history.csv`` after
        every epoch, and the results at the end (``run.json`` says whether the
        run is complete). An interrupted run continues with :meth:`resume`.

        *x* may also be a :class:`sigae.data.io.SignalDataset` (``open_signal_dataset``):
        the signals then stay in their file and are read block by block for
        the normalizer, every epoch, and the final metrics, so a file larger
        than memory can be trained on.
        *should_stop* is polled after every step (see ``training.train_autoencoder``).

        *strategy* is a ``tf.distribute`` strategy or its name (``"auto"``,
        ``"default"``, ``"mirrored"``, ``"multiworker"``); *batch_size* is the
        global batch, split across replicas. Under several workers only the
        chief writes *run_dir*; the others train in a temporary folder.
        *mixed_precision* computes in float16 with float32 weights and a
        float32 loss (with loss scaling), for GPUs that are faster in float16.

        *callbacks*: ``keras.callbacks.Callback`` objects (``CSVLogger``, ``TerminateOnNaN``,
        ``EarlyStopping``...), called by the training loop as ``Model.fit`` calls them
        (:mod:`sigae.training.callbacks`). *tensorboard*: a folder for TensorBoard's per-epoch loss,
        validation loss, learning rate and the PCA baseline (needs the ``tensorboard`` package).
        *validation_rows*: the rows to hold out for validation, instead of a
        random *validation_split* fraction (used for windows of recordings,
        where a random split would leak: :mod:`sigae.estimator.windowed`). *after_training*: called with the model once
        the weights are final, before the results are written (``sigae.estimator.windowed`` computes its point threshold
        there, so that ``windowing.json`` is in the folder before ``run.json`` marks it complete).

        The resume checkpoints (``checkpoints/``: weights and Adam moments, three times the model's size) are
        deleted once the run is complete unless *keep_checkpoints*. If the loss becomes NaN/Inf, the best
        earlier epoch is kept with a warning when it beats a constant prediction; otherwise
        :class:`sigae.training.loop.TrainingFailed` is raised and ``run.json`` records ``"status": "failed"`` and
        the reason (such a folder is replaced by the next :meth:`fit` into it without *overwrite*).
        """
        from sigae.training.callbacks import fit_callbacks

        callbacks = fit_callbacks(callbacks, tensorboard)
        x = x if isinstance(x, SignalDataset) else as_signals(x, layout=layout)
        _check_fit_args(epochs, batch_size, validation_split, patience, threshold_percentile)
        n = len(x)
        n_val = int(round(n * validation_split)) if validation_rows is None else len(validation_rows)
        if validation_split > 0 and validation_rows is None and (n_val < 1 or n - n_val < 1):
            raise DataError(f"signals: {n} signals cannot be split {1 - validation_split:.0%}/{validation_split:.0%} "
                            "into non-empty training and validation sets")
        if n - n_val < 2:
            raise DataError(f"signals: only {n - n_val} training signal(s); need at least 2")
        self.config = self.config.with_updates(input_length=x.shape[1], channels=_channels(x.shape))
        self.windowing_ = None  # set again by sigae.estimator.windowed.fit_recordings after training on windows
        strategy = _resolve_strategy(strategy)
        if strategy is not None and seed is None and not _is_chief_only(strategy):
            seed = 0  # every worker must draw the same split and shuffles
        if run_dir is not None:
            run_dir = _prepare_run_dir(run_dir, overwrite, strategy)

        order = np.random.default_rng(seed).permutation(n)
        if validation_rows is not None:
            val = np.zeros(n, dtype=bool)
            val[np.asarray(validation_rows, dtype=np.int64)] = True
            order = np.concatenate([np.flatnonzero(val), np.flatnonzero(~val)])
        self.train_index_, self.val_index_ = np.sort(order[n_val:]), np.sort(order[:n_val])
        self.normalizer = make_normalizer(self.config.normalize)
        if isinstance(x, SignalDataset):
            self.normalizer.fit_chunks(self._parts(x)[0].raw_blocks())
        else:
            self.normalizer.fit(x[self.train_index_])
        self.screened_index_ = self._screen(x)
        self.training_ = {"epochs": epochs, "batch_size": batch_size, "validation_split": validation_split,
                          "patience": patience, "seed": seed, "threshold_percentile": threshold_percentile,
                          "n_signals": n, "source": source, "mixed_precision": bool(mixed_precision),
                          "keep_checkpoints": bool(keep_checkpoints)}
        if run_dir is not None:
            self._write_setup(run_dir)
        try:
            return self._train(x, run_dir, resume=False, verbose=verbose, log=log, should_stop=should_stop,
                               strategy=strategy, callbacks=callbacks, tensorboard=tensorboard,
                               after_training=after_training)
        finally:
            if run_dir is not None and strategy is not None and not _is_chief_only(strategy):
                from sigae.training.strategy import is_chief

                if not is_chief(strategy):
                    shutil.rmtree(run_dir, ignore_errors=True)

    @classmethod
    def resume(cls, run_dir, x, verbose="auto", log=print, should_stop=None, callbacks=None,
               tensorboard=None, layout: str | None = None, after_training=None) -> "SignalAutoencoder":
        """Continue an interrupted run in *run_dir* on the same signals *x*, from its last completed epoch.

        A run on windows of recordings continues with :meth:`resume_recordings` (which calls this with the
        windows and an *after_training* that writes ``windowing.json``, as in :meth:`fit`)."""
        from sigae.training.callbacks import fit_callbacks

        callbacks = fit_callbacks(callbacks, tensorboard)
        run_dir = Path(run_dir)
        if is_failed_run(run_dir):
            raise RunFolderError(f"{run_dir}: cannot resume, resuming would repeat the failure; "
                                 + failed_run_message(run_dir, run_state(run_dir)).split(": ", 1)[1])
        state = _read_json(run_dir / "run.json", run_dir) if (run_dir / "run.json").is_file() else {}
        if state.get("complete"):  # (its checkpoints are gone too)
            raise RunFolderError(f"{run_dir}: the run is already complete; nothing to resume")
        for name in ("config.json", "normalizer.json", "training.json", "split.npz", "checkpoints/last.npz"):
            if not (run_dir / name).is_file():
                raise RunFolderError(f"{run_dir}: cannot resume, {name} is missing"
                                     + (" (no epoch was completed)" if name.startswith("checkpoints") else ""))
        obj = cls(AutoencoderConfig.load(run_dir / "config.json"))
        obj.normalizer = normalizer_from_dict(_read_json(run_dir / "normalizer.json", run_dir))
        obj.training_ = _read_json(run_dir / "training.json", run_dir)
        if (obj.training_.get("source") or {}).get("windowed") and after_training is None:
            raise RunFolderError(f"{run_dir}: a run on windows of recordings; continue it with "
                                 + option(f"sigae-train --resume {run_dir}",
                                          f"SignalAutoencoder.resume_recordings('{run_dir}')"))
        with np.load(run_dir / "split.npz", allow_pickle=False) as split:
            obj.train_index_, obj.val_index_ = split["train"], split["val"]
            if "screened" in split:
                obj.screened_index_ = split["screened"]
        if isinstance(x, SignalDataset):
            obj._check_shape(np.zeros((1, x.shape[1], _channels(x.shape))), str(x.source.path))
        else:
            x = as_signals(x, layout=layout)
            obj._check_shape(x, "signals")
        if len(x) != obj.training_["n_signals"]:
            raise DataError(f"signals: {len(x)} signals, but the run was started on {obj.training_['n_signals']}")
        return obj._train(x, run_dir, resume=True, verbose=verbose, log=log, should_stop=should_stop,
                          callbacks=callbacks, tensorboard=tensorboard, after_training=after_training)

    def _build_for_training(self, strategy, mixed_precision: bool) -> None:
        """Build under the strategy's scope, with the mixed float16 policy if asked."""
        import contextlib

        import keras

        previous = keras.config.dtype_policy()
        if mixed_precision:
            keras.config.set_dtype_policy("mixed_float16")
        try:
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                self.build()
        finally:
            keras.config.set_dtype_policy(previous)

    def _train(self, x, run_dir, resume, verbose, log, should_stop, strategy=None, callbacks=None,
               tensorboard=None, after_training=None) -> "SignalAutoencoder":
        from sigae.model import fastpath
        from sigae.data.files import write_text
        from sigae.training.loop import TrainingFailed, TrainingInterrupted, train_autoencoder
        from sigae.training.strategy import set_seed

        t = self.training_
        set_seed(t["seed"])
        if isinstance(x, SignalDataset):
            xn_train, xn_val = self._parts(x)
            all_train, all_val = self._parts(x, screened=False)
            train_pairs, val_pairs = all_train.pairs, all_val.pairs
            shown = xn_val if len(xn_val) else xn_train
            self._val_sample = next(shown.raw_blocks())[:4]
            self._val_rows = np.flatnonzero(shown.mask)[:len(self._val_sample)]
        else:
            x_train, x_val = x[self.train_index_], x[self.val_index_]
            xn_all = self.normalizer.transform(x_train).astype(np.float32)
            xn_train = xn_all[self._kept()] if len(self.screened_index_) else xn_all
            xn_val_all = self.normalizer.transform(x_val).astype(np.float32)
            xn_val = xn_val_all[self._kept(self.val_index_)]
            train_pairs, val_pairs = lambda: [(x_train, xn_all)], lambda: [(x_val, xn_val_all)]
            self._val_rows = (self.val_index_ if len(self.val_index_) else self.train_index_)[:4]
            self._val_sample = x[self._val_rows]
        if not len(xn_val):
            xn_val = val_pairs = None
        self._build_for_training(strategy, t.get("mixed_precision", False))
        if self.config.encoder == "kernels" and not resume:
            self._init_kernel_code(xn_train, t["seed"])
        elif self.config.linear_path and not resume:
            self._init_linear_path(xn_train)
        codes, forward = None, fastpath.training_call(self.encoder, self.decoder, self.config)
        if not self.encoder.trainable_weights and isinstance(xn_train, np.ndarray):
            # a frozen encoder (the kernels encoder): its codes once, and the training steps on the decoder
            if resume:  # the codes of the encoder the run was started with
                from sigae.training.checkpoints import load_checkpoint

                load_checkpoint(run_dir / "checkpoints" / "last.npz", self.autoencoder)
            codes = (self.decoder, self._predict("encoder", xn_train),
                     None if xn_val is None else self._predict("encoder", xn_val))
            forward = fastpath.decoder_call(self.decoder, self.config, training=True)

        def write_history(epoch, history):
            write_text(run_dir / "history.csv", history.to_csv())

        start = time.perf_counter()
        try:
            self.history_ = train_autoencoder(
                self.autoencoder, xn_train, xn_val, epochs=t["epochs"], batch_size=t["batch_size"],
                learning_rate=self.config.learning_rate, lr_schedule=self.config.lr_schedule,
                trim_fraction=self.config.trim_fraction, patience=t["patience"],
                restore_best=self.config.restore_best,
                seed=t["seed"], verbose=verbose, log=log, should_stop=should_stop, resume=resume,
                checkpoint_dir=None if run_dir is None else run_dir / "checkpoints",
                on_epoch_end=None if run_dir is None else write_history, strategy=strategy,
                forward=forward, predict_forward=self._fast_call("autoencoder" if codes is None else "decoder"),
                callbacks=callbacks, codes=codes)
        except TrainingInterrupted as exc:
            if run_dir is not None:
                _write_run_state(run_dir, self.config, status="interrupted", epochs_done=exc.epochs_done)
            raise
        except TrainingFailed as exc:
            if run_dir is not None:
                _record_failure(run_dir, self.config, t, exc)
            raise
        seconds = time.perf_counter() - start

        self.metrics_, self.train_scores_, val_scores = self._fit_metrics(train_pairs, val_pairs, seconds)
        unseen = val_scores[self._kept(self.val_index_)] if len(val_scores) == len(self.val_index_) else None
        self.threshold_ = calibrate_threshold(self.train_scores_, t["threshold_percentile"], unseen,
                                              kept=self._kept())
        self.metrics_["training"] = {k: t[k] for k in ("epochs", "batch_size", "validation_split", "patience", "seed")}
        self.metrics_["threshold"] = {k: v for k, v in self.threshold_.items() if k not in ("quantiles",
                                                                                           "quantile_levels")}
        if self.config.encoder == "kernels":
            self.metrics_["kernel_code_dims"] = self.config.kernel_code_dims
        if t.get("source"):
            self.metrics_["source"] = t["source"]
        if tensorboard is not None:
            from sigae.training.callbacks import write_pca_baseline

            write_pca_baseline(tensorboard, self.metrics_)
        if self.history_.warning:
            self.metrics_["warning"] = self.history_.warning
        if after_training is not None:
            after_training(self)
        if run_dir is not None:
            self._write_results(run_dir)
            if not t.get("keep_checkpoints", False):
                shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # a complete run needs none of it
        return self

    def _init_kernel_code(self, xn_train, seed) -> None:
        """Set the kernels encoder from the normalized training signals (in memory or streamed): the kernel
        biases, the PCA of the standardized kernel features and the PCA of the signals (see
        :func:`sigae.model.network.init_kernel_code`)."""
        from sigae.model.network import LINEAR_CODE_SCALE, init_kernel_code

        blocks = (lambda: [xn_train]) if isinstance(xn_train, np.ndarray) else xn_train.blocks
        kernels = self.encoder.get_layer("encoder_kernels")
        kernels.fit_biases(next(iter(blocks())), seed=0 if seed is None else seed)
        batch = self.inference_batch_size
        features = lambda: (kernels.transform(block, batch) for block in blocks())  # noqa: E731
        feature_pca = PCABaseline(self.config.kernel_code_dims, standardize=True).fit_chunks(features())
        spread = feature_pca.code_spread(features())
        linear_dims = self.config.latent_dim - self.config.kernel_code_dims
        mean, components = np.zeros(0), np.zeros((0, 0))
        if linear_dims:
            pca = PCABaseline(linear_dims)
            pca.fit(xn_train) if isinstance(xn_train, np.ndarray) else pca.fit_chunks(xn_train.blocks())
            mean = pca.mean_
            components = pca.components_ * (LINEAR_CODE_SCALE / pca.code_spread(blocks()))
        init_kernel_code(self.encoder, self.decoder, feature_pca.mean_, feature_pca.scale_,
                         feature_pca.components_ / spread, mean, components)

    def _init_linear_path(self, xn_train) -> None:
        """Start the linear path at PCA of the normalized training signals (in memory or streamed)."""
        from sigae.model.network import init_linear_path

        pca = PCABaseline(self.config.latent_dim)
        pca.fit(xn_train) if isinstance(xn_train, np.ndarray) else pca.fit_chunks(xn_train.blocks())
        init_linear_path(self.encoder, self.decoder, pca.mean_, pca.components_)

    def _parts(self, dataset: SignalDataset, screened: bool = True):
        """The training and validation rows of a file left on disk, normalized as they are read; the
        training rows without the screened ones unless *screened* is false."""
        from sigae.training.data import StreamedPart

        val = np.zeros(len(dataset), dtype=bool)
        val[self.val_index_] = True
        train = ~val
        if screened:
            train[self.screened_index_] = val[self.screened_index_] = False
        return StreamedPart(dataset, train, self.normalizer), StreamedPart(dataset, val, self.normalizer)

    def _kept(self, rows=None) -> np.ndarray:
        """Mask over *rows* (``train_index_``): the rows not screened out."""
        return ~np.isin(self.train_index_ if rows is None else rows, self.screened_index_)

    def _screen(self, x) -> np.ndarray:
        """The training rows :func:`sigae.evaluation.screening.screen_rare` leaves out (sorted file rows)."""
        from sigae.evaluation.screening import screen_cross_fitted, screen_rare

        rows = np.union1d(self.train_index_, self.val_index_)
        if self.config.rare_fraction <= 0:
            return np.zeros(0, dtype=np.int64)
        if isinstance(x, SignalDataset):
            from sigae.training.data import StreamedPart

            def blocks(mask):
                chosen = np.zeros(len(x), dtype=bool)
                chosen[rows[mask]] = True
                return StreamedPart(x, chosen, self.normalizer).blocks()
        else:
            xn = self.normalizer.transform(x[rows])

            def blocks(mask):
                return [xn[mask]]
        training = np.isin(rows, self.train_index_)
        keep = screen_rare(blocks, len(rows), self.config.latent_dim, self.config.rare_fraction, training=training)
        keep &= screen_cross_fitted(blocks, len(rows), self.config.latent_dim, training=training)
        return rows[~keep]

    def _errors(self, pairs, pca) -> tuple[dict, np.ndarray]:
        """MSE of the autoencoder and of *pca* (normalized and original units) over the ``(original,
        normalized)`` blocks of *pairs*, and the autoencoder's score of every signal."""
        squares = {"autoencoder": [0.0, 0.0], "pca": [0.0, 0.0]}
        size, scores = 0, []
        for x_orig, xn in pairs:
            rec = self._reconstruct_normalized(xn)
            scores.append(reconstruction_error(self.normalizer.transform(x_orig), rec))  # as score() has it
            stats = self.normalizer.signal_stats(x_orig)
            for name, rec_n in (("autoencoder", rec), ("pca", pca.reconstruct(xn))):
                squares[name][0] += float(np.sum(np.square(rec_n - xn, dtype=np.float64)))
                squares[name][1] += float(np.sum(np.square(self.normalizer.inverse_transform(rec_n, stats) - x_orig)))
            size += xn.size
        return {name: (a / size, b / size) for name, (a, b) in squares.items()}, np.concatenate(scores)

    def _fit_metrics(self, train_pairs, val_pairs, seconds) -> tuple[dict, np.ndarray, np.ndarray]:
        """metrics.json (autoencoder vs PCA baseline, both over every training row, screened or not: the
        baseline is the PCA a user would fit to the same rows), the training and the validation signals'
        scores."""
        pca = PCABaseline(self.config.latent_dim).fit_chunks(xn for _, xn in train_pairs())
        train, train_scores = self._errors(train_pairs(), pca)
        n_train = len(self.train_index_)
        n_val = len(self.val_index_)
        metrics = {
            "n_signals": int(n_train + n_val), "n_train": int(n_train), "n_val": int(n_val),
            "input_length": self.config.input_length, "channels": self.config.channels,
            "epochs_run": len(self.history_.loss), "best_epoch": self.history_.best_epoch,
            "initial_val_loss": self.history_.initial_val_loss,
            "stopped_early": self.history_.stopped_early, "train_seconds": round(seconds, 3),
            "parameters": int(self.autoencoder.count_params()),
            "screening": {"rare_fraction": self.config.rare_fraction, "n_screened": int(len(self.screened_index_)),
                          "rows": "split.npz 'screened' (0-based file rows)"},
            "autoencoder": {"train_mse": train["autoencoder"][0], "train_mse_original_units": train["autoencoder"][1]},
            "pca": {"components": pca.components_.shape[0], "train_mse": train["pca"][0],
                    "train_mse_original_units": train["pca"][1]},
        }
        val_scores = np.zeros(0)
        if val_pairs is not None:
            val, val_scores = self._errors(val_pairs(), pca)
            for name in ("autoencoder", "pca"):
                metrics[name].update(val_mse=val[name][0], val_mse_original_units=val[name][1])
            ae_val, pca_val = val["autoencoder"][0], val["pca"][0]
            metrics["val_mse_ratio_to_pca"] = ae_val / pca_val if pca_val > 0 else None
            # A model at its PCA start computes PCA in float32 against PCA's float64: a tie within rounding.
            metrics["beats_pca"] = bool(ae_val <= pca_val * (1 + 1e-5))
        return metrics, train_scores, val_scores

    # ------------------------------------------------------------------ inference
    def _predict(self, which: str, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        from sigae.training.prediction import make_predict_fn, predict_batches

        if which not in self._predict_fns:
            self._predict_fns[which] = make_predict_fn(getattr(self, which), self._fast_call(which))
        return predict_batches(self._predict_fns[which], np.ascontiguousarray(x, dtype=np.float32),
                               batch_size or self.inference_batch_size)

    @property
    def inference_batch_size(self) -> int:
        """Signals per inference call when ``batch_size`` is not given (larger when the first stage is fused)."""
        from sigae.model.fastpath import fused_encoder_ok

        self._check_ready()
        if self.config.encoder == "kernels":  # (batch, points, features) comparisons: bound their memory
            return int(np.clip(KERNEL_PREDICT_VALUES // (self.config.input_length * self.config.kernel_features),
                               1, PREDICT_BATCH))
        return FUSED_PREDICT_BATCH if fused_encoder_ok(self.config, self.encoder) else PREDICT_BATCH

    def _fast_call(self, which: str):
        """``encoder`` / ``decoder`` / ``autoencoder`` as :mod:`sigae.model.fastpath` computes them for inference."""
        from sigae.model import fastpath

        encode = fastpath.encoder_call(self.encoder, self.config)
        decode = fastpath.decoder_call(self.decoder, self.config)
        return {"encoder": encode, "decoder": decode, "autoencoder": lambda x: decode(encode(x))}[which]

    def _reconstruct_normalized(self, xn: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        return self._predict("decoder", self._predict("encoder", xn, batch_size), batch_size)

    def _model_signals(self, x, name) -> np.ndarray:
        """*x* as ``(n, L, C)`` for this model: a 1-D vector of the model's length is one signal, as on the
        command line; anything else of the wrong shape is refused saying how to reshape it."""
        self._check_ready()
        length, channels = self.config.input_length, self.config.channels
        if np.ndim(x) == 1:
            size = np.size(x)
            if size == length and channels == 1:
                x = np.asarray(x)[None, :]
            else:
                fix = (f"pass it as x.reshape(1, {length}, {channels}) if it is one signal with its channels "
                       "interleaved point by point" if size == length * channels else
                       f"give signals shaped (n, {length})" + (f" x {channels} channels" if channels > 1 else ""))
                raise DataError(f"{name}: a 1-D array of {size} values, but the model takes signals of {length} "
                                f"points x {channels} channel(s); {fix}")
        x = as_signals(x, name)
        self._check_shape(x, name)
        return x

    def _normalize(self, x, name):
        x = self._model_signals(x, name)
        return x, self.normalizer.transform(x)

    def signal_stats(self, x):
        """Per-signal statistics the per-signal normalizer needs to decode (None otherwise)."""
        return self.normalizer.signal_stats(self._model_signals(x, "signals"))

    def encode(self, x, batch_size: int | None = None) -> np.ndarray:
        """Latent codes ``(n, latent_dim)`` of signals *x* ``(n, L)`` or ``(n, L, C)`` in original units.

        A 1-D *x* of the model's length (one channel) is one signal, ``(1, latent_dim)`` out.

        The codes are in the model's own units (for the default model, PCA scores of the normalized signals
        at initialization). Raises :class:`~sigae.NotFittedError` before ``fit``/``load`` and
        :class:`~sigae.DataError` for NaN/Inf values or signals of another length or channel count."""
        _, xn = self._normalize(x, "signals")
        return self._predict("encoder", xn, batch_size)

    def decode(self, z, stats=None, batch_size: int | None = None) -> np.ndarray:
        """Signals in original units from latent codes *z* ``(n, latent_dim)``.

        With the per-signal normalizer, pass ``stats=signal_stats(x)`` of the
        encoded signals (their mean and std are not in the latent code). Returns ``(n, L)`` for one
        channel, else ``(n, L, C)``. Raises :class:`~sigae.DataError` for codes of the wrong width or
        NaN/Inf values, :class:`~sigae.ConfigError` when per-signal *stats* are needed and missing.
        """
        self._check_ready()
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise DataError(f"latent codes: expected shape (n, {self.config.latent_dim}), got {z.shape}")
        if not np.isfinite(z).all():
            raise DataError(f"latent codes: {int((~np.isfinite(z)).sum())} NaN/Inf values")
        if self.normalizer.kind == "per-signal" and stats is None:
            raise ConfigError("decode: this model normalizes each signal; pass stats=model.signal_stats(x) "
                              "(sigae-encode saves them as signal_mean/signal_std)")
        out = self.normalizer.inverse_transform(self._predict("decoder", z, batch_size), stats)
        return out[:, :, 0] if self.config.channels == 1 else out

    def reconstruct(self, x, batch_size: int | None = None) -> np.ndarray:
        """``decode(encode(x))`` in original units, shaped like *x*: the same call path, so exactly equal.

        Raises the errors of :meth:`encode`."""
        stats = self.signal_stats(x)
        out = self.decode(self.encode(x, batch_size), stats, batch_size)
        return out[0] if np.ndim(x) == 1 else out

    def score(self, x, metric: str = "mse", threshold=None, per_point: bool = False,
              batch_size: int | None = None) -> ScoreResult:
        """Per-signal reconstruction error in normalized units, flagged against a threshold.

        *x*: signals ``(n, L)`` or ``(n, L, C)``, or one signal as a 1-D vector of the model's length.

        *threshold*: None (the percentile calibrated on the training signals),
        ``"max"``, ``"pNN"`` or a number (normalized units). Returns a :class:`~sigae.evaluation.scoring.ScoreResult`
        with ``scores`` ``(n,)`` (mean squared, or with ``metric="mae"`` absolute, error per signal) and, with
        *per_point*, the ``(n, L, C)`` errors. Raises the errors of :meth:`encode`, and
        :class:`~sigae.ConfigError` for a threshold that cannot be read.
        """
        _, xn = self._normalize(x, "signals")
        rec = self._reconstruct_normalized(xn, batch_size)
        errors = per_point_error(xn, rec, metric)
        scores = errors.mean(axis=1)
        if metric != "mse" and threshold is None:
            threshold = f"p{self.threshold_['percentile']:g}"
        train_scores = self.train_scores_ if metric == "mse" else None
        if metric != "mse" and self.threshold_ is not None and str(threshold).lower().startswith(("p", "max")):
            raise ConfigError(f"{option('--threshold', 'threshold')}: the calibrated thresholds are for mse; give a "
                              f"number with {option('--metric mae', 'metric=mae')}")
        value = resolve_threshold(threshold, self.threshold_, train_scores)
        return ScoreResult(scores=scores, threshold=value, is_anomaly=scores > value, metric=metric,
                           per_point=errors if per_point else None)

    # ------------------------------------------------------------------ recordings (sigae.estimator.windowed)
    def fit_recordings(self, recordings, window, hop: int = 1, **kwargs) -> "SignalAutoencoder":
        """Train on the sliding windows of long recordings: see :func:`sigae.estimator.windowed.fit_recordings`."""
        from sigae.estimator.windowed import fit_recordings

        return fit_recordings(self, recordings, window, hop, **kwargs)

    @classmethod
    def resume_recordings(cls, run_dir, recordings=None, **kwargs) -> "SignalAutoencoder":
        """Continue an interrupted :meth:`fit_recordings` run: see :func:`sigae.estimator.windowed.resume_recordings`."""
        from sigae.estimator.windowed import resume_recordings

        return resume_recordings(run_dir, recordings, model_class=cls, **kwargs)

    def score_recording(self, recording, hop: int = 1, **kwargs):
        """Per-point scores, flags, events of one recording: see :func:`sigae.estimator.windowed.score_recording`."""
        from sigae.estimator.windowed import score_recording

        self._check_ready()
        return score_recording(self, recording, hop, **kwargs)

    def encode_recording(self, recording, hop: int = 1, batch_size: int | None = None):
        """Codes and starts of the windows of one recording: see :func:`sigae.estimator.windowed.encode_recording`."""
        from sigae.estimator.windowed import encode_recording

        self._check_ready()
        return encode_recording(self, recording, hop, batch_size)

    # ------------------------------------------------------------------ persistence
    def save(self, path, overwrite: bool = False, figures: bool = True) -> Path:
        """Write a complete run folder atomically (a temporary folder renamed into place)."""
        self._check_ready()
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise OutputExistsError(f"{path}: exists and is not a folder")
        if path.is_dir() and any(path.iterdir()) and not overwrite:
            raise OutputExistsError(f"{path}: run folder exists and is not empty; pass "
                                    f"{option('--overwrite', 'overwrite=True')} to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        from sigae.data.files import current_umask as _umask

        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the run folder gets the usual permissions
        try:
            self._write_setup(tmp)
            self._write_results(tmp, figures)
            _replace_dir(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    def _write_setup(self, folder: Path) -> None:
        """What a run needs before training: config, normalizer, split, options; marked incomplete."""
        from sigae.data.files import atomic_path, write_json, write_text

        write_text(folder / "config.json", self.config.to_json())
        write_json(folder / "normalizer.json", self.normalizer.to_dict())
        if self.train_index_ is not None:
            with atomic_path(folder / "split.npz") as tmp:
                np.savez(tmp, train=self.train_index_, val=self.val_index_, screened=self.screened_index_)
        if getattr(self, "training_", None) is not None:
            write_json(folder / "training.json", self.training_)
        _write_run_state(folder, self.config, status="training")

    def _write_results(self, folder: Path, figures: bool = True) -> None:
        """The trained model and its results, then the completion mark (last)."""
        from sigae.data.files import atomic_path, write_json, write_text
        from sigae.evaluation.plots import plot_loss, plot_reconstructions

        with atomic_path(folder / MODEL_FILE) as tmp:
            self.autoencoder.save(tmp)
        if self.threshold_ is not None:
            write_json(folder / "threshold.json", {**self.threshold_, "metric": "mse", "units": "normalized"})
            with atomic_path(folder / "train_scores.npy") as tmp:
                np.save(tmp, np.asarray(self.train_scores_, dtype=np.float64))
        if self.history_ is not None:
            write_text(folder / "history.csv", self.history_.to_csv())
        if self.metrics_ is not None:
            write_json(folder / "metrics.json", self.metrics_)
        if figures and self.history_ is not None and self.history_.loss:
            plot_loss(self.history_, folder / "loss.png")
        if figures and self._val_sample is not None:
            rec = self.reconstruct(self._val_sample)
            windowed = bool(((self.training_ or {}).get("source") or {}).get("windowed"))
            unit = "window" if windowed else "signal"
            rows = getattr(self, "_val_rows", None)
            rows = range(len(rec)) if rows is None else rows
            plot_reconstructions(self._val_sample, rec, folder / "reconstructions.png",
                                 labels=[f"validation {unit} {int(i) + 1} (1-based)" for i in rows],
                                 title=f"Validation {unit}s: original vs reconstruction")
        if self.windowing_ is not None:
            write_json(folder / "windowing.json", self.windowing_)
        extra = {"warning": self.history_.warning} if self.history_ is not None and self.history_.warning else {}
        _write_run_state(folder, self.config, status="complete", saved=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                         **extra)

    @classmethod
    def load(cls, path) -> "SignalAutoencoder":
        """Load a run folder written by :meth:`save` (safe mode: no code runs from it)."""
        path = Path(path)
        config = read_run_config(path)
        obj = cls(config)
        obj.normalizer = normalizer_from_dict(_read_json(path / "normalizer.json", path))
        obj._set_models(_load_keras_model(path / MODEL_FILE))
        _check_model_matches_config(obj, path)
        if (path / "threshold.json").is_file():
            obj.threshold_ = _read_json(path / "threshold.json", path)
            obj.train_scores_ = np.load(path / "train_scores.npy", allow_pickle=False) \
                if (path / "train_scores.npy").is_file() else None
        if (path / "metrics.json").is_file():
            obj.metrics_ = _read_json(path / "metrics.json", path)
        if (path / "history.csv").is_file():
            obj.history_ = _read_history(path / "history.csv")
            if obj.metrics_ is not None:  # what history.csv has no column for
                obj.history_.best_epoch = obj.metrics_.get("best_epoch")
                obj.history_.initial_val_loss = obj.metrics_.get("initial_val_loss")
        from sigae.estimator.windowed import load_windowing

        obj.windowing_ = load_windowing(path)
        return obj

    def __repr__(self):
        state = "fitted" if self._autoencoder is not None and self.normalizer is not None else "unfitted"
        return f"SignalAutoencoder({state}, input_length={self.config.input_length}, " \
               f"latent_dim={self.config.latent_dim}, decoder={self.config.decoder!r}, tied={self.config.tied})"


def load(path) -> SignalAutoencoder:
    """Load a run folder: ``sigae.load(dir)`` is ``SignalAutoencoder.load(dir)``."""
    return SignalAutoencoder.load(path)


def read_run_config(path) -> AutoencoderConfig:
    """The configuration of the complete run folder *path*, after the checks :meth:`SignalAutoencoder.load` makes
    before it reads the model; no TensorFlow, so a command can check its inputs against the run at once.

    Raises :class:`~sigae.RunFolderError` for a folder that is missing, failed, incomplete or unreadable."""
    path = Path(path)
    if not path.is_dir():
        raise RunFolderError(f"{path}: not a run folder (no such directory)")
    state = _read_json(path / "run.json", path) if (path / "run.json").is_file() else {}
    if state.get("status") == "failed":
        raise RunFolderError(failed_run_message(path, state))
    if state.get("complete") is False:
        raise RunFolderError(f"{path}: the run is not complete (training interrupted?); " + resume_hint(path))
    missing = [name for name in ("model.keras", "config.json", "normalizer.json") if not (path / name).is_file()]
    if missing:
        raise RunFolderError(f"{path}: incomplete run folder, missing {', '.join(missing)}")
    if not state.get("complete"):
        raise RunFolderError(f"{path}: run.json is missing or does not mark the run complete")
    return AutoencoderConfig.load(path / "config.json")


def resumable(run_dir) -> bool:
    """Whether an interrupted run can be resumed: one file of cut signals (not several files), or windows of
    recordings whose run records its windowing, as :meth:`SignalAutoencoder.resume`,
    :meth:`SignalAutoencoder.resume_recordings` and ``sigae-train --resume`` require."""
    source = _training_source(run_dir)
    if source is None:
        return True  # not known to be otherwise
    if source.get("windowed"):
        return bool(source.get("windowing"))
    return len(source.get("files") or []) <= 1


def _training_source(run_dir) -> dict | None:
    try:
        return json.loads((Path(run_dir) / "training.json").read_text(encoding="utf-8")).get("source") or {}
    except (OSError, ValueError, AttributeError):
        return None


def resume_hint(run_dir) -> str:
    """How to go on from an interrupted run in *run_dir*, truthfully for runs that cannot be resumed."""
    from sigae.errors import option

    windowed = bool((_training_source(run_dir) or {}).get("windowed"))
    if resumable(run_dir):
        return "continue it with: " + option(f"sigae-train --resume {run_dir}",
                                              f"SignalAutoencoder.resume_recordings('{run_dir}')" if windowed
                                              else f"SignalAutoencoder.resume('{run_dir}', x)")
    what = ("a run on windows of recordings started by an earlier sigae (which did not record its windowing)"
            if windowed else "a run on several files")
    return (f"{what} cannot be resumed; train it again "
            + option(f"(sigae-train ... --out {run_dir} --overwrite)", "(fit(..., overwrite=True))"))


def _channels(shape) -> int:
    return shape[2] if len(shape) == 3 else 1


def _check_fit_args(epochs, batch_size, validation_split, patience, threshold_percentile):
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"{option('--epochs', 'epochs')}: must be a whole number >= 1, got {epochs!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"{option('--batch-size', 'batch_size')}: must be a whole number >= 1, got {batch_size!r}")
    if not 0 <= validation_split < 1:
        raise ConfigError(f"{option('--validation-split', 'validation_split')}: must be in [0, 1), "
                          f"got {validation_split!r}")
    if patience is not None and (not isinstance(patience, (int, np.integer)) or patience < 1):
        raise ConfigError(f"{option('--patience', 'patience')}: must be a whole number >= 1, got {patience!r}")
    if not 0 < threshold_percentile <= 100:
        raise ConfigError(f"threshold percentile: must be in (0, 100], got {threshold_percentile!r}")


def _resolve_strategy(strategy):
    """None for the default strategy (the plain path), else a tf.distribute strategy."""
    if strategy is None or strategy == "default":
        return None
    if isinstance(strategy, str):
        from sigae.training.strategy import make_strategy

        strategy = make_strategy(strategy)
    import tensorflow as tf

    return None if strategy is tf.distribute.get_strategy() else strategy


def _is_chief_only(strategy) -> bool:
    """True when the strategy runs in this one process (no other workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or not resolver.cluster_spec().as_dict()


def _prepare_run_dir(run_dir, overwrite: bool, strategy=None) -> Path:
    """An empty run folder to train into; an existing non-empty one only with *overwrite*.

    A worker that is not the chief gets a temporary folder instead (removed after training)."""
    if strategy is not None and not _is_chief_only(strategy):
        from sigae.training.strategy import is_chief

        if not is_chief(strategy):
            run_dir = Path(tempfile.mkdtemp(prefix="sigae-worker-"))
            (run_dir / "checkpoints").mkdir()
            return run_dir
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputExistsError(f"{run_dir}: exists and is not a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not overwrite and not is_failed_run(run_dir):
            raise OutputExistsError(f"{run_dir}: run folder exists and is not empty; pass "
                                    f"{option('--overwrite', 'overwrite=True')} to replace it")
        shutil.rmtree(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    return run_dir


def run_state(run_dir) -> dict:
    """The contents of *run_dir*/run.json (``{}`` when absent or unreadable)."""
    try:
        return json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_failed_run(run_dir) -> bool:
    """Whether *run_dir* holds a run whose training failed (nothing in it is worth keeping)."""
    return run_state(run_dir).get("status") == "failed"


def failed_run_message(run_dir, state: dict) -> str:
    """What users of a failed run folder are told: what failed, and the command that starts afresh."""
    training = {}
    try:
        training = json.loads((Path(run_dir) / "training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    file = (training.get("source") or {}).get("file") or "FILE"
    lr = state.get("learning_rate")
    option = f" --learning-rate {1e-3 if lr > 1e-3 else lr / 10:g}" if isinstance(lr, (int, float)) else ""
    return (f"{run_dir}: failed: {state.get('reason', 'training failed')}; {state.get('remedy', 'retrain it')}, "
            f"e.g. sigae-train {file} --out {run_dir}{option} with the run's other options "
            "(a failed run folder is replaced without --overwrite)")


def _write_run_state(folder: Path, config: AutoencoderConfig, status: str, **extra) -> None:
    """run.json: ``complete`` (true only for a finished run) and ``status`` (training, interrupted,
    failed, complete), with details."""
    from sigae.data.files import write_json

    write_json(folder / "run.json", {"complete": status == "complete", "status": status,
                                     "sigae_version": __version__, "config_hash": config.hash(), **extra})


def _record_failure(run_dir: Path, config: AutoencoderConfig, training: dict, exc) -> None:
    """Mark *run_dir* failed, with the reason; drop its checkpoints, since resuming would repeat the failure."""
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    _write_run_state(run_dir, config, status="failed", reason=exc.reason, remedy=exc.remedy,
                     failed_at_epoch=exc.epoch, learning_rate=config.learning_rate)
    exc.args = (f"{exc}; {run_dir}/run.json records the failure, and the next sigae-train --out {run_dir} "
                "replaces the folder without --overwrite",)


def _replace_dir(tmp: Path, path: Path) -> None:
    """Move the finished *tmp* folder onto *path*, replacing an old one only at the last moment."""
    if path.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, trash / "run")
        os.replace(tmp, path)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, path)


def _read_json(file: Path, folder: Path):
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{folder}: {file.name} is unreadable ({exc})") from None


def _read_history(file: Path):
    from sigae.training.loop import History

    history = History()
    for line in file.read_text(encoding="utf-8").splitlines()[1:]:
        _, loss, val, seconds = line.split(",")
        history.loss.append(float(loss))
        if val:
            history.val_loss.append(float(val))
        history.seconds.append(float(seconds))
    return history


def _load_keras_model(file: Path):
    import keras

    from sigae.model import layers  # noqa: F401  (registers the tied layers for deserialization)

    try:
        return keras.saving.load_model(file, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad archive
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunFolderError(f"{file}: cannot load the model safely ({reason[:300]})") from None


def _check_model_matches_config(obj: SignalAutoencoder, folder: Path) -> None:
    """The saved model must have exactly the architecture config.json describes."""
    from sigae.model.network import build_models

    _, _, expected = build_models(obj.config)
    got = {w.path: tuple(w.shape) for w in obj.autoencoder.weights}
    want = {w.path: tuple(w.shape) for w in expected.weights}
    if got != want or tuple(obj.autoencoder.input_shape[1:]) != tuple(expected.input_shape[1:]):
        raise RunFolderError(f"{folder}: model.keras and config.json disagree about the architecture "
                             f"({len(got)} weights vs {len(want)} expected); the folder is inconsistent")
