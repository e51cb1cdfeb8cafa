"""Text tables (``.csv``, ``.txt``): one signal per line.

Rules (no row is ever dropped or shifted):

* fields are separated by ``;`` or ``,`` if the first line holds one (in that order of preference),
  by single tabs if it holds tabs and no spaces, else by runs of spaces/tabs; a separator that ends *every* line is ignored (some
  programs write one), otherwise a line ending in a separator lacks its last value;
* lines starting with ``#`` are skipped; a *blank* line (empty, or only spaces and tabs) among the data
  is an error naming its line: it is a missing sample, and skipping it would shift every later one
  (blank lines above a header and after the last line of data are harmless, and skipped);
* the first line is a header, and skipped, only when it holds a field that is not a number (an empty
  field is not a header: it is a missing value); its fields name the columns (see sigae.io.tables: a
  time column is recognised by its name and left out of the channels);
* an empty field, a field that is not a number and a line with another count of values than the first
  are errors that give the file's own line number (1-based, counting every line) and the column.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .base import _LeafNode
from .messages import _clean
from .tables import _TableNode


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


def _table_node(path, where) -> _LeafNode | _TableNode:
    """The table of the file, read by the rules of this module's docstring; named columns with a header."""
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    content = [(number, line) for number, line in enumerate(text.split("\n"), 1)
               if not line.lstrip().startswith("#")]
    lines = [(number, line) for number, line in content if line.strip()]
    if not lines:
        raise DataError(f"{where}: holds no numbers")
    delimiter = _delimiter(lines[0][1])
    names = None
    if any(field and not _is_number(field) for field in _fields(lines[0][1], delimiter)):
        names = _fields(lines[0][1], delimiter)  # a header line: it holds words
        lines = lines[1:]
        if not lines:
            raise DataError(f"{where}: holds a header line and no numbers")
        delimiter = _delimiter(lines[0][1])
    _check_blank_lines(where, content, first=lines[0][0], last=lines[-1][0])
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
    if names is not None and trailing and len(names) == table.shape[1] + 1:
        names = names[:-1]  # a last column empty on every line (LabVIEW's "Comment"): no values, no name
    if names is not None and len(names) == table.shape[1]:
        return _TableNode.of_matrix(path.stem, table, names)
    return _LeafNode(path.stem, table.shape, table.dtype, lambda: table)


def _check_blank_lines(where, content, first: int, last: int):
    """Refuse a blank line between the first line of data (or the header above it) and the last one.

    *content*: (line number, text) of every line that is not a comment; *first*, *last*: the line numbers of
    the first and last lines of data. Blank lines above a header or above the data are refused too when no
    header separates them from it, since there they may stand for the first samples.
    """
    header_seen = any(number < first and line.strip() for number, line in content)
    start = max(number for number, line in content if number < first and line.strip()) if header_seen else 0
    blank = [number for number, line in content if start < number < last and not line.strip()]
    if blank:
        more = f" ({len(blank)} blank lines among the data in all)" if len(blank) > 1 else ""
        raise DataError(f"{where}: line {blank[0]} (1-based, counting every line of the file) is blank{more}; a "
                        "blank line among the data is a missing sample, and skipping it would shift every later "
                        "sample: fill in the missing values or delete the blank lines")
