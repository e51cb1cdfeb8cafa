"""A scikit-learn estimator around :class:`sigae.SignalAutoencoder`.

``SignalAutoencoderEstimator`` is a transformer (``fit`` / ``transform`` →
latent codes / ``inverse_transform`` → signals) and an outlier detector in
scikit-learn's convention (``score_samples``: higher is more normal;
``decision_function``: negative for outliers; ``predict``: +1 inlier, -1
outlier against the threshold calibrated on the training signals). It runs in
``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and ``clone``.

Its parameters are every field of :class:`sigae.AutoencoderConfig` except
those the data decides (``input_length``, ``channels``) and ``version``, plus
the options of ``SignalAutoencoder.fit`` listed in :data:`FIT_OPTIONS` (their
defaults read from ``fit``'s signature), ``random_state`` (``fit``'s *seed*)
and ``verbose``. Same parameters and ``random_state`` give the same numbers
as ``SignalAutoencoder(**config).fit(X, seed=random_state, ...)``.

Needs scikit-learn: ``pip install -e '.[sklearn]'``. The rest of sigae does
not import this module.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

try:
    from sklearn.base import BaseEstimator, OutlierMixin, TransformerMixin
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("sigae.sklearn needs scikit-learn >= 1.6: pip install -e '.[sklearn]'") from exc

from sigae.model.config import AutoencoderConfig
from sigae.errors import ConfigError

DATA_FIELDS = frozenset({"input_length", "channels", "version"})
"""AutoencoderConfig fields that are not parameters: the signals' shape decides them, or sigae does."""

FIT_OPTIONS = ("epochs", "batch_size", "validation_split", "patience", "threshold_percentile")
"""Fields of :class:`sigae.training.options.FitOptions` exposed as parameters (with its defaults)."""


def _config_params() -> list[inspect.Parameter]:
    params = []
    for f in dataclasses.fields(AutoencoderConfig):
        if f.name in DATA_FIELDS:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default))
    return params


def _fit_params() -> list[inspect.Parameter]:
    from sigae.training.options import FitOptions

    defaults = FitOptions()
    params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=getattr(defaults, name))
              for name in FIT_OPTIONS]
    params.append(inspect.Parameter("random_state", inspect.Parameter.KEYWORD_ONLY, default=defaults.seed))
    params.append(inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=0))
    return params


class SignalAutoencoderEstimator(TransformerMixin, OutlierMixin, BaseEstimator):
    """A 1-D convolutional autoencoder as a scikit-learn transformer and outlier detector.

    Parameters are keyword-only: every :class:`sigae.AutoencoderConfig` field but
    ``input_length``/``channels``/``version`` (e.g. ``latent_dim``, ``decoder``,
    ``normalize``, ``learning_rate``), ``epochs``, ``batch_size``,
    ``validation_split``, ``patience``, ``threshold_percentile`` (defaults as in
    ``SignalAutoencoder.fit``), ``random_state`` (int or None; ``fit``'s *seed*) and
    ``verbose`` (0: silent).

    ``X`` is ``(n, L)`` (one channel) or ``(n, L, C)``, in original units.

    Attributes after ``fit``: ``model_`` (the fitted :class:`sigae.SignalAutoencoder`),
    ``threshold_`` (reconstruction MSE above which a signal is an outlier, normalized
    units), ``offset_`` (``-threshold_``, so ``decision_function = score_samples - offset_``),
    ``n_features_in_`` (L), ``history_``.
    """

    def __init__(self, **params):
        unknown = set(params) - set(self._get_param_names())
        if unknown:
            raise TypeError(f"SignalAutoencoderEstimator got unexpected parameter(s) {', '.join(sorted(unknown))}")
        for p in inspect.signature(type(self).__init__).parameters.values():
            if p.name != "self":
                setattr(self, p.name, params.get(p.name, p.default))

    # ------------------------------------------------------------------ configuration
    def _config(self, shape) -> AutoencoderConfig:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(AutoencoderConfig)
                  if f.name not in DATA_FIELDS}
        return AutoencoderConfig(input_length=int(shape[1]), channels=int(shape[2]) if len(shape) == 3 else 1,
                                 **fields)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        # Codes are float32 whatever the input: the network computes in float32.
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = self.random_state is None
        return tags

    def _validate(self, X, reset: bool):
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=[np.float64, np.float32],
                          ensure_min_samples=2 if reset else 1)
        if X.ndim > 3:
            raise ValueError(f"X: expected (n_samples, n_points) or (n_samples, n_points, n_channels), "
                             f"got {X.ndim} dimensions {X.shape}")
        return X

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None):
        """Fit the autoencoder on *X* ``(n, L)`` or ``(n, L, C)``; *y* is ignored."""
        from sigae.estimator.autoencoder import SignalAutoencoder

        X = self._validate(X, reset=True)
        if X.ndim == 3:
            self.n_channels_ = X.shape[2]
        else:
            self.n_channels_ = 1
        config = self._config(X.shape)
        options = {name: getattr(self, name) for name in FIT_OPTIONS}
        self.model_ = SignalAutoencoder(config).fit(X, seed=self.random_state, verbose=self.verbose,
                                                    log=print if self.verbose else (lambda *a, **k: None),
                                                    **options)
        self.history_ = self.model_.history_
        self.threshold_ = float(self.model_.threshold_["p"])
        self.offset_ = -self.threshold_
        return self

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def _signals(self, X):
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        channels = X.shape[2] if X.ndim == 3 else 1
        if channels != self.n_channels_:
            raise ValueError(f"X has {channels} channel(s), but {type(self).__name__} was fitted on "
                             f"{self.n_channels_} channel(s)")
        return X

    # ------------------------------------------------------------------ transformer
    def transform(self, X):
        """Latent codes ``(n, latent_dim)`` (float32) of signals *X* in original units."""
        X = self._signals(X)
        return self.model_.encode(X)

    def inverse_transform(self, X):
        """Signals in original units from codes *X* ``(n, latent_dim)``: ``(n, L)`` for one channel, else
        ``(n, L, C)``. Not available with ``normalize="per-signal"`` (the codes lack each signal's mean/std)."""
        check_is_fitted(self)
        Z = _codes(X, self.model_.config.latent_dim)
        if self.model_.normalizer.kind == "per-signal":
            raise ConfigError("inverse_transform: normalize='per-signal' keeps each signal's mean and std "
                              "outside the code; use model_.decode(z, stats=model_.signal_stats(X))")
        return self.model_.decode(Z)

    def get_feature_names_out(self, input_features=None):
        """``latent0``, ``latent1``, ... (one name per code dimension)."""
        check_is_fitted(self)
        return np.asarray([f"latent{i}" for i in range(self.model_.config.latent_dim)], dtype=object)

    # ------------------------------------------------------------------ outlier detector
    def score_samples(self, X):
        """Minus the reconstruction MSE of each signal (normalized units): higher is more normal."""
        X = self._signals(X)
        return -self.model_.score(X).scores

    def decision_function(self, X):
        """``score_samples(X) - offset_`` = threshold minus MSE: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for inliers, -1 for outliers (MSE above ``threshold_``), as ``SignalAutoencoder.score`` flags them."""
        X = self._signals(X)
        return np.where(self.model_.score(X).is_anomaly, -1, 1)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` (minus the mean reconstruction MSE): the default ``GridSearchCV`` score.

        Each fold fits its own normalizer, so with ``normalize="global"`` the folds' MSEs are in
        slightly different units; ``per-signal`` makes them comparable exactly.
        """
        return float(np.mean(self.score_samples(X)))

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        if "model_" in state:
            state["model_"] = _run_folder_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            state["model_"] = _model_from_bytes(state["model_"])
            state["history_"] = state["model_"].history_
        self.__dict__.update(state)


SignalAutoencoderEstimator.__init__.__signature__ = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + _config_params() + _fit_params())


def _codes(X, latent_dim: int) -> np.ndarray:
    from sklearn.utils import check_array

    Z = check_array(X, dtype=[np.float64, np.float32])
    if Z.shape[1] != latent_dim:
        raise ValueError(f"X has {Z.shape[1]} features, but the codes have {latent_dim} (latent_dim)")
    return Z


def _run_folder_bytes(model) -> bytes:
    """A fitted SignalAutoencoder as the bytes of a zipped run folder (how it pickles)."""
    tmp = Path(tempfile.mkdtemp(prefix="sigae-pickle-"))
    try:
        model.save(tmp / "run", figures=False)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
            for file in sorted((tmp / "run").rglob("*")):
                if file.is_file():
                    zf.write(file, file.relative_to(tmp / "run").as_posix())
        return buffer.getvalue()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _model_from_bytes(data: bytes):
    from sigae.estimator.autoencoder import SignalAutoencoder

    tmp = Path(tempfile.mkdtemp(prefix="sigae-unpickle-"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            zf.extractall(tmp / "run")
        return SignalAutoencoder.load(tmp / "run")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
