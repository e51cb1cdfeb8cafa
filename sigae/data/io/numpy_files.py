"""numpy ``.npy`` files and ``.npz`` archives, headers read first, never unpickled."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from sigae.data.io.base import VariableInfo, Container, LeafNode
from sigae.data.io.tables import TableNode, is_record_dtype


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


class Npz(Container):
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
                self._nodes[key] = _array_node(key, shape, dtype, lambda m=member: _read_npy(self.zip.open(m)))

    def variables(self):
        return [n.info(k) if isinstance(n, TableNode) else VariableInfo(k, n.shape, n.kind, n.dtype.name)
                for k, n in self._nodes.items()]

    def root(self, name):
        return self._nodes[name]

    def split(self, var):
        """``key`` or ``key/field`` (a field of a record array)."""
        key, _, field = var.partition("/")
        if var not in self._nodes and key in self._nodes and field:
            return key, [("field", field)]
        return var, []

    def close(self):
        self.zip.close()


def npy_node(path) -> LeafNode | TableNode:
    with open(path, "rb") as fh:
        shape, _, dtype = _npy_header(fh)
    return _array_node(path.stem, shape, dtype, lambda: _read_npy(open(path, "rb")))


def _array_node(label, shape, dtype, read) -> LeafNode | TableNode:
    """A plain array, or a record table: a structured array with one dimension other than 1."""
    if is_record_dtype(dtype) and sum(s != 1 for s in shape) <= 1:
        return TableNode.of_records(label, shape, dtype, read)
    return LeafNode(label, shape, dtype, read)


def npy_blocks(path: Path, stored_shape, axes: tuple):
    """A reader of signals ``start:stop`` of an .npy file, or None for a layout it cannot read by blocks.

    *axes*: the stored axis of each axis of the signals-first array (sigae.data.io.convert.signal_orientation). Signals
    stored contiguously (rows of a C-ordered array, columns of a 2-D Fortran-ordered one) are read in
    one piece; signals stored point by point (rows of a Fortran-ordered array, as ``np.save`` writes what
    ``scipy.io.loadmat`` returns, or columns of a 2-D C-ordered one) with one read per point. A 3-D array is
    read by blocks when its signals are along its first axis, its other two axes in any order. Plain reads, not
    a memory map: only the signals being read count in the process's memory.
    """
    with open(path, "rb") as fh:
        _, fortran, dtype = _npy_header(fh)
        offset = fh.tell()
    columns = tuple(axes[:2]) == (1, 0)
    if axes[0] != 0 and not (columns and len(stored_shape) == 2):
        return None
    block_shape = tuple(stored_shape[a] for a in axes) if columns else tuple(stored_shape)  # as read
    trailing = None if columns else tuple(axes)
    n, row = block_shape[0], math.prod(block_shape[1:])
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
        block = data.reshape((count,) + tuple(block_shape[1:]), order="F" if point_major else "C")
        return block if trailing is None else block.transpose(trailing)

    return read
