"""Checkpoints of a training run: ``last.npz`` after every epoch (written off the training thread), ``best.npz``
a hard link to it when the epoch is the best so far, and reading them back (:func:`load_checkpoint`).

A checkpoint holds the weights, the optimizer's variables and the loop's state (epoch, best loss, epochs
waited, history as JSON) in one ``.npz``; resuming from it continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sigae.errors import RunFolderError


def checkpoint_arrays(autoencoder, optimizer, state: dict) -> dict:
    """Host copies of the weights, optimizer state and loop state (taken on the training thread)."""
    arrays = {f"weight_{i:04d}": w for i, w in enumerate(autoencoder.get_weights())}
    arrays.update({f"optimizer_{i:04d}": np.array(v) for i, v in enumerate(optimizer.variables)})
    arrays["state"] = np.frombuffer(json.dumps(state).encode("utf-8"), dtype=np.uint8)
    return arrays


def write_npz(path: Path, arrays: dict) -> None:
    """*arrays* as an uncompressed .npz at *path*, written atomically."""
    from sigae.data.files import atomic_path

    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def _link_or_copy(source: Path, target: Path) -> None:
    """Make *target* the same file as *source* atomically: a hard link (no bytes written), else a copy."""
    import os
    import shutil

    from sigae.data.files import atomic_path

    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:  # file systems without hard links
            shutil.copyfile(source, tmp)


CHECKPOINT_IN_BACKGROUND = True
"""Write checkpoints on a background thread (True) or on the training thread (False: one write plus a hard
link per epoch, no extra host copy alive during the next epoch; see docs/background/performance.md)."""


class CheckpointWriter:
    """Writes ``last.npz`` (and ``best.npz``) after an epoch, off the training thread.

    The arrays are copied on the training thread (so the file holds exactly the epoch's end state) and
    written by one background thread while the next epoch trains; a new checkpoint waits for the previous
    one, so ``last.npz`` is never more than the epoch in progress behind, and :meth:`wait` (called before
    training returns or raises) leaves it at the last completed epoch. Each file is written to a temporary
    name and renamed, so a kill at any moment leaves the previous complete checkpoint. When the epoch is
    also the best so far, ``best.npz`` becomes a hard link to the same file instead of a second copy of
    ~180 MB (the seed model's weights and Adam moments).
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._thread = None
        self._error = None

    def submit(self, autoencoder, optimizer, state: dict, best: bool) -> None:
        import threading

        self.wait()  # first: never two host copies at once (the seed model's is 180 MB)
        arrays = checkpoint_arrays(autoencoder, optimizer, state)
        if not CHECKPOINT_IN_BACKGROUND:
            self._write(arrays, best)
            return self.wait()
        self._thread = threading.Thread(target=self._write, args=(arrays, best), name="sigae-checkpoint")
        self._thread.start()

    def _write(self, arrays: dict, best: bool) -> None:
        try:
            last = self.directory / "last.npz"
            write_npz(last, arrays)
            arrays.clear()  # free the host copy as soon as it is on disk
            if best:
                _link_or_copy(last, self.directory / "best.npz")
        except BaseException as exc:  # reported on the training thread by wait()
            self._error = exc

    def wait(self) -> None:
        """Block until the checkpoint in flight is on disk; re-raise its error, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise RunFolderError(f"{self.directory}: cannot write a checkpoint ({error})") from error


def load_checkpoint(path: Path, autoencoder, optimizer=None) -> dict:
    """Restore weights (and optimizer state) from a checkpoint; return its loop state."""
    try:
        with np.load(path, allow_pickle=False) as data:
            names = sorted(data.files)
            weights = [data[k] for k in names if k.startswith("weight_")]
            opt_values = [data[k] for k in names if k.startswith("optimizer_")]
            state = json.loads(data["state"].tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise RunFolderError(f"{path}: unreadable checkpoint ({exc})") from None
    try:
        autoencoder.set_weights(weights)
        if optimizer is not None:
            if len(opt_values) != len(optimizer.variables):
                raise ValueError(f"{len(opt_values)} optimizer values for {len(optimizer.variables)} variables")
            for variable, value in zip(optimizer.variables, opt_values):
                variable.assign(value)
    except ValueError as exc:
        raise RunFolderError(f"{path}: checkpoint does not fit this model ({exc})") from None
    return state
