"""Read signals and arrays from MATLAB, numpy, CSV and HDF5 files; write results.

One module per format, all behind one reader interface (:mod:`sigae.io.base`):

==========================  ===================================================================
``matlab``                  ``.mat`` v4/v5/v7 through :func:`scipy.io.loadmat` (v5 checked first)
``hdf5``                    ``.mat`` v7.3 and ``.h5``/``.hdf5`` through h5py
``numpy_files``             ``.npy``/``.npz`` through :mod:`numpy.lib.format`, never unpickled
``text``                    ``.csv``/``.txt`` tables, one signal per line
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
a time with the same checks and messages (see :mod:`sigae.streaming`).
"""

from __future__ import annotations

from .base import DEFAULT_MAX_BYTES, SignalSource, VariableInfo
from .convert import _check_cell_layout, _check_finite, _check_signal_count, _numeric, _orient, _stack_cell
from .dataset import SignalDataset, open_signal_dataset
from .files import READ_SUFFIXES, _open
from .messages import _check_choice, _clean  # noqa: F401  (_clean: used by sigae.streaming)
from .selection import _choose
# the private writers are used by sigae.streaming, which writes save_array's files block by block
from .writing import (WRITE_SUFFIXES, _csv_text, _matlab_names, _npz_put, _writable,  # noqa: F401
                      _writer_for, save_array)

__all__ = ["load_signals", "load_array", "list_variables", "save_array", "open_signal_dataset", "SignalDataset",
           "SignalSource", "VariableInfo", "DEFAULT_MAX_BYTES", "READ_SUFFIXES", "WRITE_SUFFIXES"]


def load_signals(path, var=None, *, orientation=None, expected_length=None, length_policy=None,
                 max_bytes=DEFAULT_MAX_BYTES, min_length=2, min_signals=1, return_info=False):
    """Signals as float64 ``(n, L)``, or ``(n, L, C)`` for a 3-D variable; with *return_info* also a SignalSource.

    *var* names the variable (``data.trial``, ``c{3}``, ``s(2).x``); by default the
    only numeric matrix that can hold signals. *orientation* "rows"/"columns"
    forces how signals are laid out; by default rows, or columns when only their
    length matches *expected_length*. A cell of vectors, or a field of a struct
    array (``trials.eeg``), becomes one row per element; *length_policy* "crop"
    or "pad" evens out different lengths. A vector (one row, one column, 1-D) is
    one signal, ``(1, L)``. *min_signals* is 1 (encoding, scoring one new
    recording); training passes 2. Signals shorter than *min_length* points are refused.

    Raises DataError (one line, starting with the file name) for anything it cannot read.
    """
    _check_choice("orientation", orientation, ("rows", "columns"))
    _check_choice("length_policy", length_policy, ("crop", "pad"))
    with _open(path, max_bytes) as src:
        node = _choose(src, var, "signals", max_bytes)
        if node.kind == "cell":
            x = _stack_cell(src.where, node, length_policy, max_bytes)
            x, layout, note = _check_cell_layout(src.where, node.label, x, orientation, expected_length, node.noun)
        else:
            x = _numeric(src.where, node, max_bytes)
            x, layout, note = _orient(src.where, node.label, x, orientation, expected_length, min_signals)
        _check_signal_count(src.where, node.label, x.shape, min_length, min_signals)
        _check_finite(src.where, node.label, x, signals=True)
    return (x, SignalSource(str(path), node.label, layout, note)) if return_info else x


def load_array(path, var=None, *, max_bytes=DEFAULT_MAX_BYTES, return_info=False):
    """Any real numeric variable (labels, latent codes...) as float64, with the same choice and error rules.

    A cell of vectors or a struct array field (``trials.label``) named with *var* gives one row per element
    (all of one length).
    """
    with _open(path, max_bytes) as src:
        node = _choose(src, var, "numbers", max_bytes)
        x = _stack_cell(src.where, node, None, max_bytes) if node.kind == "cell" else _numeric(src.where, node,
                                                                                                max_bytes)
        _check_finite(src.where, node.label, x, signals=False)
    return (x, SignalSource(str(path), node.label, "rows")) if return_info else x


def list_variables(path) -> list[VariableInfo]:
    """The variables of a file, from headers only (nothing large is read)."""
    with _open(path, DEFAULT_MAX_BYTES) as src:
        return list(src.variables())
