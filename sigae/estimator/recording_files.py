"""Scores and codes of long recordings written to files block by block, and the data of the timeline
figure, so recordings larger than memory are scored in flat memory.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from sigae.data.event_tables import event_labels, events_matrix
from sigae.data.recordings import Recording, as_recordings
from sigae.data.result_columns import ResultColumns
from sigae.data.segments import check_recordings
from sigae.data.windows import EventTracker, window_count
from sigae.errors import ConfigError
from sigae.estimator.recording_scores import (RecordingScores, event_options, require_windowed,
                                              resolve_point_threshold, score_blocks)


SMALL_RESULT_POINTS = 2_000_000
"""Results of up to this many points (plus windows) are gathered and saved by save_array (.mat as v5)."""


def score_to_file(model, recordings: list[Recording], path, *, hop: int = 1, threshold=None, metric: str = "mse",
                  batch_size: int | None = None, overwrite: bool = False, labels=None, merge_gap: int | None = None,
                  min_length: int = 1, **extra) -> list[RecordingScores]:
    """Score *recordings* (one file's) into *path*; return per recording a RecordingScores without the big arrays
    (``point_score`` kept only when the recording is small or *labels* are given, for the report).

    Variables written: ``point_score``, ``point_is_anomaly`` (all recordings one after the other),
    ``window_start`` (1-based), ``window_score``, ``events`` (see :func:`events_matrix`; *merge_gap* and
    *min_length* as in :func:`score_recording`), with several channels ``events_channel_share`` (one row per
    event: each channel's share of the error) and ``point_score_channel`` (points x C: each channel's per-point
    score), ``recording_length``; with several recordings also
    ``point_recording`` / ``window_recording`` (1-based recording of each row); ``threshold``, ``metric``,
    ``window``, ``hop``, ``merge_gap``, ``min_length``, ``fs`` and *extra*. A ``.csv`` *path* holds the columns
    ``point_score``, ``point_is_anomaly`` (and ``point_recording``) under a header line.
    """
    from sigae.data.files import check_writable

    windowing = require_windowed(model)
    window = windowing["window"]
    merge_gap, min_length = event_options(merge_gap, min_length, window)
    check_recordings(recordings, window, hop, model.config.channels)
    value = resolve_point_threshold(threshold, windowing, metric)
    path = Path(path)
    check_writable(path, overwrite)
    total = sum(r.length + window_count(r.length, window, hop) for r in recordings)
    several = len(recordings) > 1
    results = []
    with contextlib.ExitStack() as stack:
        out = ResultColumns(path, overwrite, stack, big=total > SMALL_RESULT_POINTS)
        channels = model.config.channels
        for k, rec in enumerate(recordings, 1):
            tracker, n_windows, kept = EventTracker(merge_gap, min_length), 0, []
            for starts, wscores, _, points, per_channel in score_blocks(model, rec, window, hop, batch_size, metric,
                                                                         per_channel=channels > 1):
                flags = points > value
                tracker.add(flags, points, per_channel)
                out.append(point_score=points, point_is_anomaly=flags.astype(np.uint8),
                           **({"point_score_channel": per_channel} if per_channel is not None else {}),
                           **({"point_recording": np.full(len(points), k, np.int32)} if several else {}))
                out.append(window_start=starts + 1, window_score=wscores,
                           **({"window_recording": np.full(len(starts), k, np.int32)} if several else {}))
                n_windows += len(starts)
                if labels is not None or rec.length <= SMALL_RESULT_POINTS:
                    kept.append(points)
            scores = np.concatenate(kept) if kept else np.zeros(0)
            results.append(RecordingScores(scores, scores > value, value, tracker.close(), np.zeros(0), np.zeros(0),
                                           metric, windowing.get("fs"), {"n_windows": n_windows, "n": rec.length},
                                           merge_gap, min_length))
        fs = windowing.get("fs")
        events, columns = events_matrix([r.events for r in results], fs)
        extras = {"events": events, "events_columns": columns}
        if channels > 1:
            extras["events_channel_share"] = np.array(
                [e.channel_share or [np.nan] * channels for r in results for e in r.events],
                dtype=np.float64).reshape(-1, channels)
        extras.update({"recording_length": np.array([r.length for r in recordings], dtype=np.float64),
                       "threshold": value, "metric": metric, "window": window, "hop": hop,
                       "merge_gap": merge_gap, "min_length": min_length, **extra})
        if fs:
            extras["fs"] = float(fs)
        out.finish("point_score", extras, csv_columns=("point_score", "point_is_anomaly")
                   + (("point_recording",) if several else ()))
    return results


def encode_to_file(model, recordings: list[Recording], path, *, hop: int = 1, batch_size: int | None = None,
                   overwrite: bool = False, **extra) -> tuple[int, int]:
    """Codes of every window of *recordings* into *path*: ``latent`` ``(n_windows, latent_dim)``,
    ``window_start`` (1-based), ``window_recording`` (1-based); return ``(n_windows, latent_dim)``."""
    from sigae.data.files import check_writable

    windowing = require_windowed(model)
    window = windowing["window"]
    check_recordings(recordings, window, hop, model.config.channels)
    if model.normalizer.kind == "per-signal":
        raise ConfigError("sigae-encode: windows of a per-signal normalized model need their mean/std to be decoded; "
                          "not supported for windowed models")
    path = Path(path)
    check_writable(path, overwrite)
    total = sum(window_count(r.length, window, hop) for r in recordings)
    n = 0
    with contextlib.ExitStack() as stack:
        out = ResultColumns(path, overwrite, stack, big=total * (model.config.latent_dim + 2) > SMALL_RESULT_POINTS)
        for k, rec in enumerate(recordings, 1):
            for starts, z, _, _, _ in score_blocks(model, rec, window, hop, batch_size, "mse", codes=True):
                out.append(latent=z, window_start=starts + 1, window_recording=np.full(len(starts), k, np.int32))
                n += len(starts)
        out.finish("latent", {"window": window, "hop": hop, **extra})
    return n, model.config.latent_dim


# ---------------------------------------------------------------------------- timeline
class Envelope:
    """Min and max of a per-point series in *bins* equal spans of ``[0, n)``, fed block by block (for figures
    of 10^7 points: one vertical span per pixel column instead of one line segment per point)."""

    def __init__(self, n: int, bins: int = 2000):
        self.edges = np.unique(np.linspace(0, n, min(bins, n) + 1).astype(np.int64))
        self.lo = np.full(len(self.edges) - 1, np.inf)
        self.hi = np.full(len(self.edges) - 1, -np.inf)

    def add(self, start: int, values) -> None:
        values = np.asarray(values, dtype=np.float64)
        if not len(values):
            return
        first = int(np.searchsorted(self.edges, start, "right")) - 1
        last = int(np.searchsorted(self.edges, start + len(values) - 1, "right")) - 1
        cuts = np.concatenate([[0], self.edges[first + 1:last + 1] - start]).astype(np.int64)
        self.lo[first:last + 1] = np.minimum(self.lo[first:last + 1], np.minimum.reduceat(values, cuts))
        self.hi[first:last + 1] = np.maximum(self.hi[first:last + 1], np.maximum.reduceat(values, cuts))


def timeline_data(model, recording, hop: int = 1, labels=None, bins: int = 2000, threshold=None,
                  merge_gap: int | None = None, min_length: int = 1) -> dict:
    """What :func:`sigae.evaluation.plots.plot_timeline` draws, computed block by block: envelopes of the recording
    (``signal_channel``, 1-based: the first channel, or for several the top channel of the highest-peaked
    event), of the point score, of the flags and of *labels* ``(N,)``, the threshold, the events
    (*merge_gap*, *min_length* as in :func:`score_recording`). For several channels also ``channel_score``
    ``(C, spans)``: each channel's largest per-point score in each span, and ``event_labels``
    (:func:`event_labels`: the channel carrying most of each event's error)."""
    windowing = require_windowed(model)
    rec = as_recordings(recording)[0]
    window = windowing["window"]
    merge_gap, min_length = event_options(merge_gap, min_length, window)
    check_recordings([rec], window, hop, model.config.channels)
    value = resolve_point_threshold(threshold, windowing)
    n, several = rec.length, rec.channels > 1
    signals = [Envelope(n, bins) for _ in range(rec.channels)]
    score, flags = Envelope(n, bins), Envelope(n, bins)
    by_channel = [Envelope(n, bins) for _ in range(rec.channels)] if several else []
    tracker = EventTracker(merge_gap, min_length)
    step = 2**20
    for a in range(0, n, step):
        block = rec.read(a, min(n, a + step))
        for c, envelope in enumerate(signals):
            envelope.add(a, block[:, c])
    for _, _, lo, points, per_channel in score_blocks(model, rec, window, hop, None, "mse", per_channel=several):
        score.add(lo, points)
        flags.add(lo, points > value)
        tracker.add(points > value, points, per_channel)
        for c, envelope in enumerate(by_channel):
            envelope.add(lo, per_channel[:, c])
    truth = None
    if labels is not None:
        truth = Envelope(n, bins)
        truth.add(0, np.asarray(labels).reshape(-1) != 0)
    events = tracker.close()
    labelled = event_labels(events)
    shown = max(labelled, key=lambda lab: lab["peak"])["channel"] if labelled else 1
    signal = signals[shown - 1]
    return {"n": n, "edges": signal.edges, "signal": (signal.lo, signal.hi), "signal_channel": shown,
            "score": (score.lo, score.hi),
            "flags": flags.hi > 0, "labels": None if truth is None else truth.hi > 0, "threshold": value,
            "events": events, "fs": windowing.get("fs"), "window": window, "hop": hop,
            "channels": rec.channels, "channel_score": np.array([e.hi for e in by_channel]) if several else None,
            "event_labels": labelled}
