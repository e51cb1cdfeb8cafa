"""Export a trained model for serving and devices: SavedModel, LiteRT (TFLite), ONNX.

The exported function includes sigae's normalization, so it takes signals in
original units, like ``SignalAutoencoder.encode``:

========================  ===============================  ==========================================
``part``                  input                            output
========================  ===============================  ==========================================
``encoder``               signals ``(n, L, C)`` float32    latent codes ``(n, latent_dim)``
``decoder``               codes ``(n, latent_dim)``        signals ``(n, L, C)``, original units
``autoencoder``           signals ``(n, L, C)``            reconstructions ``(n, L, C)``, original units
``score``                 signals ``(n, L, C)``            reconstruction MSE ``(n,)``, normalized units
========================  ===============================  ==========================================

(one channel: ``C = 1``, so ``x[:, :, None]``). Every normalizer is built in
(global, per-timestep, min-max, and per-signal, whose mean and standard
deviation are computed inside the graph), except the decoder of a per-signal
model, whose output units depend on statistics the codes do not carry.

The graph is the Keras models' own layers (not :mod:`sigae.model.fastpath`'s fused
rewrites, which are TensorFlow functions of the same weights): so the export
differs from sigae's own output by float32 rounding, and by the normalization
being computed in float32 where sigae uses float64. Each export is reloaded by
its runtime (``tf.saved_model.load``, ``tf.lite.Interpreter``,
``onnxruntime``) and compared with sigae on given signals before it is moved
into place; :class:`ExportReport` holds the largest difference.

Formats: ``savedmodel`` (``keras.export.ExportArchive``, endpoint ``serve``,
for TF Serving), ``tflite`` (``tf.lite.TFLiteConverter``; float32, or with
*int8* full-integer post-training quantization calibrated on representative
signals, float32 in and out), ``onnx`` (``tf2onnx``, needs
``pip install -e '.[export]'``).

Float32 input. A device feeds the export float32 signals, and float32 holds
about 7 significant digits: a signal far from zero compared with its spread
(101325 Pa varying by 0.02 Pa) is mostly rounding by the time it reaches the
export, and no graph can undo that. So the check feeds the export the signals
as float32, as a device would, and compares with sigae on the original
(float64) signals; and before that it measures what the rounding alone does
(:func:`float32_input_check`): when it moves the signals by more than
``INPUT_ROUNDING_LIMIT`` of their spread (normalized units), or changes which
signals sigae flags, the export is refused with the offset and spread named.
*input_offset* is the way out: the export then takes ``signals - input_offset``
(the device subtracts the offset in its own precision, or its sensor reports
deviations), and outputs in original units are ``... - input_offset`` too.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sigae.errors import ConfigError, OutputExistsError, SigaeError, option
from sigae.data.files import umask
from sigae.data.preprocessing import SigaeWarning

FORMATS = ("savedmodel", "tflite", "onnx")
PARTS = ("encoder", "decoder", "autoencoder", "score")
ONNX_OPSET = 17
COMPARE_LIMIT = 1000
"""Signals compared with sigae at most (a seeded random sample of larger sets)."""
REPRESENTATIVE_LIMIT = 200
"""Signals used to calibrate int8 quantization at most (a seeded random sample)."""
BATCH = 256
INPUT_ROUNDING_LIMIT = 1e-3
"""Largest RMS change, in normalized units (the signals' spread is about 1), that rounding the export's input to
float32 may make before the export is refused (typical signals: about 1e-7)."""


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


# ---------------------------------------------------------------------------- the exported graph
def _normalization(normalizer, config, input_offset=None):
    """(normalize, denormalize) as float32 TensorFlow functions of ``(n, L, C)`` tensors.

    *denormalize(y, stats)* takes the per-signal statistics returned by *normalize*. With *input_offset*
    ``(C,)`` the input is ``x - input_offset`` and the output of *denormalize* too.
    """
    import tensorflow as tf

    kind = normalizer.kind
    shift = np.zeros(config.channels) if input_offset is None else np.asarray(input_offset, dtype=np.float64)
    if kind == "per-signal":
        def normalize(x):
            mean = tf.reduce_mean(x, axis=1, keepdims=True)
            std = tf.sqrt(tf.reduce_mean(tf.square(x - mean), axis=1, keepdims=True))
            std = tf.where(std > 0, std, tf.ones_like(std))  # as sigae: a flat signal is only shifted
            return (x - mean) / std, (mean, std)

        def denormalize(y, stats):
            mean, std = stats
            return y * std + mean
        return normalize, denormalize
    offset = normalizer.min_ if kind == "minmax" else normalizer.mean_
    # numpy constants, not tf.constant: they become graph constants (tf2onnx takes captured tensors for inputs);
    # the input offset comes off in float64, before the normalizer's offset is rounded to float32
    offset = (np.asarray(offset, dtype=np.float64) - shift).astype(np.float32)
    scale = np.asarray(normalizer.scale_, dtype=np.float32)

    def normalize(x):
        return (x - offset) / scale, None

    def denormalize(y, stats):
        return y * scale + offset
    return normalize, denormalize


def serving_function(model, part: str, input_offset=None):
    """``(fn, input_spec)``: the part as a float32 function of original-unit inputs (see the module table),
    or of inputs ``signals - input_offset`` (per channel, ``(C,)``) with outputs in original units less it."""
    import tensorflow as tf

    if part not in PARTS:
        raise ConfigError(f"{option('--part', 'part')}: unknown part {part!r}; choose from {', '.join(PARTS)}")
    config = model.config
    if part == "decoder" and model.normalizer.kind == "per-signal":
        raise ExportError(f"{option('--part decoder', 'part=decoder')}: this model normalizes each signal "
                          "(per-signal); its decoder's output units need each signal's mean and std, which the "
                          f"codes do not carry; export {option('--part autoencoder', 'part=autoencoder')} or "
                          f"{option('--part encoder', 'part=encoder')} instead")
    normalize, denormalize = _normalization(model.normalizer, config, input_offset)
    encoder, decoder = model.encoder, model.decoder
    signals = tf.TensorSpec((None, config.input_length, config.channels), tf.float32, name="signals")
    if part == "decoder":
        def fn(codes):
            return denormalize(tf.cast(decoder(codes, training=False), tf.float32), None)
        return fn, tf.TensorSpec((None, config.latent_dim), tf.float32, name="codes")

    def fn(x):
        xn, stats = normalize(x)
        codes = tf.cast(encoder(xn, training=False), tf.float32)
        if part == "encoder":
            return codes
        rec = tf.cast(decoder(codes, training=False), tf.float32)
        if part == "score":
            return tf.reduce_mean(tf.square(rec - xn), axis=[1, 2])
        return denormalize(rec, stats)
    return fn, signals


def export_inputs(model, part: str, x: np.ndarray, input_offset=None) -> np.ndarray:
    """What a device feeds the export for signals *x* ``(n, L, C)`` (float64, original units): the signals less
    *input_offset*, subtracted in float64 and then rounded to float32; for the decoder, the codes of *x*."""
    if part == "decoder":
        return np.ascontiguousarray(model.encode(x), dtype=np.float32)
    shift = 0.0 if input_offset is None else np.asarray(input_offset, dtype=np.float64)
    return np.ascontiguousarray(x - shift, dtype=np.float32)


def reference(model, part: str, x: np.ndarray, input_offset=None) -> tuple[np.ndarray, np.ndarray]:
    """``(export input, sigae's output)`` for signals *x* ``(n, L, C)``: what the export is fed (float32, as on a
    device) and what it must reproduce: sigae on the original *x*, not on its float32 rounding (outputs in
    original units less *input_offset*)."""
    inputs = export_inputs(model, part, x, input_offset)
    shift = 0.0 if input_offset is None else np.asarray(input_offset, dtype=np.float64)
    if part == "encoder":
        return inputs, model.encode(x)
    if part == "decoder":
        return inputs, _as_3d(model.decode(inputs)) - shift
    if part == "autoencoder":
        return inputs, _as_3d(model.reconstruct(x)) - shift
    return inputs, model.score(x).scores


@dataclass
class InputPrecision:
    """What rounding the export's input to float32 does to signals *x*, per channel (:func:`float32_input_check`).

    ``offset``: each channel's mean (original units); ``spread``: the scale the model divides by (the
    normalizer's, or the median per-signal standard deviation); ``step``: the float32 spacing at the largest
    input magnitude; ``rounding``: RMS change the rounding makes, normalized units; ``flags_changed``: signals
    sigae flags differently once their input is rounded (score part, else None), out of ``n``.
    """

    offset: np.ndarray
    spread: np.ndarray
    step: np.ndarray
    rounding: np.ndarray
    flags_changed: int | None
    flagged: int | None
    n: int

    @property
    def worst(self) -> int:
        return int(np.argmax(self.rounding))

    def holds(self) -> bool:
        return float(self.rounding.max()) <= INPUT_ROUNDING_LIMIT and not self.flags_changed

    def message(self, fmt: str, input_offset=None) -> str:
        """The one-line refusal: the worst channel's offset, spread and float32 step, what changes, the way out."""
        c = self.worst
        channel = f"channel {c + 1} (1-based): " if len(self.offset) > 1 else ""
        fed = "fed float32" if input_offset is None else f"fed float32 signals - {offset_text(input_offset)}"
        what = (f"{self.flags_changed} of {self.n} signals are flagged differently than sigae flags them on the "
                f"original data ({self.flagged})" if self.flags_changed
                else f"the signals move by {self.rounding[c]:.2g} of their spread (RMS; at most "
                     f"{INPUT_ROUNDING_LIMIT:g} is accepted)")
        rounded = np.round(self.offset, _decimals(self.spread))
        suggestion = offset_text(rounded)
        return (f"{fmt}: float32 input cannot hold these signals: {channel}values around {rounded[c]:.10g} "
                f"(offset) vary by {self.spread[c]:.3g} (spread), and float32 steps there are {self.step[c]:.2g} "
                f"({self.step[c] / self.spread[c]:.2%} of the spread); {fed}, {what}; take the offset out before "
                f"the signals are rounded: {option(f'--input-offset {suggestion}', f'input_offset={suggestion}')} "
                f"(the device then feeds signals - {suggestion})")


def _decimals(spread) -> int:
    """Decimals to round a suggested offset to: the order of the smallest spread (an offset within a spread of the
    mean leaves float32 all its digits for the variation), at most 10."""
    smallest = float(np.min(spread)) if np.size(spread) else 1.0
    return int(np.clip(-np.floor(np.log10(smallest)) if smallest > 0 else 0, 0, 10))


def float32_input_check(model, part: str, x: np.ndarray, input_offset=None) -> InputPrecision:
    """How far rounding signals *x* ``(n, L, C)`` to float32 (after *input_offset* comes off) moves them in the
    model's normalized units, and for ``part="score"`` whether sigae's own flags change with it."""
    channels = x.shape[2]
    shift = np.zeros(channels) if input_offset is None else np.asarray(input_offset, dtype=np.float64)
    rounded = (x - shift).astype(np.float32).astype(np.float64) + shift
    norm = model.normalizer
    moved = norm.transform(rounded) - norm.transform(x)
    if norm.kind == "per-signal":
        spread = np.median(norm.signal_stats(x)[1].reshape(len(x), channels), axis=0)
    else:
        spread = np.median(np.asarray(norm.scale_, dtype=np.float64).reshape(-1, channels), axis=0)
    largest = np.abs(x - shift).max(axis=(0, 1)).astype(np.float32)
    flags_changed = flagged = None
    if part == "score" and model.threshold_ is not None:
        original = model.score(x).is_anomaly
        flags_changed = int((model.score(rounded).is_anomaly != original).sum())
        flagged = int(original.sum())
    return InputPrecision(offset=x.mean(axis=(0, 1)), spread=spread, step=np.spacing(largest).astype(np.float64),
                          rounding=np.sqrt(np.mean(np.square(moved), axis=(0, 1))), flags_changed=flags_changed,
                          flagged=flagged, n=len(x))


def _as_3d(y):
    return y[:, :, None] if y.ndim == 2 else y


UNITS = {"encoder": "(latent code units)", "decoder": "(original units)", "autoencoder": "(original units)",
         "score": "(MSE, normalized units)"}


# ---------------------------------------------------------------------------- writers
def _write_savedmodel(model, part, folder: Path, input_offset=None) -> None:
    import keras

    fn, spec = serving_function(model, part, input_offset)
    archive = keras.export.ExportArchive()
    # The encoder alone for its part (the seed decoder's final Dense is most of the weights); otherwise the whole
    # autoencoder, which also covers tied decoder layers reading the encoder's kernels.
    archive.track(model.encoder if part == "encoder" else model.autoencoder)
    archive.add_endpoint(name="serve", fn=fn, input_signature=[spec])
    archive.write_out(str(folder), verbose=False)


def _write_tflite(model, part, file: Path, int8: bool, representative: np.ndarray | None, input_offset=None) -> None:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="sigae-export-") as tmp:
        _write_savedmodel(model, part, Path(tmp) / "savedmodel", input_offset)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "savedmodel"), signature_keys=["serve"])
        if int8:
            inputs = export_inputs(model, part, representative, input_offset)

            def samples():
                for i in range(len(inputs)):
                    yield [inputs[i:i + 1]]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = samples
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        try:
            with _quiet_stderr():
                flatbuffer = converter.convert()
        except Exception as exc:  # the converter raises many types; its first line says what failed
            raise ExportError(f"tflite: the TensorFlow Lite converter failed ({_first_line(exc)})") from None
    file.write_bytes(flatbuffer)


def onnx_available() -> str | None:
    """None when tf2onnx and onnxruntime import, else why not (one line)."""
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except Exception as exc:  # ImportError, or a protobuf/TensorFlow clash at import
        return (f"--format onnx needs tf2onnx and onnxruntime ({_first_line(exc)}); "
                "install them with: pip install -e '.[export]'")
    return None


def _write_onnx(model, part, file: Path, input_offset=None) -> None:
    import tensorflow as tf

    problem = onnx_available()
    if problem:
        raise ExportError(problem)
    import tf2onnx

    fn, spec = serving_function(model, part, input_offset)
    try:
        tf2onnx.convert.from_function(tf.function(fn, input_signature=[spec]), input_signature=[spec],
                                      opset=ONNX_OPSET, output_path=str(file))
    except Exception as exc:
        raise ExportError(f"onnx: tf2onnx could not convert the model ({_first_line(exc)})") from None


@contextlib.contextmanager
def _quiet_stderr():
    """Keep the converter's and interpreter's C++ notes (written straight to file descriptor 2) off stderr."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _first_line(exc) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


# ---------------------------------------------------------------------------- runtimes
def run_export(path: Path, fmt: str, inputs: np.ndarray) -> np.ndarray:
    """The export at *path* reloaded by its own runtime and applied to *inputs* (in batches)."""
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # kept referenced: its variables live as long as it does
        call = lambda xb: loaded.serve(tf.constant(xb)).numpy()  # noqa: E731
    elif fmt == "tflite":
        call = _tflite_runner(path)
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        call = lambda xb: session.run(None, {name: xb})[0]  # noqa: E731
    return np.concatenate([call(inputs[i:i + BATCH]) for i in range(0, len(inputs), BATCH)])


def _tflite_runner(path: Path):
    try:  # LiteRT, TFLite's successor, when installed; TensorFlow's own interpreter otherwise
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with _quiet_stderr():
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
    index_in = interpreter.get_input_details()[0]["index"]

    def call(xb):
        interpreter.resize_tensor_input(index_in, xb.shape, strict=False)
        interpreter.allocate_tensors()
        interpreter.set_tensor(index_in, xb)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()

    return call


# ---------------------------------------------------------------------------- the API
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
    zero compared with their spread need it (see the module docstring).

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
    offset = _check_input_offset(input_offset, model.config.channels)
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
    os.chmod(tmp_dir, 0o777 & ~umask())  # mkdtemp makes 0700; exports get the usual permissions
    try:
        tmp = tmp_dir / path.name
        if format == "savedmodel":
            _write_savedmodel(model, part, tmp, offset)
        elif format == "tflite":
            _write_tflite(model, part, tmp, int8, rep, offset)
        else:
            _write_onnx(model, part, tmp, offset)
        inputs, expected = reference(model, part, x, offset)
        try:
            got = run_export(tmp, format, inputs)
        except Exception as exc:
            raise ExportError(f"{format}: the export could not be reloaded and run ({_first_line(exc)})") from None
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
        _move_into_place(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return ExportReport(path=path, format=format, part=part, int8=int8, n_compared=len(x), max_abs_diff=diff,
                        max_abs_reference=float(np.max(np.abs(expected))) if expected.size else 0.0,
                        units=UNITS[part], bytes=size,
                        input_offset=None if offset is None else tuple(float(v) for v in offset),
                        input_rounding=float(precision.rounding.max()), flags_differ=flags_differ)


def _check_input_offset(input_offset, channels: int):
    """*input_offset* as float64 ``(channels,)``, or None; one value serves every channel."""
    if input_offset is None:
        return None
    name = option("--input-offset", "input_offset")
    try:
        values = np.atleast_1d(np.asarray(input_offset, dtype=np.float64)).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {input_offset!r} is not a number or one number per channel") from None
    if not np.isfinite(values).all():
        raise ConfigError(f"{name}: {input_offset!r} is not finite")
    if len(values) not in (1, channels):
        raise ConfigError(f"{name}: {len(values)} values for a model of {channels} channel(s); give one value, or "
                          "one per channel")
    return np.broadcast_to(values, (channels,)).copy()


def _move_into_place(tmp: Path, path: Path) -> None:
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
