"""MAT-files v4, v5/v6 and v7 through :func:`scipy.io.loadmat`, each v5 variable checked by _V5Guard first."""

from __future__ import annotations

import contextlib
import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import scipy.io
import scipy.sparse
from scipy.io.matlab import MatlabFunction, MatlabObject, MatlabOpaque

from sigae.errors import DataError
from sigae.data.io.base import VariableInfo, Container, NUMERIC_CLASSES, Node, dense_array, dtype_kind
from sigae.data.io.messages import bytes_text, clean, quoted
from sigae.data.io.selection import parse_path


_V4_KINDS = {"char": "char", "sparse": "sparse"}
_V5_CLASSES = {1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse", 6: "double", 7: "single", 8: "int8",
               9: "uint8", 10: "int16", 11: "uint16", 12: "int32", 13: "uint32", 14: "int64", 15: "uint64",
               16: "function_handle", 17: "opaque"}
_V5_KINDS = {"cell": "cell", "struct": "struct", "object": "object", "char": "char", "sparse": "sparse",
             "function_handle": "function_handle", "opaque": "object"}
_HEADER_BYTES = 2**16  # enough for any variable header, an object's class name and its dimensions
_MCOS_MARK = 0xDD000000  # first word of the uint32 array that describes MCOS objects (string, table, ...)


@dataclass(frozen=True)
class _V5Entry:
    """One top-level variable of a v5 file from its header: where it starts and whether it is whole."""

    info: VariableInfo
    offset: int
    whole: bool
    mcos: bool = False  # an MCOS object, which scipy cannot list and sigae never reads


def _object_dims(words) -> tuple:
    """The dimensions of an MCOS object array from its uint32 description (0xDD000000, ndims, dims, ids...)."""
    words = np.asarray(words).ravel()
    if len(words) >= 4 and int(words[0]) == _MCOS_MARK and 2 <= int(words[1]) <= len(words) - 2:
        return tuple(int(d) for d in words[2:2 + int(words[1])])
    return (1, 1)


class _ValueNode(Node):
    """A value returned by scipy.io.loadmat (squeeze_me=False, struct_as_record=True)."""

    def __init__(self, value, label):
        self.value, self.label = value, label
        self.shape = tuple(getattr(value, "shape", ()))
        if isinstance(value, MatlabFunction):
            self.kind = "function_handle"
        elif isinstance(value, MatlabOpaque):  # string, datetime, table, categorical... (MCOS classes)
            self.kind = "object"
            with contextlib.suppress(Exception):
                self.cls = _attr(value.flat[0]["s2"])
                self.shape = _object_dims(value.flat[0]["arr"])
        elif isinstance(value, MatlabObject):  # an old-style (@folder) class
            self.kind, self.cls = "object", _attr(getattr(value, "classname", ""))
        elif scipy.sparse.issparse(value):
            self.kind, self.dtype = "sparse", value.dtype
        elif isinstance(value, np.ndarray):
            self.dtype = value.dtype
            self.kind = "struct" if value.dtype.names else "cell" if value.dtype.kind == "O" else dtype_kind(
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
        return dense_array(self.value) if self.kind == "sparse" else self.value


def _attr(value) -> str:
    """Text stored by scipy as bytes, str or a 0-d/1-element array of either."""
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else ""
    return value.decode("latin1") if isinstance(value, bytes) else str(value)


class _ObjectNode(Node):
    """A top-level MATLAB object sigae does not read (string, datetime, table...): known from its header only."""

    kind = "object"

    def __init__(self, label, shape, cls):
        self.label, self.shape, self.cls = label, tuple(shape), cls


class MatScipy(Container):
    """MAT-file v4, v5/v6 and v7 (compressed) through scipy.io; v5 variables pass _V5Guard first.

    The v5 variables are listed from their headers by _V5Guard, not by scipy.io.whosmat, which fails on the
    MATLAB objects of MCOS classes (string, datetime, table, categorical...): those are listed as objects,
    never read, and the numbers beside them load.
    """

    def __init__(self, path, where, max_bytes):
        super().__init__(path, where)
        self.max_bytes = max_bytes
        self.v4 = scipy.io.matlab.matfile_version(path)[0] == 0
        if self.v4:
            self._entries = [_V5Entry(VariableInfo(name, tuple(shape), _V4_KINDS.get(cls, "numeric"), cls), 0, True)
                             for name, shape, cls in scipy.io.whosmat(path, chars_as_strings=False)]
        else:
            self._entries = _v5_entries(path, max_bytes)  # file order, as stored
        self._infos = [e.info for e in self._entries if e.info.name and not e.info.name.startswith("__")]

    def variables(self):
        return self._infos

    def root(self, name):
        entry = next(e for e in self._entries if e.info.name == name)  # the first one, which loadmat reads
        if entry.mcos:
            return _ObjectNode(name, entry.info.shape, entry.info.dtype)
        if not self.v4:  # scipy's v4 reader is plain Python; its v5 reader is C and trusts the file
            self._guard(entry)
        # no mat_dtype: with it scipy silently drops the imaginary part of complex variables
        value = scipy.io.loadmat(self.path, variable_names=[name], squeeze_me=False, struct_as_record=True,
                                 chars_as_strings=False)[name]
        if isinstance(value, str):  # scipy reports an unreadable variable as a "Read error: ..." string
            raise DataError(f"{self.where}: variable {quoted(name)} cannot be read ({clean(value)})")
        return _ValueNode(value, name)

    def split(self, var):
        return parse_path(self.where, var)

    def _guard(self, entry: _V5Entry):
        """Check the variable of *entry* (the first of its name, the one loadmat reads) with _V5Guard."""
        name = entry.info.name
        if not entry.whole:
            raise DataError(f"{self.where}: variable {quoted(name)} is cut short: the file is truncated")
        with open(self.path, "rb") as fh:
            order = _byte_order(fh)
            fh.seek(entry.offset)
            mdtype, count = struct.unpack(order + "II", fh.read(8))
            fh.seek(entry.offset)
            element = memoryview(fh.read(8 + count))
        if mdtype == 15:  # miCOMPRESSED: one zlib stream holding the miMATRIX element
            element = memoryview(_inflate(element[8:], self.max_bytes + 2**20))
        try:
            _V5Guard(element, order).check()
        except ValueError as exc:
            raise DataError(f"{self.where}: variable {quoted(name)} is corrupt ({exc})") from exc


def _byte_order(fh) -> str:
    fh.seek(126)
    return "<" if fh.read(2) == b"IM" else ">"


def _v5_entries(path, max_bytes) -> list[_V5Entry]:
    """Every top-level variable of a v5 file (hidden ones too), from headers checked by _V5Guard.

    Like scipy's reader: elements follow each other from byte 128, each an miMATRIX or an miCOMPRESSED
    holding one; only the first 64 KiB of each are read (inflated).
    """
    entries = []
    with open(path, "rb") as fh:
        order = _byte_order(fh)
        size = fh.seek(0, 2)
        offset = 128
        while offset < size:
            fh.seek(offset)
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError("the file ends inside a variable's tag")
            mdtype, count = struct.unpack(order + "II", head)
            if count == 0:
                raise ValueError("a variable has no bytes")
            whole = offset + 8 + count <= size
            if mdtype == 15:
                inflater, element, compressed = zlib.decompressobj(), b"", count
                while len(element) < _HEADER_BYTES and compressed > 0 and not inflater.eof:
                    chunk = fh.read(min(compressed, 2**16))
                    if not chunk:
                        break
                    compressed -= len(chunk)
                    element += inflater.decompress(chunk, _HEADER_BYTES - len(element))
            else:
                element = head + fh.read(min(count, _HEADER_BYTES))
            info, mcos = _V5Guard(memoryview(element), order).header()
            entries.append(_V5Entry(info, offset, whole, mcos))
            offset += 8 + count
    return entries


def _inflate(data, limit: int) -> bytes:
    """The zlib stream in *data*, refusing more than *limit* bytes of output."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise ValueError(f"a compressed variable expands to more than {bytes_text(limit)}")
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

    def header(self) -> tuple[VariableInfo, bool]:
        """(the variable, whether it is an MCOS object) from the header of this miMATRIX element.

        The element's data may be cut off. The dtype of an object is its class name ("string", "table"...).
        """
        mdtype, count = self.words()
        if mdtype != 14:
            raise ValueError(f"expected a matrix element, found data type {mdtype}")
        self.words()  # array flags tag
        flags, _ = self.words()
        mclass = flags & 0xFF
        cls = _V5_CLASSES.get(mclass, f"class {mclass}")
        if mclass == 17:  # MCOS object: name, type system ("MCOS"), class name, then a uint32 description
            name = self.name()
            self.text()
            cls = bytes(self.text()).decode("latin1")
            shape = (1, 1)
            with contextlib.suppress(ValueError):
                shape = self.object_dims()
            return VariableInfo(name, shape, "object", cls), True
        shape = tuple(self.int32s())
        name = self.name()
        if mclass == 3:
            cls = bytes(self.text()).decode("latin1")
        if flags >> 9 & 1 and 6 <= mclass <= 15:
            cls = "logical"
        kind = "logical" if cls == "logical" else "numeric" if cls in NUMERIC_CLASSES else _V5_KINDS.get(
            cls, "object" if mclass == 3 else "other")
        if kind == "numeric" and flags >> 11 & 1:
            cls = f"complex {cls}"
        return VariableInfo(name, shape, kind, cls), False

    def name(self) -> str:
        return bytes(self.text()).decode("latin1")

    def object_dims(self) -> tuple:
        """The dimensions in the uint32 description that follows an MCOS object's class name."""
        mdtype, _ = self.words()
        if mdtype != 14:
            raise ValueError("no object description")
        self.words()
        self.words()
        self.int32s()
        self.text()
        mdtype, data = self.element()
        if mdtype not in (5, 6):
            raise ValueError("no object description")
        return _object_dims(np.frombuffer(data[:len(data) // 4 * 4], dtype=self.int32.replace("i", "u")))

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
        if mclass == 17:  # MCOS object (string, table...): name, type system, class name, a uint32 description
            for _ in range(3):
                self.text()
            self.matrix(depth + 1)
            return
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
