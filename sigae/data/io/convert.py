"""From a chosen node to float64 signals: conversion, stacking cells, orientation, and the checks on the result."""

from __future__ import annotations

import math

import numpy as np

from sigae.errors import DataError
from sigae.data.io.base import Node
from sigae.data.io.messages import LISTED, bytes_text, clean, quoted, shape_text
from sigae.data.io.selection import check_size, kind_text
from sigae.data.io.tables import TableNode, record_hint


def _check_dtype(where, label, dtype):
    if dtype.kind == "O":
        raise DataError(f"{where}: variable {quoted(label)} holds Python objects, not numbers")
    if dtype.kind == "c" or (dtype.names and set(dtype.names) == {"real", "imag"}):
        raise DataError(f"{where}: variable {quoted(label)} is complex; sigae needs real numbers "
                        "(save real(x) or abs(x) instead)")
    if dtype.kind not in "biuf":
        raise DataError(f"{where}: variable {quoted(label)} is not numeric (dtype {clean(dtype)})")


def numeric_array(where, node: Node, max_bytes) -> np.ndarray:
    """The node's data as a C-ordered native float64 array; size checked before reading."""
    if node.kind not in ("numeric", "logical", "sparse"):
        raise DataError(f"{where}: variable {quoted(node.label)} is {kind_text(node)}, not numbers{_hint(node)}")
    check_size(where, node.label, node.shape, max_bytes)
    if node.dtype is not None:
        _check_dtype(where, node.label, node.dtype)
    data = np.asarray(node.read())
    _check_dtype(where, node.label, data.dtype)
    if data.size == 0:
        raise DataError(f"{where}: variable {quoted(node.label)} is empty ({shape_text(data.shape)})")
    return np.ascontiguousarray(data, dtype=np.float64)


def _hint(node) -> str:
    """How to reach numbers inside a cell or struct."""
    if node.kind == "cell":
        return f"; name one element as {clean(node.label)}{{1}}"
    if node.kind == "struct":
        fields = ", ".join(map(clean, node.fields()[:LISTED])) or "none"
        each = " for one signal per element" if math.prod(node.shape) != 1 else ""
        return f"; name a field as {clean(node.label)}.field{each} (fields: {fields})"
    if node.kind == "other" and node.cls.startswith("Octave"):
        return "; sigae reads Octave matrices, cells and structs (in Octave: x = double(x), then save)"
    if node.kind in ("object", "function_handle"):
        return "; sigae reads numeric arrays only (save the numbers as a double or single matrix)"
    return record_hint(node)


def stack_cell(where, node: Node, length_policy, max_bytes) -> np.ndarray:
    """A cell of numeric vectors, or a struct array field (``trials.eeg``), as one row per element.

    Elements in MATLAB's linear order; different lengths evened out by *length_policy* ("crop"/"pad").
    """
    noun = node.noun
    check_size(where, node.label, node.shape, max_bytes)
    if math.prod(node.shape) == 0:
        raise DataError(f"{where}: {noun} {quoted(node.label)} is empty")
    vectors, total = [], 0
    for label, item in node.cells():
        if item.kind in ("numeric", "logical") and sum(s > 1 for s in item.shape) > 1:
            if noun == "cell":
                raise DataError(f"{where}: {quoted(label)} is a {shape_text(item.shape)} matrix; a cell of signals "
                                "needs one vector per cell")
            raise DataError(f"{where}: {quoted(label)} is a {shape_text(item.shape)} matrix; {quoted(node.label)} of a "
                            f"struct array stacks one vector per element; name one element for its matrix, "
                            f"e.g. {clean(label)}")
        total += math.prod(item.shape) * 8
        if total > max_bytes:
            raise DataError(f"{where}: {noun} {quoted(node.label)} needs more than {bytes_text(max_bytes)} as float64")
        vectors.append(numeric_array(where, item, max_bytes).ravel())
    lengths = [len(v) for v in vectors]
    if len(set(lengths)) == 1:
        return np.stack(vectors)
    if length_policy is None:
        raise DataError(f"{where}: {noun} {quoted(node.label)} holds signals of {len(set(lengths))} different lengths "
                        f"(min {min(lengths)}, max {max(lengths)}); use --crop or --pad to bring them to one length")
    if length_policy == "crop":
        return np.stack([v[:min(lengths)] for v in vectors])
    check_size(where, node.label, (len(vectors), max(lengths)), max_bytes)
    return np.stack([np.pad(v, (0, max(lengths) - len(v))) for v in vectors])


def check_cell_layout(where, label, x, orientation, expected_length, noun="cell"):
    """Cells (and struct array fields) hold one signal per element: rows by construction."""
    if orientation == "columns":
        raise DataError(f"{where}: {noun} {quoted(label)} holds one signal per element; --orientation columns "
                        "does not apply")
    if expected_length is not None and x.shape[1] != expected_length:
        raise DataError(f"{where}: {noun} {quoted(label)} holds signals of {x.shape[1]} points; "
                        f"the model expects {expected_length}")
    return x, "rows", ""


LAYOUTS = ("NLC", "NCL", "LNC", "LCN", "CNL", "CLN")
"""Orders of the axes of a 3-D variable: N signals, L points, C channels, as stored (in MATLAB's order for
MAT-files). NLC is sigae's own; NCL is that of aeon, MNE (``epochs.get_data()``) and PyTorch; CLN is EEGLAB's
channels x points x trials."""


def check_layout(layout):
    if layout is not None and (not isinstance(layout, str) or layout.upper() not in LAYOUTS):
        raise ValueError(f"layout must be one of {LAYOUTS} or None, got {layout!r}")
    return layout.upper() if layout is not None else None


def signal_orientation(where, label, shape, orientation, expected_length, min_signals=1, layout=None,
                 expected_channels=None) -> tuple[tuple, str, str]:
    """(axes, layout, note) for a 1-D, 2-D or 3-D numeric variable of (MATLAB-order) *shape*.

    ``np.transpose(x, axes)`` gives the signals first: ``(n, L)`` or ``(n, L, C)`` (a 1-D variable is one row
    first). *layout* is the layout read for a 3-D variable (NLC, NCL...), "" otherwise; :func:`orientation_name`
    says whether signals were rows or columns.
    A vector (1-D, one row or one column) is one signal unless *orientation* says otherwise; with
    *min_signals* 2 (training) it is refused. A 3-D variable is read in *layout* (see :func:`_layout_axes`).
    """
    vector = len(shape) == 1 or (len(shape) == 2 and 1 in shape)
    if vector and min_signals >= 2:
        raise DataError(f"{where}: variable {quoted(label)} is a single vector ({shape_text(shape)}): only one "
                        f"signal; training needs at least {min_signals} (a matrix with one signal per row)")
    if len(shape) == 0:
        raise DataError(f"{where}: variable {quoted(label)} is a scalar, not signals")
    if len(shape) > 3:
        raise DataError(f"{where}: variable {quoted(label)} has {len(shape)} dimensions ({shape_text(shape)}); signals "
                        "need 2 (signals x points) or 3 (signals x points x channels; see --layout)")
    if len(shape) == 3:
        return _layout_axes(where, label, shape, orientation, expected_length, layout, expected_channels)
    if len(shape) == 1:
        shape = (1, shape[0])
    given = orientation
    if vector and orientation is None:
        orientation = "columns" if shape[1] == 1 and shape[0] > 1 else "rows"  # one signal, whichever way
    rows, cols = shape[0], shape[1]
    if orientation is None:
        columns = expected_length is not None and cols != expected_length and rows == expected_length
    else:
        columns = orientation == "columns"
    length = rows if columns else cols
    if expected_length is not None and length != expected_length:
        if expected_length not in (rows, cols):
            raise DataError(f"{where}: variable {quoted(label)} is {shape_text(shape)}; the model expects signals "
                            f"of {expected_length} points, but neither side has that length")
        other = "rows" if columns else "columns"
        raise DataError(f"{where}: variable {quoted(label)} read as {'columns' if columns else 'rows'} gives signals "
                        f"of {length} points; the model expects {expected_length}: try --orientation {other}")
    note = (f"signals read as columns: their length {expected_length} matches the model"
            if columns and given is None and not vector else "")
    return ((1, 0) if columns else (0, 1)), "", note


def orientation_name(axes) -> str:
    """"columns" when the signals were along the second stored axis, else "rows"."""
    return "columns" if tuple(axes[:2]) == (1, 0) else "rows"


def _reading_text(shape, axes) -> str:
    n, length, channels = (shape[a] for a in axes)
    return f"{n} signals x {length} points x {channels} channels"


def _layout_axes(where, label, shape, orientation, expected_length, layout, expected_channels):
    """(axes, layout, note) of a 3-D variable of (MATLAB-order) *shape*.

    *layout* (NLC, NCL, ... see LAYOUTS) names the stored axes; without it the layout is NLC (LNC with
    ``orientation="columns"``, or when only the first axis has the model's *expected_length*, as for a matrix
    read as columns). With a model (*expected_length*, *expected_channels*) a reading of another length or
    channel count is refused, naming the ``--layout`` that fits. Without one (training) and without *layout*,
    a reading with as many channels as points or more is refused: the axes are then almost surely in another
    order, or at least cannot be told apart.
    """
    layout = check_layout(layout)
    if layout is not None and orientation == "columns" and layout != "LNC":
        raise DataError(f"{where}: variable {quoted(label)} is 3-D ({shape_text(shape)}): --layout {layout} names "
                        "every axis, and --orientation columns does not apply; drop it")
    note = ""
    if layout is None:
        layout = "LNC" if orientation == "columns" else "NLC"
        if (orientation is None and expected_length is not None and shape[1] != expected_length
                and shape[0] == expected_length and shape[2] != expected_length):
            layout, note = "LNC", f"signals read as columns: their length {expected_length} matches the model"
        explicit = False
    else:
        explicit = True
    axes = tuple(layout.index(axis) for axis in "NLC")
    n, length, channels = (shape[a] for a in axes)
    reading = f"read as {_reading_text(shape, axes)} (layout {layout})"
    if expected_length is not None:
        want = (expected_length, channels if expected_channels is None else expected_channels)
        fits = [other for other in LAYOUTS if (shape[other.index("L")], shape[other.index("C")]) == want]
        if (length, channels) != want and (fits or length != want[0]):  # else: the caller's channel check says it
            fix = f": try --layout {fits[0]}" if fits else ""
            raise DataError(f"{where}: variable {quoted(label)} is {shape_text(shape)}, {reading}; the model expects "
                            f"signals of {want[0]} points x {want[1]} channels{fix}")
    elif not explicit and channels >= length:
        better = next((other for other in ("NCL", "CLN", "LCN", "CNL", "NLC") if other != layout
                       and shape[other.index("C")] < shape[other.index("L")]), "NCL")
        who = " (channels before points, as aeon, MNE and PyTorch keep them)" if better == "NCL" else ""
        raise DataError(f"{where}: variable {quoted(label)} is {shape_text(shape)}, {reading}: "
                        f"{'more' if channels > length else 'as many'} channels than points, so the axes are "
                        f"probably in another order; name them with --layout, e.g. --layout {better} for "
                        f"{_reading_text(shape, tuple(better.index(a) for a in 'NLC'))}{who}, or --layout {layout} "
                        "to read it as it is")
    return axes, layout, note


def orient_signals(where, label, x, orientation, expected_length, min_signals=1, layout=None, expected_channels=None):
    """(signals first array, "rows"/"columns", the layout read for a 3-D variable or "", note) for a 1-D, 2-D or
    3-D numeric variable."""
    axes, read, note = signal_orientation(where, label, x.shape, orientation, expected_length, min_signals, layout,
                                    expected_channels)
    if x.ndim == 1:
        x = x[None, :]
    if axes != tuple(range(x.ndim)):
        x = np.ascontiguousarray(np.transpose(x, axes))
    return x, orientation_name(axes), read, note


def time_column_table(where, node: Node, time_column) -> tuple[Node, str]:
    """A table of named columns (text header, record fields) as the selection of its channels, and the note
    saying what was left out (sigae.data.io.tables); any other node as it is."""
    if isinstance(node, TableNode):
        chosen = node.select(where, time_column)
        return chosen, chosen.note
    return node, ""


def time_column_matrix(where, label, x, time_column) -> tuple[np.ndarray, str]:
    """A matrix without column names: ``--time-column K`` leaves its column K out (1-based)."""
    if time_column is None or str(time_column).strip().lower() == "none":
        return x, ""
    text = str(time_column).strip()
    if not text.isdigit():
        raise DataError(f"{where}: --time-column {clean(text)}: variable {quoted(label)} has no column names (no header "
                        "line, no record fields); give the column's number, e.g. --time-column 1")
    k = int(text)
    if x.ndim != 2:
        raise DataError(f"{where}: --time-column {k}: variable {quoted(label)} is {shape_text(x.shape)}; a time column "
                        "is a column of a table or of a 2-D matrix")
    if not 1 <= k <= x.shape[1] or x.shape[1] < 2:
        raise DataError(f"{where}: --time-column {k}: variable {quoted(label)} is {shape_text(x.shape)}, with no "
                        f"column {k} beside others")
    return (np.ascontiguousarray(np.delete(x, k - 1, axis=1)),
            f"{quoted(label)}: column {k} read as the time axis, not data (--time-column {k})")


def check_signal_count(where, label, shape, min_length, min_signals=1):
    """At least *min_signals* signals (2 to train, 1 to encode or score) of at least *min_length* points."""
    if shape[0] < min_signals:
        raise DataError(f"{where}: variable {quoted(label)} holds only {shape[0]} signal"
                        f"{'' if shape[0] == 1 else 's'}; training needs at least {min_signals}")
    if shape[1] < min_length:
        raise DataError(f"{where}: variable {quoted(label)} holds signals of {shape[1]} point(s); "
                        f"need at least {min_length}")


def check_finite(where, label, x, signals, offset=0, count_rest=None):
    """Refuse NaN/Inf. For one block of a stream, *offset* is the index of its first signal and
    *count_rest()* the number of NaN/Inf after it, so the message is the one for the whole variable."""
    bad = ~np.isfinite(x)
    count = int(np.count_nonzero(bad))
    if not count:
        return
    if count_rest is not None:
        count += count_rest()
    index = np.unravel_index(int(np.argmax(bad)), x.shape)
    if signals:
        numbers = (index[0] + offset,) + index[1:]
        position = ", ".join(f"{axis} {i + 1}" for axis, i in zip(("signal", "point", "channel"), numbers))
    else:
        position = "element (" + ", ".join(str(i + 1) for i in index) + ")"
    raise DataError(f"{where}: variable {quoted(label)} has {count} NaN/Inf value{'s' if count > 1 else ''}; first at "
                    f"{position} (1-based) is {x[index]}")
