"""Atomic output: write to a temporary file beside the target, then rename.

A crash or kill at any moment leaves either the old complete file or the new
complete file, never a truncated one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from sigae.errors import OutputExistsError


def check_writable(path: str | os.PathLike, overwrite: bool = False, option: str | None = None) -> Path:
    """Refuse an existing output unless *overwrite*; return the path. The message names *option*, by default
    ``--overwrite`` from the command line and ``overwrite=True`` from Python."""
    path = Path(path)
    if path.exists() and not overwrite:
        from sigae.errors import option as words

        raise OutputExistsError(f"{path}: already exists; pass {option or words('--overwrite', 'overwrite=True')} "
                                "to replace it")
    if path.is_dir():
        raise OutputExistsError(f"{path}: is a directory, not a file")
    return path


def current_umask() -> int:
    """The process's file mode creation mask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto *path* on success.

    The temporary name keeps the target's suffix, so libraries that choose a
    format by extension (Keras, matplotlib, h5py) behave as for the target.
    """
    path = check_writable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs get the usual permissions, as open() gives
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> Path:
    """Write *text* to *path* atomically."""
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj, overwrite: bool = True) -> Path:
    """Write *obj* as indented JSON to *path* atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", overwrite)
