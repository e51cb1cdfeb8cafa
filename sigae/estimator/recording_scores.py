"""Scoring recordings with a model trained on their windows: per-point scores (the mean over the windows
covering each point of their reconstruction error, normalized units), flags, events, per-channel scores, and
the codes of each window. See :mod:`sigae.estimator.windowed` for how windows and thresholds are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sigae.data.recordings import as_recordings
from sigae.data.segments import check_recordings
from sigae.data.windows import (Event, EventTracker, PointAccumulator, check_event_options, window_count, window_starts, windows_at)
from sigae.errors import ConfigError, option

QUANTILE_LEVELS = np.linspace(0.0, 100.0, 1001)
"""The levels (percent) of the point-score quantiles ``windowing.json`` keeps, for ``pNN`` thresholds."""


# ---------------------------------------------------------------------------- scoring
@dataclass
class RecordingScores:
    """Scores of one recording (0-based indices, half-open intervals; files get 1-based samples).

    ``point_score`` ``(N,)``: per point, the mean over the windows covering it
    of its reconstruction error (normalized units); ``point_is_anomaly`` ``(N,)``:
    ``point_score > threshold``; ``events``: one :class:`~sigae.data.windows.Event`
    per anomaly (flagged runs at most ``merge_gap`` points apart joined, events
    shorter than ``min_length`` points dropped; ``find_events(point_is_anomaly,
    point_score)`` gives the unmerged runs); ``window_start`` / ``window_score``
    ``(n_windows,)``: each window's first point and mean error;
    ``point_score_channel`` ``(N, C)`` (recordings of several channels, else
    None): the same per-point mean for each channel alone, so that
    ``point_score == point_score_channel.mean(axis=1)`` up to float64 rounding.
    """

    point_score: np.ndarray
    point_is_anomaly: np.ndarray
    threshold: float
    events: list[Event]
    window_start: np.ndarray
    window_score: np.ndarray
    metric: str = "mse"
    fs: float | None = None
    extra: dict = field(default_factory=dict)
    merge_gap: int = 0
    min_length: int = 1
    point_score_channel: np.ndarray | None = None

    def __len__(self):
        return len(self.point_score)


def require_windowed(model, what="this"):
    from sigae.errors import RunFolderError

    if getattr(model, "windowing_", None) is None:
        raise RunFolderError(f"{what}: the model was trained on cut signals, not on windows of recordings "
                             "(no windowing.json)")
    return model.windowing_


def resolve_point_threshold(spec, windowing: dict, metric: str = "mse") -> float:
    """None (the calibrated default), ``"max"``, ``"pNN"`` (interpolated in the stored quantiles) or a number."""
    calib = windowing["point_threshold"]
    text = "" if spec is None else str(spec).strip().lower()
    if metric != "mse" and (spec is None or text == "max" or text.startswith("p")):
        raise ConfigError(f"{option('--threshold', 'threshold')}: the calibrated thresholds are for mse; give a "
                          f"number with {option('--metric mae', 'metric=mae')}")
    from sigae.evaluation.scoring import parse_threshold

    kind, value = parse_threshold(spec)
    if kind == "default":
        return float(calib["p"])
    if kind == "max":
        return float(calib["max"])
    if kind == "percentile":
        return float(np.interp(value, QUANTILE_LEVELS, calib["quantiles"]))
    return value


def block_windows(model, window: int) -> int:
    from sigae.data.results import chunk_rows

    batch = model.inference_batch_size
    return chunk_rows((1, window, model.config.channels), batch)


def window_errors(model, windows, batch_size, metric: str, per_channel: bool = False, name: str = "recording"):
    """``(errors (k, W), per-channel errors (k, W, C) or None)`` of *windows* ``(k, W, C)`` (original units):
    normalized with the model's stored statistics, reconstructed, compared point by point (normalized units).
    Batch scoring and :class:`sigae.estimator.live.StreamScorer` both go through here."""
    from sigae.evaluation.scoring import per_point_error

    _, xn = model.normalize_signals(windows, name)
    reconstruction = model.reconstruct_normalized(xn, batch_size)
    errors = per_point_error(xn, reconstruction, metric)
    return errors, per_point_error(xn, reconstruction, metric, per_channel=True) if per_channel else None


def score_blocks(model, rec, window: int, hop: int, batch_size, metric: str, codes: bool = False,
                  per_channel: bool = False):
    """``(window starts, window scores or codes, first point, finished point scores, their per-channel
    scores (points, C) with *per_channel*, else None)`` block by block.

    Points are emitted as soon as no later window can cover them, so memory is
    one block of windows plus ``W`` points, whatever the recording's length.
    """
    n = rec.length
    total = window_count(n, window, hop)
    per_block = block_windows(model, window)
    acc = PointAccumulator(n, window)
    by_channel = PointAccumulator(n, window) if per_channel else None
    for first in range(0, total, per_block):
        starts = window_starts(n, window, hop, first, first + per_block)
        x = rec.read(int(starts[0]), int(starts[-1]) + window)
        windows = windows_at(x, starts, window, offset=int(starts[0]))
        if codes:
            yield starts, model.encode(windows, batch_size=batch_size), None, None, None
            continue
        errors, channel_errors = window_errors(model, windows, batch_size, metric, per_channel, rec.name)
        acc.add(starts, errors)
        if by_channel is not None:
            by_channel.add(starts, channel_errors)
        upto = n if first + per_block >= total else int(window_starts(n, window, hop, first + per_block,
                                                                       first + per_block + 1)[0])
        lo = acc.offset
        yield (starts, errors.mean(axis=1), lo, acc.pop(upto),
               None if by_channel is None else by_channel.pop(upto))


def event_options(merge_gap, min_length, window: int) -> tuple[int, int]:
    """``(merge_gap, min_length)`` in points: *merge_gap* None is the window length *window*."""
    merge_gap = int(window) if merge_gap is None else merge_gap
    check_event_options(merge_gap, min_length)
    return int(merge_gap), int(min_length)


def score_recording(model, recording, hop: int = 1, *, threshold=None, metric: str = "mse",
                    batch_size: int | None = None, merge_gap: int | None = None,
                    min_length: int = 1) -> RecordingScores:
    """Per-point and per-window scores of one recording (array ``(N,)``/``(N, C)`` or :class:`Recording`).

    *merge_gap*: flagged runs separated by at most this many unflagged points
    are one event (default None: the window length; 0 keeps every run apart);
    *min_length*: events shorter than this many points are dropped (default 1).
    Raises RunFolderError for a model not trained on windows, DataError for a
    recording shorter than the window or with another channel count.
    """
    windowing = require_windowed(model)
    rec = as_recordings(recording)[0]
    window = windowing["window"]
    merge_gap, min_length = event_options(merge_gap, min_length, window)
    check_recordings([rec], window, hop, model.config.channels)
    value = resolve_point_threshold(threshold, windowing, metric)
    points, starts, wscores, channels = [], [], [], []
    events = EventTracker(merge_gap, min_length)
    for s, ws, _, ps, pc in score_blocks(model, rec, window, hop, batch_size, metric, per_channel=rec.channels > 1):
        starts.append(s)
        wscores.append(ws)
        points.append(ps)
        if pc is not None:
            channels.append(pc)
        events.add(ps > value, ps, pc)
    point_score = np.concatenate(points)
    return RecordingScores(point_score, point_score > value, value, events.close(), np.concatenate(starts),
                           np.concatenate(wscores), metric, windowing.get("fs"), merge_gap=merge_gap,
                           min_length=min_length, point_score_channel=np.concatenate(channels) if channels else None)


def encode_recording(model, recording, hop: int = 1, batch_size: int | None = None):
    """``(codes (n_windows, latent_dim), window starts (n_windows,) 0-based)`` of one recording."""
    windowing = require_windowed(model)
    rec = as_recordings(recording)[0]
    check_recordings([rec], windowing["window"], hop, model.config.channels)
    starts, codes = [], []
    for s, z, _, _, _ in score_blocks(model, rec, windowing["window"], hop, batch_size, "mse", codes=True):
        starts.append(s)
        codes.append(z)
    return np.concatenate(codes), np.concatenate(starts)
