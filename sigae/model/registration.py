"""Register sigae's Keras layers as soon as Keras is imported, without importing Keras here.

``import sigae`` must stay instant (the command line answers ``--help`` before TensorFlow loads), yet
``keras.models.load_model("RUN/model.keras")`` after ``import sigae`` must find sigae's layer classes,
which Keras resolves through ``keras.saving.register_keras_serializable``, run when :mod:`sigae.model.layers`
is imported. So :func:`install` imports :mod:`sigae.model.layers` at once if Keras is already loaded, and
otherwise puts a finder on ``sys.meta_path`` that lets Keras import as usual and imports
:mod:`sigae.model.layers` right after it (the finder then removes itself). Importing Keras is what costs
time; registering after it costs nothing measurable.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

LAYERS_MODULE = "sigae.model.layers"


def _register() -> None:
    if LAYERS_MODULE not in sys.modules:  # already importing (it imported Keras): it registers as it ends
        importlib.import_module(LAYERS_MODULE)


class _RegisteringLoader:
    """Keras' own loader, with sigae's layers registered once Keras' package has executed."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _register()

    def __getattr__(self, name):  # get_source, get_resource_reader, is_package, ...
        return getattr(self._loader, name)


class _KerasImportHook:
    """A ``sys.meta_path`` finder that only wraps the loader of the top-level ``keras`` package."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        uninstall()
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader)
        return spec


def install() -> None:
    """Register sigae's layers with Keras now (Keras loaded) or as soon as Keras is imported."""
    if "keras" in sys.modules:
        _register()
    elif not any(isinstance(finder, _KerasImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasImportHook())


def uninstall() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _KerasImportHook)]
