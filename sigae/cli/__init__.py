"""Command-line entry points: ``sigae`` and ``sigae-train`` / ``-encode`` / ``-decode`` / ``-score`` / ``-plot`` /
``-info`` / ``-export``.

A thin layer over the Python API: parse, call, print. Every error the user can
cause is one line on stderr and exit code 2. TensorFlow is imported only when a
command starts working, so ``--help`` and argument errors answer at once.

One module per command (:mod:`~sigae.cli.train`, :mod:`~sigae.cli.encode`, :mod:`~sigae.cli.decode`,
:mod:`~sigae.cli.score`, :mod:`~sigae.cli.plot`, :mod:`~sigae.cli.info`, :mod:`~sigae.cli.export`), over
:mod:`~sigae.cli.recordings` and :mod:`~sigae.cli.live` (windowed recordings, live data), over
:mod:`~sigae.cli.options` and :mod:`~sigae.cli.summary` (shared options, inputs, outputs, printed summaries);
:mod:`~sigae.cli.dispatch` runs them, and is what this package exports.
"""

from sigae.cli.dispatch import (COMMANDS, build_parsers, main, main_decode, main_encode, main_export, main_info,
                                main_plot, main_score, main_train, main_umbrella, run)

__all__ = ["COMMANDS", "build_parsers", "main", "main_decode", "main_encode", "main_export", "main_info",
           "main_plot", "main_score", "main_train", "main_umbrella", "run"]
