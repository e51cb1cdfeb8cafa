"""numpy ``.npy`` files and ``.npz`` archives, headers read first, never unpickled."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from .base import VariableInfo, _Container, _LeafNode


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


def _npy_node(path) -> _LeafNode:
    with open(path, "rb") as fh:
        shape, _, dtype = _npy_header(fh)
    return _LeafNode(path.stem, shape, dtype, lambda: _read_npy(open(path, "rb")))


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
