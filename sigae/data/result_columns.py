"""Per-point and per-window result columns appended block by block, then saved at once (small results) or
streamed into an HDF5 / MATLAB v7.3 file (large ones), for scores and codes of long recordings.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np


class ResultColumns:
    """Per-point and per-window arrays appended block by block, then written at once or streamed to HDF5."""

    def __init__(self, path: Path, overwrite: bool, stack: contextlib.ExitStack, big: bool):
        self.path, self.overwrite, self.stack = path, overwrite, stack
        self.suffix = path.suffix.lower()
        self.streamed = big and self.suffix in (".mat", ".h5", ".hdf5")
        self.arrays: dict[str, list] = {}
        self.file = None
        if self.streamed:
            import h5py

            from sigae.data.files import atomic_path

            self.tmp = stack.enter_context(atomic_path(path, overwrite))
            matlab = self.suffix == ".mat"
            self.file = h5py.File(self.tmp, "w", userblock_size=512) if matlab else h5py.File(self.tmp, "w")
            self.matlab = matlab
            stack.callback(self._close)

    def _close(self):
        from sigae.data.results import write_mat73_header

        self.file.close()
        if self.matlab:
            write_mat73_header(self.tmp)

    def append(self, **arrays):
        for name, value in arrays.items():
            value = np.asarray(value)
            if not self.streamed:
                self.arrays.setdefault(name, []).append(value)
                continue
            from sigae.data.results import MATLAB_CLASSES

            dtype = np.uint8 if value.dtype == bool else value.dtype
            tail = value.shape[1:]
            if name not in self.file:
                if self.matlab:  # MATLAB stores an m x k matrix as k x m
                    shape, maxshape = (tail or (1,)) + (0,), (tail or (1,)) + (None,)
                else:
                    shape, maxshape = (0,) + tail, (None,) + tail
                ds = self.file.create_dataset(name, shape, dtype=dtype, maxshape=maxshape, chunks=True)
                if self.matlab:
                    ds.attrs["MATLAB_class"] = np.bytes_(MATLAB_CLASSES[np.dtype(dtype).name])
            ds = self.file[name]
            axis = ds.ndim - 1 if self.matlab else 0
            n = ds.shape[axis]
            ds.resize(n + len(value), axis=axis)
            if self.matlab:
                ds[..., n:] = value.reshape(len(value), -1).T.astype(dtype)
            else:
                ds[n:] = value.astype(dtype)

    def finish(self, main: str, extras: dict, csv_columns=None):
        if not self.streamed:
            from sigae.data.io import save_array

            arrays = {k: np.concatenate(v) for k, v in self.arrays.items()}
            save_array(self.path, main, arrays.pop(main), overwrite=self.overwrite, csv_columns=csv_columns,
                       **arrays, **extras)
            return
        from sigae.data.io import writable

        sink = v73_extras(self.file) if self.matlab else None
        for key, value in extras.items():
            value = writable(self.path, key, value)
            if sink is None:
                self.file.create_dataset(key, data=value)
            elif isinstance(value, str):
                sink.put_v73_text(key, value)
            else:
                sink.put_v73_array(key, np.asarray(value))


def v73_extras(file):
    """:class:`sigae.data.results.H5Sink`'s writers of small MATLAB v7.3 variables, on an open file."""
    from sigae.data.results import H5Sink

    class Extras(H5Sink):
        def __init__(self, file):
            self.file = file

    return Extras(file)
