"""Read signals and arrays from MATLAB, numpy, CSV and HDF5 files; write results.

Readers: ``.mat`` v4/v5/v7 through :func:`scipy.io.loadmat`, ``.mat`` v7.3 and
``.h5``/``.hdf5`` through h5py, ``.npy``/``.npz`` through :mod:`numpy.lib.format`,
``.csv``/``.txt`` through :func:`numpy.loadtxt`. Every variable is seen as a
*node* (numeric, logical, char, cell, struct, sparse, ...) so that choosing a
variable, walking ``data.trials{3}`` and converting to float64 work the same for
every format. Bad input only ever raises :class:`DataError` with a one-line
message that starts with the file name.

:func:`open_signal_dataset` leaves large signals on disk instead (HDF5, MAT
v7.3, .npy): a :class:`SignalDataset` reads them a block of signals at
a time with the same checks and messages (see :mod:`sigae.streaming`).
"""

from __future__ import annotations

import contextlib
import math
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import scipy.io
import scipy.sparse
from scipy.io.matlab import MatlabFunction, MatlabObject, MatlabOpaque

from .errors import DataError
from .fileutil import atomic_path

DEFAULT_MAX_BYTES = 8 * 2**30

READ_SUFFIXES = (".mat", ".npy", ".npz", ".csv", ".txt", ".h5", ".hdf5")
WRITE_SUFFIXES = (".mat", ".npz", ".csv", ".h5", ".hdf5")

_NUMERIC_CLASSES = {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
_V5_KINDS = {"logical": "logical", "char": "char", "cell": "cell", "struct": "struct", "sparse": "sparse",
             "function": "function_handle", "object": "object", "opaque": "object"}
_MATLAB_KEYWORDS = {"break", "case", "catch", "classdef", "continue", "else", "elseif", "end", "for", "function",
                    "global", "if", "otherwise", "parfor", "persistent", "return", "spmd", "switch", "try", "while"}
_FORMAT_NAMES = {".mat": "MAT-file", ".npy": ".npy file", ".npz": ".npz archive", ".csv": "text table",
                 ".txt": "text table", ".h5": "HDF5 file", ".hdf5": "HDF5 file"}
_LISTED = 20  # variables named in one message at most


@dataclass(frozen=True)
class VariableInfo:
    """One variable of a file, described from headers without reading its data.

    ``dtype`` is the MATLAB class for ``.mat`` files ("double", "int16", "cell"...)
    and the numpy dtype name for the other formats.
    """

    name: str
    shape: tuple
    kind: str
    dtype: str


@dataclass(frozen=True)
class SignalSource:
    """Where signals came from: file, variable path, orientation, and a note for the user ("" if none)."""

    path: str
    var: str
    orientation: str
    note: str = ""


# ---------------------------------------------------------------------------- public API
def load_signals(path, var=None, *, orientation=None, expected_length=None, length_policy=None,
                 max_bytes=DEFAULT_MAX_BYTES, min_length=2, return_info=False):
    """Signals as float64 ``(n, L)``, or ``(n, L, C)`` for a 3-D variable; with *return_info* also a SignalSource.

    *var* names the variable (``data.trial``, ``c{3}``, ``s(2).x``); by default the
    only numeric matrix that can hold signals. *orientation* "rows"/"columns"
    forces how signals are laid out; by default rows, or columns when only their
    length matches *expected_length*. A cell of vectors becomes one row per cell;
    *length_policy* "crop" or "pad" evens out different lengths.
    """
    _check_choice("orientation", orientation, ("rows", "columns"))
    _check_choice("length_policy", length_policy, ("crop", "pad"))
    with _open(path, max_bytes) as src:
        node = _choose(src, var, "signals", max_bytes)
        if node.kind == "cell":
            x = _stack_cell(src.where, node, length_policy, max_bytes)
            x, layout, note = _check_cell_layout(src.where, node.label, x, orientation, expected_length)
        else:
            x = _numeric(src.where, node, max_bytes)
            x, layout, note = _orient(src.where, node.label, x, orientation, expected_length)
        _check_signal_count(src.where, node.label, x.shape, min_length)
        _check_finite(src.where, node.label, x, signals=True)
    return (x, SignalSource(str(path), node.label, layout, note)) if return_info else x


def load_array(path, var=None, *, max_bytes=DEFAULT_MAX_BYTES, return_info=False):
    """Any real numeric variable (labels, latent codes...) as float64, with the same choice and error rules."""
    with _open(path, max_bytes) as src:
        node = _choose(src, var, "numbers", max_bytes)
        x = _numeric(src.where, node, max_bytes)
        _check_finite(src.where, node.label, x, signals=False)
    return (x, SignalSource(str(path), node.label, "rows")) if return_info else x


def list_variables(path) -> list[VariableInfo]:
    """The variables of a file, from headers only (nothing large is read)."""
    with _open(path, DEFAULT_MAX_BYTES) as src:
        return list(src.variables())


class SignalDataset:
    """Signals left in their file, read a block of signals at a time; see :func:`open_signal_dataset`.

    ``shape`` and ``len()`` are those of the array :func:`load_signals` would
    return, ``source`` says where the signals come from.
    """

    def __init__(self, source: SignalSource, shape: tuple, read_block: Callable[[int, int], np.ndarray]):
        self.source, self.shape, self._read_block = source, tuple(shape), read_block

    def __len__(self):
        return self.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Signals ``start:stop`` as float64, refused as by load_signals if the variable holds NaN/Inf there.

        The message is the one for the whole variable: on a NaN/Inf the rest of it is read to count them.
        """
        x = self._block(start, stop)
        _check_finite(_clean(self.source.path), self.source.var, x, signals=True, offset=start,
                      count_rest=lambda: self._count_nonfinite(stop, max(stop - start, 1)))
        return x

    def _block(self, start, stop):
        with _reading(self.source.path):
            return np.ascontiguousarray(self._read_block(start, stop), dtype=np.float64)

    def _count_nonfinite(self, start, rows):
        return sum(int(np.count_nonzero(~np.isfinite(self._block(i, min(i + rows, len(self))))))
                   for i in range(start, len(self), rows))


@contextlib.contextmanager
def open_signal_dataset(path, var=None, *, orientation=None, expected_length=None, min_length=2):
    """Yield the signals of *path* as a :class:`SignalDataset` left on disk, or None to use :func:`load_signals`.

    A numeric variable of an HDF5 file (``.h5``/``.hdf5``, ``.mat`` v7.3) or an
    ``.npy`` file (either memory order; signals as columns only if 2-D) is streamed, whatever its size;
    anything else (other formats, cells, complex or empty variables...) gives
    None, and load_signals reads it or says what is wrong with it. The choice of
    variable, the orientation and their messages are load_signals'; NaN/Inf are
    found block by block by :meth:`SignalDataset.read`.
    """
    _check_choice("orientation", orientation, ("rows", "columns"))
    if not _streamable_file(Path(path)):
        yield None
        return
    with _reading(path):
        src = _open_checked(path, math.inf)
    with contextlib.closing(src):
        with _reading(path):
            dataset = _signal_dataset(src, str(path), var, orientation, expected_length, min_length)
        yield dataset


def _streamable_file(path: Path) -> bool:
    """An HDF5 file (.h5, .hdf5, .mat v7.3) or an .npy file, by extension and signature."""
    try:
        suffix = path.suffix.lower()
        return path.is_file() and path.stat().st_size > 0 and (
            suffix in (".h5", ".hdf5", ".npy") or (suffix == ".mat" and _is_matlab_hdf5(path)))
    except OSError:
        return False  # load_signals reports it


def _signal_dataset(src: _Container, path: str, var, orientation, expected_length,
                    min_length) -> SignalDataset | None:
    """The variable load_signals would read, as a SignalDataset if it is a plain numeric array we can read by blocks."""
    node = _choose(src, var, "signals", math.inf)  # no size limit: nothing is read whole
    if (node.kind not in ("numeric", "logical") or node.dtype is None or node.dtype.kind not in "biuf"
            or len(node.shape) not in (2, 3) or 0 in node.shape):
        return None
    columns, note = _orientation(src.where, node.label, node.shape, orientation, expected_length)
    shape = (node.shape[1], node.shape[0]) + node.shape[2:] if columns else node.shape
    _check_signal_count(src.where, node.label, shape, min_length)
    read = _h5_blocks(node, columns) if isinstance(node, _H5Node) else _npy_blocks(src.path, shape, columns)
    if read is None:
        return None
    return SignalDataset(SignalSource(path, node.label, "columns" if columns else "rows", note), shape, read)


def _h5_blocks(node: _H5Node, columns: bool):
    """A reader of signals ``start:stop`` of an HDF5 dataset: MATLAB's transposition and the orientation undone."""
    dataset = node.obj
    axes = list(range(dataset.ndim))[::-1] if node.matlab else list(range(dataset.ndim))
    if columns:
        axes[0], axes[1] = axes[1], axes[0]  # axes[i]: the stored axis of axis i of the signals-first array

    def read(start, stop):
        index = [slice(None)] * dataset.ndim
        index[axes[0]] = slice(start, stop)
        return dataset[tuple(index)].transpose(axes)

    return read


def _npy_blocks(path: Path, shape, columns: bool):
    """A reader of signals ``start:stop`` of an .npy file, or None for a layout it cannot read by blocks.

    Signals stored contiguously (rows of a C-ordered array, columns of a 2-D Fortran-ordered one) are read in
    one piece; signals stored point by point (rows of a Fortran-ordered array, as ``np.save`` writes what
    ``scipy.io.loadmat`` returns, or columns of a 2-D C-ordered one) with one read per point. Plain reads, not
    a memory map: only the signals being read count in the process's memory.
    """
    with open(path, "rb") as fh:
        _, fortran, dtype = _npy_header(fh)
        offset = fh.tell()
    n, row = shape[0], math.prod(shape[1:])
    if columns and len(shape) != 2:
        return None
    point_major = fortran != columns

    def read(start, stop):
        count = stop - start
        with open(path, "rb") as fh:
            if not point_major:
                fh.seek(offset + start * row * dtype.itemsize)
                data = np.fromfile(fh, dtype=dtype, count=count * row)
            else:
                parts = []
                for point in range(row):
                    fh.seek(offset + (point * n + start) * dtype.itemsize)
                    parts.append(np.fromfile(fh, dtype=dtype, count=count))
                data = np.concatenate(parts).reshape(row, count).T if parts else np.zeros(0, dtype)
        if data.size != count * row:
            raise ValueError("the file is shorter than its header says")
        return data.reshape((count,) + tuple(shape[1:]), order="F" if point_major else "C")

    return read


def save_array(path, name, array, *, overwrite=False, **extra) -> Path:
    """Write *array* as variable *name* plus *extra* variables; the format follows the extension.

    ``.mat``: MATLAB v5, compressed, names made MATLAB-valid, 1-D arrays as columns;
    ``.npz``: keys as given; ``.csv``: *array* only, 2-D (1-D as a column), each
    number in the shortest form that reads back exactly; ``.h5``/``.hdf5``: one
    dataset per variable. Extras may be arrays, numbers, booleans or strings. The
    file appears atomically; an existing file is refused (OutputExistsError)
    unless *overwrite*.
    """
    path = Path(path)
    writer = _writer_for(path)
    if not isinstance(name, str) or not name:
        raise DataError(f"{_clean(path)}: the variable name must be non-empty text, got {name!r}")
    if name in extra:
        raise DataError(f"{_clean(path)}: variable {_q(name)} is given twice")
    variables = {key: _writable(path, key, value) for key, value in {name: array, **extra}.items()}
    if not isinstance(variables[name], np.ndarray):
        raise DataError(f"{_clean(path)}: variable {_q(name)} must be an array, not text")
    with atomic_path(path, overwrite) as tmp:
        writer(path, tmp, name, variables)
    return path


# ---------------------------------------------------------------------------- messages
def _clean(text) -> str:
    """*text* on one printable line: control characters and undecodable bytes escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))


def _q(name) -> str:
    return f"'{_clean(name)}'"


def _shape_text(shape) -> str:
    return "x".join(str(int(s)) for s in shape) if len(shape) else "scalar"


def _bytes_text(n: int) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _listing(infos, *, with_type=True) -> str:
    """``a (100x501 double), c (1x3 cell)``, at most _LISTED entries."""
    def describe(i):
        kind = i.dtype if i.kind in ("numeric", "logical") else i.kind
        return f"{_clean(i.name)} ({_shape_text(i.shape)}{' ' + _clean(kind) if with_type else ''})"

    text = ", ".join(describe(i) for i in infos[:_LISTED])
    return text + (f" and {len(infos) - _LISTED} more" if len(infos) > _LISTED else "") if text else "no variables"


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "error":  # zlib.error, struct.error
        name = f"{type(exc).__module__}.error"
    text = _clean(f"{name}: {exc}" if str(exc) else name)
    return text if len(text) <= 200 else text[:197] + "..."


def _check_choice(option, value, allowed):
    if value is not None and value not in allowed:
        raise ValueError(f"{option} must be one of {allowed} or None, got {value!r}")


# ---------------------------------------------------------------------------- nodes
class _Node:
    """A variable or a part of one: kind, MATLAB-order shape, numpy dtype (None if not an array yet)."""

    label: str
    kind: str
    shape: tuple
    dtype: np.dtype | None = None

    def fields(self) -> list[str]:
        return []

    def field(self, name: str, label: str) -> _Node:
        raise NotImplementedError

    def element(self, index: tuple, label: str) -> _Node:
        raise NotImplementedError

    def read(self) -> np.ndarray:
        raise NotImplementedError


def _dtype_kind(dtype: np.dtype) -> str:
    """The kind of a plain numpy array."""
    if dtype.names:
        return "numeric" if set(dtype.names) == {"real", "imag"} else "other"
    return {"b": "logical", "i": "numeric", "u": "numeric", "f": "numeric", "c": "numeric",
            "U": "char", "S": "char", "O": "object"}.get(dtype.kind, "other")


class _LeafNode(_Node):
    """An array known by its header, read on demand (npy, npz, csv)."""

    def __init__(self, label, shape, dtype, reader: Callable[[], np.ndarray]):
        self.label, self.shape, self.dtype, self._reader = label, tuple(shape), dtype, reader
        self.kind = _dtype_kind(dtype)

    def read(self):
        return self._reader()


class _ValueNode(_Node):
    """A value returned by scipy.io.loadmat (squeeze_me=False, struct_as_record=True)."""

    def __init__(self, value, label):
        self.value, self.label = value, label
        self.shape = tuple(getattr(value, "shape", ()))
        if isinstance(value, MatlabFunction):
            self.kind = "function_handle"
        elif isinstance(value, (MatlabObject, MatlabOpaque)):
            self.kind = "object"
        elif scipy.sparse.issparse(value):
            self.kind, self.dtype = "sparse", value.dtype
        elif isinstance(value, np.ndarray):
            self.dtype = value.dtype
            self.kind = "struct" if value.dtype.names else "cell" if value.dtype.kind == "O" else _dtype_kind(
                value.dtype)
        else:
            self.kind = "other"

    def fields(self):
        return list(self.value.dtype.names)

    def field(self, name, label):
        return _ValueNode(self.value.flat[0][name], label)

    def element(self, index, label):
        if self.kind == "struct":
            return _ValueNode(self.value[tuple(slice(i, i + 1) for i in index)], label)
        return _ValueNode(self.value[index], label)

    def read(self):
        return _dense(self.value) if self.kind == "sparse" else self.value


def _dense(matrix) -> np.ndarray:
    """A sparse matrix as an array, its indices checked first (toarray trusts them)."""
    matrix.check_format(full_check=True)
    return matrix.toarray()


def _attr_text(value) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _h5_key(name: str) -> bytes:
    """HDF5 names are bytes; non-UTF-8 ones round-trip through surrogate escapes."""
    return name.encode("utf-8", "surrogateescape")


def _h5_name(key) -> str:
    return key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key


class _H5Node(_Node):
    """An HDF5 object; with *matlab* it follows MATLAB's v7.3 conventions (transposed, MATLAB_class)."""

    def __init__(self, obj, label, matlab, element=None):
        self.obj, self.label, self.matlab, self._element = obj, label, matlab, element
        self.cls = _attr_text(obj.attrs.get("MATLAB_class", b"")) if matlab else ""
        self._refs = False  # a struct array: its fields are datasets of references
        if isinstance(obj, h5py.Group):
            self._init_group()
        else:
            self._init_dataset()

    def _init_group(self):
        attrs = self.obj.attrs
        self.shape = ()
        if not self.matlab:
            self.kind = "other"
        elif "MATLAB_sparse" in attrs:
            self.kind = "sparse"
            jc = self.obj["jc"]
            self.shape = (int(attrs["MATLAB_sparse"]), max(jc.shape[0] - 1, 0) if jc.ndim == 1 else 0)
            self.dtype = np.dtype(bool) if self.cls == "logical" else (
                self.obj["data"].dtype if "data" in self.obj else np.dtype(np.float64))
        elif self.cls == "struct":
            self.kind, self.shape = "struct", (1, 1)
            for member in self.obj.values():
                if isinstance(member, h5py.Dataset) and member.dtype == h5py.ref_dtype \
                        and "MATLAB_class" not in member.attrs:
                    self._refs = True
                    self.shape = tuple(reversed(member.shape)) if self._element is None else (1, 1)
                    break
        else:
            self.kind = "function_handle" if self.cls == "function_handle" else "object" if self.cls else "other"

    def _init_dataset(self):
        obj, cls = self.obj, self.cls
        self.shape = tuple(reversed(obj.shape)) if self.matlab else tuple(obj.shape)
        dtype = np.dtype(np.complex128) if obj.dtype.names and set(obj.dtype.names) == {"real", "imag"} else obj.dtype
        if not cls:
            self.kind = ("cell" if self.matlab and dtype == h5py.ref_dtype
                         else "char" if h5py.check_string_dtype(dtype) else _dtype_kind(dtype))
        elif cls in _NUMERIC_CLASSES or cls == "logical":
            self.kind = "numeric" if cls != "logical" else "logical"
        else:
            self.kind = {"char": "char", "cell": "cell", "struct": "struct",
                         "function_handle": "function_handle"}.get(cls, "object")
        if self.kind in ("numeric", "logical"):
            self.dtype = np.dtype(bool) if cls == "logical" else dtype
        if self.matlab and self._is_empty():
            self.shape = tuple(int(d) for d in obj[()].ravel()) if obj.size <= 32 else (0, 0)

    def _is_empty(self):
        return bool(np.any(self.obj.attrs.get("MATLAB_empty", 0)))

    def info(self, name) -> VariableInfo:
        if self.matlab:
            dtype = self.cls or self.kind
            if self.dtype is not None and self.dtype.kind == "c":
                dtype = f"complex {dtype}"
        else:
            dtype = self.dtype.name if self.dtype is not None else self.kind
        return VariableInfo(name, self.shape, self.kind, dtype)

    def fields(self):
        return [_h5_name(k) for k in self.obj]

    def field(self, name, label):
        member = self.obj[_h5_key(name)]
        if self._refs:
            index = self._element if self._element is not None else (0,) * member.ndim
            member = self.obj.file[member[index]]
        return _H5Node(member, label, self.matlab)

    def element(self, index, label):
        h5_index = tuple(reversed(index))
        if self.kind == "struct":
            return _H5Node(self.obj, label, self.matlab, element=h5_index)
        return _H5Node(self.obj.file[self.obj[h5_index]], label, self.matlab)

    def read(self):
        if self.kind == "sparse":
            if "data" not in self.obj:
                return np.zeros(self.shape)
            data, ir, jc = (self.obj[k][()].ravel() for k in ("data", "ir", "jc"))
            return _dense(scipy.sparse.csc_array((data, ir, jc), shape=self.shape))
        if self.matlab and self._is_empty():
            return np.zeros(self.shape)
        data = self.obj[()]
        return data.T if self.matlab else data


# ---------------------------------------------------------------------------- containers
class _Container:
    """An open file: its variables (from headers) and a node per top-level name."""

    def __init__(self, path: Path, where: str):
        self.path, self.where = path, where

    def variables(self) -> list[VariableInfo]:
        raise NotImplementedError

    def root(self, name: str) -> _Node:
        raise NotImplementedError

    def split(self, var: str) -> tuple[str, list]:
        """(top-level name, steps) of a variable path; only MATLAB files have a path syntax."""
        return var, []

    def close(self):
        pass


class _MatScipy(_Container):
    """MAT-file v4, v5/v6 and v7 (compressed) through scipy.io; v5 variables pass _V5Guard first."""

    def __init__(self, path, where, max_bytes):
        super().__init__(path, where)
        self.max_bytes = max_bytes
        self.v4 = scipy.io.matlab.matfile_version(path)[0] == 0
        self._entries = scipy.io.whosmat(path, chars_as_strings=False)  # file order, as stored
        self._infos = [VariableInfo(name, tuple(shape), _V5_KINDS.get(cls, "numeric" if cls in _NUMERIC_CLASSES
                                                                       else "other"), cls)
                       for name, shape, cls in self._entries if not name.startswith("__")]

    def variables(self):
        return self._infos

    def root(self, name):
        if not self.v4:  # scipy's v4 reader is plain Python; its v5 reader is C and trusts the file
            self._guard(name)
        # no mat_dtype: with it scipy silently drops the imaginary part of complex variables
        value = scipy.io.loadmat(self.path, variable_names=[name], squeeze_me=False, struct_as_record=True,
                                 chars_as_strings=False)[name]
        if isinstance(value, str):  # scipy reports an unreadable variable as a "Read error: ..." string
            raise DataError(f"{self.where}: variable {_q(name)} cannot be read ({_clean(value)})")
        return _ValueNode(value, name)

    def split(self, var):
        return _parse_path(self.where, var)

    def _guard(self, name):
        """Check the first variable called *name* (the one loadmat reads) with _V5Guard."""
        index = next(i for i, entry in enumerate(self._entries) if entry[0] == name)
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            order = "<" if fh.read(128)[126:128] == b"IM" else ">"
            tag = struct.Struct(order + "II")
            for _ in range(index):
                fh.seek(tag.unpack(fh.read(8))[1], 1)
            mdtype, count = tag.unpack(fh.read(8))
            if count > size - fh.tell():
                raise DataError(f"{self.where}: variable {_q(name)} is cut short: the file is truncated")
            fh.seek(-8, 1)
            element = memoryview(fh.read(8 + count))
        if mdtype == 15:  # miCOMPRESSED: one zlib stream holding the miMATRIX element
            element = memoryview(_inflate(element[8:], self.max_bytes + 2**20))
        try:
            _V5Guard(element, order).check()
        except ValueError as exc:
            raise DataError(f"{self.where}: variable {_q(name)} is corrupt ({exc})") from exc


def _inflate(data, limit: int) -> bytes:
    """The zlib stream in *data*, refusing more than *limit* bytes of output."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise ValueError(f"a compressed variable expands to more than {_bytes_text(limit)}")
    if not inflater.eof:
        raise ValueError("a compressed variable is truncated")
    return out


class _V5Guard:
    """Walk one MAT v5 miMATRIX element in the order scipy's C reader reads it.

    scipy (1.x) indexes a fixed table with the data-type code of each numeric
    element, recurses without limit into cells and structs, and may dereference
    an absent subsystem for MATLAB objects: on a corrupt or hostile file each of
    these crashes the interpreter. This raises ValueError before that happens.
    """

    _NUMBER_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18})  # miINT8 ... miUTF32 in scipy's table
    _MAX_DEPTH = 64

    def __init__(self, buffer: memoryview, order: str):
        self.buffer, self.pos = buffer, 0
        self.tag = struct.Struct(order + "II")
        self.int32 = order + "i4"

    def check(self):
        self.matrix(0)

    def words(self) -> tuple[int, int]:
        if self.pos + 8 > len(self.buffer):
            raise ValueError("it is truncated")
        words = self.tag.unpack_from(self.buffer, self.pos)
        self.pos += 8
        return words

    def element(self) -> tuple[int, memoryview]:
        """(data type, data) of the next element, small (4-byte) or full, with the 8-byte padding."""
        start = self.pos
        mdtype, count = self.words()
        if mdtype >> 16:
            if mdtype >> 16 > 4:
                raise ValueError("a small data element claims more than 4 bytes")
            return mdtype & 0xFFFF, self.buffer[start + 4:start + 4 + (mdtype >> 16)]
        if self.pos + count > len(self.buffer):
            raise ValueError("an element runs past the end of the variable")
        data = self.buffer[self.pos:self.pos + count]
        self.pos += count + (-count % 8)
        return mdtype, data

    def numbers(self, allow_empty=False):
        mdtype, data = self.element()
        if mdtype not in self._NUMBER_TYPES and not (allow_empty and not data):
            raise ValueError(f"a numeric element has the unknown data type {mdtype}")

    def text(self) -> memoryview:
        mdtype, data = self.element()
        if mdtype not in (1, 16):
            raise ValueError(f"a name has the data type {mdtype}")
        return data

    def int32s(self) -> list[int]:
        mdtype, data = self.element()
        if mdtype not in (5, 6) or not 4 <= len(data) <= 128:
            raise ValueError("malformed dimensions")
        return np.frombuffer(data[:len(data) // 4 * 4], dtype=self.int32).tolist()

    def matrix(self, depth):
        if depth > self._MAX_DEPTH:
            raise ValueError(f"cells or structs nested more than {self._MAX_DEPTH} deep")
        mdtype, count = self.words()
        if mdtype != 14:
            raise ValueError(f"expected a matrix element, found data type {mdtype}")
        if count == 0:
            return
        self.words()  # array flags tag
        flags, _ = self.words()
        mclass, is_complex = flags & 0xFF, flags >> 11 & 1
        if mclass == 17:
            raise ValueError("it holds a MATLAB object of an opaque class (such as string or table)")
        dims = self.int32s()
        self.text()
        count = math.prod(dims) if all(d >= 0 for d in dims) else 0
        if 6 <= mclass <= 15:  # numeric classes: real part, imaginary part
            for _ in range(1 + is_complex):
                self.numbers()
        elif mclass == 5:  # sparse: row indices, column pointers, real (and imaginary) values
            for _ in range(3 + is_complex):
                self.numbers()
        elif mclass == 4:  # char
            self.numbers(allow_empty=True)
        elif mclass == 1:  # cell
            for _ in range(count):
                self.matrix(depth + 1)
        elif mclass in (2, 3):  # struct; object = class name + struct
            if mclass == 3:
                self.text()
            (length,) = self.int32s()
            names = self.text()
            if length <= 0:
                raise ValueError("malformed struct field names")
            for _ in range(count * (len(names) // length)):
                self.matrix(depth + 1)
        elif mclass == 16:  # function handle: a struct inside
            self.matrix(depth + 1)
        else:
            raise ValueError(f"unknown MATLAB class code {mclass}")


class _Hdf5(_Container):
    """MAT-file v7.3 (*matlab*: transposed, MATLAB classes) or a plain HDF5 file (dataset paths)."""

    def __init__(self, path, where, matlab):
        super().__init__(path, where)
        self.matlab = matlab
        self.file = h5py.File(path, "r", locking=False)
        if matlab:
            self._names = [_h5_name(k) for k in self.file if not _h5_name(k).startswith("#")]
        else:
            self._names = []
            self.file.visititems(lambda key, obj: self._names.append(_h5_name(key))
                                 if isinstance(obj, h5py.Dataset) else None)

    def variables(self):
        return [self.root(name).info(name) for name in self._names]

    def root(self, name):
        return _H5Node(self.file[_h5_key(name)], name, self.matlab)

    def split(self, var):
        return _parse_path(self.where, var) if self.matlab else (var.lstrip("/"), [])

    def close(self):
        self.file.close()


def _npy_header(fh) -> tuple[tuple, bool, np.dtype]:
    """Shape, Fortran order and dtype from a .npy header, before any data is read."""
    version = np.lib.format.read_magic(fh)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read_header is None:
        raise ValueError(f"unsupported .npy format version {version}")
    return read_header(fh)


def _read_npy(fh) -> np.ndarray:
    with fh:
        return np.lib.format.read_array(fh, allow_pickle=False)


class _Npz(_Container):
    """numpy .npz archive: one variable per key."""

    def __init__(self, path, where):
        super().__init__(path, where)
        self.zip = zipfile.ZipFile(path)
        self._nodes = {}
        for member in self.zip.namelist():
            if member.endswith(".npy"):
                with self.zip.open(member) as fh:
                    shape, _, dtype = _npy_header(fh)
                key = member[:-4]
                self._nodes[key] = _LeafNode(key, shape, dtype, lambda m=member: _read_npy(self.zip.open(m)))

    def variables(self):
        return [VariableInfo(k, n.shape, n.kind, n.dtype.name) for k, n in self._nodes.items()]

    def root(self, name):
        return self._nodes[name]

    def close(self):
        self.zip.close()


class _Single(_Container):
    """A file holding one unnamed array (.npy, .csv, .txt), named after the file; any *var* selects it."""

    def __init__(self, path, where, node: _LeafNode):
        super().__init__(path, where)
        self.node = node

    def variables(self):
        return [VariableInfo(self.node.label, self.node.shape, self.node.kind, self.node.dtype.name)]

    def root(self, name):
        return self.node

    def split(self, var):
        return self.node.label, []


def _npy_node(path) -> _LeafNode:
    with open(path, "rb") as fh:
        shape, _, dtype = _npy_header(fh)
    return _LeafNode(path.stem, shape, dtype, lambda: _read_npy(open(path, "rb")))


def _table_node(path, where) -> _LeafNode:
    """One signal per line; separators ``,`` ``;`` or whitespace; one header line skipped; ``#`` comments."""
    lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{where}: holds no numbers")
    delimiter = ";" if ";" in lines[0] else "," if "," in lines[0] else None
    try:
        [float(v) for v in lines[0].split(delimiter)]
    except ValueError:
        lines = lines[1:]  # a header line
    try:
        table = np.loadtxt(lines, delimiter=delimiter, dtype=np.float64, ndmin=2, comments=None)
    except ValueError as exc:  # numpy's first clause says where; its advice ("use usecols") does not apply
        raise DataError(f"{where}: not a table of numbers ({_clean(str(exc).split(';')[0])})") from exc
    return _LeafNode(path.stem, table.shape, table.dtype, lambda: table)


def _is_matlab_hdf5(path: Path) -> bool:
    """MATLAB's v7.3 text header, or an HDF5 signature (also behind a user block)."""
    with open(path, "rb") as fh:
        head = fh.read(128)
    return head.startswith(b"MATLAB 7.3") or h5py.is_hdf5(path)


def _open_container(path: Path, where: str, max_bytes: int) -> _Container:
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return _Hdf5(path, where, matlab=True) if _is_matlab_hdf5(path) else _MatScipy(path, where, max_bytes)
    if suffix in (".h5", ".hdf5"):
        return _Hdf5(path, where, matlab=False)
    if suffix == ".npz":
        return _Npz(path, where)
    if suffix == ".npy":
        return _Single(path, where, _npy_node(path))
    if path.stat().st_size > max_bytes:
        raise DataError(f"{where}: a text table of {_bytes_text(path.stat().st_size)} is over the limit of "
                        f"{_bytes_text(max_bytes)}; save it as .npy or .mat")
    return _Single(path, where, _table_node(path, where))


@contextlib.contextmanager
def _reading(path):
    """Turn every library failure inside the block into a DataError naming *path*; library warnings are muted."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except DataError:
        raise
    except Exception as exc:  # the parsers raise anything on bad bytes (even SyntaxError from a .npy header)
        what = _FORMAT_NAMES.get(Path(str(path)).suffix.lower(), "file")
        raise DataError(f"{_clean(path)}: not a readable {what} ({_reason(exc)})") from exc


def _open_checked(path, max_bytes) -> _Container:
    """*path* opened as a container, after the checks every format shares (call inside _reading)."""
    where = _clean(path)
    path = Path(path)
    if path.suffix.lower() not in READ_SUFFIXES:
        raise DataError(f"{where}: cannot read '{_clean(path.suffix)}' files; use one of {', '.join(READ_SUFFIXES)}")
    if not path.exists():
        raise DataError(f"{where}: no such file")
    if path.is_dir():
        raise DataError(f"{where}: is a directory, not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{where}: is empty (0 bytes)")
    return _open_container(path, where, max_bytes)


@contextlib.contextmanager
def _open(path, max_bytes):
    """Open *path* as a container; turn every library failure inside the block into a DataError."""
    with _reading(path):
        src = _open_checked(path, max_bytes)
        try:
            yield src
        finally:
            src.close()


# ---------------------------------------------------------------------------- choosing and walking
_STEP = re.compile(r"\.([A-Za-z]\w*)|\{(\d+)(?:,(\d+))?\}|\((\d+)(?:,(\d+))?\)")


def _parse_path(where, var) -> tuple[str, list]:
    """``data.trials{3}`` -> ("data", [("field", "trials"), ("cell", (3,))]); ``s(2)`` steps are ("struct", (2,))."""
    text = var.replace(" ", "")
    head = re.match(r"[^.{(]+", text)
    if head is None:
        raise DataError(f"{where}: cannot understand variable {_q(var)}; write e.g. data, data.trial, c{{3}} or s(2).x")
    steps, pos = [], head.end()
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise DataError(f"{where}: cannot understand variable {_q(var)} from {_q(text[pos:])}; "
                            "write e.g. data.trial, c{3}, c{2,1} or s(2).x")
        if m.group(1):
            steps.append(("field", m.group(1)))
        else:
            numbers = [int(g) for g in (m.group(2, 3) if m.group(2) else m.group(4, 5)) if g is not None]
            steps.append(("cell" if m.group(2) else "struct", tuple(numbers)))
        pos = m.end()
    return head.group(0), steps


def _holds_signals(info: VariableInfo) -> bool:
    return _holds_numbers(info) and len(info.shape) in (2, 3) and info.shape[0] > 1 and info.shape[1] > 1


def _holds_numbers(info: VariableInfo) -> bool:
    return info.kind in ("numeric", "logical") and "complex" not in info.dtype


_NEVER_CHOSEN = ("cell", "struct", "sparse")
_CANDIDATES = {"signals": (_holds_signals, "a real numeric matrix with at least 2 rows and 2 columns"),
               "numbers": (_holds_numbers, "a real numeric array")}


def _choose(src: _Container, var, use, max_bytes) -> _Node:
    """The node *var* names, or the only variable that could hold *use* ("signals" or "numbers")."""
    where, infos = src.where, src.variables()
    if var is None:
        candidate, requirement = _CANDIDATES[use]
        found = [i for i in infos if candidate(i)]
        if not found and len(infos) == 1 and infos[0].kind not in _NEVER_CHOSEN:
            found = infos  # the file's only variable: its own checks say what is wrong with it
        if len(found) > 1:
            raise DataError(f"{where}: several variables could hold {use}: {_listing(found, with_type=False)}; "
                            "choose one with --var")
        if not found:
            raise DataError(f"{where}: no variable could hold {use} ({requirement}); the file contains: "
                            f"{_listing(infos)}; name one with --var (a struct field as s.field, "
                            "a cell as c or c{1})")
        name, steps = found[0].name, []
    else:
        if not isinstance(var, str) or not var:
            raise DataError(f"{where}: the variable name must be non-empty text, got {_clean(repr(var))}")
        name, steps = src.split(var)
        if name not in {i.name for i in infos}:
            raise DataError(f"{where}: no variable {_q(name)}; the file contains: {_listing(infos)}")
    info = next(i for i in infos if i.name == name)
    _check_size(where, name, info.shape, max_bytes)
    return _walk(where, src.root(name), steps)


def _walk(where, node: _Node, steps) -> _Node:
    for op, arg in steps:
        if op == "field":
            if node.kind != "struct":
                raise DataError(f"{where}: {_q(node.label)} is {_kind_text(node)}, not a struct; "
                                f"it has no field {_q(arg)}")
            if math.prod(node.shape) != 1:
                raise DataError(f"{where}: {_q(node.label)} is a {_shape_text(node.shape)} struct array; pick one "
                                f"element first, e.g. {_clean(node.label)}(1).{arg}")
            if arg not in node.fields():
                raise DataError(f"{where}: struct {_q(node.label)} has no field {_q(arg)}; its fields: "
                                f"{', '.join(map(_clean, node.fields())) or 'none'}")
            node = node.field(arg, f"{node.label}.{arg}")
        else:
            if node.kind != op:
                raise DataError(f"{where}: {_q(node.label)} is {_kind_text(node)}, not a {op} array; "
                                "use {} to index cells and () to index struct arrays")
            brackets = "{}" if op == "cell" else "()"
            label = f"{node.label}{brackets[0]}{','.join(map(str, arg))}{brackets[1]}"
            node = node.element(_index(where, node, arg, label), label)
    return node


def _index(where, node, numbers, label) -> tuple:
    """0-based index into *node* from MATLAB's 1-based linear (column-major) or full subscript."""
    shape = node.shape
    if len(numbers) == 1:
        count = math.prod(shape)
        if not 1 <= numbers[0] <= count:
            raise DataError(f"{where}: {_q(label)} is out of range; {_q(node.label)} has {count} elements")
        return tuple(int(i) for i in np.unravel_index(numbers[0] - 1, shape, order="F"))
    if len(numbers) != len(shape):
        raise DataError(f"{where}: {_q(label)} gives {len(numbers)} indices; {_q(node.label)} is "
                        f"{_shape_text(shape)}: give 1 or {len(shape)}")
    if not all(1 <= i <= s for i, s in zip(numbers, shape)):
        raise DataError(f"{where}: {_q(label)} is out of range; {_q(node.label)} is {_shape_text(shape)}")
    return tuple(i - 1 for i in numbers)


def _kind_text(node) -> str:
    names = {"numeric": "a numeric array", "logical": "a logical array", "char": "a char array",
             "cell": "a cell array", "struct": "a struct", "sparse": "a sparse matrix",
             "function_handle": "a function handle", "object": "an array of objects", "other": "an unsupported value"}
    return f"{names[node.kind]} ({_shape_text(node.shape)})" if node.shape else names[node.kind]


# ---------------------------------------------------------------------------- conversion and checks
def _check_size(where, label, shape, max_bytes):
    need = math.prod(int(s) for s in shape) * 8
    if need > max_bytes:
        raise DataError(f"{where}: variable {_q(label)} is {_shape_text(shape)}, which needs {_bytes_text(need)} "
                        f"as float64, over the limit of {_bytes_text(max_bytes)}")


def _check_dtype(where, label, dtype):
    if dtype.kind == "O":
        raise DataError(f"{where}: variable {_q(label)} holds Python objects, not numbers")
    if dtype.kind == "c" or (dtype.names and set(dtype.names) == {"real", "imag"}):
        raise DataError(f"{where}: variable {_q(label)} is complex; sigae needs real numbers "
                        "(save real(x) or abs(x) instead)")
    if dtype.kind not in "biuf":
        raise DataError(f"{where}: variable {_q(label)} is not numeric (dtype {_clean(dtype)})")


def _numeric(where, node: _Node, max_bytes) -> np.ndarray:
    """The node's data as a C-ordered native float64 array; size checked before reading."""
    if node.kind not in ("numeric", "logical", "sparse"):
        raise DataError(f"{where}: variable {_q(node.label)} is {_kind_text(node)}, not numbers{_hint(node)}")
    _check_size(where, node.label, node.shape, max_bytes)
    if node.dtype is not None:
        _check_dtype(where, node.label, node.dtype)
    data = np.asarray(node.read())
    _check_dtype(where, node.label, data.dtype)
    if data.size == 0:
        raise DataError(f"{where}: variable {_q(node.label)} is empty ({_shape_text(data.shape)})")
    return np.ascontiguousarray(data, dtype=np.float64)


def _hint(node) -> str:
    """How to reach numbers inside a cell or struct."""
    if node.kind == "cell":
        return f"; name one element as {_clean(node.label)}{{1}}"
    if node.kind == "struct":
        fields = ", ".join(map(_clean, node.fields()[:_LISTED])) or "none"
        return f"; name a field as {_clean(node.label)}.field (fields: {fields})"
    return ""


def _stack_cell(where, node: _Node, length_policy, max_bytes) -> np.ndarray:
    """A cell of numeric vectors as one row per cell (MATLAB's linear order), lengths evened by *length_policy*."""
    _check_size(where, node.label, node.shape, max_bytes)
    count = math.prod(node.shape)
    if count == 0:
        raise DataError(f"{where}: cell {_q(node.label)} is empty")
    vectors, total = [], 0
    for k in range(count):
        label = f"{node.label}{{{k + 1}}}"
        item = node.element(tuple(int(i) for i in np.unravel_index(k, node.shape, order="F")), label)
        if item.kind in ("numeric", "logical") and sum(s > 1 for s in item.shape) > 1:
            raise DataError(f"{where}: {_q(label)} is a {_shape_text(item.shape)} matrix; a cell of signals "
                            "needs one vector per cell")
        total += math.prod(item.shape) * 8
        if total > max_bytes:
            raise DataError(f"{where}: cell {_q(node.label)} needs more than {_bytes_text(max_bytes)} as float64")
        vectors.append(_numeric(where, item, max_bytes).ravel())
    lengths = [len(v) for v in vectors]
    if len(set(lengths)) == 1:
        return np.stack(vectors)
    if length_policy is None:
        raise DataError(f"{where}: cell {_q(node.label)} holds signals of {len(set(lengths))} different lengths "
                        f"(min {min(lengths)}, max {max(lengths)}); use --crop or --pad to bring them to one length")
    if length_policy == "crop":
        return np.stack([v[:min(lengths)] for v in vectors])
    _check_size(where, node.label, (len(vectors), max(lengths)), max_bytes)
    return np.stack([np.pad(v, (0, max(lengths) - len(v))) for v in vectors])


def _check_cell_layout(where, label, x, orientation, expected_length):
    """Cells hold one signal each: rows by construction."""
    if orientation == "columns":
        raise DataError(f"{where}: cell {_q(label)} holds one signal per cell; --orientation columns does not apply")
    if expected_length is not None and x.shape[1] != expected_length:
        raise DataError(f"{where}: cell {_q(label)} holds signals of {x.shape[1]} points; "
                        f"the model expects {expected_length}")
    return x, "rows", ""


def _orientation(where, label, shape, orientation, expected_length) -> tuple[bool, str]:
    """(signals are columns, note for the user) for a 2-D or 3-D numeric variable of (MATLAB-order) *shape*."""
    if len(shape) < 2 or (len(shape) == 2 and 1 in shape):
        raise DataError(f"{where}: variable {_q(label)} is a single vector ({_shape_text(shape)}): only one "
                        "signal; need at least 2 (a matrix with one signal per row)")
    if len(shape) > 3:
        raise DataError(f"{where}: variable {_q(label)} has {len(shape)} dimensions ({_shape_text(shape)}); signals "
                        "need 2 (signals x points) or 3 (signals x points x channels)")
    rows, cols = shape[0], shape[1]
    if orientation is None:
        columns = expected_length is not None and cols != expected_length and rows == expected_length
    else:
        columns = orientation == "columns"
    length = rows if columns else cols
    if expected_length is not None and length != expected_length:
        if expected_length not in (rows, cols):
            raise DataError(f"{where}: variable {_q(label)} is {_shape_text(shape)}; the model expects signals "
                            f"of {expected_length} points, but neither side has that length")
        other = "rows" if columns else "columns"
        raise DataError(f"{where}: variable {_q(label)} read as {orientation} gives signals of {length} points; the "
                        f"model expects {expected_length}: try --orientation {other}")
    note = (f"signals read as columns: their length {expected_length} matches the model"
            if columns and orientation is None else "")
    return columns, note


def _orient(where, label, x, orientation, expected_length):
    """(signals first array, "rows"/"columns", note) for a 2-D or 3-D numeric variable."""
    columns, note = _orientation(where, label, x.shape, orientation, expected_length)
    if columns:
        x = np.ascontiguousarray(np.swapaxes(x, 0, 1))
    return x, "columns" if columns else "rows", note


def _check_signal_count(where, label, shape, min_length):
    if shape[0] < 2:
        raise DataError(f"{where}: variable {_q(label)} holds only 1 signal; need at least 2")
    if shape[1] < min_length:
        raise DataError(f"{where}: variable {_q(label)} holds signals of {shape[1]} point(s); "
                        f"need at least {min_length}")


def _check_finite(where, label, x, signals, offset=0, count_rest=None):
    """Refuse NaN/Inf. For one block of a stream, *offset* is the index of its first signal and
    *count_rest()* the number of NaN/Inf after it, so the message is the one for the whole variable."""
    bad = ~np.isfinite(x)
    count = int(np.count_nonzero(bad))
    if not count:
        return
    if count_rest is not None:
        count += count_rest()
    index = np.unravel_index(int(np.argmax(bad)), x.shape)
    if signals:
        numbers = (index[0] + offset,) + index[1:]
        position = ", ".join(f"{axis} {i + 1}" for axis, i in zip(("signal", "point", "channel"), numbers))
    else:
        position = "element (" + ", ".join(str(i + 1) for i in index) + ")"
    raise DataError(f"{where}: variable {_q(label)} has {count} NaN/Inf value{'s' if count > 1 else ''}; first at "
                    f"{position} (1-based) is {x[index]}")


# ---------------------------------------------------------------------------- writing
def _writable(path, key, value):
    """An extra as an ndarray, or kept as str; anything else is a programming error."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, np.generic, np.ndarray)):
        array = np.asarray(value)
        if array.dtype.kind in "biuf":
            return array
    raise TypeError(f"{path}: variable {key!r} must be a numeric array, number, boolean or string, "
                    f"not {type(value).__name__}")


def _matlab_name(name: str) -> str:
    """A valid MATLAB variable name: ASCII letters, digits, underscores, a letter first, at most 63 characters."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not text[:1].isalpha():
        text = "x" + text
    if text in _MATLAB_KEYWORDS:
        text += "_"
    return text[:63]


def _matlab_names(path, keys) -> dict:
    """{key: MATLAB-valid name}; two keys that would get the same name are an error."""
    renamed = {}
    for key in keys:
        new = _matlab_name(key)
        if new in renamed:
            raise DataError(f"{_clean(path)}: variables {_q(renamed[new])} and {_q(key)} would both be saved as "
                            f"{_q(new)} in a .mat file; rename one")
        renamed[new] = key
    return {key: new for new, key in renamed.items()}


def _write_mat(path, tmp, name, variables):
    """MATLAB v5, compressed, every name made MATLAB-valid; two names that would clash are an error."""
    names = _matlab_names(path, variables)
    scipy.io.savemat(tmp, {names[key]: value for key, value in variables.items()}, format="5", do_compression=True,
                     oned_as="column")


def _write_npz(path, tmp, name, variables):
    """The archive np.savez writes, without its reserved keyword names ("file", "allow_pickle")."""
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, value in variables.items():
            _npz_put(archive, key, value)


def _npz_put(archive: zipfile.ZipFile, key, value):
    """*value* as entry ``key.npy`` of an archive open for writing."""
    with archive.open(f"{key}.npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array(fh, np.asarray(value), allow_pickle=False)


def _write_csv(path, tmp, name, variables):
    """Comma-separated rows; each number in the shortest text that reads back to the same float64."""
    array = variables[name]
    if array.ndim > 2:
        raise DataError(f"{_clean(path)}: a .csv file holds a 2-D table, but {_q(name)} is "
                        f"{_shape_text(array.shape)}; use .mat, .npz or .h5")
    tmp.write_text(_csv_text(array), encoding="utf-8")


def _csv_text(array) -> str:
    """Rows of a 0-D, 1-D (one per line) or 2-D array as text lines, each number as the shortest exact float64."""
    table = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
    return "".join(",".join(map(repr, row)) + "\n" for row in table.astype(np.float64).tolist())


def _write_h5(path, tmp, name, variables):
    """One dataset per variable (text as a string dataset)."""
    with h5py.File(tmp, "w") as f:
        for key, value in variables.items():
            f.create_dataset(key, data=value)


_WRITERS = {".mat": _write_mat, ".npz": _write_npz, ".csv": _write_csv, ".h5": _write_h5, ".hdf5": _write_h5}


def _writer_for(path: Path):
    """The writer of *path*'s extension; DataError for one sigae cannot write."""
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise DataError(f"{_clean(path)}: cannot write '{_clean(path.suffix)}' files; "
                        f"use one of {', '.join(WRITE_SUFFIXES)}")
    return writer
