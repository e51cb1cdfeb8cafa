"""Sliding windows over recordings, per-point scores from per-window errors, events (the window length:
:mod:`sigae.data.periods`).

Plain numpy, no TensorFlow. A *recording* is one long series: ``(N,)`` or ``(N, C)``
(points along axis 0, channels along axis 1). Indices in this module are 0-based
and intervals half-open (``start``, ``stop``), as in numpy; the files sigae writes
give samples 1-based (see :mod:`sigae.estimator.windowed`).

Window placement (:func:`window_starts`): windows of ``W`` points start at
``0, hop, 2*hop, ...`` while they fit, and when the last of those does not end on
the last point, one more window ``N - W .. N`` is added, so that every point of
the recording is covered by at least one window.

Per-point score (:func:`point_scores`, :class:`PointAccumulator`): for each point,
the mean, over the windows that cover it, of that point's reconstruction error
in the window. This is the rule of TSB-UAD (Paparrizos et al., "TSB-UAD: an
end-to-end benchmark suite for univariate time-series anomaly detection",
VLDB 2022), where a window's score is spread back over its points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigae.errors import ConfigError, DataError


def check_window(window, hop=1, length: int | None = None, name: str = "recording") -> None:
    """Refuse a window or hop that is not a whole number >= 1 (window >= 2), or a window longer than *length*."""
    from sigae.errors import option

    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 2:
        raise ConfigError(f"{option('--window', 'window')}: must be a whole number >= 2 (points per window), "
                          f"got {window!r}")
    if not isinstance(hop, (int, np.integer)) or isinstance(hop, bool) or hop < 1:
        raise ConfigError(f"{option('--hop', 'hop')}: must be a whole number >= 1 (points between window starts), "
                          f"got {hop!r}")
    if hop > window:
        raise ConfigError(f"{option('--hop', 'hop')}: {hop} is larger than the window of {window} points, so the "
                          f"points between windows would get no score; choose {option(f'--hop {window}', f'hop={window}')} "
                          "or less")
    if length is not None and length < window:
        raise DataError(f"{name}: {length} points, shorter than the window of {window} points; "
                        f"choose a smaller {option('--window', 'window')} or leave this recording out")


def window_count(n: int, window: int, hop: int = 1) -> int:
    """Number of windows :func:`window_starts` places on a recording of *n* points."""
    check_window(window, hop, n)
    regular = (n - window) // hop + 1
    return regular + (1 if (n - window) % hop else 0)


def window_starts(n: int, window: int, hop: int = 1, first: int = 0, stop: int | None = None) -> np.ndarray:
    """Start of every window on a recording of *n* points (or of windows ``first:stop`` of them), int64.

    ``0, hop, 2*hop, ...`` while a window fits, plus ``n - window`` when the
    hop does not land there (so the last point is covered).
    """
    count = window_count(n, window, hop)
    stop = count if stop is None else min(stop, count)
    index = np.arange(first, stop, dtype=np.int64)
    starts = index * hop
    return np.minimum(starts, n - window)


def as_recording(recording, name: str = "recording") -> np.ndarray:
    """*recording* as float64 ``(N, C)``: a vector becomes one channel; NaN/Inf refused."""
    x = np.asarray(recording, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"{name}: expected a recording shaped (N,) or (N, C) (points x channels), got {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        raise DataError(f"{name}: {int(bad.sum())} NaN/Inf values; first at sample {np.argwhere(bad)[0][0] + 1} "
                        "(1-based)")
    return x


def sliding_windows(recording, window: int, hop: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The windows of one recording: ``(windows, starts)``.

    *recording*: ``(N,)`` or ``(N, C)``. Returns ``windows`` float64
    ``(n_windows, window, C)`` (a copy, C-contiguous) and ``starts`` int64
    ``(n_windows,)``, ``windows[i] == recording[starts[i]:starts[i] + window]``.
    Raises ConfigError for a window < 2 or hop < 1, DataError when the
    recording is shorter than the window.
    """
    x = as_recording(recording)
    starts = window_starts(len(x), window, hop)
    return windows_at(x, starts, window), starts


def windows_at(x: np.ndarray, starts: np.ndarray, window: int, offset: int = 0) -> np.ndarray:
    """Windows of ``(N, C)`` *x* starting at *starts* (points of the recording; *x* begins at point *offset*)."""
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # (N - W + 1, C, W), no copy
    return np.ascontiguousarray(view[np.asarray(starts) - offset].transpose(0, 2, 1))


# ---------------------------------------------------------------------------- per-point scores
class PointAccumulator:
    """Per-point mean of per-window errors, for windows that come in increasing start order.

    ``add(starts, errors)`` takes the errors ``(k, W)`` of windows starting at
    *starts* (or ``(k, W, C)``, one per channel, giving scores ``(points, C)``);
    ``pop(upto)`` returns the finished scores of points ``[emitted, upto)`` (no
    later window may cover them) and forgets them, so memory is that of one
    block, not of the recording.
    """

    def __init__(self, n: int, window: int):
        self.n, self.window = int(n), int(window)
        self.offset = 0  # first point not yet popped
        self.sums = np.zeros(0)
        self.counts = np.zeros(0, dtype=np.int64)

    def add(self, starts: np.ndarray, errors: np.ndarray) -> None:
        starts = np.asarray(starts, dtype=np.int64)
        errors = np.asarray(errors, dtype=np.float64)
        if not len(starts):
            return
        if starts[0] < self.offset:
            raise ValueError("windows must come in increasing start order")
        if self.sums.shape[1:] != errors.shape[2:]:
            if len(self.sums):
                raise ValueError("every block must have the same error shape")
            self.sums = np.zeros((0,) + errors.shape[2:])
        need = int(starts[-1]) + self.window - self.offset
        if need > len(self.sums):
            self.sums = np.concatenate([self.sums, np.zeros((need - len(self.sums),) + self.sums.shape[1:])])
            self.counts = np.concatenate([self.counts, np.zeros(need - len(self.counts), dtype=np.int64)])
        local = starts - self.offset
        # within one block the starts are distinct, so for a fixed offset j in the window the target points are
        # distinct too and plain fancy-index += is exact (no np.add.at needed): W vectorized additions. Offsets
        # from last to first add each point's windows in increasing start order, within and across blocks, so
        # the sums (and scores) do not depend on where the blocks are cut.
        for j in range(self.window - 1, -1, -1):
            self.sums[local + j] += errors[:, j]
            self.counts[local + j] += 1

    def pop(self, upto: int) -> np.ndarray:
        """Scores of points ``[offset, upto)``; every one of them must be covered by a window."""
        k = int(upto) - self.offset
        if k <= 0:
            return np.zeros((0,) + self.sums.shape[1:])
        counts = self.counts[:k]
        if len(counts) < k or (counts == 0).any():
            raise ValueError("a point is not covered by any window")
        out = self.sums[:k] / counts.reshape((k,) + (1,) * (self.sums.ndim - 1))
        self.sums, self.counts = self.sums[k:], self.counts[k:]
        self.offset += k
        return out


def point_scores(errors, starts, n: int) -> np.ndarray:
    """Per-point score ``(n,)`` from the per-point errors ``(n_windows, W)`` of windows at *starts*.

    Point t's score is the mean of ``errors[i, t - starts[i]]`` over the windows
    i that cover t (``starts[i] <= t < starts[i] + W``). Every point must be
    covered (as :func:`window_starts` guarantees).
    """
    errors = np.asarray(errors, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    acc = PointAccumulator(n, errors.shape[1])
    acc.add(starts[order], errors[order])
    return acc.pop(n)


# ---------------------------------------------------------------------------- events
@dataclass(frozen=True)
class Event:
    """A stretch of points ``[start, stop)`` (0-based, half-open) reported as one anomaly.

    Without merging it is one contiguous run of flagged points; with a merge
    gap it is every flagged run closer than the gap to the next, joined, with
    the unflagged points between them (:class:`EventTracker`). ``peak`` is the
    highest point score in it, at point ``peak_at``; ``runs`` the flagged runs
    it joins and ``flagged`` its flagged points; ``channel_share`` (recordings
    of several channels, when the per-channel errors were given) each channel's
    share of the summed per-point error over the event's points, in channel
    order (they add up to 1), else None.
    """

    start: int
    stop: int
    peak: float
    peak_at: int = -1
    runs: int = 1
    flagged: int = -1
    channel_share: tuple[float, ...] | None = None

    @property
    def length(self) -> int:
        return self.stop - self.start

    def ranked_channels(self) -> list[tuple[int, float]]:
        """``[(channel, share), ...]``, channels 0-based, largest share first (empty without shares)."""
        if self.channel_share is None:
            return []
        order = np.argsort(-np.asarray(self.channel_share), kind="stable")
        return [(int(c), float(self.channel_share[c])) for c in order]


def check_event_options(merge_gap, min_length) -> None:
    """*merge_gap* a whole number >= 0 (points), *min_length* a whole number >= 1 (points)."""
    from sigae.errors import option

    if not isinstance(merge_gap, (int, np.integer)) or isinstance(merge_gap, bool) or merge_gap < 0:
        raise ConfigError(f"{option('--merge-gap', 'merge_gap')}: must be a whole number of samples >= 0, "
                          f"got {merge_gap!r}")
    if not isinstance(min_length, (int, np.integer)) or isinstance(min_length, bool) or min_length < 1:
        raise ConfigError(f"{option('--min-length', 'min_length')}: must be a whole number of samples >= 1, "
                          f"got {min_length!r}")


class _Open:
    """The event being built: its flagged runs so far and, with per-channel scores, the per-channel sums of its
    points up to its last flagged point (``sums``) and up to the last point seen (``running``, which become
    ``sums`` if another run starts within the gap). Sums are added point by point in order, so they do not
    depend on how the points were cut into blocks."""

    __slots__ = ("start", "stop", "peak", "peak_at", "runs", "flagged", "sums", "running", "upto")

    def __init__(self, start, stop, peak, peak_at, flagged):
        self.start, self.stop, self.peak, self.peak_at = start, stop, peak, peak_at
        self.runs, self.flagged = 1, flagged
        self.sums = self.running = None
        self.upto = start  # ``running`` holds the sums over points [start, upto)


class EventTracker:
    """Events from per-point flags that arrive block by block (an event may span blocks).

    Flagged runs separated by at most *merge_gap* unflagged points are one
    event (0: every contiguous run is its own event); events shorter than
    *min_length* points (first flagged point to last, gaps included) are
    dropped. ``add(flags, scores, channel_scores)`` takes a block of flags
    ``(k,)``, point scores ``(k,)`` and optionally per-channel point scores
    ``(k, C)`` (for :attr:`Event.channel_share`); ``close()`` returns the events.
    Memory: the events plus one open event, whatever the recording's length.
    """

    def __init__(self, merge_gap: int = 0, min_length: int = 1):
        check_event_options(merge_gap, min_length)
        self.merge_gap, self.min_length = int(merge_gap), int(min_length)
        self.events: list[Event] = []
        self._open: _Open | None = None
        self._seen = 0

    def add(self, flags: np.ndarray, scores: np.ndarray, channel_scores: np.ndarray | None = None) -> None:
        flags = np.asarray(flags, dtype=bool).reshape(-1)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        offset, k = self._seen, len(flags)
        self._seen += k
        if not k:
            return
        per_channel = None if channel_scores is None else np.asarray(channel_scores, dtype=np.float64).reshape(k, -1)

        def advance(event, to):  # running sums of *event* up to point *to*, point after point (np.cumsum)
            if per_channel is None or to <= event.upto:
                return
            part = per_channel[event.upto - offset:to - offset]
            if event.running is not None:
                part = np.concatenate([event.running[None], part])
            event.running, event.upto = np.cumsum(part, axis=0)[-1], to

        edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
        begins, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for b, e in zip(begins.tolist(), ends.tolist()):
            j = b + int(np.argmax(scores[b:e]))
            peak, peak_at = float(scores[j]), offset + j
            event = self._open
            if event is not None and offset + b - event.stop <= self.merge_gap:
                same_run = offset + b == event.stop  # a run cut by the end of the last block goes on
                event.stop, event.runs, event.flagged = offset + e, event.runs + (not same_run), event.flagged + e - b
                if peak > event.peak:
                    event.peak, event.peak_at = peak, peak_at
            else:
                if event is not None:
                    self._finish(event)
                event = self._open = _Open(offset + b, offset + e, peak, peak_at, e - b)
            advance(event, event.stop)  # the unflagged points between two joined runs belong to the event too
            event.sums = event.running
        event = self._open
        if event is not None:
            advance(event, offset + k)
            if self._seen - event.stop > self.merge_gap:  # no later run can join it
                self._finish(event)
                self._open = None

    def _finish(self, event: _Open) -> None:
        if event.stop - event.start < self.min_length:
            return
        share = None
        if event.sums is not None and len(event.sums) > 1 and event.sums.sum() > 0:
            share = tuple(float(v) for v in event.sums / event.sums.sum())
        self.events.append(Event(event.start, event.stop, event.peak, event.peak_at, event.runs, event.flagged,
                                 share))

    def close(self) -> list[Event]:
        if self._open is not None:
            self._finish(self._open)
            self._open = None
        return self.events


def find_events(flags, scores=None, merge_gap: int = 0, min_length: int = 1, channel_scores=None) -> list[Event]:
    """Events of per-point *flags* ``(N,)`` as :class:`Event` (0-based, half-open), with the peak of *scores*.

    By default every contiguous run of flags is an event; runs separated by at
    most *merge_gap* unflagged points are joined, events shorter than
    *min_length* points dropped (see :class:`EventTracker`).
    """
    flags = np.asarray(flags, dtype=bool).reshape(-1)
    scores = flags.astype(np.float64) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
    tracker = EventTracker(merge_gap, min_length)
    tracker.add(flags, scores, channel_scores)
    return tracker.close()


def event_precision_recall(predicted: list[Event], labels) -> dict:
    """Event-level precision and recall against per-point *labels* ``(N,)`` (nonzero = anomalous).

    The labelled events are the contiguous runs of nonzero labels. A predicted
    event is correct when it overlaps a labelled event by at least one point;
    precision = correct predicted events / predicted events (0 when none),
    recall = labelled events overlapped by at least one predicted event /
    labelled events. (The overlap rule of range-based evaluation, e.g. Tatbul
    et al., NeurIPS 2018, with existence reward only.)
    """
    truth = np.asarray(labels).reshape(-1) != 0
    true_events = find_events(truth)
    hit_pred = [bool(truth[e.start:e.stop].any()) for e in predicted]
    flagged = np.zeros(len(truth), dtype=bool)
    for e in predicted:
        flagged[e.start:e.stop] = True
    hit_true = [bool(flagged[e.start:e.stop].any()) for e in true_events]
    return {"predicted_events": len(predicted), "labelled_events": len(true_events),
            "precision": sum(hit_pred) / len(predicted) if predicted else 0.0,
            "recall": sum(hit_true) / len(true_events) if true_events else float("nan")}
