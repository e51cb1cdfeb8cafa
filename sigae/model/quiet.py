"""TensorFlow's C++ start-up lines kept off stderr, for the commands and for ``import sigae`` alike.

Loading TensorFlow prints lines such as ``WARNING: All log messages before absl::InitializeLog() is called
are written to STDERR``, oneDNN and CUDA notes, and a ``failed call to cuInit`` error on machines without a
GPU. ``TF_CPP_MIN_LOG_LEVEL=3`` silences the later ones but not those printed while TensorFlow's libraries
load, which go straight to file descriptor 2. So :func:`install` (called by ``import sigae``) sets
``TF_CPP_MIN_LOG_LEVEL`` to 3 when the user has not set it, and puts a finder on ``sys.meta_path`` that lets
TensorFlow import as usual with file descriptor 2 pointed at ``/dev/null`` while it loads (the finder then
removes itself), whoever imports it first: sigae, Keras or the user. TensorFlow is not imported here, so
``import sigae`` stays instant.

A user who sets ``TF_CPP_MIN_LOG_LEVEL`` before ``import sigae`` keeps TensorFlow's lines as that level says;
the ``sigae-*`` commands hide them in any case (``install(command_line=True)``). Python exceptions raised
while TensorFlow loads are not hidden: they propagate after file descriptor 2 is restored.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys

LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
_state = {"command_line": False}


@contextlib.contextmanager
def stderr_hidden():
    """File descriptor 2 (what C++ code writes to) pointed at /dev/null within the block."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietLoader:
    """TensorFlow's own loader, run with stderr hidden; Python's logger of TensorFlow set to errors for the
    commands."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with stderr_hidden():
            self._loader.exec_module(module)
        if _state["command_line"]:
            module.get_logger().setLevel("ERROR")

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _TensorFlowImportHook:
    """A ``sys.meta_path`` finder that only wraps the loader of the top-level ``tensorflow`` package."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        uninstall()
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install(command_line: bool = False) -> None:
    """Quiet TensorFlow's start-up when it is imported later (see the module docstring); nothing when the user
    chose ``TF_CPP_MIN_LOG_LEVEL`` (unless *command_line*) or TensorFlow is already loaded."""
    if command_line:
        _state["command_line"] = True
    elif LEVEL_VARIABLE in os.environ:
        return
    os.environ.setdefault(LEVEL_VARIABLE, "3")
    if "tensorflow" in sys.modules:
        if command_line:
            sys.modules["tensorflow"].get_logger().setLevel("ERROR")
        return
    if not any(isinstance(finder, _TensorFlowImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TensorFlowImportHook())


def uninstall() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _TensorFlowImportHook)]
