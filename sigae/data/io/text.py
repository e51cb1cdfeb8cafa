"""Text tables (``.csv``, ``.txt``): one signal per line.

Rules (no row is ever dropped or shifted):

* fields are separated by ``;`` or ``,`` if the first line holds one (in that order of preference),
  by single tabs if it holds tabs and no spaces, else by runs of spaces/tabs; a separator that ends *every* line is ignored (some
  programs write one), otherwise a line ending in a separator lacks its last value;
* lines starting with ``#`` are skipped; a *blank* line (empty, or only spaces and tabs) among the data
  is an error naming its line: it is a missing sample, and skipping it would shift every later one
  (blank lines above a header and after the last line of data are harmless, and skipped);
* the first line is a header, and skipped, only when it holds a field that is not a number (an empty
  field is not a header: it is a missing value); its fields name the columns (see sigae.data.io.tables: a
  time column is recognised by its name and left out of the channels); below a header, a column of text on
  every line (dates, labels) is a text column, never a channel: left out, and said;
* an empty field, a field that is not a number and a line with another count of values than the first
  are errors that give the file's own line number (1-based, counting every line) and the column.
"""

from __future__ import annotations

import numpy as np

from sigae.errors import DataError
from sigae.data.io.base import LeafNode
from sigae.data.io.messages import clean
from sigae.data.io.tables import TableNode


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


def is_number(text: str) -> bool:
    """Whether *text* reads as a float (as float() reads it: "nan", "1e3" and " 2 " included)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_problem(where, lines, delimiter, trailing, text=()) -> DataError:
    """The precise error for the first bad line (empty field, not a number, other width); the 0-based columns
    *text* hold text on purpose."""
    width, first = None, None
    for number, line in lines:
        fields = _fields(line, delimiter, trailing)
        for column, field in enumerate(fields, 1):
            if field == "":
                return DataError(f"{where}: line {number}, column {column} is empty (a missing value); "
                                 "fill it in or remove the line")
            if not is_number(field) and column - 1 not in text:
                return DataError(f"{where}: line {number}, column {column}: {clean(repr(field))} is not a number")
        if width is None:
            width, first = len(fields), number
        elif len(fields) != width:
            return DataError(f"{where}: line {number} has {len(fields)} values, but line {first} has {width}; "
                             "every signal needs the same number of points")
    return DataError(f"{where}: not a table of numbers")


def table_node(path, where) -> LeafNode | TableNode:
    """The table of the file, read by the rules of this module's docstring; named columns with a header."""
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    content = [(number, line) for number, line in enumerate(text.split("\n"), 1)
               if not line.lstrip().startswith("#")]
    lines = [(number, line) for number, line in content if line.strip()]
    if not lines:
        raise DataError(f"{where}: holds no numbers")
    delimiter = _delimiter(lines[0][1])
    header, first_line = None, lines[0]
    if any(field and not is_number(field) for field in _fields(lines[0][1], delimiter)):
        header = lines[0][1]  # a header line: it holds words
        lines = lines[1:]
        if not lines:
            raise DataError(f"{where}: holds a header line and no numbers")
        delimiter = _delimiter(lines[0][1])
    _check_blank_lines(where, content, first=lines[0][0], last=lines[-1][0])
    rows = [line for _, line in lines]
    trailing = delimiter is not None and all(row.rstrip(" ").endswith(delimiter) for row in rows)
    if trailing:  # a separator that ends every line does not open an empty field
        rows = [row.rstrip(" ").removesuffix(delimiter) for row in rows]
    text = []
    try:
        table = np.loadtxt(rows, delimiter=delimiter, dtype=np.float64, ndmin=2, comments=None, quotechar='"')
    except ValueError as exc:
        text = _text_columns(rows, delimiter) if header is not None else []
        if not text:
            raise _first_problem(where, lines, delimiter, trailing) from exc
        names = _header_names(header, delimiter, len(_fields(rows[0], delimiter)), trailing)
        if names is None or all(is_number(n) for j, n in enumerate(names) if j not in text):
            # no names, or a first line of data that its text made look like a header: text needs a header
            raise _first_problem(where, ([first_line] if names else []) + lines, delimiter, trailing) from exc
        numeric = [j for j in range(len(names)) if j not in text]
        try:
            table = np.loadtxt(rows, delimiter=delimiter, dtype=np.float64, ndmin=2, comments=None, quotechar='"',
                               usecols=numeric)
        except ValueError:
            raise _first_problem(where, lines, delimiter, trailing, text) from exc
    if table.shape[0] != len(lines):  # numpy never drops a line it was given, but say so if it ever did
        raise _first_problem(where, lines, delimiter, trailing)
    names = _header_names(header, delimiter, table.shape[1] + len(text), trailing) if header is not None else None
    if names is not None:
        return TableNode.of_matrix(path.stem, table, names, text)
    return LeafNode(path.stem, table.shape, table.dtype, lambda: table)


def _text_columns(rows, delimiter) -> list[int]:
    """The 0-based columns that hold text (no number, no empty field) on every line, when all lines have as
    many fields and some columns hold numbers; else []."""
    split = [_fields(row, delimiter) for row in rows]
    width = len(split[0])
    if delimiter is None or any(len(fields) != width for fields in split):
        return []
    text = [j for j in range(width) if all(fields[j] and not is_number(fields[j]) for fields in split)]
    return text if len(text) < width else []


def _header_names(header: str, delimiter, width: int, trailing: bool) -> list[str] | None:
    """The column names of a header line split as the data lines are (else as it splits itself), or None when
    their number is not that of the columns. A last name over a column that is empty on every line (LabVIEW's
    "Comment") is dropped with it."""
    for names in (_fields(header, delimiter), _fields(header, _delimiter(header))):
        if trailing and len(names) == width + 1:
            names = names[:-1]
        if len(names) == width:
            return names
    return None


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
