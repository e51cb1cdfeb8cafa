"""Results of many signals written block by block, and signals files read a block at a time.

:func:`open_signals` gives a file's signals left on disk when the format allows (HDF5, MAT v7.3, .npy:
:class:`sigae.data.io.SignalDataset`), else read whole; :func:`iter_chunks` walks them *rows* signals at a time
(:func:`chunk_rows`: about ``CHUNK_BYTES`` of float64 per block). :func:`result_writer` writes the results of
each block as they come, into the file :func:`sigae.data.io.save_array` would write for the whole arrays; the
sinks (:class:`MemorySink`, :class:`NpzSink`, :class:`CsvSink`, :class:`H5Sink`) are its per-format writers.
Used by :mod:`sigae.estimator.streaming` (encode and score files larger than memory) and
:mod:`sigae.estimator.windowed`.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np

from sigae.errors import DataError
from sigae.data.files import atomic_path, check_writable
from sigae.data.io import (SignalDataset, clean, csv_text, load_signals, matlab_names, npz_put, open_signal_dataset, save_array, writable, writer_for)
from sigae.data.io.writing import csv_table

CHUNK_BYTES = 16 * 2**20
"""Float64 signals per block: about 4,000 signals of 501 points."""

IN_MEMORY_BYTES = 32 * 2**20
""".mat results up to this size are saved by save_array as MAT v5; larger ones are written as MATLAB v7.3."""


# ---------------------------------------------------------------------------- reading
@contextlib.contextmanager
def open_signals(path, var=None, *, orientation=None, expected_length=None, length_policy=None, layout=None,
                 expected_channels=None, time_column=None):
    """Yield ``(signals, SignalSource)``: a SignalDataset if the file can be streamed, else load_signals' array.

    The keywords are :func:`sigae.data.io.load_signals`'."""
    with open_signal_dataset(path, var, orientation=orientation, expected_length=expected_length, layout=layout,
                             expected_channels=expected_channels, time_column=time_column) as dataset:
        if dataset is not None:
            yield dataset, dataset.source
        else:
            yield load_signals(path, var, orientation=orientation, expected_length=expected_length,
                               length_policy=length_policy, return_info=True, layout=layout,
                               expected_channels=expected_channels, time_column=time_column)


def chunk_rows(shape, batch_size: int) -> int:
    """Signals per block for signals of *shape*: about CHUNK_BYTES of float64, a whole number of batches of
    *batch_size* (the model's inference batch)."""
    return batch_size * max(1, CHUNK_BYTES // (batch_size * math.prod(shape[1:]) * 8))


def iter_chunks(signals, rows: int):
    """``(start, block)`` over an array or a SignalDataset, *rows* signals at a time."""
    read = signals.read if isinstance(signals, SignalDataset) else lambda start, stop: signals[start:stop]
    for start in range(0, len(signals), rows):
        yield start, read(start, min(start + rows, len(signals)))


# ---------------------------------------------------------------------------- writing
class ResultWriter:
    """Results of *n* signals, written block by block: see :func:`result_writer`."""

    def __init__(self, path: Path, n: int, overwrite: bool, stack: contextlib.ExitStack, csv_columns=None):
        self.path, self.n, self.overwrite, self._stack = path, n, overwrite, stack
        self.csv_columns = csv_columns
        self._sink, self._extras, self._rows = None, {}, 0

    def write(self, start: int, **arrays) -> None:
        """Rows ``start:start + len(block)`` of each per-signal array, blocks in order; the first array is the
        file's main one (the only one a .csv holds)."""
        if start != self._rows:
            raise ValueError(f"blocks must come in order: rows {start}.. after {self._rows}")
        arrays = {name: np.asarray(value) for name, value in arrays.items()}
        if self._sink is None:
            self._sink = self._open({name: (value.shape[1:], value.dtype) for name, value in arrays.items()})
        self._sink.write(start, arrays)
        self._rows += len(next(iter(arrays.values())))

    def add(self, **extras) -> None:
        """Variables that are not per signal (numbers, strings, small arrays), written at the end."""
        self._extras.update({key: writable(self.path, key, value) for key, value in extras.items()})

    def _open(self, spec: dict):
        suffix = self.path.suffix.lower()
        size = self.n * sum(math.prod(tail) * dtype.itemsize for tail, dtype in spec.values())
        if suffix == ".mat" and size <= IN_MEMORY_BYTES:
            return MemorySink(self.path, self.n, spec, self.overwrite)
        tmp = self._stack.enter_context(atomic_path(self.path, self.overwrite))
        if suffix == ".csv":
            sink = CsvSink(tmp, next(iter(spec)), self.csv_columns)
        elif suffix == ".npz":
            sink = NpzSink(tmp, self.n, spec)
        else:
            sink = H5Sink(self.path, tmp, self.n, spec, matlab=suffix == ".mat")
        self._stack.callback(sink.close)  # before atomic_path renames (or removes) the file
        return sink

    def _finish(self) -> None:
        if self._rows != self.n:
            raise ValueError(f"{self._rows} rows written for {self.n} signals")
        self._sink.finish(self._extras)


@contextlib.contextmanager
def result_writer(path, n: int, *, overwrite: bool = False, csv_columns=None):
    """Yield a :class:`ResultWriter` for the results of *n* signals; the file appears when the block ends.

    The file is the one :func:`sigae.data.io.save_array` writes, but per-signal
    arrays are written as their blocks come: ``.h5``/``.hdf5`` datasets filled
    block by block; ``.csv`` rows appended (the main array, or with
    *csv_columns* those per-signal arrays under a header line); ``.npz`` entries gathered on disk.
    ``.mat`` results up to ``IN_MEMORY_BYTES`` are gathered and saved by
    save_array (MAT v5, readable by scipy and every MATLAB); larger ones are
    written as MATLAB v7.3 block by block. On an error nothing is left behind,
    and an existing *path* is replaced only with *overwrite*.
    """
    path = Path(path)
    writer_for(path)
    check_writable(path, overwrite)
    if n < 1:
        raise DataError(f"{clean(path)}: no signals to write")
    with contextlib.ExitStack() as stack:
        writer = ResultWriter(path, int(n), overwrite, stack, csv_columns)
        yield writer
        writer._finish()


class MemorySink:
    """Per-signal arrays gathered in memory, then saved with save_array."""

    def __init__(self, path, n, spec, overwrite):
        self.path, self.overwrite = path, overwrite
        self.arrays = {name: np.empty((n,) + tail, dtype) for name, (tail, dtype) in spec.items()}

    def write(self, start, arrays):
        for name, value in arrays.items():
            self.arrays[name][start:start + len(value)] = value

    def finish(self, extras):
        (name, array), *rest = self.arrays.items()
        save_array(self.path, name, array, overwrite=self.overwrite, **dict(rest), **extras)


class NpzSink:
    """Per-signal arrays appended to unnamed .npy files beside the output, copied into the archive at the end
    (the entries of a zip archive are written one after the other)."""

    def __init__(self, tmp, n, spec):
        self.tmp, self.parts = tmp, {}
        for name, (tail, dtype) in spec.items():
            self.parts[name] = tempfile.TemporaryFile(dir=tmp.parent)
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,) + tail}
            np.lib.format.write_array_header_1_0(self.parts[name], header)

    def write(self, start, arrays):
        for name, value in arrays.items():
            self.parts[name].write(value.tobytes())

    def finish(self, extras):
        with zipfile.ZipFile(self.tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, part in self.parts.items():
                part.seek(0)
                with archive.open(f"{name}.npy", "w", force_zip64=True) as fh:
                    shutil.copyfileobj(part, fh, 2**24)
            for key, value in extras.items():
                npz_put(archive, key, value)

    def close(self):
        for part in self.parts.values():
            part.close()


class CsvSink:
    """The main per-signal array as text rows (save_array writes nothing else to a .csv), or the *columns*
    under a header line."""

    def __init__(self, tmp, main, columns=None):
        self.main, self.columns, self.file = main, columns, open(tmp, "w", encoding="utf-8")

    def write(self, start, arrays):
        if self.columns is None:
            self.file.write(csv_text(arrays[self.main]))
            return
        text = csv_table(self.file.name, [(name, arrays[name]) for name in self.columns])
        self.file.write(text if start == 0 else text.split("\n", 1)[1])

    def finish(self, extras):
        pass

    def close(self):
        self.file.close()


MATLAB_CLASSES = {"float64": "double", "float32": "single", "bool": "logical", "int8": "int8", "uint8": "uint8",
                   "int16": "int16", "uint16": "uint16", "int32": "int32", "uint32": "uint32", "int64": "int64",
                   "uint64": "uint64"}


class H5Sink:
    """Per-signal arrays as preallocated HDF5 datasets filled block by block, then the other variables.

    With *matlab*, a MAT-file v7.3: names made MATLAB-valid, arrays stored
    column-major (transposed, 1-D as columns) with their MATLAB_class, and the
    512-byte MATLAB header written when the file is closed.
    """

    def __init__(self, path, tmp, n, spec, matlab):
        self.path, self.tmp, self.matlab = path, tmp, matlab
        self.file = h5py.File(tmp, "w", userblock_size=512) if matlab else h5py.File(tmp, "w")
        names = matlab_names(path, spec) if matlab else {name: name for name in spec}
        self.datasets = {}
        for name, (tail, dtype) in spec.items():
            if matlab:
                shape = tuple(reversed((n,) + (tail or (1,))))
                self.datasets[name] = self._create_v73(names[name], shape, dtype)
            else:
                self.datasets[name] = self.file.create_dataset(name, (n,) + tail, dtype)

    def write(self, start, arrays):
        for name, value in arrays.items():
            stop = start + len(value)
            if self.matlab:
                matrix = value.reshape((len(value),) + (value.shape[1:] or (1,)))
                self.datasets[name][..., start:stop] = _v73_data(matrix)
            else:
                self.datasets[name][start:stop] = value

    def finish(self, extras):
        if not self.matlab:
            for key, value in extras.items():
                self.file.create_dataset(key, data=value)
            return
        names = matlab_names(self.path, [*self.datasets, *extras])
        for key, value in extras.items():
            if isinstance(value, str):
                self.put_v73_text(names[key], value)
            else:
                self.put_v73_array(names[key], value)

    def close(self):
        self.file.close()
        if self.matlab:
            write_mat73_header(self.tmp)

    def _create_v73(self, name, shape, dtype):
        data = self.file.create_dataset(name, shape, np.uint8 if dtype == bool else dtype)
        data.attrs["MATLAB_class"] = np.bytes_(MATLAB_CLASSES[np.dtype(dtype).name])
        return data

    def put_v73_array(self, name, value):
        matrix = value.reshape(1, 1) if value.ndim == 0 else value.reshape(-1, 1) if value.ndim == 1 else value
        if matrix.size == 0:
            self._put_v73_empty(name, matrix.shape, MATLAB_CLASSES[value.dtype.name])
        else:
            self._create_v73(name, matrix.T.shape, value.dtype)[...] = _v73_data(matrix)

    def put_v73_text(self, name, text):
        if not text:
            self._put_v73_empty(name, (0, 0), "char")
            return
        codes = np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype="<u2")
        data = self.file.create_dataset(name, data=codes.reshape(-1, 1))  # MATLAB 1xk char, stored k x 1
        data.attrs["MATLAB_class"] = np.bytes_("char")
        data.attrs["MATLAB_int_decode"] = np.int32(2)

    def _put_v73_empty(self, name, shape, cls):
        data = self.file.create_dataset(name, data=np.array(shape, dtype=np.uint64))
        data.attrs["MATLAB_class"] = np.bytes_(cls)
        data.attrs["MATLAB_empty"] = np.uint8(1)


def _v73_data(matrix: np.ndarray) -> np.ndarray:
    """A MATLAB-order array as stored in a v7.3 file: transposed (column-major), logical as uint8."""
    return np.ascontiguousarray(matrix.T, dtype=np.uint8 if matrix.dtype == bool else None)


def write_mat73_header(path) -> None:
    """Make an HDF5 file made with ``userblock_size=512`` a MAT-file v7.3: MATLAB's 128-byte header in the block."""
    text = (f"MATLAB 7.3 MAT-file, Platform: {os.name}, Created on: {time.strftime('%a %b %d %H:%M:%S %Y')} "
            "HDF5 schema 1.00 .")
    with open(path, "r+b") as fh:
        fh.write(text.encode("ascii").ljust(116, b" ") + bytes(8) + b"\x00\x02IM")
