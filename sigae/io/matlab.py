"""MAT-files v4, v5/v6 and v7 through :func:`scipy.io.loadmat`, each v5 variable checked by _V5Guard first."""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
import scipy.io
import scipy.sparse
from scipy.io.matlab import MatlabFunction, MatlabObject, MatlabOpaque

from ..errors import DataError
from .base import VariableInfo, _Container, _NUMERIC_CLASSES, _Node, _dense, _dtype_kind
from .messages import _bytes_text, _clean, _q
from .selection import _parse_path


_V5_KINDS = {"logical": "logical", "char": "char", "cell": "cell", "struct": "struct", "sparse": "sparse",
             "function": "function_handle", "object": "object", "opaque": "object"}


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
