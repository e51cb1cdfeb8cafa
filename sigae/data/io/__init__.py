"""Read signals and arrays from MATLAB, numpy, CSV and HDF5 files; write results.

One module per format, all behind one reader interface (:mod:`sigae.data.io.base`):

==========================  ===================================================================
``matlab``                  ``.mat`` v4/v5/v7 through :func:`scipy.io.loadmat` (v5 checked first)
``hdf5``                    ``.mat`` v7.3 and ``.h5``/``.hdf5`` through h5py
``numpy_files``             ``.npy``/``.npz`` through :mod:`numpy.lib.format`, never unpickled
``text``                    ``.csv``/``.txt`` tables, one signal per line
``tables``                  tables of named columns (record arrays, text headers): channels, time column
``files``                   opening a file as the container of its format; failures as DataError
``selection``               choosing a variable, MATLAB-style paths (``data.trials{3}``)
``convert``                 float64 conversion, stacking, orientation, checks
``dataset``                 :class:`SignalDataset`: signals left on disk, read by blocks
``writing``                 :func:`save_array` and the per-format writers
==========================  ===================================================================

Every variable is seen as a *node* (numeric, logical, char, cell, struct,
sparse, ...) so that choosing a variable, walking ``data.trials{3}`` and
converting to float64 work the same for every format. Bad input only ever
raises :class:`DataError` with a one-line message that starts with the file name.

:func:`open_signal_dataset` leaves large signals on disk instead (HDF5, MAT
v7.3, .npy): a :class:`SignalDataset` reads them a block of signals at
a time with the same checks and messages (see :mod:`sigae.data.results`).
"""

from __future__ import annotations

import numpy as np

from sigae.data.io.base import DEFAULT_MAX_BYTES, SignalSource, VariableInfo
from sigae.data.io.convert import (LAYOUTS, check_cell_layout, check_finite, check_layout, check_signal_count, numeric_array,
                      orient_signals, stack_cell, time_column_matrix, time_column_table)
from sigae.data.io.dataset import SignalDataset, open_signal_dataset
from sigae.data.io.files import READ_SUFFIXES, open_file
from sigae.data.io.messages import check_choice, clean  # noqa: F401  (clean: used by sigae.data.results, recordings)
from sigae.data.io.selection import choose_variable
from sigae.data.io.tables import Selection, TableNode
# the per-format writers are used by sigae.data.results, which writes save_array's files block by block
from sigae.data.io.writing import (WRITE_SUFFIXES, csv_text, matlab_names, npz_put, save_array,  # noqa: F401
                                   writable, writer_for)

__all__ = ["load_signals", "load_array", "list_variables", "save_array", "open_signal_dataset", "SignalDataset",
           "SignalSource", "VariableInfo", "DEFAULT_MAX_BYTES", "READ_SUFFIXES", "WRITE_SUFFIXES", "LAYOUTS"]


def load_signals(path, var=None, *, orientation=None, expected_length=None, length_policy=None,
                 max_bytes=DEFAULT_MAX_BYTES, min_length=2, min_signals=1, return_info=False, layout=None,
                 expected_channels=None, time_column=None):
    """Signals as float64 ``(n, L)``, or ``(n, L, C)`` for a 3-D variable; with *return_info* also a SignalSource.

    *var* names the variable (``data.trial``, ``c{3}``, ``s(2).x``; ``table/field`` for a field of a record
    table or a column of a text table with a header); by default the only numeric matrix that can hold signals.
    *orientation* "rows"/"columns"
    forces how signals are laid out; by default rows, or columns when only their
    length matches *expected_length*. A cell of vectors, or a field of a struct
    array (``trials.eeg``), becomes one row per element; *length_policy* "crop"
    or "pad" evens out different lengths. A vector (one row, one column, 1-D) is
    one signal, ``(1, L)``. *min_signals* is 1 (encoding, scoring one new
    recording); training passes 2. Signals shorter than *min_length* points are refused.

    *layout* names the axes of a 3-D variable as stored: "NLC" (signals, points, channels), "NCL" (signals,
    channels, points: aeon, MNE, PyTorch), or any other order of N, L, C ("CLN" for EEGLAB's channels x points
    x trials). Without it a 3-D variable is NLC, and refused when that reading has as many channels as points
    or more (with no *expected_length*); with *expected_length* (and *expected_channels*) a reading that does
    not fit the model is refused, naming the *layout* that does.

    A table of named columns (record table, text table with a header) gives its numeric columns; a time column
    (recognised by its name, or *time_column*: a name or 1-based number; ``"none"``: none) is left out and
    the SignalSource's note says so. For a matrix without names, *time_column* K leaves out its column K.

    Raises DataError (one line, starting with the file name) for anything it cannot read; ValueError for an
    *orientation*, *length_policy* or *layout* that is none of the above.
    """
    check_choice("orientation", orientation, ("rows", "columns"))
    check_choice("length_policy", length_policy, ("crop", "pad"))
    layout = check_layout(layout)
    with open_file(path, max_bytes) as src:
        node = choose_variable(src, var, "signals", max_bytes)
        named = isinstance(node, (TableNode, Selection))  # a table, or columns of one
        node, table_note = time_column_table(src.where, node, time_column)
        read = ""
        if node.kind == "cell":
            x = stack_cell(src.where, node, length_policy, max_bytes)
            x, orient, note = check_cell_layout(src.where, node.label, x, orientation, expected_length, node.noun)
        else:
            x = numeric_array(src.where, node, max_bytes)
            if not named:
                x, table_note = time_column_matrix(src.where, node.label, x, time_column)
            x, orient, read, note = orient_signals(src.where, node.label, x, orientation, expected_length, min_signals,
                                            layout, expected_channels)
        check_signal_count(src.where, node.label, x.shape, min_length, min_signals)
        check_finite(src.where, node.label, x, signals=True)
    note = "; ".join(n for n in (table_note, note) if n)
    return (x, SignalSource(str(path), node.label, orient, note, read)) if return_info else x


def load_array(path, var=None, *, max_bytes=DEFAULT_MAX_BYTES, return_info=False, time_column=None):
    """Any real numeric variable (labels, latent codes...) as float64, with the same choice and error rules.

    A cell of vectors or a struct array field (``trials.label``) named with *var* gives one row per element
    (all of one length). A table of named columns gives its numeric columns, its time column left out as in
    :func:`load_signals` (*time_column*; a matrix without column names is returned whole); the note of the
    SignalSource (*return_info*) says what was left out.
    """
    x, source, _ = load_array_named(path, var, max_bytes, time_column)
    return (x, source) if return_info else x


def load_array_named(path, var, max_bytes, time_column) -> tuple[np.ndarray, SignalSource, list | None]:
    """load_array's array and SignalSource, and the names of its columns when it comes from a table (else None)."""
    with open_file(path, max_bytes) as src:
        node = choose_variable(src, var, "numbers", max_bytes)
        node, note = time_column_table(src.where, node, time_column)
        names = [c.name for c in node.chosen] if isinstance(node, Selection) else None
        x = stack_cell(src.where, node, None, max_bytes) if node.kind == "cell" else numeric_array(src.where, node,
                                                                                                max_bytes)
        check_finite(src.where, node.label, x, signals=False)
    return x, SignalSource(str(path), node.label, "rows", note), names


def list_variables(path) -> list[VariableInfo]:
    """The variables of a file, from headers only (nothing large is read)."""
    with open_file(path, DEFAULT_MAX_BYTES) as src:
        return list(src.variables())
