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

The graph is the Keras models' own layers (not :mod:`sigae.fastpath`'s fused
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
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError, OutputExistsError, SigaeError
from .fileutil import _umask

FORMATS = ("savedmodel", "tflite", "onnx")
PARTS = ("encoder", "decoder", "autoencoder", "score")
ONNX_OPSET = 17
COMPARE_LIMIT = 1000
"""Signals compared with sigae at most (a seeded random sample of larger sets)."""
REPRESENTATIVE_LIMIT = 200
"""Signals used to calibrate int8 quantization at most (a seeded random sample)."""
BATCH = 256


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

    @property
    def relative_diff(self) -> float:
        """Largest difference over the largest reference magnitude."""
        return self.max_abs_diff / self.max_abs_reference if self.max_abs_reference > 0 else math.inf

    def summary(self) -> str:
        kind = f"{self.format}{' int8' if self.int8 else ''}"
        return (f"wrote {self.path} ({kind}, {self.part}, {self.bytes / 1e6:.2f} MB); reloaded and compared with "
                f"sigae on {self.n_compared} signals: largest difference {self.max_abs_diff:.3g} {self.units} "
                f"({self.relative_diff:.2%} of the largest value {self.max_abs_reference:.3g})")


# ---------------------------------------------------------------------------- the exported graph
def _normalization(normalizer, config):
    """(normalize, denormalize) as float32 TensorFlow functions of ``(n, L, C)`` tensors.

    *denormalize(y, stats)* takes the per-signal statistics returned by *normalize*.
    """
    import tensorflow as tf

    kind = normalizer.kind
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
    # numpy constants, not tf.constant: they become graph constants (tf2onnx takes captured tensors for inputs)
    offset = np.asarray(offset, dtype=np.float32)
    scale = np.asarray(normalizer.scale_, dtype=np.float32)

    def normalize(x):
        return (x - offset) / scale, None

    def denormalize(y, stats):
        return y * scale + offset
    return normalize, denormalize


def serving_function(model, part: str):
    """``(fn, input_spec)``: the part as a float32 function of original-unit inputs (see the module table)."""
    import tensorflow as tf

    if part not in PARTS:
        raise ConfigError(f"--part: unknown part {part!r}; choose from {', '.join(PARTS)}")
    config = model.config
    if part == "decoder" and model.normalizer.kind == "per-signal":
        raise ExportError("--part decoder: this model normalizes each signal (per-signal); its decoder's output "
                          "units need each signal's mean and std, which the codes do not carry; export "
                          "--part autoencoder or --part encoder instead")
    normalize, denormalize = _normalization(model.normalizer, config)
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


def reference(model, part: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(export input, sigae's output)`` for signals *x* ``(n, L, C)``: what the export must reproduce."""
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    if part == "encoder":
        return x32, model.encode(x32)
    if part == "decoder":
        codes = model.encode(x32)
        return codes, _as_3d(model.decode(codes))
    if part == "autoencoder":
        return x32, _as_3d(model.reconstruct(x32))
    return x32, model.score(x32).scores


def _as_3d(y):
    return y[:, :, None] if y.ndim == 2 else y


UNITS = {"encoder": "(latent code units)", "decoder": "(original units)", "autoencoder": "(original units)",
         "score": "(MSE, normalized units)"}


# ---------------------------------------------------------------------------- writers
def _write_savedmodel(model, part, folder: Path) -> None:
    import keras

    fn, spec = serving_function(model, part)
    archive = keras.export.ExportArchive()
    # The encoder alone for its part (the seed decoder's final Dense is most of the weights); otherwise the whole
    # autoencoder, which also covers tied decoder layers reading the encoder's kernels.
    archive.track(model.encoder if part == "encoder" else model.autoencoder)
    archive.add_endpoint(name="serve", fn=fn, input_signature=[spec])
    archive.write_out(str(folder), verbose=False)


def _write_tflite(model, part, file: Path, int8: bool, representative: np.ndarray | None) -> None:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="sigae-export-") as tmp:
        _write_savedmodel(model, part, Path(tmp) / "savedmodel")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "savedmodel"), signature_keys=["serve"])
        if int8:
            inputs, _ = reference(model, part, representative)

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


def _write_onnx(model, part, file: Path) -> None:
    import tensorflow as tf

    problem = onnx_available()
    if problem:
        raise ExportError(problem)
    import tf2onnx

    fn, spec = serving_function(model, part)
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
                 int8: bool = False, representative=None, overwrite: bool = False) -> ExportReport:
    """Export *part* of fitted *model* to *path* and check it against sigae on *signals*.

    *signals* ``(n, L)`` or ``(n, L, C)`` in original units (at most :data:`COMPARE_LIMIT`
    of them are compared); *representative*: the signals that calibrate int8 quantization
    (``format="tflite"``, *int8*; default *signals*), ideally training signals. The export is
    written beside *path*, reloaded, compared, and only then moved onto *path* (a folder for
    SavedModel, a file otherwise); an existing *path* needs *overwrite*.

    Raises :class:`ConfigError` for a bad option, :class:`ExportError` when the format cannot
    hold this model or its converter fails, :class:`sigae.OutputExistsError` for an existing path.
    """
    from .estimator import as_signals

    if format not in FORMATS:
        raise ConfigError(f"--format: unknown format {format!r}; choose from {', '.join(FORMATS)}")
    if part not in PARTS:
        raise ConfigError(f"--part: unknown part {part!r}; choose from {', '.join(PARTS)}")
    if int8 and format != "tflite":
        raise ConfigError("--int8: post-training integer quantization is for --format tflite")
    if format == "onnx" and onnx_available():
        raise ExportError(onnx_available())
    if signals is None:
        raise ConfigError("export: signals to compare the export with are required")
    model._check_ready()
    x = as_signals(signals, "signals")
    model._check_shape(x, "signals")
    x = x[sample_rows(len(x), COMPARE_LIMIT)]
    rep = None
    if int8:
        rep = x if representative is None else as_signals(representative, "representative signals")
        model._check_shape(rep, "representative signals")
        rep = rep[sample_rows(len(rep), REPRESENTATIVE_LIMIT, seed=1)]
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp_dir, 0o777 & ~_umask())  # mkdtemp makes 0700; exports get the usual permissions
    try:
        tmp = tmp_dir / path.name
        if format == "savedmodel":
            _write_savedmodel(model, part, tmp)
        elif format == "tflite":
            _write_tflite(model, part, tmp, int8, rep)
        else:
            _write_onnx(model, part, tmp)
        inputs, expected = reference(model, part, x)
        try:
            got = run_export(tmp, format, inputs)
        except Exception as exc:
            raise ExportError(f"{format}: the export could not be reloaded and run ({_first_line(exc)})") from None
        if got.shape != expected.shape:
            raise ExportError(f"{format}: the reloaded export returns shape {got.shape}, sigae {expected.shape}")
        diff = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.size else 0.0
        size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) if tmp.is_dir() else tmp.stat().st_size
        _move_into_place(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return ExportReport(path=path, format=format, part=part, int8=int8, n_compared=len(x), max_abs_diff=diff,
                        max_abs_reference=float(np.max(np.abs(expected))) if expected.size else 0.0,
                        units=UNITS[part], bytes=size)


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
