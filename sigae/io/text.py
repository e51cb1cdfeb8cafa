"""Text tables (``.csv``, ``.txt``): one signal per line."""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .base import _LeafNode
from .messages import _clean


def _table_node(path, where) -> _LeafNode:
    """One signal per line; separators ``,`` ``;`` or whitespace; one header line skipped; ``#`` comments."""
    lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{where}: holds no numbers")
    delimiter = ";" if ";" in lines[0] else "," if "," in lines[0] else None
    try:
        [float(v) for v in lines[0].split(delimiter)]
    except ValueError:
        lines = lines[1:]  # a header line
    try:
        table = np.loadtxt(lines, delimiter=delimiter, dtype=np.float64, ndmin=2, comments=None)
    except ValueError as exc:  # numpy's first clause says where; its advice ("use usecols") does not apply
        raise DataError(f"{where}: not a table of numbers ({_clean(str(exc).split(';')[0])})") from exc
    return _LeafNode(path.stem, table.shape, table.dtype, lambda: table)
