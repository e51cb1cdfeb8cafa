"""Autoencoders on the sliding windows of long recordings: training, per-point scoring, codes per window.

The model's ``input_length`` is the window ``W``. Training sees the windows of
every recording (:class:`WindowDataset`, read block by block from the
recordings, so a recording larger than memory trains in flat memory).

Split (honest: overlapping windows on both sides of a split would leak the
validation points into training):

* 5 recordings or more: whole recordings are held out for validation (a
  seeded random ``validation_split`` fraction of them, at least one);
* fewer: the last ``validation_split`` of each recording is its validation
  segment, the rest its training segment, and no window crosses the boundary
  (the ``W - 1`` windows that would are dropped). Both segments come from the
  same recording, which is said when training.

Threshold: after training, the per-point scores of every point of the
training recordings (training and validation segments, at the training hop)
are computed; ``point_is_anomaly`` is ``point_score > threshold`` with the
threshold their maximum by default (``p99.9`` etc. on request; the quantiles are
kept in ``windowing.json``).

Scoring (:func:`score_recording`, :func:`score_to_file`) places windows every
``hop`` points (default 1, every window) plus one ending on the last point,
reconstructs them a block at a time, and turns the per-window per-point
squared errors (normalized units, mean over channels) into per-point scores:
the mean over the windows covering each point (:mod:`sigae.data.windows`).

Events: the flagged points (``point_score > threshold``) grouped into one
event per anomaly. An anomaly raises the score of every window that holds
it, so its flagged points come as several runs with short gaps between them
(a spike gives a run on each side of it, a level shift a run at each edge);
runs separated by at most ``merge_gap`` unflagged points are one event
(default: the window length), and events shorter than ``min_length`` points
are dropped (default 1: none). Each event has its first and last point, the
point of its peak score and, for several channels, each channel's share of
the error over the event.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sigae.errors import ConfigError, DataError, option
from sigae.data.io import SignalDataset, SignalSource
from sigae.data.recordings import Recording, as_recordings
from sigae.data.windows import (Event, EventTracker, PointAccumulator, auto_window, check_event_options, check_window,
                      window_count, window_starts, windows_at)

WINDOWING_FILE = "windowing.json"
IN_MEMORY_BYTES = 256 * 2**20
"""Training windows up to this size (float64) are gathered in memory; more are read block by block."""
WHOLE_RECORDINGS_FROM = 5
"""From this many recordings on, validation holds out whole recordings instead of each one's last segment."""
QUANTILE_LEVELS = np.linspace(0.0, 100.0, 1001)
DEFAULT_PERCENTILE = 100.0


# ---------------------------------------------------------------------------- windows of many recordings
@dataclass(frozen=True)
class Segment:
    """Points ``[start, stop)`` of recording number *recording* (0-based in the list) cut into windows."""

    recording: int
    start: int
    stop: int


class WindowDataset(SignalDataset):
    """The windows of *segments* of *recordings*, as signals ``(n_windows, W, C)`` read a block at a time.

    Window ``i`` is the ``i``-th of :func:`window_starts` in its segment, segments
    in the given order. ``read(a, b)`` reads only the points windows ``a:b`` span.
    """

    def __init__(self, recordings: list[Recording], window: int, hop: int, segments: list[Segment] | None = None):
        self.recordings, self.window, self.hop = recordings, int(window), int(hop)
        self.segments = segments or [Segment(i, 0, r.length) for i, r in enumerate(recordings)]
        counts = [window_count(s.stop - s.start, window, hop) for s in self.segments]
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        channels = recordings[0].channels
        source = SignalSource(recordings[0].file, recordings[0].var, "rows", "")
        super().__init__(source, (int(self.offsets[-1]), self.window, channels), self._windows)

    def read(self, start: int, stop: int) -> np.ndarray:
        return self._windows(start, stop)

    def locate(self, start: int, stop: int):
        """``(segment, point starts)`` of windows ``start:stop``, segment by segment."""
        for k, seg in enumerate(self.segments):
            lo, hi = max(start, self.offsets[k]), min(stop, self.offsets[k + 1])
            if lo < hi:
                local = window_starts(seg.stop - seg.start, self.window, self.hop, lo - self.offsets[k],
                                      hi - self.offsets[k])
                yield seg, seg.start + local

    def _windows(self, start: int, stop: int) -> np.ndarray:
        parts = []
        for seg, starts in self.locate(start, stop):
            x = self.recordings[seg.recording].read(int(starts[0]), int(starts[-1]) + self.window)
            parts.append(windows_at(x, starts, self.window, offset=int(starts[0])))
        if not parts:
            return np.zeros((0, self.window, self.shape[2]))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


def check_recordings(recordings: list[Recording], window: int, hop: int, channels: int | None = None) -> None:
    """Window and hop valid, every recording at least one window long, one channel count (or *channels*)."""
    check_window(window, hop)
    want = channels if channels is not None else recordings[0].channels
    for r in recordings:
        if r.channels != want:
            raise DataError(f"{r.name}: {r.channels} channel(s), but "
                            + (f"the model was trained on {want}" if channels is not None
                               else f"{recordings[0].name} has {want}"))
        check_window(window, hop, r.length, r.name)


def split_segments(recordings: list[Recording], window: int, validation_split: float,
                   seed: int | None = None) -> tuple[list[Segment], list[Segment], str]:
    """Training and validation segments (see the module docstring) and a sentence saying how."""
    k = len(recordings)
    whole = [Segment(i, 0, r.length) for i, r in enumerate(recordings)]
    if validation_split <= 0:
        return whole, [], "no validation"
    if k >= WHOLE_RECORDINGS_FROM:
        n_val = min(k - 1, max(1, int(round(k * validation_split))))
        val = set(np.random.default_rng(seed).permutation(k)[:n_val].tolist())
        return ([s for s in whole if s.recording not in val], [s for s in whole if s.recording in val],
                f"validation on {n_val} whole recording(s) of {k} (no recording on both sides)")
    train, val, short = [], [], []
    for i, r in enumerate(recordings):
        cut = r.length - int(round(r.length * validation_split))
        if cut >= window and r.length - cut >= window:
            train.append(Segment(i, 0, cut))
            val.append(Segment(i, cut, r.length))
        else:
            train.append(Segment(i, 0, r.length))
            short.append(r.name)
    text = (f"validation on the last {validation_split:.0%} of each recording, no window crossing the boundary"
            if val else "no validation (recordings too short to split)")
    if short and val:
        text += f"; {len(short)} recording(s) too short to split are all training"
    return train, val, text


def _provenance(recordings):
    files = sorted({r.file for r in recordings})
    return {"files": files, "recordings": [{"file": r.file, "var": r.var, "length": r.length} for r in recordings]}


# ---------------------------------------------------------------------------- training
def fit_recordings(model, recordings, window, hop: int = 1, *, fs: float | None = None,
                   validation_split: float = 0.2, seed: int | None = None, run_dir=None, overwrite: bool = False,
                   log=print, threshold_percentile: float = DEFAULT_PERCENTILE, source: dict | None = None,
                   stream: bool | None = None, **fit_kwargs):
    """Train *model* (a :class:`SignalAutoencoder`) on the sliding windows of *recordings*.

    *recordings*: arrays ``(N,)``/``(N, C)``, :class:`Recording` s, or a list of
    them; *window*: points per window or ``"auto"`` (:func:`sigae.data.windows.auto_window`: the dominant period,
    made at least the encoder's ``config.minimum_length()`` and at most the shortest recording less *hop*);
    *hop*: points between window starts; *fs*: sampling rate in Hz (stored,
    used for event times); *stream*: True reads the training windows block by
    block from the recordings every epoch, False gathers them in memory, None
    decides (streamed when a recording is left on disk or the windows exceed
    ``IN_MEMORY_BYTES``). Other keywords go to ``SignalAutoencoder.fit``.
    Sets ``model.windowing_`` and writes ``windowing.json`` into *run_dir*.
    Raises ConfigError / DataError (window longer than a recording, channel
    counts that differ, ...) before any training. The run folder records what
    :func:`resume_recordings` needs to continue an interrupted run.
    """
    recs = as_recordings(recordings)
    if fs is not None and not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
        raise ConfigError(f"{option('--fs', 'fs')}: must be a positive number of samples per second, got {fs!r}")
    minimum = model.config.minimum_length()
    if isinstance(window, str):
        if window != "auto":
            raise ConfigError(f"{option('--window', 'window')}: {window!r} is neither a whole number nor 'auto'")
        check_window(max(2, hop) if isinstance(hop, (int, np.integer)) else 2, hop)  # a valid hop first
        window, reason = auto_window([r.read(0, min(r.length, 20000)) for r in recs], minimum=minimum, hop=hop,
                                     lengths=[r.length for r in recs])
        log(f"--window auto: {window} points ({reason})")
    check_recordings(recs, window, hop)
    if window < minimum:
        raise ConfigError(f"--window {window}: shorter than the encoder's shortest input, {minimum} points; choose "
                          f"--window {minimum} or more (or --window auto)")
    train, val, how = split_segments(recs, window, validation_split, seed)
    dataset = WindowDataset(recs, window, hop, train + val)
    n_train = int(dataset.offsets[len(train)])
    if n_train < 2:
        raise DataError(f"{recs[0].name}: only {n_train} training window(s) of {window} points with hop {hop}; "
                        f"use a smaller {option('--window', 'window')} or {option('--hop', 'hop')}")
    log(f"{len(dataset)} windows of {window} points (hop {hop}) from {len(recs)} recording(s): {n_train} training, "
        f"{len(dataset) - n_train} validation; {how}")
    streamed = stream if stream is not None else (
        any(r.streamed for r in recs) or math.prod(dataset.shape) * 8 > IN_MEMORY_BYTES)
    x = dataset if streamed else dataset.read(0, len(dataset))
    setup = {"window": int(window), "hop": int(hop), "fs": fs, "channels": recs[0].channels,
             "threshold_percentile": float(threshold_percentile), "streamed": bool(streamed),
             "paths": [_resolved(r.file) for r in recs], "fingerprints": [fingerprint(r) for r in recs]}
    provenance = {**(source or {}), "windowed": True, **_provenance(recs), "windowing": setup}
    finish = _finisher(recs, train, val, how, setup, [{"file": r.file, "var": r.var, "length": r.length}
                                                      for r in recs])
    model.fit(x, validation_rows=np.arange(n_train, len(dataset)), seed=seed, run_dir=run_dir, overwrite=overwrite,
              log=log, source=provenance, validation_split=validation_split, layout="NLC", after_training=finish,
              **fit_kwargs)
    return model


def _resolved(file: str) -> str | None:
    """The absolute path of a recording's file, None for an array (no file)."""
    path = Path(file)
    return str(path.resolve()) if path.is_file() else None


FINGERPRINT_POINTS = 4096


def fingerprint(rec: Recording) -> str:
    """A short hash of a recording's length, channels and first and last ``FINGERPRINT_POINTS`` points, so a
    resumed run can tell that it was given other data of the same length."""
    import hashlib

    digest = hashlib.sha256(f"{rec.length}x{rec.channels}".encode())
    head = rec.read(0, min(rec.length, FINGERPRINT_POINTS))
    tail = rec.read(max(0, rec.length - FINGERPRINT_POINTS), rec.length)
    for part in (head, tail):
        digest.update(np.ascontiguousarray(part, dtype="<f8").tobytes())
    return digest.hexdigest()[:16]


def _finisher(recs, train, val, how, setup, recordings_info):
    """The callback that, once the weights are final, sets ``model.windowing_`` (written to ``windowing.json``
    with the results, before ``run.json`` marks the run complete): the per-point threshold and its quantiles."""
    window, hop, percentile = setup["window"], setup["hop"], setup["threshold_percentile"]

    def finish(model):
        scores, largest = _segment_point_scores(model, recs, train + val, window, hop)
        quantiles = np.percentile(scores, QUANTILE_LEVELS)
        model.windowing_ = {
            "window": int(window), "hop": int(hop), "fs": setup["fs"], "channels": setup["channels"], "split": how,
            "recordings": recordings_info,
            "segments": {"train": [[s.recording, s.start, s.stop] for s in train],
                         "validation": [[s.recording, s.start, s.stop] for s in val]},
            "point_threshold": {"percentile": float(percentile),
                                "p": float(np.percentile(scores, percentile)), "max": largest,
                                "n_points": int(scores.size), "hop": int(hop), "metric": "mse", "units": "normalized",
                                "quantile_levels": "0, 0.1, ..., 100", "quantiles": [float(q) for q in quantiles]},
        }

    return finish


def resume_recordings(run_dir, recordings=None, *, verbose="auto", log=print, should_stop=None, callbacks=None,
                      tensorboard=None, model_class=None):
    """Continue an interrupted :func:`fit_recordings` run in *run_dir* from its last completed epoch; return the
    model, as the uninterrupted run would have ended (same weights, same ``windowing.json``).

    *recordings*: the run's recordings (arrays ``(N,)``/``(N, C)``, :class:`Recording` s, a list), or None to
    read them again from the files the run records (``training.json``). The windows and their split are
    recomputed from what the run folder stores (window, hop, seed, validation split); recordings that are not
    the run's (another count, length, channel count, or other values) raise DataError before any training.
    Raises RunFolderError for a folder that is not an interrupted windowed run, or was started by a sigae that
    did not record its windowing.
    """
    import json

    from sigae.errors import RunFolderError

    if model_class is None:
        from sigae.estimator.autoencoder import SignalAutoencoder as model_class
    run_dir = Path(run_dir)
    try:
        training = json.loads((run_dir / "training.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{run_dir}: cannot resume, training.json is missing") from None
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{run_dir}: training.json is unreadable ({exc})") from None
    source = training.get("source") or {}
    if not source.get("windowed"):
        raise RunFolderError(f"{run_dir}: a run on cut signals, not on windows of recordings; continue it with "
                             + option(f"sigae-train --resume {run_dir}", f"SignalAutoencoder.resume('{run_dir}', x)"))
    setup = source.get("windowing")
    if not setup:
        raise RunFolderError(f"{run_dir}: this windowed run was started by an earlier sigae that did not record its "
                             "windowing, so it cannot be resumed; train it again")
    stored = source.get("recordings") or []
    recs = stored_recordings(source) if recordings is None else as_recordings(recordings)
    check_same_recordings(recs, source)
    window, hop = setup["window"], setup["hop"]
    train, val, how = split_segments(recs, window, training["validation_split"], training.get("seed"))
    dataset = WindowDataset(recs, window, hop, train + val)
    n_train = int(dataset.offsets[len(train)])
    log(f"{len(dataset)} windows of {window} points (hop {hop}) from {len(recs)} recording(s): {n_train} training, "
        f"{len(dataset) - n_train} validation; {how}")
    x = dataset if setup["streamed"] else dataset.read(0, len(dataset))
    finish = _finisher(recs, train, val, how, setup, [{"file": r["file"], "var": r["var"], "length": r["length"]}
                                                      for r in stored])
    return model_class.resume(run_dir, x, verbose=verbose, log=log, should_stop=should_stop, callbacks=callbacks,
                              tensorboard=tensorboard, layout="NLC", after_training=finish)


def stored_recordings(source: dict) -> list[Recording]:
    """The recordings a windowed run was trained on, read again from the files its ``training.json`` records
    (in the same order, with the same variable, orientation and time column). DataError when a file is gone
    or the run was trained on arrays."""
    from sigae.data.recordings import read_recordings

    setup = source["windowing"]
    stored = source.get("recordings") or []
    files = []
    for info, path in zip(stored, setup["paths"]):
        if path is None:
            raise DataError(f"{info['file']}: the run was trained on arrays, not on files; give the recordings "
                            "again: SignalAutoencoder.resume_recordings(run_dir, recordings)")
        if path not in files:
            files.append(path)
    recs = []
    for path in files:
        if not Path(path).is_file():
            raise DataError(f"{path}: the run's recording file is gone; give the file (sigae-train --resume RUN "
                            "FILE)")
        recs += read_recordings(path, source.get("variable"), orientation=source.get("orientation"),
                                time_column=source.get("time_column"))
    return recs


def check_same_recordings(recs: list[Recording], source: dict) -> None:
    """DataError unless *recs* are the recordings a windowed run was started on: their count, lengths, channel
    counts and fingerprints (:func:`fingerprint`) as ``training.json`` records them."""
    setup = source["windowing"]
    stored = source.get("recordings") or []
    if len(recs) != len(stored):
        raise DataError(f"{len(recs)} recording(s), but the run was started on {len(stored)} "
                        f"({', '.join(sorted({r['file'] for r in stored}))})")
    for k, (r, info, mark) in enumerate(zip(recs, stored, setup["fingerprints"]), 1):
        was = f"recording {k} of the run ({info['file']}" + (f" '{info['var']}')" if info.get("var") else ")")
        if r.length != info["length"] or r.channels != setup["channels"]:
            raise DataError(f"{r.name}: {r.length} points x {r.channels} channel(s), but {was} has "
                            f"{info['length']} x {setup['channels']}; not the data the run was started on")
        if fingerprint(r) != mark:
            raise DataError(f"{r.name}: other values than {was}, of the same length; not the data the run was "
                            "started on")


def _segment_point_scores(model, recs, segments, window: int, hop: int) -> tuple[np.ndarray, float]:
    """``(point scores inside *segments* as float32, their exact maximum)``.

    Each recording is scored whole, as :func:`score_recording` scores it: a point near a segment's edge
    gets the score users see (from every window that covers it, reaching into the next segment too), so
    no training point lies above a threshold that is their maximum.
    """
    scores, largest = [], -np.inf
    for r, rec in enumerate(recs):
        inside = np.zeros(rec.length, dtype=bool)
        for seg in segments:
            if seg.recording == r:
                inside[seg.start:seg.stop] = True
        if not inside.any():
            continue
        for _, _, first, points, _ in _score_blocks(model, rec, window, hop, None, "mse"):
            points = points[inside[first:first + len(points)]]
            largest = max(largest, float(points.max(initial=-np.inf)))
            scores.append(points.astype(np.float32))  # half the memory for the quantiles
    return np.concatenate(scores), largest


def load_windowing(folder: Path):
    """``windowing.json`` of a run folder, or None for a model of cut signals."""
    import json

    from sigae.errors import RunFolderError

    file = Path(folder) / WINDOWING_FILE
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{folder}: {WINDOWING_FILE} is unreadable ({exc})") from None


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


def _block_windows(model, window: int) -> int:
    from sigae.data.results import chunk_rows

    batch = model.inference_batch_size
    return chunk_rows((1, window, model.config.channels), batch)


def window_errors(model, windows, batch_size, metric: str, per_channel: bool = False, name: str = "recording"):
    """``(errors (k, W), per-channel errors (k, W, C) or None)`` of *windows* ``(k, W, C)`` (original units):
    normalized with the model's stored statistics, reconstructed, compared point by point (normalized units).
    Batch scoring and :class:`sigae.estimator.live.StreamScorer` both go through here."""
    from sigae.evaluation.scoring import per_point_error

    _, xn = model._normalize(windows, name)
    reconstruction = model._reconstruct_normalized(xn, batch_size)
    errors = per_point_error(xn, reconstruction, metric)
    return errors, per_point_error(xn, reconstruction, metric, per_channel=True) if per_channel else None


def _score_blocks(model, rec, window: int, hop: int, batch_size, metric: str, codes: bool = False,
                  per_channel: bool = False):
    """``(window starts, window scores or codes, first point, finished point scores, their per-channel
    scores (points, C) with *per_channel*, else None)`` block by block.

    Points are emitted as soon as no later window can cover them, so memory is
    one block of windows plus ``W`` points, whatever the recording's length.
    """
    n = rec.length
    total = window_count(n, window, hop)
    per_block = _block_windows(model, window)
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
    for s, ws, _, ps, pc in _score_blocks(model, rec, window, hop, batch_size, metric, per_channel=rec.channels > 1):
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
    for s, z, _, _, _ in _score_blocks(model, rec, windowing["window"], hop, batch_size, "mse", codes=True):
        starts.append(s)
        codes.append(z)
    return np.concatenate(codes), np.concatenate(starts)


# ---------------------------------------------------------------------------- files
def events_matrix(events_per_recording, fs=None) -> tuple[np.ndarray, str]:
    """Events of several recordings as rows ``[recording, first, last, peak_score(, first_s, last_s), peak_sample
    (, peak_s)]`` (recording and samples 1-based, last inclusive; seconds from the recording's start, sample 1
    at 0 s). The first four (six with *fs*) columns are those of earlier versions; the peak's columns follow."""
    rows = []
    for k, events in enumerate(events_per_recording, 1):
        for e in events:
            row = [k, e.start + 1, e.stop, e.peak]
            if fs:
                row += [e.start / fs, (e.stop - 1) / fs]
            row.append(e.peak_at + 1)
            if fs:
                row.append(e.peak_at / fs)
            rows.append(row)
    columns = ("recording, first_sample, last_sample, peak_score" + (", first_s, last_s" if fs else "")
               + ", peak_sample" + (", peak_s" if fs else ""))
    return np.array(rows, dtype=np.float64).reshape(-1, 8 if fs else 5), columns


def event_rows(events_per_recording, fs=None, channels: int = 1) -> list[dict]:
    """One dict per event of several recordings, for tables (``--events FILE.csv``/``.json``).

    ``recording`` (1-based), ``first_sample``, ``last_sample`` (1-based, last inclusive), ``peak_sample``
    (1-based), ``peak_score``, ``length`` (samples, first to last), ``flagged`` (samples above the threshold),
    ``runs`` (flagged runs merged into the event); with *fs* ``first_s``, ``last_s``, ``peak_s`` (sample 1 at
    0 s); with several *channels* ``channels``: ``[(channel (1-based), share of the error), ...]``, largest
    share first.
    """
    rows = []
    for k, events in enumerate(events_per_recording, 1):
        for e in events:
            row = {"recording": k, "first_sample": e.start + 1, "last_sample": e.stop, "peak_sample": e.peak_at + 1,
                   "peak_score": e.peak, "length": e.length, "flagged": e.flagged, "runs": e.runs}
            if fs:
                row.update(first_s=e.start / fs, last_s=(e.stop - 1) / fs, peak_s=e.peak_at / fs)
            if channels > 1:
                row["channels"] = [(c + 1, share) for c, share in e.ranked_channels()]
            rows.append(row)
    return rows


EVENT_TABLE_SUFFIXES = (".csv", ".json")


def check_events_path(path, overwrite: bool = False) -> Path:
    """An events table path: ``.csv`` or ``.json``, not an existing file unless *overwrite*."""
    from sigae.errors import option
    from sigae.data.files import check_writable

    path = Path(path)
    if path.suffix.lower() not in EVENT_TABLE_SUFFIXES:
        raise ConfigError(f"{option('--events', 'events')} {path}: unknown extension "
                          f"{path.suffix.lower() or '(none)'!r}; use .csv or .json")
    return check_writable(path, overwrite)


def write_events(path, events_per_recording, fs=None, *, channels: int = 1, overwrite: bool = False,
                 about: dict | None = None) -> Path:
    """The events of several recordings as a table: ``.csv`` (a header line, one row per event; for several
    channels ``top_channel`` and ``share_ch1`` ... ``share_chC``) or ``.json`` (``{"samples": ..., **about,
    "events": [...]}``, each event as :func:`event_rows` gives it). Written atomically; samples 1-based."""
    import csv
    import io
    import json

    from sigae.data.files import write_text

    path = check_events_path(path, overwrite)
    rows = event_rows(events_per_recording, fs, channels)
    if path.suffix.lower() == ".json":
        document = {"samples": "1-based, last_sample inclusive; times in seconds with sample 1 at 0 s",
                    **(about or {}),
                    "events": [{**r, "channels": [{"channel": c, "share": s} for c, s in r["channels"]]}
                               if "channels" in r else r for r in rows]}
        return write_text(path, json.dumps(document, indent=2) + "\n", overwrite=True)
    names = ["recording", "first_sample", "last_sample", "peak_sample", "peak_score", "length", "flagged", "runs"]
    if fs:
        names += ["first_s", "last_s", "peak_s"]
    if channels > 1:
        names += ["top_channel"] + [f"share_ch{c}" for c in range(1, channels + 1)]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        ranked = r.pop("channels", None)
        if ranked:
            r["top_channel"] = ranked[0][0]
            r.update({f"share_ch{c}": share for c, share in ranked})
        writer.writerow(r)
    return write_text(path, text.getvalue(), overwrite=True)


class _Columns:
    """Per-point and per-window arrays appended block by block, then written at once or streamed to HDF5."""

    def __init__(self, path: Path, overwrite: bool, stack: contextlib.ExitStack, big: bool):
        self.path, self.overwrite, self.stack = path, overwrite, stack
        self.suffix = path.suffix.lower()
        self.streamed = big and self.suffix in (".mat", ".h5", ".hdf5")
        self.arrays: dict[str, list] = {}
        self.file = None
        if self.streamed:
            import h5py

            from sigae.data.files import atomic_path

            self.tmp = stack.enter_context(atomic_path(path, overwrite))
            matlab = self.suffix == ".mat"
            self.file = h5py.File(self.tmp, "w", userblock_size=512) if matlab else h5py.File(self.tmp, "w")
            self.matlab = matlab
            stack.callback(self._close)

    def _close(self):
        from sigae.data.results import write_mat73_header

        self.file.close()
        if self.matlab:
            write_mat73_header(self.tmp)

    def append(self, **arrays):
        for name, value in arrays.items():
            value = np.asarray(value)
            if not self.streamed:
                self.arrays.setdefault(name, []).append(value)
                continue
            from sigae.data.results import MATLAB_CLASSES as _MATLAB_CLASSES

            dtype = np.uint8 if value.dtype == bool else value.dtype
            tail = value.shape[1:]
            if name not in self.file:
                if self.matlab:  # MATLAB stores an m x k matrix as k x m
                    shape, maxshape = (tail or (1,)) + (0,), (tail or (1,)) + (None,)
                else:
                    shape, maxshape = (0,) + tail, (None,) + tail
                ds = self.file.create_dataset(name, shape, dtype=dtype, maxshape=maxshape, chunks=True)
                if self.matlab:
                    ds.attrs["MATLAB_class"] = np.bytes_(_MATLAB_CLASSES[np.dtype(dtype).name])
            ds = self.file[name]
            axis = ds.ndim - 1 if self.matlab else 0
            n = ds.shape[axis]
            ds.resize(n + len(value), axis=axis)
            if self.matlab:
                ds[..., n:] = value.reshape(len(value), -1).T.astype(dtype)
            else:
                ds[n:] = value.astype(dtype)

    def finish(self, main: str, extras: dict, csv_columns=None):
        if not self.streamed:
            from sigae.data.io import save_array

            arrays = {k: np.concatenate(v) for k, v in self.arrays.items()}
            save_array(self.path, main, arrays.pop(main), overwrite=self.overwrite, csv_columns=csv_columns,
                       **arrays, **extras)
            return
        from sigae.data.io import writable as _writable

        sink = _V73Extras(self.file) if self.matlab else None
        for key, value in extras.items():
            value = _writable(self.path, key, value)
            if sink is None:
                self.file.create_dataset(key, data=value)
            elif isinstance(value, str):
                sink._put_v73_text(key, value)
            else:
                sink._put_v73_array(key, np.asarray(value))


def _V73Extras(file):
    """streaming._H5Sink's writers of small MATLAB v7.3 variables, on an open file."""
    from sigae.data.results import H5Sink as _H5Sink

    class Extras(_H5Sink):
        def __init__(self, file):
            self.file = file

    return Extras(file)


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
        out = _Columns(path, overwrite, stack, big=total > SMALL_RESULT_POINTS)
        channels = model.config.channels
        for k, rec in enumerate(recordings, 1):
            tracker, n_windows, kept = EventTracker(merge_gap, min_length), 0, []
            for starts, wscores, _, points, per_channel in _score_blocks(model, rec, window, hop, batch_size, metric,
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
        out = _Columns(path, overwrite, stack, big=total * (model.config.latent_dim + 2) > SMALL_RESULT_POINTS)
        for k, rec in enumerate(recordings, 1):
            for starts, z, _, _, _ in _score_blocks(model, rec, window, hop, batch_size, "mse", codes=True):
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
    for _, _, lo, points, per_channel in _score_blocks(model, rec, window, hop, None, "mse", per_channel=several):
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


def event_labels(events: list[Event], most: int = 40) -> list[dict]:
    """What the timeline writes over each event of a recording of several channels: the channel that carries
    most of its error. One dict per event, the *most* highest-peaked (in time order): ``start``, ``stop``
    (0-based, half-open), ``peak`` (its peak score), ``channel`` (1-based), ``share`` (its share of the event's error, 0-1) and ``text``
    (``"ch 3 61%"``). Empty for one channel (events without ``channel_share``)."""
    shown = sorted(sorted(events, key=lambda e: -e.peak)[:most], key=lambda e: e.start)
    out = []
    for e in shown:
        ranked = e.ranked_channels()
        if not ranked:
            continue
        channel, share = ranked[0]
        out.append({"start": e.start, "stop": e.stop, "peak": e.peak, "channel": channel + 1, "share": share,
                    "text": f"ch {channel + 1} {share:.0%}"})
    return out
