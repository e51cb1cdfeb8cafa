"""What an export is and says: the formats and parts, :class:`ExportError`, :class:`ExportReport`, offsets as text."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sigae.errors import SigaeError

FORMATS = ("savedmodel", "tflite", "onnx")
PARTS = ("encoder", "decoder", "autoencoder", "score")
UNITS = {"encoder": "(latent code units)", "decoder": "(original units)", "autoencoder": "(original units)",
         "score": "(MSE, normalized units)"}
"""What each part's differences are measured in (:attr:`ExportReport.units`)."""


class ExportError(SigaeError):
    """A model cannot be exported in the asked format, or its export cannot be reloaded."""


@dataclass
class ExportReport:
    """What was written and how far the reloaded export is from sigae's own output."""

    path: Path
    format: str
    part: str
    int8: bool
    n_compared: int
    max_abs_diff: float
    max_abs_reference: float
    units: str
    bytes: int
    input_offset: tuple[float, ...] | None = None
    input_rounding: float = 0.0
    flags_differ: int | None = None

    @property
    def relative_diff(self) -> float:
        """Largest difference over the largest reference magnitude."""
        return self.max_abs_diff / self.max_abs_reference if self.max_abs_reference > 0 else math.inf

    def summary(self) -> str:
        kind = f"{self.format}{' int8' if self.int8 else ''}"
        fed = ("float32 signals" if self.input_offset is None
               else f"float32 signals - {offset_text(self.input_offset)}")
        if self.part == "decoder":
            fed = "float32 codes"
        return (f"wrote {self.path} ({kind}, {self.part}, {self.bytes / 1e6:.2f} MB); reloaded, fed {fed} and "
                f"compared with sigae on the original signals ({self.n_compared}): largest difference "
                f"{self.max_abs_diff:.3g} {self.units} ({self.relative_diff:.2%} of the largest value "
                f"{self.max_abs_reference:.3g})")


def offset_text(offset) -> str:
    """An input offset as typed on the command line: one value, or one per channel separated by commas."""
    values = [f"{v:.10g}" for v in np.atleast_1d(offset)]
    return values[0] if len(set(values)) == 1 else ",".join(values)
