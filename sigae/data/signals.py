"""Signals as arrays: the checks every entry point makes on ``(n, L)`` / ``(n, L, C)`` input.

:func:`as_signals` reads any array as float64 ``(n, L, C)`` (refusing NaN/Inf, empty arrays and ambiguous axis
orders); :func:`check_signal_shape` and :func:`signals_for_model` hold signals against a model's length and
channel count, saying how to reshape them when they do not fit.
"""

from __future__ import annotations

import numpy as np

from sigae.errors import ConfigError, DataError


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


def channel_count(shape) -> int:
    """Channels of signals shaped ``(n, L)`` (one) or ``(n, L, C)``."""
    return shape[2] if len(shape) == 3 else 1


def check_signal_shape(x: np.ndarray, length: int, channels: int, name: str) -> None:
    """Raise DataError unless *x* ``(n, L, C)`` has *length* points and *channels* channels, saying how to
    reshape it when the axes look swapped or a single signal lost its first axis."""
    if x.shape[1:] != (length, channels):
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


def signals_for_model(x, length: int, channels: int, name: str) -> np.ndarray:
    """*x* as float64 ``(n, L, C)`` for a model of *length* points x *channels*: a 1-D vector of the model's
    length is one signal, as on the command line; anything else of the wrong shape is refused (DataError)
    saying how to reshape it."""
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
    check_signal_shape(x, length, channels, name)
    return x


def as_codes(z, latent_dim: int) -> np.ndarray:
    """Latent codes *z* as float64 ``(n, latent_dim)``; DataError for another width or NaN/Inf values."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise DataError(f"latent codes: expected shape (n, {latent_dim}), got {z.shape}")
    if not np.isfinite(z).all():
        raise DataError(f"latent codes: {int((~np.isfinite(z)).sum())} NaN/Inf values")
    return z


def row_fingerprints(x) -> np.ndarray:
    """A 64-bit fingerprint of each signal of *x* ``(n, L[, C])``: BLAKE2b (8 bytes) of its float64 values in
    original units, ``(n,)`` uint64. Equal signals get equal fingerprints whatever the file format or row order,
    so a run can recognise its own training signals when they are scored again."""
    import hashlib

    rows = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(len(x), -1))
    rows = rows + 0.0  # -0.0 and 0.0 are the same value
    return np.array([int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little")
                     for row in rows], dtype=np.uint64)
