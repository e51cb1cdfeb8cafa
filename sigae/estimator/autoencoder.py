"""SignalAutoencoder: the object users fit, save, load and put to work.

It takes raw signals ``(n, L)`` or ``(n, L, C)`` in original units, normalizes
inside, and returns reconstructions in original units. ``.encoder`` and
``.decoder`` are always the sub-models of ``.autoencoder`` (never rebuilt), so
``decode(encode(x))`` is ``reconstruct(x)``, before and after save/load.

The class is a façade: fitting lives in :mod:`sigae.estimator.fitting`, the run folder in :mod:`sigae.runs`,
recordings in :mod:`sigae.estimator.windowed`, and the models in :mod:`sigae.model`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sigae.data.signals import as_codes, as_signals, check_signal_shape, signals_for_model
from sigae.errors import ConfigError, NotFittedError, option
from sigae.estimator.cross_fitting import out_of_fold as out_of_fold_scores
from sigae.evaluation.scoring import ScoreResult, per_point_error, resolve_threshold
from sigae.model.config import AutoencoderConfig
from sigae.runs.folder import check_model_matches_config, load_keras_model, read_normalizer, read_results, save_run
from sigae.runs.state import MODEL_FILE, read_run_config
from sigae.training.options import FitOptions
from sigae.training.prediction import FUSED_PREDICT_BATCH, PREDICT_BATCH

KERNEL_PREDICT_VALUES = 2 ** 25
"""Kernel-feature comparisons (signals x points x features) per inference call of the kernels encoder:
about 128 MB of float32 at a time."""

__all__ = ["SignalAutoencoder", "load", "as_signals"]


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
        self.normalizer = self.history_ = self.metrics_ = self.threshold_ = self.train_scores_ = None
        self.train_index_ = self.val_index_ = self.training_ = self.cross_fitted_ = None
        self.screened_index_ = np.zeros(0, dtype=np.int64)
        self.windowing_ = None  # window, hop, fs, point threshold of a model of recordings (sigae.estimator.windowed)
        self.figure_signals_ = self.figure_rows_ = None  # the validation signals in reconstructions.png
        self._predict_fns = {}

    # ------------------------------------------------------------------ the three models, built once
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

        self._set_models(build_models(self.config)[2])
        return self

    def check_ready(self) -> None:
        """Raise :class:`~sigae.NotFittedError` unless the model is fitted or loaded."""
        if self._autoencoder is None or self.normalizer is None:
            raise NotFittedError("SignalAutoencoder is not fitted yet; call fit(x) or SignalAutoencoder.load(dir)")

    def check_shape(self, x: np.ndarray, name: str) -> None:
        """Raise DataError unless signals *x* ``(n, L, C)`` have the model's length and channel count."""
        check_signal_shape(x, self.config.input_length, self.config.channels, name)

    # ------------------------------------------------------------------ training
    def fit(self, x, options: FitOptions | None = None, *, run_dir=None, overwrite: bool = False, verbose="auto",
            log=print, should_stop=None, callbacks=None, tensorboard=None, strategy="default",
            layout: str | None = None, source: dict | None = None, validation_rows=None, after_training=None,
            **recipe) -> "SignalAutoencoder":
        """Fit the normalizer on the training split, screen it, then train the autoencoder.

        *x*: signals ``(n, L)`` / ``(n, L, C)`` in original units (``layout="NCL"`` for ``(n, C, L)``; an
        ambiguous 3-D *x* is refused, see :func:`as_signals`), or a :class:`sigae.data.io.SignalDataset` read
        block by block. The recipe: *options* (:class:`~sigae.training.options.FitOptions`) or its fields as
        keywords: ``epochs=100, batch_size=100, validation_split=0.2, patience=None, seed=None,
        threshold_percentile=99.0, mixed_precision=False, keep_checkpoints=False``. The validation split is a
        seeded random subset (or *validation_rows*). Afterwards: ``history_``, ``metrics_`` (against the PCA
        baseline), ``threshold_`` (calibrated on unseen signals), ``cross_fitted_`` (out-of-fold scores).

        *run_dir*: written as training goes (setup, a checkpoint and ``history.csv`` every epoch, the results,
        ``run.json`` last); an interrupted run continues with :meth:`resume`; a failed one records why
        (:class:`sigae.training.loop.TrainingFailed`). *should_stop*: polled after every step. *strategy*: a
        ``tf.distribute`` strategy or ``"auto"``/``"default"``/``"mirrored"``/``"multiworker"`` (only the chief
        writes *run_dir*). *callbacks*: ``keras.callbacks.Callback`` objects; *tensorboard*: a log folder.
        *after_training*: called with the model before the results are written (:mod:`sigae.estimator.windowed`).
        """
        from sigae.estimator.fitting import fit_model

        return fit_model(self, x, options, recipe, run_dir=run_dir, overwrite=overwrite, verbose=verbose, log=log,
                         should_stop=should_stop, source=source, strategy=strategy, callbacks=callbacks,
                         tensorboard=tensorboard, validation_rows=validation_rows, layout=layout,
                         after_training=after_training)

    @classmethod
    def resume(cls, run_dir, x, verbose="auto", log=print, should_stop=None, callbacks=None,
               tensorboard=None, layout: str | None = None, after_training=None) -> "SignalAutoencoder":
        """Continue an interrupted run in *run_dir* on the same signals *x*, from its last completed epoch
        (a run on windows of recordings: :meth:`resume_recordings`)."""
        from sigae.estimator.fitting import resume_model

        return resume_model(cls, run_dir, x, verbose, log, should_stop, callbacks, tensorboard, layout,
                            after_training)

    # ------------------------------------------------------------------ inference
    def predict_normalized(self, which: str, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Run the ``"encoder"``, ``"decoder"`` or ``"autoencoder"`` on normalized inputs (float32 out)."""
        from sigae.training.prediction import make_predict_fn, predict_batches

        if which not in self._predict_fns:
            self._predict_fns[which] = make_predict_fn(getattr(self, which), self.inference_call(which))
        return predict_batches(self._predict_fns[which], np.ascontiguousarray(x, dtype=np.float32),
                               batch_size or self.inference_batch_size)

    @property
    def inference_batch_size(self) -> int:
        """Signals per inference call when ``batch_size`` is not given (larger when the first stage is fused)."""
        from sigae.model.fastpath import fused_encoder_ok

        self.check_ready()
        if self.config.encoder == "kernels":  # (batch, points, features) comparisons: bound their memory
            return int(np.clip(KERNEL_PREDICT_VALUES // (self.config.input_length * self.config.kernel_features),
                               1, PREDICT_BATCH))
        return FUSED_PREDICT_BATCH if fused_encoder_ok(self.config, self.encoder) else PREDICT_BATCH

    def inference_call(self, which: str):
        """``encoder`` / ``decoder`` / ``autoencoder`` as :mod:`sigae.model.fastpath` computes them for inference."""
        from sigae.model import fastpath

        encode = fastpath.encoder_call(self.encoder, self.config)
        decode = fastpath.decoder_call(self.decoder, self.config)
        return {"encoder": encode, "decoder": decode, "autoencoder": lambda x: decode(encode(x))}[which]

    def reconstruct_normalized(self, xn: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Reconstructions of normalized signals *xn* ``(n, L, C)``, normalized (the encoder, then the decoder)."""
        return self.predict_normalized("decoder", self.predict_normalized("encoder", xn, batch_size), batch_size)

    def normalize_signals(self, x, name: str = "signals"):
        """``(x, xn)``: *x* checked against the model (a 1-D vector of its length is one signal) as float64
        ``(n, L, C)``, and normalized. Raises NotFittedError, DataError."""
        self.check_ready()
        x = signals_for_model(x, self.config.input_length, self.config.channels, name)
        return x, self.normalizer.transform(x)

    def signal_stats(self, x):
        """Per-signal statistics the per-signal normalizer needs to decode (None otherwise)."""
        self.check_ready()
        length, channels = self.config.input_length, self.config.channels
        return self.normalizer.signal_stats(signals_for_model(x, length, channels, "signals"))

    def encode(self, x, batch_size: int | None = None) -> np.ndarray:
        """Latent codes ``(n, latent_dim)`` of signals *x* ``(n, L)`` / ``(n, L, C)`` in original units (a 1-D *x*
        of the model's length is one signal), in the model's own units. Raises :class:`~sigae.NotFittedError`
        before ``fit``/``load``, :class:`~sigae.DataError` for NaN/Inf or another length or channel count."""
        return self.predict_normalized("encoder", self.normalize_signals(x)[1], batch_size)

    def decode(self, z, stats=None, batch_size: int | None = None) -> np.ndarray:
        """Signals in original units, ``(n, L)`` for one channel else ``(n, L, C)``, from codes *z*
        ``(n, latent_dim)``; a per-signal normalizer needs ``stats=signal_stats(x)`` of the encoded signals.
        Raises DataError for codes of the wrong width or NaN/Inf, ConfigError for missing *stats*."""
        self.check_ready()
        z = as_codes(z, self.config.latent_dim)
        if self.normalizer.kind == "per-signal" and stats is None:
            raise ConfigError("decode: this model normalizes each signal; pass stats=model.signal_stats(x) "
                              "(sigae-encode saves them as signal_mean/signal_std)")
        out = self.normalizer.inverse_transform(self.predict_normalized("decoder", z, batch_size), stats)
        return out[:, :, 0] if self.config.channels == 1 else out

    def reconstruct(self, x, batch_size: int | None = None) -> np.ndarray:
        """``decode(encode(x))`` in original units, shaped like *x*: the same call path, so exactly equal."""
        out = self.decode(self.encode(x, batch_size), self.signal_stats(x), batch_size)
        return out[0] if np.ndim(x) == 1 else out

    def score(self, x, metric: str = "mse", threshold=None, per_point: bool = False,
              batch_size: int | None = None, out_of_fold: bool = True) -> ScoreResult:
        """Per-signal reconstruction error (normalized units) of *x* ``(n, L[, C])``, flagged against *threshold*: None
        (the calibrated percentile), ``"max"``, ``"pNN"`` or a number. Returns a ScoreResult: ``scores`` ``(n,)`` (mean
        squared; absolute with ``metric="mae"``), with *per_point* the ``(n, L, C)`` errors by the model. The model's
        cross-fitted training signals get their out-of-fold mse (:mod:`sigae.estimator.cross_fitting`; marked in
        ``out_of_fold``; ``out_of_fold=False``: the model's own, as an exported model computes). Raises as
        :meth:`encode`, and ConfigError for a threshold that cannot be read."""
        x, xn = self.normalize_signals(x)
        errors = per_point_error(xn, self.reconstruct_normalized(xn, batch_size), metric)
        scores, crossed = out_of_fold_scores(self, x, errors.mean(axis=1), metric == "mse" and out_of_fold)
        if metric != "mse" and threshold is None:
            threshold = f"p{self.threshold_['percentile']:g}"
        if metric != "mse" and self.threshold_ is not None and str(threshold).lower().startswith(("p", "max")):
            raise ConfigError(f"{option('--threshold', 'threshold')}: the calibrated thresholds are for mse; give a "
                              f"number with {option('--metric mae', 'metric=mae')}")
        value = resolve_threshold(threshold, self.threshold_, self.train_scores_ if metric == "mse" else None)
        return ScoreResult(scores=scores, threshold=value, is_anomaly=scores > value, metric=metric,
                           per_point=errors if per_point else None, out_of_fold=crossed)

    # ------------------------------------------------------------------ recordings (sigae.estimator.windowed)
    def fit_recordings(self, recordings, window, hop: int = 1, **kwargs) -> "SignalAutoencoder":
        """Train on the sliding windows of long recordings: :func:`sigae.estimator.windowed.fit_recordings`."""
        from sigae.estimator.windowed import fit_recordings

        return fit_recordings(self, recordings, window, hop, **kwargs)

    @classmethod
    def resume_recordings(cls, run_dir, recordings=None, **kwargs) -> "SignalAutoencoder":
        """Continue an interrupted :meth:`fit_recordings` run: :func:`sigae.estimator.windowed.resume_recordings`."""
        from sigae.estimator.windowed import resume_recordings

        return resume_recordings(run_dir, recordings, model_class=cls, **kwargs)

    def score_recording(self, recording, hop: int = 1, **kwargs):
        """Per-point scores, flags, events of one recording: :func:`sigae.estimator.recording_scores.score_recording`."""
        from sigae.estimator.recording_scores import score_recording

        self.check_ready()
        return score_recording(self, recording, hop, **kwargs)

    def encode_recording(self, recording, hop: int = 1, batch_size: int | None = None):
        """Codes and starts of the windows of one recording: :func:`sigae.estimator.recording_scores.encode_recording`."""
        from sigae.estimator.recording_scores import encode_recording

        self.check_ready()
        return encode_recording(self, recording, hop, batch_size)

    # ------------------------------------------------------------------ persistence
    def save(self, path, overwrite: bool = False, figures: bool = True) -> Path:
        """Write a complete run folder atomically (:func:`sigae.runs.folder.save_run`)."""
        self.check_ready()
        return save_run(self, path, overwrite, figures)

    @classmethod
    def load(cls, path) -> "SignalAutoencoder":
        """Load a run folder written by :meth:`save` or :meth:`fit` (safe mode: no code runs from it)."""
        path = Path(path)
        obj = cls(read_run_config(path))
        obj.normalizer = read_normalizer(path)
        obj._set_models(load_keras_model(path / MODEL_FILE))
        check_model_matches_config(obj.autoencoder, obj.config, path)
        read_results(obj, path)
        return obj

    def __repr__(self):
        state = "fitted" if self._autoencoder is not None and self.normalizer is not None else "unfitted"
        return f"SignalAutoencoder({state}, input_length={self.config.input_length}, " \
               f"latent_dim={self.config.latent_dim}, decoder={self.config.decoder!r}, tied={self.config.tied})"


def load(path) -> SignalAutoencoder:
    """Load a run folder: ``sigae.load(dir)`` is ``SignalAutoencoder.load(dir)``."""
    return SignalAutoencoder.load(path)
