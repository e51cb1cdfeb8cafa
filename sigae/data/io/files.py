"""Opening a file as the Container of its format; every library failure becomes a one-line DataError."""

from __future__ import annotations

import codecs
import contextlib
import re
import warnings
from pathlib import Path

from sigae.errors import DataError
from sigae.data.io.base import Container, Single
from sigae.data.io.hdf5 import FilterUnavailable, Hdf5, is_matlab_hdf5
from sigae.data.io.matlab import MatScipy
from sigae.data.io.messages import FORMAT_NAMES, bytes_text, clean, reason_text
from sigae.data.io.numpy_files import Npz, npy_node
from sigae.data.io.text import table_node


READ_SUFFIXES = (".mat", ".npy", ".npz", ".csv", ".txt", ".h5", ".hdf5")


def _is_octave_text(path: Path) -> bool:
    """Octave's default ``save`` format: text starting with ``# Created by Octave`` or ``# name:``."""
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    return head.startswith((b"# Created by Octave", b"# name:"))


def _octave_text_name(path: Path) -> str:
    """The first variable named in an Octave text file (``# name: x``), for the advice; else "x"."""
    with open(path, "rb") as fh:
        match = re.search(rb"^# name: ([A-Za-z]\w{0,62})\s*$", fh.read(4096), re.MULTILINE)
    return match.group(1).decode("ascii") if match else "x"


def _is_plain_text(path: Path) -> bool:
    """Text with no MATLAB header: a MAT-file (v4, v5/v7 or HDF5-based v7.3) has NUL bytes in its first 512."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    try:  # incremental: a character cut in two at byte 512 is not an error
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return bool(head.strip()) and b"\0" not in head and not head.startswith(b"MATLAB")


def _open_container(path: Path, where: str, max_bytes: int) -> Container:
    suffix = path.suffix.lower()
    if suffix == ".mat" and _is_octave_text(path):
        raise DataError(f"{where}: is in Octave's text format, which sigae does not read; save a binary "
                        f"MAT-file from Octave instead: save -v7 file.mat {_octave_text_name(path)}")
    if suffix == ".mat" and _is_plain_text(path):
        raise DataError(f"{where}: is a text file, not a MAT-file (those are binary); a table of numbers "
                        "is read from a .csv or .txt name")
    if suffix == ".mat":
        return Hdf5(path, where, matlab=True) if is_matlab_hdf5(path) else MatScipy(path, where, max_bytes)
    if suffix in (".h5", ".hdf5"):
        return Hdf5(path, where, matlab=False)
    if suffix == ".npz":
        return Npz(path, where)
    if suffix == ".npy":
        return Single(path, where, npy_node(path))
    if path.stat().st_size > max_bytes:
        raise DataError(f"{where}: a text table of {bytes_text(path.stat().st_size)} is over the limit of "
                        f"{bytes_text(max_bytes)}; save it as .npy or .mat")
    return Single(path, where, table_node(path, where))


@contextlib.contextmanager
def library_errors(path):
    """Turn every library failure inside the block into a DataError naming *path*; library warnings are muted."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except DataError:
        raise
    except FilterUnavailable as exc:
        raise DataError(f"{clean(path)}: {exc}") from exc
    except Exception as exc:  # the parsers raise anything on bad bytes (even SyntaxError from a .npy header)
        what = FORMAT_NAMES.get(Path(str(path)).suffix.lower(), "file")
        raise DataError(f"{clean(path)}: not a readable {what} ({reason_text(exc)})") from exc


def open_checked(path, max_bytes) -> Container:
    """*path* opened as a container, after the checks every format shares (call inside library_errors)."""
    where = clean(path)
    path = Path(path)
    if path.suffix.lower() not in READ_SUFFIXES:
        raise DataError(f"{where}: cannot read '{clean(path.suffix)}' files; use one of {', '.join(READ_SUFFIXES)}")
    if not path.exists():
        raise DataError(f"{where}: no such file")
    if path.is_dir():
        raise DataError(f"{where}: is a directory, not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{where}: is empty (0 bytes)")
    return _open_container(path, where, max_bytes)


@contextlib.contextmanager
def open_file(path, max_bytes):
    """Open *path* as a container; turn every library failure inside the block into a DataError."""
    with library_errors(path):
        src = open_checked(path, max_bytes)
        try:
            yield src
        finally:
            src.close()


def streamable_file(path: Path) -> bool:
    """An HDF5 file (.h5, .hdf5, .mat v7.3) or an .npy file, by extension and signature."""
    try:
        suffix = path.suffix.lower()
        return path.is_file() and path.stat().st_size > 0 and (
            suffix in (".h5", ".hdf5", ".npy") or (suffix == ".mat" and is_matlab_hdf5(path)))
    except OSError:
        return False  # load_signals reports it
