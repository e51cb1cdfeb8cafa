"""Writing results: :func:`save_array` and the per-format writers (also used by sigae.data.results)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from sigae.errors import DataError
from sigae.data.files import atomic_path
from sigae.data.io.messages import clean, quoted, shape_text


WRITE_SUFFIXES = (".mat", ".npz", ".csv", ".h5", ".hdf5")
_MATLAB_KEYWORDS = {"break", "case", "catch", "classdef", "continue", "else", "elseif", "end", "for", "function",
                    "global", "if", "otherwise", "parfor", "persistent", "return", "spmd", "switch", "try", "while"}


def save_array(path, name, array, *, overwrite=False, csv_columns=None, **extra) -> Path:
    """Write *array* as variable *name* plus *extra* variables; the format follows the extension.

    ``.mat``: MATLAB v5, compressed, names made MATLAB-valid, 1-D arrays as columns;
    ``.npz``: keys as given; ``.csv``: *array* only, 2-D (1-D as a column), each
    number in the shortest form that reads back exactly, or with *csv_columns*
    (names of one-value-per-row variables, *name* first) those variables side
    by side under a header line of their names; ``.h5``/``.hdf5``: one
    dataset per variable. Extras may be arrays, numbers, booleans or strings. The
    file appears atomically; an existing file is refused (OutputExistsError)
    unless *overwrite*.
    """
    path = Path(path)
    writer = writer_for(path)
    if not isinstance(name, str) or not name:
        raise DataError(f"{clean(path)}: the variable name must be non-empty text, got {name!r}")
    if name in extra:
        raise DataError(f"{clean(path)}: variable {quoted(name)} is given twice")
    variables = {key: writable(path, key, value) for key, value in {name: array, **extra}.items()}
    if not isinstance(variables[name], np.ndarray):
        raise DataError(f"{clean(path)}: variable {quoted(name)} must be an array, not text")
    if csv_columns is not None and path.suffix.lower() == ".csv":
        variables = {"": csv_table(path, [(key, variables[key]) for key in csv_columns])}
        writer = _write_csv_table
    with atomic_path(path, overwrite) as tmp:
        writer(path, tmp, name, variables)
    return path


def writable(path, key, value):
    """An extra as an ndarray, or kept as str; anything else is a programming error."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, np.generic, np.ndarray)):
        array = np.asarray(value)
        if array.dtype.kind in "biuf":
            return array
    raise TypeError(f"{path}: variable {key!r} must be a numeric array, number, boolean or string, "
                    f"not {type(value).__name__}")


def _matlab_name(name: str) -> str:
    """A valid MATLAB variable name: ASCII letters, digits, underscores, a letter first, at most 63 characters."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not text[:1].isalpha():
        text = "x" + text
    if text in _MATLAB_KEYWORDS:
        text += "_"
    return text[:63]


def matlab_names(path, keys) -> dict:
    """{key: MATLAB-valid name}; two keys that would get the same name are an error."""
    renamed = {}
    for key in keys:
        new = _matlab_name(key)
        if new in renamed:
            raise DataError(f"{clean(path)}: variables {quoted(renamed[new])} and {quoted(key)} would both be saved as "
                            f"{quoted(new)} in a .mat file; rename one")
        renamed[new] = key
    return {key: new for new, key in renamed.items()}


def _write_mat(path, tmp, name, variables):
    """MATLAB v5, compressed, every name made MATLAB-valid; two names that would clash are an error."""
    names = matlab_names(path, variables)
    scipy.io.savemat(tmp, {names[key]: value for key, value in variables.items()}, format="5", do_compression=True,
                     oned_as="column")


def _write_npz(path, tmp, name, variables):
    """The archive np.savez writes, without its reserved keyword names ("file", "allow_pickle")."""
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, value in variables.items():
            npz_put(archive, key, value)


def npz_put(archive: zipfile.ZipFile, key, value):
    """*value* as entry ``key.npy`` of an archive open for writing."""
    with archive.open(f"{key}.npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array(fh, np.asarray(value), allow_pickle=False)


def _write_csv(path, tmp, name, variables):
    """Comma-separated rows; each number in the shortest text that reads back to the same float64."""
    array = variables[name]
    if array.ndim > 2:
        raise DataError(f"{clean(path)}: a .csv file holds a 2-D table, but {quoted(name)} is "
                        f"{shape_text(array.shape)}; use .mat, .npz or .h5")
    tmp.write_text(csv_text(array), encoding="utf-8")


def csv_table(path, columns) -> str:
    """The text of a .csv file of *columns* ``[(name, n values), ...]``: a header line of the names, then one
    line per row; whole-number columns (flags, indices) as integers, others as the shortest exact float64."""
    arrays = [np.asarray(value).reshape(-1) for _, value in columns]
    if len({len(a) for a in arrays}) != 1:
        raise DataError(f"{clean(path)}: the columns {', '.join(quoted(n) for n, _ in columns)} differ in length")
    lists = [a.astype(np.int64).tolist() if a.dtype.kind in "biu" else a.astype(np.float64).tolist() for a in arrays]
    return ",".join(name for name, _ in columns) + "\n" + "".join(",".join(map(repr, row)) + "\n"
                                                                  for row in zip(*lists))


def _write_csv_table(path, tmp, name, variables):
    tmp.write_text(variables[""], encoding="utf-8")


def csv_text(array) -> str:
    """Rows of a 0-D, 1-D (one per line) or 2-D array as text lines, each number as the shortest exact float64."""
    table = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
    return "".join(",".join(map(repr, row)) + "\n" for row in table.astype(np.float64).tolist())


def _write_h5(path, tmp, name, variables):
    """One dataset per variable (text as a string dataset)."""
    with h5py.File(tmp, "w") as f:
        for key, value in variables.items():
            f.create_dataset(key, data=value)


_WRITERS = {".mat": _write_mat, ".npz": _write_npz, ".csv": _write_csv, ".h5": _write_h5, ".hdf5": _write_h5}


def writer_for(path: Path):
    """The writer of *path*'s extension; DataError for one sigae cannot write."""
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise DataError(f"{clean(path)}: cannot write '{clean(path.suffix)}' files; "
                        f"use one of {', '.join(WRITE_SUFFIXES)}")
    return writer
