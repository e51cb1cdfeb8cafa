"""HDF5 files through h5py: MAT-file v7.3 (transposed, MATLAB_class attributes) and plain HDF5 datasets."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import scipy.sparse

from sigae.data.io.base import VariableInfo, Container, NUMERIC_CLASSES, Node, dense_array, dtype_kind
from sigae.data.io.selection import parse_path
from sigae.data.io.tables import TableNode, is_record_dtype


_FILTER_NAMES = {1: "deflate (gzip)", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset",
                 307: "bzip2", 32000: "LZF", 32001: "Blosc", 32004: "LZ4", 32008: "bitshuffle", 32013: "ZFP",
                 32015: "Zstandard", 32017: "SZ", 32018: "FCIDECOMP", 32024: "SZ3", 32026: "Blosc2",
                 32028: "SPERR", 32029: "HTJ2K"}
_plugins: str | None = None  # "" once hdf5plugin is registered, else why it is not


def _load_filter_plugins() -> str:
    """Register the compression filters of the hdf5plugin package with HDF5 (once); "" or why it failed.

    hdf5plugin (a sigae dependency) provides Blosc, Blosc2, bitshuffle, LZ4, Zstandard, BZip2, ZFP, SZ...;
    it is imported only when an HDF5 file is opened, so that ``--help`` stays instant.
    """
    global _plugins
    if _plugins is None:
        try:
            import hdf5plugin  # noqa: F401  # importing it registers the filters
            _plugins = ""
        except Exception as exc:  # not installed, or its libraries do not load on this machine
            _plugins = f"{type(exc).__name__}: {exc}"
    return _plugins


class FilterUnavailable(Exception):
    """A dataset needs an HDF5 filter this installation lacks; the message lacks only the file name."""


def _read_dataset(dataset, index, label) -> np.ndarray:
    """``dataset[index]``; a read that fails for want of a filter raises FilterUnavailable naming it."""
    try:
        return dataset[index]
    except OSError:
        _check_filters(dataset, label)
        raise


def _check_filters(dataset, label):
    """Raise FilterUnavailable naming each filter of *dataset* that HDF5 cannot apply here, and the fix."""
    plist = dataset.id.get_create_plist()
    missing = []
    for i in range(plist.get_nfilters()):
        code, _, _, name = plist.get_filter(i)
        if not h5py.h5z.filter_avail(code):
            known = _FILTER_NAMES.get(code) or _attr_text(name) or "unnamed"
            missing.append(f"{code} ({known})")
    if not missing:
        return
    plural = "s" if len(missing) > 1 else ""
    what = f"HDF5 filter{plural} {', '.join(missing)}"
    if _load_filter_plugins():
        fix = f"install hdf5plugin (pip install hdf5plugin; here: {_load_filter_plugins()})"
    else:
        fix = "install the filter's HDF5 plugin and point HDF5_PLUGIN_PATH at it"
    raise FilterUnavailable(f"variable '{label}' is compressed with {what}, not available here: {fix}, "
                            "or rewrite the file without it (h5repack -f NONE in.h5 out.h5)")


def _attr_text(value) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _h5_key(name: str) -> bytes:
    """HDF5 names are bytes; non-UTF-8 ones round-trip through surrogate escapes."""
    return name.encode("utf-8", "surrogateescape")


def _h5_name(key) -> str:
    return key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key


class H5Node(Node):
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
                         else "char" if h5py.check_string_dtype(dtype) else dtype_kind(dtype))
        elif cls in NUMERIC_CLASSES or cls == "logical":
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
        return H5Node(member, label, self.matlab)

    def element(self, index, label):
        h5_index = tuple(reversed(index))
        if self.kind == "struct":
            return H5Node(self.obj, label, self.matlab, element=h5_index)
        return H5Node(self.obj.file[self.obj[h5_index]], label, self.matlab)

    def read(self):
        if self.kind == "sparse":
            if "data" not in self.obj:
                return np.zeros(self.shape)
            data, ir, jc = (self.obj[k][()].ravel() for k in ("data", "ir", "jc"))
            return dense_array(scipy.sparse.csc_array((data, ir, jc), shape=self.shape))
        if self.matlab and self._is_empty():
            return np.zeros(self.shape)
        data = _read_dataset(self.obj, (), self.label)
        return data.T if self.matlab else data


_OCTAVE_NUMBERS = {"matrix", "scalar", "bool", "bool matrix"} | {
    f"{prefix}{kind} {size}" for prefix in ("", "float ") for kind in ("", "complex ")
    for size in ("matrix", "scalar")} | {
    f"{cls} {size}" for cls in NUMERIC_CLASSES if "int" in cls for size in ("matrix", "scalar")}


def _is_octave_variable(obj) -> bool:
    """A group written by Octave's ``save -hdf5``: attribute OCTAVE_NEW_FORMAT, members ``type`` and ``value``."""
    return isinstance(obj, h5py.Group) and ("OCTAVE_NEW_FORMAT" in obj.attrs or {"type", "value"} <= set(obj))


class OctaveNode(Node):
    """A value of an Octave ``save -hdf5`` file: a group holding ``type`` (text) and ``value``.

    Like MATLAB v7.3, Octave stores arrays transposed (dimensions reversed); cells are groups of elements
    ``_0``, ``_1``... with their dimensions in ``dims``; a scalar struct is a group of fields; a struct
    array is a group of fields (and ``dims``), each field a cell with one element per struct element.
    """

    matlab = True  # stored transposed, as MATLAB v7.3: h5_blocks undoes it

    def __init__(self, group, label, element=None):
        self.group, self.label, self._element = group, label, element
        self.type = _attr_text(group["type"][()]) if "type" in group else ""
        self.value = group.get("value")
        self.obj = self.value  # the dataset of a numeric value, read by blocks when streamed
        empty = self.value is not None and "OCTAVE_EMPTY_MATRIX" in self.value.attrs
        if empty:
            self.shape = tuple(int(d) for d in np.ravel(self.value[()])[::-1])
        elif isinstance(self.value, h5py.Dataset):
            self.shape = tuple(reversed(self.value.shape)) or (1, 1)
        elif self.type in ("cell", "struct") and "dims" in self.value:
            self.shape = tuple(int(d) for d in np.ravel(self.value["dims"][()])[::-1])
        else:
            self.shape = (1, 1)
        if element is not None:
            self.shape = (1, 1)
        self._empty = empty
        if self.type in _OCTAVE_NUMBERS and (empty or isinstance(self.value, h5py.Dataset)):
            self.kind = "logical" if self.type.startswith("bool") else "numeric"
            dtype = np.dtype(bool) if self.kind == "logical" else self.value.dtype
            if dtype.names and set(dtype.names) == {"real", "imag"}:
                dtype = np.dtype(np.complex128)
            self.dtype = dtype
        elif self.type in ("string", "sq_string"):
            self.kind = "char"
        elif self.type == "cell" and isinstance(self.value, h5py.Group):
            self.kind = "cell"
        elif self.type in ("scalar struct", "struct") and isinstance(self.value, h5py.Group):
            self.kind = "struct"
        else:
            self.kind, self.cls = "other", f"Octave {self.type or 'untyped'}"

    def info(self, name) -> VariableInfo:
        dtype = self.dtype.name if self.kind in ("numeric", "logical") else self.type
        return VariableInfo(name, self.shape, self.kind, dtype)

    def _members(self) -> list[str]:
        """Names of the elements of a cell (``_0``, ``_1``...; zero-padded, so sorted is linear order)."""
        return sorted((k for k in self.value if k != "dims"), key=lambda k: (len(k), k))

    def fields(self):
        if self.type == "scalar struct":
            return list(self.value)
        return [k for k in self.value if k != "dims"]

    def field(self, name, label):
        member = OctaveNode(self.value[name], label)
        if self.type == "struct":  # a struct array: each field is a cell with one element per struct element
            index = self._element if self._element is not None else 0
            return member.element_at(index, label)
        return member

    def element_at(self, linear: int, label):
        return OctaveNode(self.value[self._members()[linear]], label)

    def element(self, index, label):
        linear = int(np.ravel_multi_index(index, self.shape, order="F"))
        if self.kind == "struct":
            return OctaveNode(self.group, label, element=linear)
        return self.element_at(linear, label)

    def read(self):
        if self._empty:
            return np.zeros(self.shape)
        data = _read_dataset(self.value, (), self.label)
        if data.dtype.names and set(data.dtype.names) == {"real", "imag"}:
            data = data["real"] + 1j * data["imag"]
        return np.asarray(data).T.reshape(self.shape)


class Hdf5(Container):
    """MAT-file v7.3 (*matlab*: transposed, MATLAB classes) or a plain HDF5 file (dataset paths)."""

    def __init__(self, path, where, matlab):
        super().__init__(path, where)
        self.matlab = matlab
        _load_filter_plugins()
        self.file = h5py.File(path, "r", locking=False)
        self.octave = any(_is_octave_variable(obj) for obj in self.file.values())
        if self.octave:  # Octave's save -hdf5: one group per variable, whatever the extension
            self.matlab = True
            self._names = [_h5_name(k) for k, obj in self.file.items() if _is_octave_variable(obj)]
        elif matlab:
            self._names = [_h5_name(k) for k in self.file if not _h5_name(k).startswith("#")]
        else:
            self._names, self._aliases = [], {}
            self.file.visititems(self._visit)

    def _visit(self, key, obj):
        """List a dataset, unless it is PyTables' own bookkeeping: the index arrays of a table (``_i_table``)."""
        name = _h5_name(key)
        if isinstance(obj, h5py.Group):
            if _attr_text(obj.attrs.get("pandas_type", b"")).endswith("_table") and "table" in obj:
                self._aliases[name] = f"{name}/table"  # pandas' key names its table: --var acc is acc/table
            return
        parents = name.split("/")[:-1]
        if any(_attr_text(self.file["/".join(parents[:k])].attrs.get("CLASS", b"")) in ("TINDEX", "INDEX")
               for k in range(1, len(parents) + 1)):
            return
        self._names.append(name)

    def variables(self):
        return [self.root(name).info(name) for name in self._names]

    def root(self, name):
        if self.octave:
            return OctaveNode(self.file[_h5_key(name)], name)
        obj = self.file[_h5_key(name)]
        if not self.matlab and isinstance(obj, h5py.Dataset) and is_record_dtype(obj.dtype) \
                and sum(s != 1 for s in obj.shape) <= 1:
            return TableNode.of_records(name, obj.shape, obj.dtype, lambda: _read_dataset(obj, (), name), obj.attrs)
        return H5Node(obj, name, self.matlab)

    def split(self, var):
        """A MATLAB path; or a dataset path, a pandas key (``acc`` for ``acc/table``), or ``table/field``."""
        if self.matlab:
            return parse_path(self.where, var)
        name = var.strip("/")
        name = self._aliases.get(name, name)
        if name in self._names:
            return name, []
        for table in [*self._names, *self._aliases]:
            if name.startswith(f"{table}/"):
                return self._aliases.get(table, table), [("field", name[len(table) + 1:])]
        return name, []

    def close(self):
        self.file.close()


def is_matlab_hdf5(path: Path) -> bool:
    """MATLAB's v7.3 text header, or an HDF5 signature (also behind a user block)."""
    with open(path, "rb") as fh:
        head = fh.read(128)
    return head.startswith(b"MATLAB 7.3") or h5py.is_hdf5(path)


def h5_blocks(node: H5Node | OctaveNode, axes: tuple):
    """A reader of signals ``start:stop`` of an HDF5 dataset: MATLAB's transposition undone, and *axes* (the
    MATLAB-order axis of each axis of the signals-first array, from sigae.data.io.convert.signal_orientation) applied."""
    dataset = node.obj
    stored = list(range(dataset.ndim))[::-1] if node.matlab else list(range(dataset.ndim))
    order = [stored[a] for a in axes]  # order[i]: the stored axis of axis i of the signals-first array

    def read(start, stop):
        index = [slice(None)] * dataset.ndim
        index[order[0]] = slice(start, stop)
        return _read_dataset(dataset, tuple(index), node.label).transpose(order)

    return read
