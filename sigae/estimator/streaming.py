"""Encode and score signals files larger than memory, one block of signals at a time.

Signals come from :func:`sigae.data.results.open_signals`: left on disk for HDF5, MAT v7.3 and
.npy files (:class:`sigae.data.io.SignalDataset`), read whole from any other file.
Each block goes through the estimator's own ``encode`` / ``score``, and its
results go to a :func:`sigae.data.results.result_writer`, which writes them as they come. Peak
memory is set by the block size (``sigae.data.results.CHUNK_BYTES`` of float64 signals), not by
the file. A block is a whole number of prediction batches and every normalizer
works per signal or with fixed fitted statistics, so the results are those of
one call on the whole array.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from sigae.data.preprocessing import ZeroSpreadWarning
from sigae.data.results import chunk_rows, iter_chunks, result_writer
from sigae.evaluation.scoring import ScoreResult


# ---------------------------------------------------------------------------- encode and score
def encode_to_file(model, signals, path, *, batch_size: int | None = None, overwrite: bool = False,
                   **extra) -> tuple[int, int]:
    """Write ``latent`` codes of *signals* (array or SignalDataset) to *path*; return their shape.

    With the per-signal normalizer the file also holds ``signal_mean`` and
    ``signal_std`` (what decoding needs); *extra* variables are added as they are.
    """
    batch_size = batch_size or model.inference_batch_size
    with result_writer(path, len(signals), overwrite=overwrite) as out, _warnings_once():
        for start, x in iter_chunks(signals, chunk_rows(signals.shape, batch_size)):
            arrays = {"latent": model.encode(x, batch_size=batch_size)}
            stats = model.signal_stats(x)
            if stats is not None:
                arrays.update(signal_mean=stats[0][:, 0, :], signal_std=stats[1][:, 0, :])
            out.write(start, **arrays)
        out.add(**extra)
    return len(signals), model.config.latent_dim


def score_to_file(model, signals, path, *, metric: str = "mse", threshold=None, per_point: bool = False,
                  batch_size: int | None = None, overwrite: bool = False, **extra) -> ScoreResult:
    """Write ``score``, ``is_anomaly`` (and ``per_point_error``) of *signals* to *path*, plus ``threshold``,
    ``metric`` and *extra*; return the scores (without the per-point errors). A ``.csv`` *path* holds the
    columns ``score`` and ``is_anomaly`` under a header line. The result's ``out_of_fold`` marks the model's
    training signals scored out of fold (:mod:`sigae.estimator.cross_fitting`), None when there are none."""
    n = len(signals)
    scores, flags, crossed = np.empty(n), np.empty(n, dtype=bool), np.zeros(n, dtype=bool)
    batch_size = batch_size or model.inference_batch_size
    with result_writer(path, n, overwrite=overwrite, csv_columns=("score", "is_anomaly")) as out, _warnings_once():
        for start, x in iter_chunks(signals, chunk_rows(signals.shape, batch_size)):
            result = model.score(x, metric=metric, threshold=threshold, per_point=per_point, batch_size=batch_size)
            scores[start:start + len(x)], flags[start:start + len(x)] = result.scores, result.is_anomaly
            if result.out_of_fold is not None:
                crossed[start:start + len(x)] = result.out_of_fold
            arrays = {"score": result.scores, "is_anomaly": result.is_anomaly.astype(np.uint8)}
            if per_point:
                arrays["per_point_error"] = result.per_point
            out.write(start, **arrays)
        out.add(threshold=result.threshold, metric=metric, **extra)
    return ScoreResult(scores=scores, threshold=result.threshold, is_anomaly=flags, metric=metric,
                       out_of_fold=crossed if crossed.any() else None)


@contextlib.contextmanager
def _warnings_once():
    """Warnings of every block said once at the end, zero-spread counts added up over the blocks."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    totals, first = {}, {}
    for w in caught:
        if isinstance(w.message, ZeroSpreadWarning):  # every place that warns counts each signal once
            key = (w.message.what, w.filename, w.lineno)
            totals[key] = totals.get(key, 0) + w.message.count
        else:
            key = (str(w.message), w.category)
        first.setdefault(key, w)
    said = set()
    for key, w in first.items():
        message = ZeroSpreadWarning(totals[key], key[0]) if key in totals else w.message
        if str(message) not in said:
            said.add(str(message))
            warnings.warn_explicit(message, w.category, w.filename, w.lineno)
