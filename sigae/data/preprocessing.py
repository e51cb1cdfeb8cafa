"""Normalizers in scikit-learn style: fit / transform / inverse_transform.

Arrays are ``(n, L)`` or ``(n, L, C)``; statistics are kept per channel.
Fitted state lives in attributes with a trailing underscore and round-trips
through ``to_dict`` / :func:`normalizer_from_dict` (JSON-safe).
``fit_chunks`` fits the same statistics from blocks of signals (a file too
large for memory), accumulated in float64.
A zero spread is replaced by 1 (no NaN) and reported with a warning.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from sigae.errors import ConfigError, NotFittedError, option


class SigaeWarning(UserWarning):
    """Something the user should know about, that does not stop the work."""


class ZeroSpreadWarning(SigaeWarning):
    """*count* statistics of kind *what* (``"signal(s)"``...) had zero spread and were replaced by 1."""

    def __init__(self, count: int, what: str):
        super().__init__(f"{count} {what} had zero spread; they are only shifted, not scaled")
        self.count, self.what = count, what


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
        warnings.warn(ZeroSpreadWarning(int(bad.sum()), what), stacklevel=3)
    return np.where(bad, 1.0, spread)


def _blocks(chunks):
    """The non-empty blocks of *chunks* as float64 ``(n, L, C)``, checked to share ``(L, C)``."""
    shape, seen = None, False
    for x in chunks:
        x3 = _as_3d(x)
        if shape is None:
            shape = x3.shape[1:]
        elif x3.shape[1:] != shape:
            raise ConfigError(f"normalizer: blocks of signals shaped {shape} and {x3.shape[1:]} (points, channels)")
        if len(x3):
            seen = True
            yield x3
    if not seen:
        raise ConfigError("normalizer: fit_chunks got no signals")


class _Moments:
    """Count, mean and sum of squared deviations over *axes*, merged block by block (Chan et al.), in float64."""

    def __init__(self, axes: tuple):
        self.axes, self.count, self.mean, self.m2 = axes, 0, 0.0, 0.0

    def add(self, x3: np.ndarray) -> None:
        count = math.prod(x3.shape[a] for a in self.axes)
        mean = x3.mean(axis=self.axes, keepdims=True)
        m2 = np.square(x3 - mean).sum(axis=self.axes)
        delta = mean.squeeze(self.axes) - self.mean
        total = self.count + count
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.count * count / total)
        self.count = total

    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.count)


class _Normalizer:
    kind = ""
    _state: tuple[str, ...] = ()

    def _check_fitted(self):
        if not all(hasattr(self, name) for name in self._state):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(x) first")

    def fit_transform(self, x):
        """``fit(x).transform(x)``: the training signals, normalized."""
        return self.fit(x).transform(x)

    def to_dict(self) -> dict:
        """The kind and fitted statistics as JSON-safe lists (what ``normalizer.json`` holds).

        Raises:
            NotFittedError: before :meth:`fit`.
        """
        self._check_fitted()
        state = {name: np.asarray(getattr(self, name)).tolist() for name in self._state}
        return {"kind": self.kind, **state}

    @classmethod
    def from_dict(cls, data: dict):
        """A fitted normalizer from :meth:`to_dict`'s output.

        Raises:
            ConfigError: a statistic of this kind is missing from *data*.
        """
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
    """One mean and one standard deviation per channel over the whole training set (the seed's choice).

    ``(x - mean_) / scale_`` with ``mean_`` and ``scale_`` of shape ``(C,)``, computed over all signals and
    points of the training set; a zero spread is replaced by 1 (:class:`ZeroSpreadWarning`).
    """

    kind = "global"
    _state = ("mean_", "scale_")
    _axes, _what = (0, 1), "channel(s)"

    def fit(self, x):
        """Learn the statistics from training signals *x*, ``(n, L)`` or ``(n, L, C)``, original units.

        Returns:
            self.
        """
        x = _as_3d(x)
        self.mean_ = x.mean(axis=self._axes)
        self.scale_ = _safe_scale(x.std(axis=self._axes), self._what)
        return self

    def fit_chunks(self, chunks):
        """:meth:`fit` on the concatenation of the blocks in *chunks*, equal up to float64 rounding."""
        moments = _Moments(self._axes)
        for x3 in _blocks(chunks):
            moments.add(x3)
        self.mean_ = moments.mean
        self.scale_ = _safe_scale(moments.std(), self._what)
        return self

    def transform(self, x):
        """Signals *x* (original units, ``(n, L)`` or ``(n, L, C)``) in normalized units, same shape.

        Raises:
            NotFittedError: before :meth:`fit`.
        """
        self._check_fitted()
        return _restore_ndim((_as_3d(x) - self.mean_) / self.scale_, x)

    def inverse_transform(self, x, stats=None):
        """Normalized signals *x* back in original units, same shape (*stats* is ignored here)."""
        self._check_fitted()
        return _restore_ndim(_as_3d(x) * self.scale_ + self.mean_, x)


class PerTimestepStandardizer(GlobalStandardizer):
    """A mean and standard deviation for every time point (and channel).

    ``mean_`` and ``scale_`` have shape ``(L, C)``: the average waveform and its spread over the training
    signals, so only signals of the training length can be transformed.
    """

    kind = "per-timestep"
    _axes, _what = (0,), "time point(s)"

    def transform(self, x):
        """Signals *x* (original units) in normalized units, same shape.

        Raises:
            ConfigError: *x* does not have the training signals' length and channels.
            NotFittedError: before :meth:`fit`.
        """
        self._check_fitted()
        x3 = _as_3d(x)
        if x3.shape[1:] != self.mean_.shape:
            raise ConfigError(f"normalizer: fitted on signals of shape {self.mean_.shape}, got {x3.shape[1:]}")
        return super().transform(x)


class MinMaxScaler(_Normalizer):
    """Maps the training set's range (per channel) to [0, 1], for sigmoid outputs.

    ``(x - min_) / scale_`` with ``min_`` and ``scale_ = max - min`` of shape ``(C,)``; values outside the
    training range map outside [0, 1].
    """

    kind = "minmax"
    _state = ("min_", "scale_")

    def fit(self, x):
        """Learn the per-channel range of training signals *x*, ``(n, L)`` or ``(n, L, C)``; returns self."""
        x = _as_3d(x)
        self.min_ = x.min(axis=(0, 1))
        self.scale_ = _safe_scale(x.max(axis=(0, 1)) - self.min_, "channel(s)")
        return self

    def fit_chunks(self, chunks):
        """:meth:`fit` on the concatenation of the blocks in *chunks* (exactly equal)."""
        low = high = None
        for x3 in _blocks(chunks):
            low = x3.min(axis=(0, 1)) if low is None else np.minimum(low, x3.min(axis=(0, 1)))
            high = x3.max(axis=(0, 1)) if high is None else np.maximum(high, x3.max(axis=(0, 1)))
        self.min_ = low
        self.scale_ = _safe_scale(high - low, "channel(s)")
        return self

    def transform(self, x):
        """Signals *x* (original units) in normalized units (the training range is [0, 1]), same shape."""
        self._check_fitted()
        return _restore_ndim((_as_3d(x) - self.min_) / self.scale_, x)

    def inverse_transform(self, x, stats=None):
        """Normalized signals *x* back in original units, same shape (*stats* is ignored here)."""
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
        """Record the channel count of *x* ``(n, L)`` or ``(n, L, C)``; returns self."""
        self.n_channels_ = np.asarray(_as_3d(x).shape[2], dtype=np.float64)
        return self

    def fit_chunks(self, chunks):
        """:meth:`fit` from the first block of *chunks* (only the channel count is learnt)."""
        return self.fit(next(_blocks(chunks)))

    def signal_stats(self, x):
        """``(mean, std)`` of every signal and channel of *x*, each ``(n, 1, C)``, original units."""
        self._check_fitted()
        x3 = _as_3d(x)
        mean = x3.mean(axis=1, keepdims=True)
        return mean, _safe_scale(x3.std(axis=1, keepdims=True), "signal(s)")

    def transform(self, x):
        """Each signal of *x* (original units) to zero mean and unit standard deviation, same shape."""
        mean, scale = self.signal_stats(x)
        return _restore_ndim((_as_3d(x) - mean) / scale, x)

    def inverse_transform(self, x, stats=None):
        """Normalized signals *x* back in original units with each signal's *stats* from :meth:`signal_stats`.

        Raises:
            ConfigError: *stats* is None (a signal's mean and std cannot be recovered from *x*).
        """
        self._check_fitted()
        if stats is None:
            raise ConfigError("per-signal normalizer: inverse_transform needs the signals' stats "
                              "(stats = normalizer.signal_stats(x))")
        mean, scale = stats
        return _restore_ndim(_as_3d(x) * scale + mean, x)


NORMALIZERS = {cls.kind: cls for cls in (GlobalStandardizer, PerSignalStandardizer, PerTimestepStandardizer, MinMaxScaler)}


def make_normalizer(kind: str):
    """An unfitted normalizer of *kind*: ``"global"``, ``"per-signal"``, ``"per-timestep"`` or ``"minmax"``.

    Raises:
        ConfigError: an unknown *kind*.
    """
    try:
        return NORMALIZERS[kind]()
    except KeyError:
        raise ConfigError(f"{option('--normalize', 'normalize')}: unknown normalizer {kind!r}; choose from "
                          f"{', '.join(NORMALIZERS)}") from None


def normalizer_from_dict(data: dict):
    """The fitted normalizer that :meth:`to_dict` described (a run folder's ``normalizer.json``).

    Raises:
        ConfigError: *data* has no known ``kind`` or lacks a statistic.
    """
    if not isinstance(data, dict) or data.get("kind") not in NORMALIZERS:
        raise ConfigError(f"normalizer: unknown or missing kind in {str(data)[:80]!r}")
    return NORMALIZERS[data["kind"]].from_dict(data)
