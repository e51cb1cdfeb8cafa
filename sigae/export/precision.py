"""Whether float32 input can hold the signals (:func:`float32_input_check`), and the *input_offset* that makes it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigae.errors import ConfigError, option
from sigae.export.report import offset_text

INPUT_ROUNDING_LIMIT = 1e-3
"""Largest RMS change, in normalized units (the signals' spread is about 1), that rounding the export's input to
float32 may make before the export is refused (typical signals: about 1e-7)."""


@dataclass
class InputPrecision:
    """What rounding the export's input to float32 does to signals *x*, per channel (:func:`float32_input_check`).

    ``offset``: each channel's mean (original units); ``spread``: the scale the model divides by (the
    normalizer's, or the median per-signal standard deviation); ``step``: the float32 spacing at the largest
    input magnitude; ``rounding``: RMS change the rounding makes, normalized units; ``flags_changed``: signals
    sigae flags differently once their input is rounded (score part, else None), out of ``n``.
    """

    offset: np.ndarray
    spread: np.ndarray
    step: np.ndarray
    rounding: np.ndarray
    flags_changed: int | None
    flagged: int | None
    n: int

    @property
    def worst(self) -> int:
        return int(np.argmax(self.rounding))

    def holds(self) -> bool:
        return float(self.rounding.max()) <= INPUT_ROUNDING_LIMIT and not self.flags_changed

    def message(self, fmt: str, input_offset=None) -> str:
        """The one-line refusal: the worst channel's offset, spread and float32 step, what changes, the way out."""
        c = self.worst
        channel = f"channel {c + 1} (1-based): " if len(self.offset) > 1 else ""
        fed = "fed float32" if input_offset is None else f"fed float32 signals - {offset_text(input_offset)}"
        what = (f"{self.flags_changed} of {self.n} signals are flagged differently than sigae flags them on the "
                f"original data ({self.flagged})" if self.flags_changed
                else f"the signals move by {self.rounding[c]:.2g} of their spread (RMS; at most "
                     f"{INPUT_ROUNDING_LIMIT:g} is accepted)")
        rounded = np.round(self.offset, _decimals(self.spread))
        suggestion = offset_text(rounded)
        return (f"{fmt}: float32 input cannot hold these signals: {channel}values around {rounded[c]:.10g} "
                f"(offset) vary by {self.spread[c]:.3g} (spread), and float32 steps there are {self.step[c]:.2g} "
                f"({self.step[c] / self.spread[c]:.2%} of the spread); {fed}, {what}; take the offset out before "
                f"the signals are rounded: {option(f'--input-offset {suggestion}', f'input_offset={suggestion}')} "
                f"(the device then feeds signals - {suggestion})")


def _decimals(spread) -> int:
    """Decimals to round a suggested offset to: the order of the smallest spread (an offset within a spread of the
    mean leaves float32 all its digits for the variation), at most 10."""
    smallest = float(np.min(spread)) if np.size(spread) else 1.0
    return int(np.clip(-np.floor(np.log10(smallest)) if smallest > 0 else 0, 0, 10))


def float32_input_check(model, part: str, x: np.ndarray, input_offset=None) -> InputPrecision:
    """How far rounding signals *x* ``(n, L, C)`` to float32 (after *input_offset* comes off) moves them in the
    model's normalized units, and for ``part="score"`` whether sigae's own flags change with it."""
    channels = x.shape[2]
    shift = np.zeros(channels) if input_offset is None else np.asarray(input_offset, dtype=np.float64)
    rounded = (x - shift).astype(np.float32).astype(np.float64) + shift
    norm = model.normalizer
    moved = norm.transform(rounded) - norm.transform(x)
    if norm.kind == "per-signal":
        spread = np.median(norm.signal_stats(x)[1].reshape(len(x), channels), axis=0)
    else:
        spread = np.median(np.asarray(norm.scale_, dtype=np.float64).reshape(-1, channels), axis=0)
    largest = np.abs(x - shift).max(axis=(0, 1)).astype(np.float32)
    flags_changed = flagged = None
    if part == "score" and model.threshold_ is not None:
        original = model.score(x, out_of_fold=False).is_anomaly
        flags_changed = int((model.score(rounded, out_of_fold=False).is_anomaly != original).sum())
        flagged = int(original.sum())
    return InputPrecision(offset=x.mean(axis=(0, 1)), spread=spread, step=np.spacing(largest).astype(np.float64),
                          rounding=np.sqrt(np.mean(np.square(moved), axis=(0, 1))), flags_changed=flags_changed,
                          flagged=flagged, n=len(x))


def check_input_offset(input_offset, channels: int):
    """*input_offset* as float64 ``(channels,)``, or None; one value serves every channel."""
    if input_offset is None:
        return None
    name = option("--input-offset", "input_offset")
    try:
        values = np.atleast_1d(np.asarray(input_offset, dtype=np.float64)).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {input_offset!r} is not a number or one number per channel") from None
    if not np.isfinite(values).all():
        raise ConfigError(f"{name}: {input_offset!r} is not finite")
    if len(values) not in (1, channels):
        raise ConfigError(f"{name}: {len(values)} values for a model of {channels} channel(s); give one value, or "
                          "one per channel")
    return np.broadcast_to(values, (channels,)).copy()
