"""Errors sigae reports to users.

Every message names the file or option and what is wrong, on one line, so the
CLI can print it as is and exit with code 2. A setting is named in the words of
the interface in use (:func:`option`): ``--overwrite`` from the command line,
``overwrite=True`` from Python.
"""

import contextlib
import contextvars


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


class StreamClosedError(SigaeError, RuntimeError):
    """A :class:`sigae.StreamScorer` was given samples after ``flush()`` ended its recording."""


# ---------------------------------------------------------------------------- the words of messages
_COMMAND_LINE = contextvars.ContextVar("sigae_command_line", default=False)


def option(cli: str, api: str) -> str:
    """How a message names a setting: *cli* (``--overwrite``) while a ``sigae-*`` command runs, *api*
    (``overwrite=True``) otherwise, so that an error speaks the words of the interface that was used."""
    return cli if _COMMAND_LINE.get() else api


@contextlib.contextmanager
def command_line_words():
    """Within this block (a ``sigae-*`` command), :func:`option` gives the command line's words."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)
