"""Live data: score a recording as its samples arrive, with the scores of scoring it whole.

:class:`StreamScorer` takes the samples of one recording in chunks of any
size (``update``) and returns the points whose score became final, the flags
and the events that closed; ``flush`` ends the recording. Its per-point scores,
flags, per-channel scores and events are those of
:func:`sigae.estimator.recording_scores.score_recording` on the whole recording (same model,
hop, threshold, metric, merge gap, minimum length), whatever the chunking:

* windows are placed as :func:`sigae.data.windows.window_starts` places them: every
  *hop* points while they fit, and, at ``flush``, one more ending on the last
  point when the hop does not land there;
* each window goes through the same normalization (the statistics stored in
  the model: ``global``/``per-timestep``/``minmax`` use the training set's,
  ``per-signal`` the window's own; nothing depends on the rest of the
  recording) and the same network call (:func:`sigae.estimator.recording_scores.window_errors`);
* per-point means come from :class:`sigae.data.windows.PointAccumulator` and events
  from :class:`sigae.data.windows.EventTracker`, whose sums do not depend on where
  the points were cut into blocks.

Latency: point ``t`` (0-based) is final once point ``t + W`` has arrived
(``W`` the window): the last window that may still cover it, the one ending on
the last point, is known to start after ``t`` only then. So a point waits at
most one window; the last ``W`` points wait for ``flush``. An event is
reported when it closes: ``merge_gap`` final points after its last flagged
point (no later run can join it), or at ``flush``.

Memory: the last ``W`` samples, the per-point sums of one window, one block of
windows while it is scored, and the open event; never the whole recording.

Equality with whole-recording scoring is exact when the network computes each
window independently of the others in its batch, which the compiled CPU
kernels do for the models sigae builds (``tests/test_stream.py`` checks it with
``np.array_equal``). For kernels that round differently with the batch's
size, ``aligned=True`` sends the windows to the network in the very batches
:func:`~sigae.estimator.recording_scores.score_recording` uses (bit-identical by construction)
at the cost of latency: up to one inference batch of windows (``batch_size *
hop`` points) more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sigae.errors import ConfigError, DataError, StreamClosedError, option
from sigae.data.windows import Event, EventTracker, PointAccumulator, check_window, window_starts


@dataclass
class StreamUpdate:
    """What one :meth:`StreamScorer.update` / :meth:`~StreamScorer.flush` made final.

    ``index`` ``(m',)`` int64: the points (0-based, consecutive); ``point_score``
    ``(m',)``: their scores (normalized units, as ``score_recording``);
    ``point_is_anomaly`` ``(m',)``: ``point_score > threshold``;
    ``point_score_channel`` ``(m', C)``: each channel's score (several channels,
    else None); ``events``: the :class:`~sigae.data.windows.Event` s that closed
    (0-based, half-open), in order.
    """

    index: np.ndarray
    point_score: np.ndarray
    point_is_anomaly: np.ndarray
    point_score_channel: np.ndarray | None = None
    events: list[Event] = field(default_factory=list)

    def __len__(self):
        return len(self.index)


class StreamScorer:
    """Per-point scores, flags and events of one recording fed in chunks (see the module docstring).

    *model*: a fitted :class:`~sigae.SignalAutoencoder` trained on windows of
    recordings (``fit_recordings`` or ``sigae-train --window``); *hop*: points
    between window starts (default 1, as ``score_recording``); *threshold*,
    *metric*, *merge_gap*, *min_length*, *batch_size*: as
    :func:`sigae.estimator.recording_scores.score_recording`; *aligned*: see the module docstring.

    ``update(chunk)``: samples ``(m,)`` (one channel) or ``(m, C)`` in original
    units, returns a :class:`StreamUpdate`; ``flush()`` ends the recording and
    returns the last points and events. ``n_seen`` points arrived so far,
    ``n_final`` of them are final.

    Raises RunFolderError for a model of cut signals, ConfigError for a bad hop
    or option, DataError for a chunk of another channel count or with NaN/Inf
    (the scorer is unchanged then: the chunk may be fixed and sent again), and
    for a recording shorter than the window at ``flush``.
    """

    def __init__(self, model, *, hop: int = 1, threshold=None, metric: str = "mse", merge_gap: int | None = None,
                 min_length: int = 1, batch_size: int | None = None, aligned: bool = False):
        from sigae.estimator.recording_scores import (block_windows, event_options, require_windowed, resolve_point_threshold)

        windowing = require_windowed(model)
        model.check_ready()
        self.model, self.window, self.hop = model, int(windowing["window"]), hop
        check_window(self.window, hop)
        self.channels = int(model.config.channels)
        self.merge_gap, self.min_length = event_options(merge_gap, min_length, self.window)
        if metric not in ("mse", "mae"):
            raise ConfigError(f"{option('--metric', 'metric')}: unknown metric {metric!r}; choose mse or mae")
        self.metric = metric
        self.threshold = resolve_point_threshold(threshold, windowing, metric)
        self.fs = windowing.get("fs")
        self.batch_size = batch_size
        self.aligned = bool(aligned)
        self._batch = batch_size or model.inference_batch_size  # the batches of score_recording (aligned)
        self._block = block_windows(model, self.window)  # windows scored at once: bounds the memory
        self._acc = PointAccumulator(0, self.window)
        self._acc_channel = PointAccumulator(0, self.window) if self.channels > 1 else None
        self._events = EventTracker(self.merge_gap, self.min_length)
        self._reported = 0  # events already returned
        self._buffer = np.zeros((0, self.channels))  # samples [_buffer_start, n_seen)
        self._buffer_start = 0
        self._next = 0  # next regular window (number; it starts at _next * hop)
        self.n_seen = 0
        self.closed = False

    @property
    def n_final(self) -> int:
        """Points whose score is final (returned by ``update``/``flush``)."""
        return self._acc.offset

    def _check_open(self):
        if self.closed:
            raise StreamClosedError("this StreamScorer was flushed: the recording is over; make a new one for the "
                                    "next recording")

    def _samples(self, chunk) -> np.ndarray:
        x = np.array(chunk, dtype=np.float64)  # a copy: the caller may reuse its buffer
        if x.ndim == 1 and self.channels == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            want = "(m,) or (m, 1)" if self.channels == 1 else f"(m, {self.channels})"
            raise DataError(f"chunk: expected samples shaped {want} (points x channels, the model's "
                            f"{self.channels} channel(s)), got {x.shape}")
        bad = ~np.isfinite(x)
        if bad.any():
            raise DataError(f"chunk: {int(bad.sum())} NaN/Inf values; first at sample "
                            f"{self.n_seen + int(np.argwhere(bad)[0][0]) + 1} of the recording (1-based)")
        return x

    def update(self, chunk) -> StreamUpdate:
        """Add samples ``(m,)``/``(m, C)`` (original units); return the points made final and the events closed."""
        self._check_open()
        x = self._samples(chunk)
        if len(x):
            self._buffer = np.concatenate([self._buffer, x]) if len(self._buffer) else x
            self.n_seen += len(x)
        n, w = self.n_seen, self.window
        if n >= w:
            ready = (n - w) // self.hop + 1  # regular windows that fit in the points seen
            if self.aligned:
                ready = ready // self._batch * self._batch
            self._score(np.arange(self._next, ready, dtype=np.int64) * self.hop)
            self._next = max(self._next, ready)
        # final: every window covering the point is placed, and the last window (N - W) cannot cover it
        upto = min(n - w, self._next * self.hop)
        result = self._emit(upto)
        keep = min(self._next * self.hop, n - w)  # first sample a later window may need
        if keep > self._buffer_start:
            self._buffer = self._buffer[keep - self._buffer_start:].copy()
            self._buffer_start = keep
        return result

    def flush(self) -> StreamUpdate:
        """End the recording: score its last windows (the one ending on the last point included) and return the
        remaining points and every event still open. Raises DataError when fewer than ``W`` points came."""
        self._check_open()
        n, w = self.n_seen, self.window
        check_window(w, self.hop, n, "stream")
        starts = window_starts(n, w, self.hop, self._next)
        self._score(starts)
        self.closed = True
        result = self._emit(n)
        self._events.close()
        result.events = self._new_events()
        self._buffer = self._buffer[:0]
        return result

    # ------------------------------------------------------------------ inside
    def _score(self, starts: np.ndarray) -> None:
        """Reconstruct the windows at *starts* (sorted, in the buffer) a block at a time and accumulate them."""
        from sigae.data.windows import windows_at
        from sigae.estimator.recording_scores import window_errors

        step = self._batch if self.aligned else self._block
        for i in range(0, len(starts), step):
            part = starts[i:i + step]
            windows = windows_at(self._buffer, part, self.window, offset=self._buffer_start)
            errors, channel_errors = window_errors(self.model, windows, self.batch_size, self.metric,
                                                   self._acc_channel is not None, "stream")
            self._acc.add(part, errors)
            if self._acc_channel is not None:
                self._acc_channel.add(part, channel_errors)

    def _emit(self, upto: int) -> StreamUpdate:
        first = self._acc.offset
        scores = self._acc.pop(upto) if upto > first else np.zeros(0)
        channel = None
        if self._acc_channel is not None:
            channel = self._acc_channel.pop(upto) if upto > first else np.zeros((0, self.channels))
        flags = scores > self.threshold
        self._events.add(flags, scores, channel)
        return StreamUpdate(np.arange(first, first + len(scores), dtype=np.int64), scores, flags, channel,
                            self._new_events())

    def _new_events(self) -> list[Event]:
        new = self._events.events[self._reported:]
        self._reported = len(self._events.events)
        return list(new)

    def __repr__(self):
        return (f"StreamScorer(window={self.window}, hop={self.hop}, threshold={self.threshold:.4g}, "
                f"seen={self.n_seen}, final={self.n_final}{', flushed' if self.closed else ''})")


def score_chunks(model, chunks, **kwargs) -> StreamUpdate:
    """All the results of streaming *chunks* (an iterable of ``(m,)``/``(m, C)`` arrays) through a
    :class:`StreamScorer` (*kwargs* its keywords), gathered into one :class:`StreamUpdate`."""
    scorer = StreamScorer(model, **kwargs)
    parts = [scorer.update(c) for c in chunks] + [scorer.flush()]
    channel = [p.point_score_channel for p in parts if p.point_score_channel is not None]
    return StreamUpdate(np.concatenate([p.index for p in parts]), np.concatenate([p.point_score for p in parts]),
                        np.concatenate([p.point_is_anomaly for p in parts]),
                        np.concatenate(channel) if channel else None, [e for p in parts for e in p.events])


__all__ = ["StreamScorer", "StreamUpdate", "StreamClosedError", "score_chunks"]
