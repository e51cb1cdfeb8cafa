"""Windows of many recordings as one dataset of signals, and the split of recordings into training and
validation segments that does not leak (see :mod:`sigae.estimator.windowed`); what identifies the recordings a
run was trained on, so a resumed run can check it was given the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sigae.data.io import SignalDataset, SignalSource
from sigae.data.recordings import Recording
from sigae.data.windows import check_window, window_count, window_starts, windows_at
from sigae.errors import DataError

WHOLE_RECORDINGS_FROM = 5
"""From this many recordings on, validation holds out whole recordings instead of each one's last segment."""


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


def recordings_provenance(recordings):
    files = sorted({r.file for r in recordings})
    return {"files": files, "recordings": [{"file": r.file, "var": r.var, "length": r.length} for r in recordings]}


def resolved_path(file: str) -> str | None:
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
