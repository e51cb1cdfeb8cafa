"""Errors sigae reports to users.

Every message names the file or option and what is wrong, on one line, so the
CLI can print it as is and exit with code 2.
"""


class SigaeError(Exception):
    """Base class of every error sigae raises on purpose."""


class DataError(SigaeError, ValueError):
    """An input file or array cannot be used as signals (or latents, labels)."""


class ConfigError(SigaeError, ValueError):
    """An option or configuration value is invalid."""


class RunFolderError(SigaeError):
    """A run folder is missing, incomplete or inconsistent."""


class OutputExistsError(SigaeError, FileExistsError):
    """An output already exists and overwriting was not asked for."""


class NotFittedError(SigaeError, RuntimeError):
    """A normalizer or model was used before it was fitted."""


class TrainingError(SigaeError, RuntimeError):
    """Training could not go on (for example the loss became NaN)."""
