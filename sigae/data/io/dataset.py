"""Signals left on disk (HDF5, MAT v7.3, .npy), read a block of signals at a time."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sigae.data.io.base import SignalSource, Container
from sigae.data.io.convert import check_finite, check_layout, check_signal_count, signal_orientation, orientation_name
from sigae.data.io.files import open_checked, library_errors, streamable_file
from sigae.data.io.hdf5 import H5Node, OctaveNode, h5_blocks
from sigae.data.io.messages import check_choice, clean
from sigae.data.io.numpy_files import npy_blocks
from sigae.data.io.selection import choose_variable
from sigae.data.io.tables import Selection, TableNode


class SignalDataset:
    """Signals left in their file, read a block of signals at a time; see :func:`open_signal_dataset`.

    ``shape`` and ``len()`` are those of the array :func:`load_signals` would
    return, ``source`` says where the signals come from.
    """

    def __init__(self, source: SignalSource, shape: tuple, read_block: Callable[[int, int], np.ndarray]):
        self.source, self.shape, self._read_block = source, tuple(shape), read_block

    def __len__(self):
        return self.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Signals ``start:stop`` as float64, refused as by load_signals if the variable holds NaN/Inf there.

        The message is the one for the whole variable: on a NaN/Inf the rest of it is read to count them.
        """
        x = self._block(start, stop)
        check_finite(clean(self.source.path), self.source.var, x, signals=True, offset=start,
                      count_rest=lambda: self._count_nonfinite(stop, max(stop - start, 1)))
        return x

    def _block(self, start, stop):
        with library_errors(self.source.path):
            return np.ascontiguousarray(self._read_block(start, stop), dtype=np.float64)

    def _count_nonfinite(self, start, rows):
        return sum(int(np.count_nonzero(~np.isfinite(self._block(i, min(i + rows, len(self))))))
                   for i in range(start, len(self), rows))


@contextlib.contextmanager
def open_signal_dataset(path, var=None, *, orientation=None, expected_length=None, min_length=2, min_signals=1,
                        layout=None, expected_channels=None, time_column=None):
    """Yield the signals of *path* as a :class:`SignalDataset` left on disk, or None to use :func:`load_signals`.

    A numeric variable of an HDF5 file (``.h5``/``.hdf5``, ``.mat`` v7.3) or an
    ``.npy`` file (either memory order; signals as columns only if 2-D) is streamed, whatever its size;
    anything else (other formats, cells, tables, complex or empty variables, a *time_column* to leave out...)
    gives None, and load_signals reads it or says what is wrong with it. The choice of
    variable, the orientation, the *layout* of a 3-D variable and their messages are load_signals'; NaN/Inf are
    found block by block by :meth:`SignalDataset.read`.
    """
    check_choice("orientation", orientation, ("rows", "columns"))
    layout = check_layout(layout)
    if not streamable_file(Path(path)) or (time_column is not None and str(time_column).lower() != "none"):
        yield None
        return
    with library_errors(path):
        src = open_checked(path, math.inf)
    with contextlib.closing(src):
        with library_errors(path):
            dataset = _signal_dataset(src, str(path), var, orientation, expected_length, min_length, min_signals,
                                      layout, expected_channels)
        yield dataset


def _signal_dataset(src: Container, path: str, var, orientation, expected_length,
                    min_length, min_signals, layout=None, expected_channels=None) -> SignalDataset | None:
    """The variable load_signals would read, as a SignalDataset if it is a plain numeric array we can read by blocks."""
    node = choose_variable(src, var, "signals", math.inf)  # no size limit: nothing is read whole
    if (node.kind not in ("numeric", "logical") or node.dtype is None or node.dtype.kind not in "biuf"
            or len(node.shape) not in (2, 3) or 0 in node.shape or isinstance(node, (TableNode, Selection))):
        return None
    axes, read_layout, note = signal_orientation(src.where, node.label, node.shape, orientation, expected_length,
                                           min_signals, layout, expected_channels)
    shape = tuple(node.shape[a] for a in axes)
    check_signal_count(src.where, node.label, shape, min_length, min_signals)
    if isinstance(node, (H5Node, OctaveNode)):
        if node.obj is None or node.obj.ndim != len(node.shape):  # Octave scalars and empty values
            return None
        read = h5_blocks(node, axes)
    else:
        read = npy_blocks(src.path, node.shape, axes)
    if read is None:
        return None
    return SignalDataset(SignalSource(path, node.label, orientation_name(axes), note, read_layout), shape, read)
