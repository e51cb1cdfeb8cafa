"""Recordings read from files: long series to cut into sliding windows (:mod:`sigae.data.windows`).

What a variable holds (``--var``; default: the only numeric variable that can):

* a vector (``N x 1``, ``1 x N`` or 1-D): one recording, one channel;
* a matrix ``N x C``: one multichannel recording, time along the longer side,
  channels along the shorter (say ``--orientation rows`` or ``columns`` to read
  each row or each column as a separate one-channel recording instead);
* a cell array (also inside a struct, ``--var data.trials``), or a field of a
  struct array (``--var s.x`` with ``s`` 1 x k): one recording per element, of any lengths;
* a 3-D array, or a matrix whose both sides exceed ``MAX_CHANNELS``: cut
  signals, not a recording; refused with a message saying so.

A numeric variable of an HDF5 file (``.h5``, MATLAB v7.3 ``.mat``) or an ``.npy``
file is left on disk and read a block of points at a time (h5py slices,
``np.load(mmap_mode="r")``), so a recording larger than memory can be windowed;
anything else is read whole with :func:`sigae.data.io.load_array`. Either way a
:class:`Recording` is read the same way, ``read(start, stop) -> (stop - start, C)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from sigae.errors import DataError, option

MAX_CHANNELS = 64
"""A matrix with both sides above this is taken for cut signals, not a multichannel recording."""

RECORDING_SUFFIXES = (".mat", ".h5", ".hdf5", ".npy", ".csv", ".txt", ".npz")


@dataclass
class Recording:
    """One recording: *length* points x *channels*, read by blocks of points.

    ``file`` and ``var`` say where it comes from (``var`` names the element for
    cells, e.g. ``data{3}``); ``index`` is its 1-based position in the file.
    """

    file: str
    var: str
    index: int
    length: int
    channels: int
    _read: Callable[[int, int], np.ndarray] = field(repr=False)
    streamed: bool = False
    note: str = ""  # what reading it left out (a time column), for the user; "" if nothing
    time_axis: int = 0  # the stored axis its points run along: 0 (down the columns) or 1 (along the rows)
    names: tuple = ()  # its channels' names, when it comes from a table of named columns

    @property
    def name(self) -> str:
        return f"{self.file} ('{self.var}')" if self.var else self.file

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Points ``start:stop`` as float64 ``(stop - start, C)``; NaN/Inf refused naming the sample."""
        stop = self.length if stop is None else min(stop, self.length)
        x = np.asarray(self._read(int(start), int(stop)), dtype=np.float64).reshape(stop - start, self.channels)
        bad = ~np.isfinite(x)
        if bad.any():
            raise DataError(f"{self.name}: NaN/Inf values; first at sample {start + np.argwhere(bad)[0][0] + 1} "
                            "(1-based)")
        return x

    def to_array(self) -> np.ndarray:
        return self.read(0, self.length)


def from_array(x, name: str = "recording", index: int = 1) -> Recording:
    """An in-memory recording ``(N,)`` or ``(N, C)``."""
    from sigae.data.windows import as_recording

    x = as_recording(x, name)
    return Recording(name, "", index, len(x), x.shape[1], lambda a, b: x[a:b])


def as_recordings(recordings) -> list[Recording]:
    """A Recording, an array, or a list of either, as a list of Recordings."""
    if isinstance(recordings, Recording) or (isinstance(recordings, np.ndarray) and recordings.dtype != object):
        recordings = [recordings]
    out = []
    for i, r in enumerate(recordings):
        out.append(r if isinstance(r, Recording) else from_array(r, f"recording {i + 1}", i + 1))
    if not out:
        raise DataError("recordings: none given")
    return out


# ---------------------------------------------------------------------------- files
def input_files(paths) -> list[Path]:
    """FILE arguments expanded: a folder gives its recording/signal files (sorted), a file itself."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in RECORDING_SUFFIXES)
            if not found:
                raise DataError(f"{p}: folder holds no .mat, .h5, .npy, .npz, .csv or .txt file")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise DataError(f"{p}: no such file")
    out, seen = [], set()
    for f in files:  # a file named twice (or inside a folder also given) is read once
        if f.resolve() not in seen:
            seen.add(f.resolve())
            out.append(f)
    return out


def read_recordings(path, var=None, *, orientation=None, stream: bool | None = None,
                    exclude=(), time_column=None) -> list[Recording]:
    """The recordings of *var* in *path* (see the module docstring); HDF5/.npy numeric variables left on disk.

    *stream*: None leaves HDF5/.npy variables on disk, False reads every
    recording whole. *var* may also name a field of a record table or a column of a text table
    (``acc/table/ax``, ``ax``). *time_column*: see :func:`check_time_column`; a table's time column (a pandas
    index, a column named ``time_s``...) is left out by sigae.data.io's rules and said in ``Recording.note``.
    Raises DataError naming the file for a missing variable,
    cut signals, a recording with a clock among its channels, or anything that is not numbers.
    """
    from sigae.data.io import list_variables

    path = Path(path)
    where = str(path)
    if orientation not in (None, "rows", "columns"):
        raise DataError(f"{option('--orientation', 'orientation')}: {orientation!r}; choose rows or columns")
    infos = {v.name: v for v in list_variables(path)}
    if var is None:
        found = [v for v in infos.values() if v.kind in ("numeric", "logical") and max(v.shape or (0,)) > 1
                 and 0 not in v.shape and "complex" not in v.dtype and v.name not in exclude]  # e.g. --labels
        cut = [v for v in found if len(v.shape) > 2 or (len(v.shape) == 2 and min(v.shape) > MAX_CHANNELS)]
        if cut and len(found) > 1:
            _split(where, cut[0].name, cut[0].shape, None, None, False)  # says: cut signals, not a recording
        if len(found) != 1:
            what = "several variables could" if found else "no variable could"
            raise DataError(f"{where}: {what} hold the recording (candidates: {', '.join(v.name for v in found) or 'none'}; "
                            f"the file contains: {', '.join(infos) or 'nothing'}); choose one with --var")
        var = found[0].name
    recordings, named = _read(path, where, var, infos, orientation, stream, time_column)
    if named and time_column is not None:  # the table's own rules applied it, by name or number
        return recordings
    return check_time_column(recordings, time_column)


def _read(path, where, var, infos, orientation, stream, time_column) -> tuple[list[Recording], bool]:
    """The recordings of *var*, and whether they come from a table of named columns (*time_column* applied)."""
    from sigae.data.io import DEFAULT_MAX_BYTES, load_array_named

    head = re.match(r"[^.{(]+", var.replace(" ", "")).group(0) if var.strip() else ""
    if head in infos:
        info = infos[head]
        if var == head and info.kind == "cell":
            return _elements(path, [f"{var}{{{k}}}" for k in range(1, math.prod(info.shape) + 1)], orientation), False
        m = re.fullmatch(r"([^.{(]+)\.(\w+)", var.replace(" ", ""))
        if m and info.kind == "struct" and math.prod(info.shape) > 1:
            return _elements(path, [f"{head}({k}).{m.group(2)}" for k in range(1, math.prod(info.shape) + 1)],
                             orientation), False
        if stream is not False and var == head:
            lazy = _open_lazy(path, var)
            if lazy is not None:
                shape, reader = lazy
                return _split(where, var, shape, reader, orientation, streamed=True), False
        if var != head:
            names = _cell_element_names(path, var)
            if names:  # a cell inside a struct (data.trials): one recording per element
                return _elements(path, names, orientation), False
    # anything else, also a table's field (acc/table/ax, a CSV's column) or a pandas key (acc): sigae.data.io resolves
    # the name, or says what the file holds
    x, source, names = load_array_named(path, var, DEFAULT_MAX_BYTES, time_column)
    recordings = _split(where, source.var, x.shape, _array_reader(x), orientation, streamed=False)
    for r in recordings:
        r.note = source.note
        if names is not None and r.time_axis == 0 and r.channels == len(names):
            r.names = tuple(names)
    return recordings, names is not None


CLOCK_CHECK_POINTS = 100_000
"""The points of each recording that :func:`check_time_column` reads to find a clock among its channels."""


def check_time_column(recordings: list[Recording], time_column=None) -> list[Recording]:
    """The recordings with their time column (a clock) left out of the channels, or refused if they hold one.

    *time_column*: None looks for a channel of a multichannel recording that increases at every one of its
    first ``CLOCK_CHECK_POINTS`` points (a clock or a sample counter, not a sensor) and refuses the recording
    naming it; ``"none"`` keeps every channel as it is; a number K leaves channel K out of every recording
    (column K of an ``N x C`` matrix, row K of a ``C x N`` one), saying so in ``Recording.note``.
    """
    from sigae.data.io import clean

    if time_column is not None and str(time_column).strip().lower() == "none":
        return recordings
    if time_column is None:
        for r in recordings:
            if r.channels >= 2 and r.length >= 16:
                x = r.read(0, min(r.length, CLOCK_CHECK_POINTS))
                steps = np.diff(x, axis=0)
                rising = np.flatnonzero((steps > 0).all(axis=0))
                if len(rising):
                    k = int(rising[0])
                    option = clean(r.names[k]) if r.names else k + 1
                    raise DataError(f"{r.name}: {_line(r, k)} increases at every one of its {len(x):,} points "
                                    f"({_clock_text(x[:, k], steps[:, k])}), as a clock does: a time axis, not a "
                                    f"sensor channel; leave it out with --time-column {option} (a run trained so "
                                    "scores the same way), or keep it with --time-column none")
        return recordings
    text = str(time_column).strip()
    if not text.isdigit():
        raise DataError(f"{recordings[0].name}: --time-column {text}: the recording has no column names (no header "
                        "line, no record fields); give the column's number, e.g. --time-column 1")
    k = int(text)
    out = []
    for r in recordings:
        if not 1 <= k <= r.channels or r.channels < 2:
            raise DataError(f"{r.name}: --time-column {k}: the recording has {r.channels} channel(s), no column {k} "
                            "beside others")

        def read(a, b, r=r):
            return np.delete(np.asarray(r._read(a, b), dtype=np.float64).reshape(b - a, r.channels), k - 1, axis=1)

        note = f"{_line(r, k - 1)} read as the time axis, not a channel (--time-column {k})"
        out.append(Recording(r.file, r.var, r.index, r.length, r.channels - 1, read, r.streamed,
                             "; ".join(n for n in (r.note, note) if n), r.time_axis))
    return out


def _line(recording: Recording, k: int) -> str:
    """``column 3`` (``column 'ax'`` in a table, ``row 3`` when the recording's points run along the rows) for its
    0-based channel k."""
    from sigae.data.io import clean

    if recording.names:
        return f"column '{clean(recording.names[k])}'"
    return f"{'row' if recording.time_axis == 1 else 'column'} {k + 1}"


def _clock_text(values, steps) -> str:
    step = float(np.median(steps))
    if steps.max() - steps.min() <= 1e-3 * abs(step) + 1e-12 * np.abs(values).max():  # float rounding of a clock
        return f"evenly, by {step:.6g} from {values[0]:.10g}"
    return f"from {values[0]:.10g} to {values[-1]:.10g}"


def _cell_element_names(path, var) -> list[str]:
    """``var{1}``, ``var{2}``, ... while they exist: the elements of a cell reached through a struct field
    (empty when *var* is not a cell)."""
    from sigae.data.io import load_array

    names = []
    while True:
        name = f"{var}{{{len(names) + 1}}}"
        try:
            load_array(path, name)
        except DataError:
            return names
        names.append(name)


def _elements(path, names, orientation) -> list[Recording]:
    from sigae.data.io import load_array

    out = []
    for k, name in enumerate(names, 1):
        x = load_array(path, name)
        recs = _split(str(path), name, x.shape, _array_reader(x), orientation, streamed=False)
        if len(recs) != 1:
            raise DataError(f"{path}: '{name}' is {'x'.join(map(str, x.shape))}: each element must be one "
                            "recording (a vector, or N x C channels)")
        recs[0].index = k
        out.append(recs[0])
    return out


def _array_reader(x):
    """A reader of an in-memory array: *index* (a tuple of slices, one per axis) -> that part of it."""
    def read(index):
        return x[index]

    return read


def _split(where, var, shape, reader, orientation, streamed) -> list[Recording]:
    """Recordings of a numeric variable of *shape*; *reader(index tuple)* reads part of it."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0 or math.prod(shape) == 0:
        raise DataError(f"{where}: variable '{var}' is empty or a single number, not a recording")
    if len(shape) > 2:
        raise DataError(f"{where}: variable '{var}' is {'x'.join(map(str, shape))}: cut signals (signals x points "
                        "x channels), not a recording; cut signals take a model trained without --window")
    if len(shape) == 1 or 1 in shape:
        n = max(shape)
        axis = int(np.argmax(shape)) if len(shape) == 2 else 0

        def read1(a, b):
            index = [slice(None)] * len(shape)
            index[axis] = slice(a, b)
            return np.asarray(reader(tuple(index))).reshape(b - a, 1)

        return [Recording(where, var, 1, n, 1, read1, streamed)]
    rows, cols = shape
    if orientation is None:
        if min(rows, cols) > MAX_CHANNELS:
            raise DataError(f"{where}: variable '{var}' is {rows}x{cols}: that looks like {rows} cut signals of "
                            f"{cols} points, not a recording; cut signals take a model trained without --window; "
                            "or say --orientation rows (or columns) to window each row (column) as a recording")
        time_axis = 0 if rows >= cols else 1
        channels = shape[1 - time_axis]

        def read_all(a, b):
            index = [slice(None), slice(None)]
            index[time_axis] = slice(a, b)
            part = np.asarray(reader(tuple(index)))
            return part if time_axis == 0 else part.T

        return [Recording(where, var, 1, shape[time_axis], channels, read_all, streamed, time_axis=time_axis)]
    time_axis = 1 if orientation == "rows" else 0
    out = []
    for k in range(shape[1 - time_axis]):
        def read_one(a, b, k=k):
            index = [slice(None), slice(None)]
            index[time_axis], index[1 - time_axis] = slice(a, b), slice(k, k + 1)
            return np.asarray(reader(tuple(index))).reshape(b - a, 1)

        label = f"{var}({k + 1},:)" if orientation == "rows" else f"{var}(:,{k + 1})"
        out.append(Recording(where, label, k + 1, shape[time_axis], 1, read_one, streamed))
    return out


def _open_lazy(path: Path, var: str):
    """``(shape, reader)`` of a numeric variable left on disk (HDF5 / MAT v7.3 dataset, .npy), or None.

    *shape* is the MATLAB (or numpy) shape; *reader(index)* reads the part of it
    an index tuple of slices names, in that shape.
    """
    import h5py

    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError):
            return None
        if array.dtype.kind not in "biuf" or array.ndim > 2:
            return None
        return array.shape, lambda index: np.array(array[index], dtype=np.float64)
    if suffix not in (".h5", ".hdf5", ".mat") or not h5py.is_hdf5(path):
        return None
    with h5py.File(path, "r") as f:
        obj = f.get(var)
        if not isinstance(obj, h5py.Dataset) or obj.dtype.kind not in "biuf" or obj.ndim > 2:
            return None
        matlab = suffix == ".mat" or "MATLAB_class" in obj.attrs
        if matlab and obj.attrs.get("MATLAB_empty", 0):
            return None
        stored = obj.shape
    shape = tuple(reversed(stored)) if matlab else stored

    def read(index):
        with h5py.File(path, "r") as f:
            ds = f[var]
            if matlab:
                return np.asarray(ds[tuple(reversed(index))], dtype=np.float64).T
            return np.asarray(ds[index], dtype=np.float64)

    return shape, read


def read_labels(path, var, recordings: list[Recording]) -> list[np.ndarray]:
    """Per-point 0/1 labels for each of *recordings* (same file), from *var* laid out as the recordings are."""
    labels = read_recordings(path, var, orientation=_orientation_of(recordings), stream=False)
    if len(labels) != len(recordings):
        raise DataError(f"{path}: '{var}' holds {len(labels)} label vector(s) for {len(recordings)} recording(s)")
    out = []
    for lab, rec in zip(labels, recordings):
        if lab.length != rec.length or lab.channels != 1:
            raise DataError(f"{path}: '{lab.var}' has {lab.length} x {lab.channels} labels for {rec.length} points "
                            f"of '{rec.var}'; need one label per point")
        out.append(lab.to_array()[:, 0])
    return out


def _orientation_of(recordings) -> str | None:
    var = recordings[0].var
    if var.endswith(",:)"):
        return "rows"
    if "(:," in var:
        return "columns"
    return None
