"""``python -m sigae COMMAND ...`` is the ``sigae`` command."""

from sigae.cli import main_umbrella

main_umbrella()
