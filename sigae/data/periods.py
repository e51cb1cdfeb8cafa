"""The window length of recordings: their dominant period, found from the autocorrelation, and the window
``--window auto`` picks from it (a multiple of a short period, the default when there is none).

Plain numpy, no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sigae.data.windows import as_recording
from sigae.errors import DataError


# ---------------------------------------------------------------------------- window length
@dataclass(frozen=True)
class Period:
    """What the autocorrelation of a recording says about its period (see :func:`find_period`).

    ``lag``: the highest significant local maximum of the autocorrelation (points), or None; ``peak``: the
    autocorrelation there (or at the highest local maximum of all, when none is significant, with ``best_lag``);
    ``significant``: whether ``lag`` is a period rather than noise.
    """

    lag: int | None
    peak: float
    best_lag: int | None
    points: int

    @property
    def significant(self) -> bool:
        return self.lag is not None


def significance_levels(points: int) -> tuple[float, float]:
    """(least autocorrelation, least rise) of a peak that is a period, for a recording of *points* points.

    The autocorrelation of white noise at a lag is about normal with standard deviation ``1/sqrt(points)``, so
    over the hundreds of lags searched its highest peak stays below ``5/sqrt(points)`` and rises less than
    ``8/sqrt(points)`` above the lowest value before it; a period needs both, and at least 0.1 and 0.2.
    """
    return max(0.1, 5 / math.sqrt(points)), max(0.2, 8 / math.sqrt(points))


def find_period(recording, max_points: int = 20000, max_lag: int = 400, base: int = 3) -> Period:
    """The period of a recording from its autocorrelation, as TSB-UAD's ``find_length`` finds it, with a test.

    TSB-UAD (Paparrizos et al., VLDB 2022): the first *max_points* points, autocorrelation up to lag
    *max_lag* (by FFT), lags below *base* ignored, the channels' autocorrelations averaged; the period is the
    lag of the highest local maximum. Here only a *significant* local maximum counts
    (:func:`significance_levels`: high enough, and rising far enough above the trough before it), so that
    white noise, whose autocorrelation has local maxima too, has no period; and of the significant peaks within
    noise (``3/sqrt(points)``) of the highest, the first is taken, not a multiple of the period.
    """
    x = as_recording(recording)[:max_points]
    x = x - x.mean(axis=0)
    n = len(x)
    if n < 2 * base + 2:
        return Period(None, 0.0, None, n)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(x, size, axis=0)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size, axis=0)[: min(max_lag, n - 1) + 1]
    denom = acov[0]
    acf = (acov / np.where(denom > 0, denom, 1.0)).mean(axis=1)
    inner = acf[base + 1:-1]
    peaks = np.flatnonzero((inner > acf[base:-2]) & (inner > acf[base + 2:])) + base + 1
    if not len(peaks):
        return Period(None, 0.0, None, n)
    least_peak, least_rise = significance_levels(n)
    rise = np.array([acf[p] - acf[:p].min() for p in peaks])
    good = peaks[(acf[peaks] >= least_peak) & (rise >= least_rise)]
    best = int(peaks[np.argmax(acf[peaks])])
    if not len(good):
        return Period(None, float(acf[best]), best, n)
    # the first significant peak about as high as the highest: a period's multiples peak about as high, and
    # noise may put one of them a little above it
    lag = int(good[np.flatnonzero(acf[good] >= acf[good].max() - 3 / math.sqrt(n))[0]])
    return Period(lag, float(acf[lag]), lag, n)


def dominant_period(recording, max_points: int = 20000, max_lag: int = 400, base: int = 3) -> int | None:
    """The period (points) of :func:`find_period`, or None when the autocorrelation shows none."""
    return find_period(recording, max_points, max_lag, base).lag


def auto_window(recordings, default: int = 125, low: int = 3, high: int = 300, *, minimum: int = 2, hop: int = 1,
                lengths=None) -> tuple[int, str]:
    """``(window, reason)`` for ``--window auto``: the dominant period of the recordings, as TSB-UAD picks its
    sliding window, made one the model can take.

    *recordings*: arrays ``(N,)``/``(N, C)`` (their first 20,000 points are searched); *lengths*: their full
    lengths when the arrays are only their beginnings. The period of each recording with a significant one
    (:func:`find_period`) is found and their median taken; a period shorter than *minimum* (the encoder's
    shortest input) becomes its smallest multiple that is long enough. No significant period, or one outside
    ``[low, high]``, gives TSB-UAD's fallback *default* (125). The window is at most the shortest recording
    less *hop* (so that it holds two windows), and at least *minimum*.

    Raises DataError naming ``--window auto``, the period found and the minimum when no window of at least
    *minimum* points fits the shortest recording.
    """
    recordings = list(recordings)
    lengths = [len(r) for r in recordings] if lengths is None else list(lengths)
    found = [find_period(r) for r in recordings]
    periods = [f.lag for f in found if f.significant]
    shortest = min(lengths)
    longest = shortest - hop
    if periods:
        period = int(np.median(periods))
        peak = float(np.median([f.peak for f in found if f.significant]))
        what = f"dominant period {period} points (autocorrelation peak {peak:.2f})"
    else:
        period = None
        best = max(found, key=lambda f: f.peak)
        least_peak, least_rise = significance_levels(best.points)
        what = "no significant period" + (
            f" (highest autocorrelation peak {best.peak:.2f} at lag {best.best_lag}; a period needs a peak of at "
            f"least {least_peak:.2f} rising {least_rise:.2f} above the trough before it)" if best.best_lag else
            " (no autocorrelation peak)")
    if minimum > longest:
        raise DataError(f"--window auto: {what}; the encoder needs windows of at least {minimum} points, and the "
                        f"shortest recording has {shortest} points (two windows of {minimum} at --hop {hop} need "
                        f"{minimum + hop}): no window fits; train on longer recordings")
    if period is None:
        window, reason = default, f"{what}; TSB-UAD's default window {default}"
    elif not low <= period <= high:
        window, reason = default, f"{what}, outside [{low}, {high}]; TSB-UAD's default window {default}"
    elif period >= minimum:
        window, reason = period, what
    else:
        times = -(-minimum // period)
        window = period * times
        reason = (f"{what}; {times} periods, since the encoder needs windows of at least {minimum} points")
        if window > longest:
            window, reason = minimum, (f"{what}; no multiple of it of at least {minimum} points (the encoder's "
                                       f"minimum) fits the shortest recording ({shortest} points), so {minimum}")
    if window > longest:
        window, reason = longest, f"{reason}, cut to {longest} points to fit the shortest recording ({shortest} points)"
    if window < minimum:
        window, reason = minimum, f"{reason}, raised to the encoder's minimum of {minimum} points"
    return int(window), reason
