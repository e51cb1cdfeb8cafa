"""The format writers (SavedModel, LiteRT/TFLite, ONNX) and the runtimes that reload an export to check it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from sigae.export.graph import export_inputs, serving_function
from sigae.export.report import ExportError
from sigae.model.quiet import stderr_hidden

ONNX_OPSET = 17
BATCH = 256
"""Signals per call when a reloaded export is run."""


def write_savedmodel(model, part, folder: Path, input_offset=None) -> None:
    import keras

    fn, spec = serving_function(model, part, input_offset)
    archive = keras.export.ExportArchive()
    # The encoder alone for its part (the seed decoder's final Dense is most of the weights); otherwise the whole
    # autoencoder, which also covers tied decoder layers reading the encoder's kernels.
    archive.track(model.encoder if part == "encoder" else model.autoencoder)
    archive.add_endpoint(name="serve", fn=fn, input_signature=[spec])
    archive.write_out(str(folder), verbose=False)


def write_tflite(model, part, file: Path, int8: bool, representative: np.ndarray | None, input_offset=None) -> None:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="sigae-export-") as tmp:
        write_savedmodel(model, part, Path(tmp) / "savedmodel", input_offset)
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
            with stderr_hidden():
                flatbuffer = converter.convert()
        except Exception as exc:  # the converter raises many types; its first line says what failed
            raise ExportError(f"tflite: the TensorFlow Lite converter failed ({first_line(exc)})") from None
    file.write_bytes(flatbuffer)


def onnx_available() -> str | None:
    """None when tf2onnx and onnxruntime import, else why not (one line)."""
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except Exception as exc:  # ImportError, or a protobuf/TensorFlow clash at import
        return (f"--format onnx needs tf2onnx and onnxruntime ({first_line(exc)}); "
                "install them with: pip install -e '.[export]'")
    return None


def write_onnx(model, part, file: Path, input_offset=None) -> None:
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
        raise ExportError(f"onnx: tf2onnx could not convert the model ({first_line(exc)})") from None


def first_line(exc) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


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
    with stderr_hidden():
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
