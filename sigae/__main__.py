"""``python -m sigae COMMAND ...`` is the ``sigae`` command."""

from .cli import main_umbrella

main_umbrella()
