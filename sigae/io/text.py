"""Text tables (``.csv``, ``.txt``): one signal per line.

Rules (no row is ever dropped or shifted):

* fields are separated by ``;`` or ``,`` if the first line holds one (in that order of preference),
  by single tabs if it holds tabs and no spaces, else by runs of spaces/tabs; a separator that ends *every* line is ignored (some
  programs write one), otherwise a line ending in a separator lacks its last value;
* blank lines and lines starting with ``#`` are skipped;
* the first line is a header, and skipped, only when it holds a field that is not a number (an empty
  field is not a header: it is a missing value);
* an empty field, a field that is not a number and a line with another count of values than the first
  are errors that give the file's own line number (1-based, counting every line) and the column.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .base import _LeafNode
from .messages import _clean


def _delimiter(line: str) -> str | None:
    for candidate in (";", ","):
        if candidate in line:
            return candidate
    if "\t" in line and " " not in line.strip():
        return "\t"  # tab-separated: an empty field between two tabs is a missing value
    return None  # runs of whitespace


def _fields(line: str, delimiter: str | None, trailing=False) -> list[str]:
    """The fields of *line*, stripped of blanks and double quotes; with *trailing* the last separator ends it."""
    if delimiter is None:
        return line.split()
    if trailing:
        line = line.rstrip(" ").removesuffix(delimiter)
    return [f.strip().strip('"').strip() for f in line.split(delimiter)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_problem(where, lines, delimiter, trailing) -> DataError:
    """The precise error for the first bad line (empty field, not a number, other width)."""
    width, first = None, None
    for number, line in lines:
        fields = _fields(line, delimiter, trailing)
        for column, field in enumerate(fields, 1):
            if field == "":
                return DataError(f"{where}: line {number}, column {column} is empty (a missing value); "
                                 "fill it in or remove the line")
            if not _is_number(field):
                return DataError(f"{where}: line {number}, column {column}: {_clean(repr(field))} is not a number")
        if width is None:
            width, first = len(fields), number
        elif len(fields) != width:
            return DataError(f"{where}: line {number} has {len(fields)} values, but line {first} has {width}; "
                             "every signal needs the same number of points")
    return DataError(f"{where}: not a table of numbers")


def _table_node(path, where) -> _LeafNode:
    """One signal per line, read by the rules of this module's docstring."""
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    lines = [(number, line) for number, line in enumerate(text.split("\n"), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{where}: holds no numbers")
    delimiter = _delimiter(lines[0][1])
    if any(field and not _is_number(field) for field in _fields(lines[0][1], delimiter)):
        lines = lines[1:]  # a header line: it holds words
        if not lines:
            raise DataError(f"{where}: holds a header line and no numbers")
        delimiter = _delimiter(lines[0][1])
    rows = [line for _, line in lines]
    trailing = delimiter is not None and all(row.rstrip(" ").endswith(delimiter) for row in rows)
    if trailing:  # a separator that ends every line does not open an empty field
        rows = [row.rstrip(" ").removesuffix(delimiter) for row in rows]
    try:
        table = np.loadtxt(rows, delimiter=delimiter, dtype=np.float64, ndmin=2, comments=None, quotechar='"')
    except ValueError as exc:
        raise _first_problem(where, lines, delimiter, trailing) from exc
    if table.shape[0] != len(lines):  # numpy never drops a line it was given, but say so if it ever did
        raise _first_problem(where, lines, delimiter, trailing)
    return _LeafNode(path.stem, table.shape, table.dtype, lambda: table)
