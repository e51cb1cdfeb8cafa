"""sigae: 1-D convolutional autoencoders for signals stored in MATLAB files.

Heavy modules (TensorFlow/Keras) load only when first used, so the command
line answers ``--help`` at once; when they do, TensorFlow's C++ start-up lines
are kept off stderr unless ``TF_CPP_MIN_LOG_LEVEL`` was set (:mod:`sigae.model.quiet`).
"""

__version__ = "0.1.0"

from sigae.model.config import AutoencoderConfig  # noqa: E402
from sigae.errors import (ConfigError, DataError, NotFittedError, OutputExistsError, RunFolderError,  # noqa: E402
                     SigaeError, StreamClosedError, TrainingError)
from sigae.model.quiet import install as _quiet_tensorflow  # noqa: E402
from sigae.model.registration import install as _register_keras_layers  # noqa: E402

_quiet_tensorflow()  # TensorFlow's C++ start-up lines off stderr, unless TF_CPP_MIN_LOG_LEVEL was chosen
_register_keras_layers()  # sigae's layers are known to keras.models.load_model once Keras is imported

_LAZY = {
    "SignalAutoencoder": "sigae.estimator.autoencoder", "load": "sigae.estimator.autoencoder",
    "load_signals": "sigae.data.io", "load_array": "sigae.data.io", "save_array": "sigae.data.io",
    "list_variables": "sigae.data.io",
    "build_models": "sigae.model.network",
    "sliding_windows": "sigae.data.windows", "read_recordings": "sigae.data.recordings",
    "StreamScorer": "sigae.estimator.live", "StreamUpdate": "sigae.estimator.live",
}

__all__ = ["AutoencoderConfig", "SignalAutoencoder", "load", "load_signals", "load_array", "save_array",
           "list_variables", "build_models", "sliding_windows", "read_recordings", "StreamScorer", "StreamUpdate",
           "SigaeError", "DataError", "ConfigError", "RunFolderError",
           "OutputExistsError", "NotFittedError", "TrainingError", "StreamClosedError", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sigae' has no attribute {name!r}")
