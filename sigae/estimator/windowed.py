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

import math
from pathlib import Path

import numpy as np

from sigae.data.recordings import as_recordings
from sigae.data.segments import (WindowDataset, check_recordings, check_same_recordings, fingerprint,
                                 recordings_provenance, resolved_path, split_segments, stored_recordings)
from sigae.data.periods import auto_window
from sigae.data.windows import check_window
from sigae.errors import ConfigError, DataError, option
from sigae.estimator.recording_scores import QUANTILE_LEVELS, score_blocks

IN_MEMORY_BYTES = 256 * 2**20
"""Training windows up to this size (float64) are gathered in memory; more are read block by block."""


DEFAULT_PERCENTILE = 100.0


# ---------------------------------------------------------------------------- training
def fit_recordings(model, recordings, window, hop: int = 1, *, fs: float | None = None,
                   validation_split: float = 0.2, seed: int | None = None, run_dir=None, overwrite: bool = False,
                   log=print, threshold_percentile: float = DEFAULT_PERCENTILE, source: dict | None = None,
                   stream: bool | None = None, **fit_kwargs):
    """Train *model* (a :class:`SignalAutoencoder`) on the sliding windows of *recordings*.

    *recordings*: arrays ``(N,)``/``(N, C)``, :class:`Recording` s, or a list of
    them; *window*: points per window or ``"auto"`` (:func:`sigae.data.periods.auto_window`: the dominant period,
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
    model.config = code_for_window(model.config, window, recs[0].channels, log)
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
             "paths": [resolved_path(r.file) for r in recs], "fingerprints": [fingerprint(r) for r in recs]}
    provenance = {**(source or {}), "windowed": True, **recordings_provenance(recs), "windowing": setup}
    finish = point_threshold_finisher(recs, train, val, how, setup, [{"file": r.file, "var": r.var, "length": r.length}
                                                      for r in recs])
    model.fit(x, validation_rows=np.arange(n_train, len(dataset)), seed=seed, run_dir=run_dir, overwrite=overwrite,
              log=log, source=provenance, validation_split=validation_split, layout="NLC", after_training=finish,
              **fit_kwargs)
    return model


def code_for_window(config, window: int, channels: int, log=print):
    """*config* with a latent code that cannot copy its window: a code of more than half a window's ``W x C``
    values is cut to a quarter of them (at least 1), and the line *log* gets says so.

    A code as large as the window reconstructs any window, normal or not, so its reconstruction error says
    nothing (measured with ``scripts/evaluate_recordings.py --window 16``: per-point AUC-ROC 0.25 on
    InternalBleeding16 with a 32-number code, 0.9998 with 4; a quarter of the window beat half of it on the
    three kinds measured). The seed decoder, which needs its 32-number code, is left as it is."""
    values = int(window) * int(channels)
    if 2 * config.latent_dim <= values or config.decoder == "seed":
        return config
    size = max(1, values // 4)
    log(f"latent code: {size} numbers, a quarter of a window's {values} values (a code of {config.latent_dim} "
        "would copy the window, and its reconstruction error would say nothing)")
    return config.with_updates(latent_dim=size)


def point_threshold_finisher(recs, train, val, how, setup, recordings_info):
    """The callback that, once the weights are final, sets ``model.windowing_`` (written to ``windowing.json``
    with the results, before ``run.json`` marks the run complete): the per-point threshold and its quantiles."""
    window, hop, percentile = setup["window"], setup["hop"], setup["threshold_percentile"]

    def finish(model):
        scores, largest = segment_point_scores(model, recs, train + val, window, hop)
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
    finish = point_threshold_finisher(recs, train, val, how, setup, [{"file": r["file"], "var": r["var"], "length": r["length"]}
                                                      for r in stored])
    return model_class.resume(run_dir, x, verbose=verbose, log=log, should_stop=should_stop, callbacks=callbacks,
                              tensorboard=tensorboard, layout="NLC", after_training=finish)


def segment_point_scores(model, recs, segments, window: int, hop: int) -> tuple[np.ndarray, float]:
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
        for _, _, first, points, _ in score_blocks(model, rec, window, hop, None, "mse"):
            points = points[inside[first:first + len(points)]]
            largest = max(largest, float(points.max(initial=-np.inf)))
            scores.append(points.astype(np.float32))  # half the memory for the quantiles
    return np.concatenate(scores), largest
