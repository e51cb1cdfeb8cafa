"""From a chosen node to float64 signals: conversion, stacking cells, orientation, and the checks on the result."""

from __future__ import annotations

import math

import numpy as np

from ..errors import DataError
from .base import _Node
from .messages import _LISTED, _bytes_text, _clean, _q, _shape_text
from .selection import _check_size, _kind_text


def _check_dtype(where, label, dtype):
    if dtype.kind == "O":
        raise DataError(f"{where}: variable {_q(label)} holds Python objects, not numbers")
    if dtype.kind == "c" or (dtype.names and set(dtype.names) == {"real", "imag"}):
        raise DataError(f"{where}: variable {_q(label)} is complex; sigae needs real numbers "
                        "(save real(x) or abs(x) instead)")
    if dtype.kind not in "biuf":
        raise DataError(f"{where}: variable {_q(label)} is not numeric (dtype {_clean(dtype)})")


def _numeric(where, node: _Node, max_bytes) -> np.ndarray:
    """The node's data as a C-ordered native float64 array; size checked before reading."""
    if node.kind not in ("numeric", "logical", "sparse"):
        raise DataError(f"{where}: variable {_q(node.label)} is {_kind_text(node)}, not numbers{_hint(node)}")
    _check_size(where, node.label, node.shape, max_bytes)
    if node.dtype is not None:
        _check_dtype(where, node.label, node.dtype)
    data = np.asarray(node.read())
    _check_dtype(where, node.label, data.dtype)
    if data.size == 0:
        raise DataError(f"{where}: variable {_q(node.label)} is empty ({_shape_text(data.shape)})")
    return np.ascontiguousarray(data, dtype=np.float64)


def _hint(node) -> str:
    """How to reach numbers inside a cell or struct."""
    if node.kind == "cell":
        return f"; name one element as {_clean(node.label)}{{1}}"
    if node.kind == "struct":
        fields = ", ".join(map(_clean, node.fields()[:_LISTED])) or "none"
        each = " for one signal per element" if math.prod(node.shape) != 1 else ""
        return f"; name a field as {_clean(node.label)}.field{each} (fields: {fields})"
    if node.kind == "other" and node.cls.startswith("Octave"):
        return "; sigae reads Octave matrices, cells and structs (in Octave: x = double(x), then save)"
    if node.kind in ("object", "function_handle"):
        return "; sigae reads numeric arrays only (save the numbers as a double or single matrix)"
    return ""


def _stack_cell(where, node: _Node, length_policy, max_bytes) -> np.ndarray:
    """A cell of numeric vectors, or a struct array field (``trials.eeg``), as one row per element.

    Elements in MATLAB's linear order; different lengths evened out by *length_policy* ("crop"/"pad").
    """
    noun = node.noun
    _check_size(where, node.label, node.shape, max_bytes)
    if math.prod(node.shape) == 0:
        raise DataError(f"{where}: {noun} {_q(node.label)} is empty")
    vectors, total = [], 0
    for label, item in node.cells():
        if item.kind in ("numeric", "logical") and sum(s > 1 for s in item.shape) > 1:
            if noun == "cell":
                raise DataError(f"{where}: {_q(label)} is a {_shape_text(item.shape)} matrix; a cell of signals "
                                "needs one vector per cell")
            raise DataError(f"{where}: {_q(label)} is a {_shape_text(item.shape)} matrix; {_q(node.label)} of a "
                            f"struct array stacks one vector per element; name one element for its matrix, "
                            f"e.g. {_clean(label)}")
        total += math.prod(item.shape) * 8
        if total > max_bytes:
            raise DataError(f"{where}: {noun} {_q(node.label)} needs more than {_bytes_text(max_bytes)} as float64")
        vectors.append(_numeric(where, item, max_bytes).ravel())
    lengths = [len(v) for v in vectors]
    if len(set(lengths)) == 1:
        return np.stack(vectors)
    if length_policy is None:
        raise DataError(f"{where}: {noun} {_q(node.label)} holds signals of {len(set(lengths))} different lengths "
                        f"(min {min(lengths)}, max {max(lengths)}); use --crop or --pad to bring them to one length")
    if length_policy == "crop":
        return np.stack([v[:min(lengths)] for v in vectors])
    _check_size(where, node.label, (len(vectors), max(lengths)), max_bytes)
    return np.stack([np.pad(v, (0, max(lengths) - len(v))) for v in vectors])


def _check_cell_layout(where, label, x, orientation, expected_length, noun="cell"):
    """Cells (and struct array fields) hold one signal per element: rows by construction."""
    if orientation == "columns":
        raise DataError(f"{where}: {noun} {_q(label)} holds one signal per element; --orientation columns "
                        "does not apply")
    if expected_length is not None and x.shape[1] != expected_length:
        raise DataError(f"{where}: {noun} {_q(label)} holds signals of {x.shape[1]} points; "
                        f"the model expects {expected_length}")
    return x, "rows", ""


def _orientation(where, label, shape, orientation, expected_length, min_signals=1) -> tuple[bool, str]:
    """(signals are columns, note for the user) for a 1-D, 2-D or 3-D numeric variable of (MATLAB-order) *shape*.

    A vector (1-D, one row or one column) is one signal unless *orientation* says otherwise; with
    *min_signals* 2 (training) it is refused.
    """
    vector = len(shape) == 1 or (len(shape) == 2 and 1 in shape)
    if vector and min_signals >= 2:
        raise DataError(f"{where}: variable {_q(label)} is a single vector ({_shape_text(shape)}): only one "
                        f"signal; training needs at least {min_signals} (a matrix with one signal per row)")
    if len(shape) == 0:
        raise DataError(f"{where}: variable {_q(label)} is a scalar, not signals")
    if len(shape) > 3:
        raise DataError(f"{where}: variable {_q(label)} has {len(shape)} dimensions ({_shape_text(shape)}); signals "
                        "need 2 (signals x points) or 3 (signals x points x channels)")
    if len(shape) == 1:
        shape = (1, shape[0])
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
            raise DataError(f"{where}: variable {_q(label)} is {_shape_text(shape)}; the model expects signals "
                            f"of {expected_length} points, but neither side has that length")
        other = "rows" if columns else "columns"
        raise DataError(f"{where}: variable {_q(label)} read as {orientation} gives signals of {length} points; the "
                        f"model expects {expected_length}: try --orientation {other}")
    note = (f"signals read as columns: their length {expected_length} matches the model"
            if columns and orientation is None else "")
    return columns, note


def _orient(where, label, x, orientation, expected_length, min_signals=1):
    """(signals first array, "rows"/"columns", note) for a 1-D, 2-D or 3-D numeric variable."""
    columns, note = _orientation(where, label, x.shape, orientation, expected_length, min_signals)
    if x.ndim == 1:
        x = x[None, :]
    if columns:
        x = np.ascontiguousarray(np.swapaxes(x, 0, 1))
    return x, "columns" if columns else "rows", note


def _check_signal_count(where, label, shape, min_length, min_signals=1):
    """At least *min_signals* signals (2 to train, 1 to encode or score) of at least *min_length* points."""
    if shape[0] < min_signals:
        raise DataError(f"{where}: variable {_q(label)} holds only {shape[0]} signal"
                        f"{'' if shape[0] == 1 else 's'}; training needs at least {min_signals}")
    if shape[1] < min_length:
        raise DataError(f"{where}: variable {_q(label)} holds signals of {shape[1]} point(s); "
                        f"need at least {min_length}")


def _check_finite(where, label, x, signals, offset=0, count_rest=None):
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
    raise DataError(f"{where}: variable {_q(label)} has {count} NaN/Inf value{'s' if count > 1 else ''}; first at "
                    f"{position} (1-based) is {x[index]}")
