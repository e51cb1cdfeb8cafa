"""Tables of named columns: record (compound) arrays and text tables with a header.

A *record table* is a 1-D array of records with named fields: pandas ``to_hdf(format="table")`` (PyTables'
``table`` dataset: the ``index`` field, then ``values_block_0``... holding the columns, whose names are in the
dataset's attributes), HDF5 compound datasets, numpy structured arrays (``np.genfromtxt(names=True)`` saved
with ``np.save``). A text table with a header line is a table too, its columns named by the header.

A table reads as a matrix ``rows x channels``:

* the numeric columns are the channels (a field holding a sub-array gives one column per element);
* the *time axis* is not a channel: a pandas index, a datetime field, or a column whose name says time
  (``t``, ``time``, ``time_s``, ``Time (s)``, ``timestamp``, ``datetime``, ``X_Value``, ``elapsed``...)
  or index (``index``, ``Unnamed: 0``, an empty name...) and whose values never decrease;
  ``--time-column NAME|K`` names it instead, ``--time-column none`` keeps every numeric column;
* columns that are not numbers (text) are left out;
  the note of the selection says in one line what was left out.

``--var table/field`` (``.npy``, ``.csv``: ``--var field``) reads one field or column, with no rule applied.
"""

from __future__ import annotations

import math
import pickletools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sigae.errors import DataError
from sigae.data.io.base import VariableInfo, Node
from sigae.data.io.messages import LISTED, clean, quoted, shape_text


_TIME_WORDS = {"t", "time", "times", "timestamp", "timestamps", "tstamp", "ts", "datetime", "date", "elapsed",
               "epoch", "unix", "unixtime", "clock", "seconds", "secs", "sec", "zeit"}
_INDEX_WORDS = {"index", "idx", "unnamed", "sample", "samples"}


def name_role(name: str) -> str:
    """"time", "index" or "" for a column name: its first word says time (``time_s``, ``Time (s)``,
    ``X_Value``) or index (``index``, ``Unnamed: 0``; an empty name is pandas' unnamed index)."""
    words = re.findall(r"[a-z]+|\d+", name.lower())
    if not words:
        return "index"
    if words[0] in _TIME_WORDS or words[:2] == ["x", "value"] or words[0] == "xvalue":
        return "time"
    return "index" if words[0] in _INDEX_WORDS else ""


def _never_decreases(values: np.ndarray) -> bool:
    values = np.asarray(values, dtype=np.float64)
    return len(values) > 1 and bool(np.all(np.diff(values) >= 0)) and values[-1] > values[0]


def is_record_dtype(dtype) -> bool:
    """A dtype of named fields other than MATLAB/HDF5's complex pair (real, imag)."""
    return bool(dtype is not None and dtype.names) and set(dtype.names) != {"real", "imag"}


@dataclass(frozen=True)
class _Column:
    """One column: its name, the record field it is in (None for a matrix column), its place in the field."""

    name: str
    field: str | None
    index: tuple
    kind: str  # "number", "time" (datetime, timedelta), "text", "other"
    position: int  # 1-based, among all columns
    declared_index: bool = False  # the index of a pandas table

    def describe(self, text_table: bool) -> str:
        name = quoted(self.name) if self.name.strip() else "(no name)"
        what = f"column {self.position} {name}" if text_table else f"field {name}"
        return what + (" (the pandas index)" if self.declared_index else "")


def _value_kind(dtype: np.dtype) -> str:
    if dtype.kind in "biuf":
        return "number"
    if dtype.kind in "mM":
        return "time"
    if dtype.kind in "SUO":
        return "text"
    return "other"


def _pickled_names(value) -> list[str]:
    """The strings inside a pickle (PyTables/pandas attributes such as ``values_block_0_kind``), read with
    pickletools, which only parses: nothing is unpickled."""
    try:
        data = value.tobytes() if isinstance(value, np.ndarray) else bytes(value)
        return [arg for op, arg, _ in pickletools.genops(data)
                if isinstance(arg, str) and ("UNICODE" in op.name or "STRING" in op.name)]
    except Exception:  # not a pickle, or not one we can read: the fields keep their own names
        return []


def _record_columns(dtype: np.dtype, attrs=None) -> list[_Column]:
    """The columns of a record dtype; *attrs* (an HDF5 dataset's attributes) may name pandas' value blocks."""
    attrs = attrs if attrs is not None else {}
    pandas = "index_kind" in attrs or any(str(k).endswith("_kind") for k in attrs)
    columns = []
    for field in dtype.names:
        sub = dtype.fields[field][0]
        base, shape = (sub.subdtype if sub.subdtype else (sub, ()))
        count = math.prod(shape)
        names = _pickled_names(attrs[f"{field}_kind"]) if f"{field}_kind" in attrs and count else []
        if len(names) != count:
            names = [field] if not shape else [f"{field}[{k + 1}]" for k in range(count)]
        kind = _value_kind(base)
        stored_as = str(np.asarray(attrs.get(f"{field}_dtype", b"")).astype(str)) if pandas else ""
        if stored_as.startswith(("datetime64", "timedelta64")):  # pandas stores datetime columns as int64
            kind = "time"
        for k, name in enumerate(names):
            index = tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()
            columns.append(_Column(name, field, index, kind, len(columns) + 1,
                                   declared_index=pandas and field == "index" and not shape))
    return columns


class TableNode(Node):
    """A table of named columns (see the module docstring), read as a float64 ``rows x channels`` matrix.

    ``read()`` gives the columns chosen by the default rule; :meth:`select` applies ``--time-column`` and
    gives the note that says what was left out; :meth:`column_node` reads named fields or columns alone.
    """

    kind = "numeric"

    def __init__(self, label, columns: list[_Column], rows: int, read_table: Callable[[], np.ndarray],
                 text_table: bool = False):
        self.label, self.columns, self.rows, self._read_table = label, columns, int(rows), read_table
        self.text_table = text_table
        self.dtype = np.dtype(np.float64)
        self.shape = (self.rows, sum(c.kind == "number" and not c.declared_index and c not in self._named_roles()
                                     for c in columns))
        self._table = None

    @classmethod
    def of_matrix(cls, label, matrix: np.ndarray, names: list[str], text=()) -> TableNode:
        """A text table: a float matrix of its numeric columns, with a header naming every column; the 0-based
        columns *text* hold text (dates are a time axis when named like one, or unnamed)."""
        columns, k = [], 0
        for j, name in enumerate(names):
            if j in text:
                kind = "time" if name_role(name) else "text"
                columns.append(_Column(name, None, (), kind, j + 1))
            else:
                columns.append(_Column(name, None, (k,), "number", j + 1))
                k += 1
        return cls(label, columns, matrix.shape[0], lambda: matrix, text_table=True)

    @classmethod
    def of_records(cls, label, shape, dtype, read: Callable[[], np.ndarray], attrs=None) -> TableNode:
        """A record array of *shape* (one dimension other than 1) read by *read()*."""
        return cls(label, _record_columns(dtype, attrs), math.prod(shape), lambda: np.asarray(read()).reshape(-1))

    def _named_roles(self) -> list[_Column]:
        """The numeric columns named like a time axis or an index, when the name is that of one column only.

        Names such as t1, t2, ... t64 (the points of one signal per line) name no time axis.
        """
        out = []
        for role in ("time", "index"):
            named = [c for c in self.columns if c.kind == "number" and not c.declared_index
                     and name_role(c.name) == role]
            out += named if len(named) == 1 else []
        return out

    def info(self, name) -> VariableInfo:
        return VariableInfo(name, self.shape, self.kind, "float64" if self.text_table else "record table")

    def fields(self) -> list[str]:
        return [c.name for c in self.columns]

    def field_text(self) -> str:
        """``index (time), ax, ay`` for messages: each column, with what it is when it is not a number."""
        def one(c):
            what = "the pandas index" if c.declared_index else "" if c.kind == "number" else c.kind
            return (clean(c.name) if c.name.strip() else "(no name)") + (f" ({what})" if what else "")

        text = ", ".join(one(c) for c in self.columns[:LISTED])
        return text + (f" and {len(self.columns) - LISTED} more" if len(self.columns) > LISTED else "")

    def values(self, column: _Column) -> np.ndarray:
        """One column's values, ``(rows,)``."""
        if self._table is None:
            self._table = self._read_table()
        if column.field is None:
            return self._table[:, column.index[0]]
        data = self._table[column.field]
        return data[(slice(None),) + column.index] if column.index else data

    def _find(self, where, wanted: str, option: str) -> list[_Column]:
        """The columns *wanted* names: a column name, a record field, or a 1-based column number."""
        text = str(wanted).strip()
        for match in (lambda c: c.name == text, lambda c: c.field == text,
                      lambda c: c.name.lower() == text.lower(), lambda c: text.isdigit() and c.position == int(text)):
            found = [c for c in self.columns if match(c)]
            if found:
                return found
        what, part = ("text table", "column") if self.text_table else ("record table", "field")
        raise DataError(f"{where}: {option}{what} {quoted(self.label)} has no {part} {quoted(text)}; its {part}s: "
                        f"{self.field_text()}")

    def column_node(self, where, name: str, label: str) -> Node:
        """The field or column *name* alone (``--var table/field``), read as it is."""
        chosen = self._find(where, name, "")
        wrong = [c for c in chosen if c.kind != "number"]
        if wrong:
            raise DataError(f"{where}: {quoted(label)} holds {wrong[0].kind} values, not numbers; the numeric "
                            f"{'columns' if self.text_table else 'fields'} of {quoted(self.label)}: "
                            f"{', '.join(clean(c.name) for c in self.columns if c.kind == 'number') or 'none'}")
        return Selection(self, label, chosen, "")

    def select(self, where, time_column=None) -> Selection:
        """The channels of the whole table and the note saying what was left out.

        *time_column*: None (the rule of the module docstring), ``"none"`` (no time axis: every numeric column
        is a channel) or a column's name or 1-based number (that column is the time axis).
        """
        numbers = [c for c in self.columns if c.kind == "number"]
        kept_named = []
        if time_column is None:
            named = self._named_roles()
            time = [c for c in self.columns if c.declared_index or c.kind == "time"
                    or (c in named and _never_decreases(self.values(c)))]
            kept_named = [c for c in named if c not in time]
        elif str(time_column).lower() == "none":
            time = []
        else:
            time = self._find(where, time_column, f"--time-column {clean(time_column)}: ")
        data = [c for c in numbers if c not in time]
        other = [c for c in self.columns if c.kind != "number" and c not in time]
        what = "column" if self.text_table else "field"
        if not data:
            raise DataError(f"{where}: {'text' if self.text_table else 'record'} table {quoted(self.label)} has no "
                            f"numeric {what} left besides its time axis; its {what}s: {self.field_text()}; "
                            f"name one with --var {clean(self.label)}/{what} or choose --time-column")
        parts = []
        if time:
            keep = time_column is None and any(c.kind == "number" for c in time)
            parts.append(f"{', '.join(c.describe(self.text_table) for c in time)} read as the time axis, not "
                         "a channel" + (" (--time-column none keeps it)" if keep else ""))
        if kept_named:
            parts.append(f"{', '.join(c.describe(self.text_table) for c in kept_named)} named like a time axis "
                         "or an index but not increasing: read as a channel")
        if other:
            parts.append(f"{', '.join(c.describe(self.text_table) for c in other)} left out (not numbers)")
        note = ""
        if parts:
            names = ", ".join(clean(c.name) for c in data[:LISTED]) + (
                f" and {len(data) - LISTED} more" if len(data) > LISTED else "")
            note = f"{quoted(self.label)}: {'; '.join(parts)}; channels: {names}"
        return Selection(self, self.label, data, note)

    def read(self) -> np.ndarray:
        return self.select("", None).read()


class Selection(Node):
    """Some numeric columns of a table, read as a float64 ``rows x columns`` matrix."""

    kind = "numeric"

    def __init__(self, table: TableNode, label, columns: list[_Column], note: str):
        self.table, self.label, self.chosen, self.note = table, label, columns, note
        self.dtype = np.dtype(np.float64)
        self.shape = (table.rows, len(columns))

    def read(self) -> np.ndarray:
        matrix = np.empty(self.shape)
        for j, c in enumerate(self.chosen):
            matrix[:, j] = self.table.values(c)
        return matrix


def record_hint(node) -> str:
    """How to reach the numbers of a record array that is not a table (not one-dimensional)."""
    dtype = getattr(node, "dtype", None)
    if dtype is None and hasattr(getattr(node, "obj", None), "dtype"):  # an HDF5 dataset of another kind
        dtype = node.obj.dtype
    if not is_record_dtype(dtype):
        return ""
    names = ", ".join(map(clean, dtype.names[:LISTED]))
    return (f"; it is a {shape_text(node.shape)} array of records with fields {names}: sigae reads a "
            f"one-dimensional record table, or one field as --var {clean(node.label)}/field")
