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

Modules: :mod:`~sigae.export.report` (formats, parts, :class:`ExportError`, :class:`ExportReport`),
:mod:`~sigae.export.graph` (the serving function, normalization built in), :mod:`~sigae.export.precision`
(:func:`float32_input_check`, *input_offset*), :mod:`~sigae.export.formats` (writers and runtimes),
:mod:`~sigae.export.exporter` (:func:`export_model`). None imports TensorFlow until an export is made.
"""

from sigae.export.exporter import COMPARE_LIMIT, REPRESENTATIVE_LIMIT, export_model, sample_rows
from sigae.export.formats import ONNX_OPSET, onnx_available, run_export
from sigae.export.graph import export_inputs, reference, serving_function
from sigae.export.precision import INPUT_ROUNDING_LIMIT, InputPrecision, check_input_offset, float32_input_check
from sigae.export.report import FORMATS, PARTS, UNITS, ExportError, ExportReport, offset_text

__all__ = ["COMPARE_LIMIT", "FORMATS", "INPUT_ROUNDING_LIMIT", "ONNX_OPSET", "PARTS", "REPRESENTATIVE_LIMIT", "UNITS",
           "ExportError", "ExportReport", "InputPrecision", "check_input_offset", "export_inputs", "export_model",
           "float32_input_check", "offset_text", "onnx_available", "reference", "run_export", "sample_rows",
           "serving_function"]
