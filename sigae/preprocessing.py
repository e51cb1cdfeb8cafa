"""Normalizers in scikit-learn style: fit / transform / inverse_transform.

Arrays are ``(n, L)`` or ``(n, L, C)``; statistics are kept per channel.
Fitted state lives in attributes with a trailing underscore and round-trips
through ``to_dict`` / :func:`normalizer_from_dict` (JSON-safe).
A zero spread is replaced by 1 (no NaN) and reported with a warning.
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import ConfigError, NotFittedError


class SigaeWarning(UserWarning):
    """Something the user should know about, that does not stop the work."""


def _as_3d(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        return x[:, :, None]
    if x.ndim != 3:
        raise ConfigError(f"normalizer: expected signals shaped (n, L) or (n, L, C), got shape {x.shape}")
    return x


def _restore_ndim(x3: np.ndarray, like) -> np.ndarray:
    return x3[:, :, 0] if np.ndim(like) == 2 else x3


def _safe_scale(spread: np.ndarray, what: str) -> np.ndarray:
    """Spread with zeros (and non-finite values) replaced by 1, warning how many."""
    bad = ~(np.isfinite(spread) & (spread > 0))
    if bad.any():
        warnings.warn(f"{int(bad.sum())} {what} had zero spread; they are only shifted, not scaled",
                      SigaeWarning, stacklevel=3)
    return np.where(bad, 1.0, spread)


class _Normalizer:
    kind = ""
    _state: tuple[str, ...] = ()

    def _check_fitted(self):
        if not all(hasattr(self, name) for name in self._state):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(x) first")

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def to_dict(self) -> dict:
        self._check_fitted()
        state = {name: np.asarray(getattr(self, name)).tolist() for name in self._state}
        return {"kind": self.kind, **state}

    @classmethod
    def from_dict(cls, data: dict):
        obj = cls()
        for name in cls._state:
            if name not in data:
                raise ConfigError(f"normalizer: field {name!r} missing for kind {cls.kind!r}")
            setattr(obj, name, np.asarray(data[name], dtype=np.float64))
        return obj

    def signal_stats(self, x):
        """Per-signal statistics that :meth:`inverse_transform` needs (None unless per-signal)."""
        return None

    def __repr__(self):
        return f"{type(self).__name__}({'fitted' if all(hasattr(self, n) for n in self._state) else 'unfitted'})"


class GlobalStandardizer(_Normalizer):
    """One mean and one standard deviation per channel over the whole training set (the seed's choice)."""

    kind = "global"
    _state = ("mean_", "scale_")

    def fit(self, x):
        x = _as_3d(x)
        self.mean_ = x.mean(axis=(0, 1))
        self.scale_ = _safe_scale(x.std(axis=(0, 1)), "channel(s)")
        return self

    def transform(self, x):
        self._check_fitted()
        return _restore_ndim((_as_3d(x) - self.mean_) / self.scale_, x)

    def inverse_transform(self, x, stats=None):
        self._check_fitted()
        return _restore_ndim(_as_3d(x) * self.scale_ + self.mean_, x)


class PerTimestepStandardizer(GlobalStandardizer):
    """A mean and standard deviation for every time point (and channel)."""

    kind = "per-timestep"

    def fit(self, x):
        x = _as_3d(x)
        self.mean_ = x.mean(axis=0)
        self.scale_ = _safe_scale(x.std(axis=0), "time point(s)")
        return self

    def transform(self, x):
        self._check_fitted()
        x3 = _as_3d(x)
        if x3.shape[1:] != self.mean_.shape:
            raise ConfigError(f"normalizer: fitted on signals of shape {self.mean_.shape}, got {x3.shape[1:]}")
        return super().transform(x)


class MinMaxScaler(_Normalizer):
    """Maps the training set's range (per channel) to [0, 1], for sigmoid outputs."""

    kind = "minmax"
    _state = ("min_", "scale_")

    def fit(self, x):
        x = _as_3d(x)
        self.min_ = x.min(axis=(0, 1))
        self.scale_ = _safe_scale(x.max(axis=(0, 1)) - self.min_, "channel(s)")
        return self

    def transform(self, x):
        self._check_fitted()
        return _restore_ndim((_as_3d(x) - self.min_) / self.scale_, x)

    def inverse_transform(self, x, stats=None):
        self._check_fitted()
        return _restore_ndim(_as_3d(x) * self.scale_ + self.min_, x)


class PerSignalStandardizer(_Normalizer):
    """Each signal (and channel) to zero mean and unit standard deviation.

    The statistics belong to each signal, so the inverse needs them:
    ``stats = norm.signal_stats(x)`` then ``norm.inverse_transform(y, stats)``.
    ``fit`` only records the channel count; it learns nothing else.
    """

    kind = "per-signal"
    _state = ("n_channels_",)

    def fit(self, x):
        self.n_channels_ = np.asarray(_as_3d(x).shape[2], dtype=np.float64)
        return self

    def signal_stats(self, x):
        self._check_fitted()
        x3 = _as_3d(x)
        mean = x3.mean(axis=1, keepdims=True)
        return mean, _safe_scale(x3.std(axis=1, keepdims=True), "signal(s)")

    def transform(self, x):
        mean, scale = self.signal_stats(x)
        return _restore_ndim((_as_3d(x) - mean) / scale, x)

    def inverse_transform(self, x, stats=None):
        self._check_fitted()
        if stats is None:
            raise ConfigError("per-signal normalizer: inverse_transform needs the signals' stats "
                              "(stats = normalizer.signal_stats(x))")
        mean, scale = stats
        return _restore_ndim(_as_3d(x) * scale + mean, x)


NORMALIZERS = {cls.kind: cls for cls in (GlobalStandardizer, PerSignalStandardizer, PerTimestepStandardizer, MinMaxScaler)}


def make_normalizer(kind: str):
    try:
        return NORMALIZERS[kind]()
    except KeyError:
        raise ConfigError(f"--normalize: unknown normalizer {kind!r}; choose from {', '.join(NORMALIZERS)}") from None


def normalizer_from_dict(data: dict):
    if not isinstance(data, dict) or data.get("kind") not in NORMALIZERS:
        raise ConfigError(f"normalizer: unknown or missing kind in {str(data)[:80]!r}")
    return NORMALIZERS[data["kind"]].from_dict(data)
