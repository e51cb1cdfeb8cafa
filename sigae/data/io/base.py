"""The reader interface every format implements: a file is a Container of variables, each a Node.

A Container lists its variables from headers (VariableInfo) and gives the Node of a
top-level name; a Node has a kind (numeric, logical, char, cell, struct, sparse,
function_handle, object, other), a MATLAB-order shape, and walks into fields and
elements or reads its data. Choosing a variable, walking ``data.trials{3}`` and
converting to float64 (sigae.data.io.selection, sigae.data.io.convert) work the same for every format."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


DEFAULT_MAX_BYTES = 8 * 2**30
NUMERIC_CLASSES = {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}


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
    """Where signals came from: file, variable path, orientation ("rows"/"columns"), a note for the user
    ("" if none), and the layout a 3-D variable was read in ("NLC", "NCL"...; "" for 1-D and 2-D ones)."""

    path: str
    var: str
    orientation: str
    note: str = ""
    layout: str = ""


class Node:
    """A variable or a part of one: kind, MATLAB-order shape, numpy dtype (None if not an array yet)."""

    label: str
    kind: str
    shape: tuple
    dtype: np.dtype | None = None
    cls: str = ""  # the MATLAB class of an object ("string", "datetime", "table"...), if known

    def fields(self) -> list[str]:
        return []

    def field(self, name: str, label: str) -> Node:
        raise NotImplementedError

    def element(self, index: tuple, label: str) -> Node:
        raise NotImplementedError

    def read(self) -> np.ndarray:
        raise NotImplementedError

    noun = "cell"  # what a node of kind "cell" is called in messages

    def cells(self):
        """(label, node) of each element of a cell, in MATLAB's linear (column-major) order."""
        for k in range(math.prod(self.shape)):
            label = f"{self.label}{{{k + 1}}}"
            yield label, self.element(tuple(int(i) for i in np.unravel_index(k, self.shape, order="F")), label)


def dtype_kind(dtype: np.dtype) -> str:
    """The kind of a plain numpy array."""
    if dtype.names:
        return "numeric" if set(dtype.names) == {"real", "imag"} else "other"
    return {"b": "logical", "i": "numeric", "u": "numeric", "f": "numeric", "c": "numeric",
            "U": "char", "S": "char", "O": "object"}.get(dtype.kind, "other")


class LeafNode(Node):
    """An array known by its header, read on demand (npy, npz, csv)."""

    def __init__(self, label, shape, dtype, reader: Callable[[], np.ndarray]):
        self.label, self.shape, self.dtype, self._reader = label, tuple(shape), dtype, reader
        self.kind = dtype_kind(dtype)

    def read(self):
        return self._reader()


def dense_array(matrix) -> np.ndarray:
    """A sparse matrix as an array, its indices checked first (toarray trusts them).

    COO matrices (scipy's MAT v4 reader) check their indices when built and have no check_format.
    """
    if hasattr(matrix, "check_format"):
        matrix.check_format(full_check=True)
    return matrix.toarray()


class Container:
    """An open file: its variables (from headers) and a node per top-level name."""

    def __init__(self, path: Path, where: str):
        self.path, self.where = path, where

    def variables(self) -> list[VariableInfo]:
        raise NotImplementedError

    def root(self, name: str) -> Node:
        raise NotImplementedError

    def split(self, var: str) -> tuple[str, list]:
        """(top-level name, steps) of a variable path; only MATLAB files have a path syntax."""
        return var, []

    def close(self):
        pass


class Single(Container):
    """A file holding one unnamed array (.npy, .csv, .txt), named after the file; any *var* selects it."""

    def __init__(self, path, where, node: LeafNode):
        super().__init__(path, where)
        self.node = node

    def variables(self):
        if hasattr(self.node, "info"):
            return [self.node.info(self.node.label)]
        return [VariableInfo(self.node.label, self.node.shape, self.node.kind, self.node.dtype.name)]

    def root(self, name):
        return self.node

    def split(self, var):
        """Any *var* is the array; for a table of named columns (a header, record fields), a *var* other than the
        file's own name, or ``name/column``, names a column."""
        label = self.node.label
        dtype = getattr(self.node, "dtype", None)
        records = dtype is not None and bool(dtype.names) and set(dtype.names) != {"real", "imag"}
        if not (hasattr(self.node, "column_node") or records) or var == label:
            return label, []
        return label, [("field", var.removeprefix(f"{label}/"))]
