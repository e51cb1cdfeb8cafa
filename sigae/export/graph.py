"""The exported graph: the part as a float32 TensorFlow function of original-unit inputs, normalization built in,
and what the export is fed and must reproduce (:func:`reference`)."""

from __future__ import annotations

import numpy as np

from sigae.errors import ConfigError, option
from sigae.export.report import PARTS, ExportError


def normalization(normalizer, config, input_offset=None):
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
    normalize, denormalize = normalization(model.normalizer, config, input_offset)
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
        return inputs, as_3d(model.decode(inputs)) - shift
    if part == "autoencoder":
        return inputs, as_3d(model.reconstruct(x)) - shift
    return inputs, model.score(x, out_of_fold=False).scores


def as_3d(y):
    """*y* ``(n, L)`` as ``(n, L, 1)``; 3-D arrays as they are."""
    return y[:, :, None] if y.ndim == 2 else y
