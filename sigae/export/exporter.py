""":func:`export_model`: check the options and the input precision, write the export beside its path, reload it and
compare it with sigae, then move it into place."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from sigae.data.files import current_umask
from sigae.data.preprocessing import SigaeWarning
from sigae.errors import ConfigError, OutputExistsError, option
from sigae.export.formats import first_line, onnx_available, run_export, write_onnx, write_savedmodel, write_tflite
from sigae.export.graph import reference
from sigae.export.precision import check_input_offset, float32_input_check
from sigae.export.report import FORMATS, PARTS, UNITS, ExportError, ExportReport

COMPARE_LIMIT = 1000
"""Signals compared with sigae at most (a seeded random sample of larger sets)."""
REPRESENTATIVE_LIMIT = 200
"""Signals used to calibrate int8 quantization at most (a seeded random sample)."""


def sample_rows(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """All of ``range(n)`` up to *limit* rows, else a seeded random sample of *limit* rows, in order."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def export_model(model, path, format: str = "savedmodel", part: str = "encoder", *, signals=None,
                 int8: bool = False, representative=None, overwrite: bool = False,
                 input_offset=None) -> ExportReport:
    """Export *part* of fitted *model* to *path* and check it against sigae on *signals*.

    *signals* ``(n, L)`` or ``(n, L, C)`` in original units (at most :data:`COMPARE_LIMIT`
    of them are compared); *representative*: the signals that calibrate int8 quantization
    (``format="tflite"``, *int8*; default *signals*), ideally training signals. The export is
    written beside *path*, reloaded, fed the signals as float32 (as a device would) and
    compared with sigae on the original signals, and only then moved onto *path* (a folder for
    SavedModel, a file otherwise); an existing *path* needs *overwrite*.

    *input_offset*: a number, or one per channel, subtracted from the signals before they are
    rounded to float32: the export's input is then ``signals - input_offset`` (and the
    autoencoder's and decoder's outputs in original units are less it too). Signals far from
    zero compared with their spread need it (see :mod:`sigae.export`).

    Raises :class:`ConfigError` for a bad option, :class:`ExportError` when the format cannot
    hold this model, its converter fails, or float32 input cannot hold these signals (the
    message names the offset and spread and the *input_offset* to give), and
    :class:`sigae.OutputExistsError` for an existing path. Warns (:class:`sigae.data.preprocessing.SigaeWarning`)
    when the score export flags a signal differently from sigae although the rounded input does not.
    """
    from sigae.data.signals import as_signals

    if format not in FORMATS:
        raise ConfigError(f"{option('--format', 'format')}: unknown format {format!r}; choose from {', '.join(FORMATS)}")
    if part not in PARTS:
        raise ConfigError(f"{option('--part', 'part')}: unknown part {part!r}; choose from {', '.join(PARTS)}")
    if int8 and format != "tflite":
        raise ConfigError(f"{option('--int8', 'int8=True')}: post-training integer quantization is for "
                          f"{option('--format tflite', 'format=tflite')}")
    if format == "onnx" and onnx_available():
        raise ExportError(onnx_available())
    if signals is None:
        raise ConfigError("export: signals to compare the export with are required")
    model.check_ready()
    x = as_signals(signals, "signals")
    model.check_shape(x, "signals")
    offset = check_input_offset(input_offset, model.config.channels)
    x = x[sample_rows(len(x), COMPARE_LIMIT)]
    rep = None
    if int8:
        rep = x if representative is None else as_signals(representative, "representative signals")
        model.check_shape(rep, "representative signals")
        rep = rep[sample_rows(len(rep), REPRESENTATIVE_LIMIT, seed=1)]
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists; pass {option('--overwrite', 'overwrite=True')} to replace it")
    precision = float32_input_check(model, part, x, offset)
    if not precision.holds():
        raise ExportError(precision.message(format, offset))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp_dir, 0o777 & ~current_umask())  # mkdtemp makes 0700; exports get the usual permissions
    try:
        tmp = tmp_dir / path.name
        if format == "savedmodel":
            write_savedmodel(model, part, tmp, offset)
        elif format == "tflite":
            write_tflite(model, part, tmp, int8, rep, offset)
        else:
            write_onnx(model, part, tmp, offset)
        inputs, expected = reference(model, part, x, offset)
        try:
            got = run_export(tmp, format, inputs)
        except Exception as exc:
            raise ExportError(f"{format}: the export could not be reloaded and run ({first_line(exc)})") from None
        if got.shape != expected.shape:
            raise ExportError(f"{format}: the reloaded export returns shape {got.shape}, sigae {expected.shape}")
        diff = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.size else 0.0
        flags_differ = None
        if part == "score" and model.threshold_ is not None:
            threshold = float(model.threshold_["p"])
            flags_differ = int(((got.reshape(-1) > threshold) != (expected > threshold)).sum())
            if flags_differ and not int8:
                warnings.warn(SigaeWarning(
                    f"{format}: the export flags {flags_differ} of {len(x)} signals differently from sigae at the "
                    f"threshold {threshold:.6g}: their scores lie within float32 rounding of it"), stacklevel=2)
        size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) if tmp.is_dir() else tmp.stat().st_size
        move_into_place(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return ExportReport(path=path, format=format, part=part, int8=int8, n_compared=len(x), max_abs_diff=diff,
                        max_abs_reference=float(np.max(np.abs(expected))) if expected.size else 0.0,
                        units=UNITS[part], bytes=size,
                        input_offset=None if offset is None else tuple(float(v) for v in offset),
                        input_rounding=float(precision.rounding.max()), flags_differ=flags_differ)


def move_into_place(tmp: Path, path: Path) -> None:
    """Rename the checked export onto *path*, removing an old one only at the last moment."""
    if path.exists():
        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    else:
        os.replace(tmp, path)
