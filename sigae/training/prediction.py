"""Inference under a compiled function: batches padded to fixed sizes, the validation loss, the constant baseline."""

from __future__ import annotations

import math

import numpy as np


def make_predict_fn(model, call=None):
    """A compiled inference call of *model* (no training-mode layers), through *call* (``x -> model(x)``,
    e.g. a :mod:`sigae.model.fastpath` function) when given.

    The function is traced once, here, for any number of signals (a concrete function of a
    ``(None, L, C)`` signature), so calls with new batch sizes never retrace, and making one per model
    (loading several run folders in one process) does not trip TensorFlow's "triggered tf.function
    retracing" warning, which counts traces of the same Python code across instances.
    """
    import tensorflow as tf

    spec = tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32)
    call = call or (lambda x: model(x, training=False))

    def predict(x):
        return tf.cast(call(x), tf.float32)  # float16 under mixed precision

    concrete = tf.function(predict).get_concrete_function(spec)
    return lambda x: concrete(tf.convert_to_tensor(x, tf.float32))


PREDICT_BATCH = 256
"""Signals per inference call: as fast as larger batches on a CPU through Keras' layers, and the first
convolution's activations (501 x 256 floats per signal) stay near 130 MB instead of 1 GB at 2048."""
FUSED_PREDICT_BATCH = 1024
"""The same when the first stage is fused (sigae.model.fastpath): its 501 x 256 activations are never stored, so 1024
signals encode 15-20% faster than 256 on a CPU for about 250 MB more (streamed encode/score stay near 1.3 GB)."""
SMALL_PREDICT_BATCH = 32
"""Calls of at most this many signals are padded to it, not to the full inference batch."""


def padded_size(m: int, batch_size: int) -> int:
    """The batch shape a block of *m* <= *batch_size* signals is padded to: *batch_size*, or
    :data:`SMALL_PREDICT_BATCH` for small blocks.

    Compiled kernels (XLA's fused first stage above all) are specialised to the batch size, and compiling
    one costs as much as encoding about a thousand signals; padding every block to one of two fixed sizes
    means a model compiles at most twice, whatever the numbers of signals it is called with. Each signal
    is computed independently (no layer mixes signals), so the padding rows change nothing but time.
    """
    small = min(SMALL_PREDICT_BATCH, batch_size)
    return small if m <= small else batch_size


def predict_batches(fn, x: np.ndarray, batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """Apply compiled *fn* to float32 *x* in batches of *batch_size* (the last one padded, see
    :func:`padded_size`) and stack the results."""
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        m = len(xb)
        size = padded_size(m, batch_size)
        if size > m:
            xb = np.concatenate([xb, np.zeros((size - m,) + xb.shape[1:], dtype=xb.dtype)])
        out.append(fn(xb).numpy()[:m])
    return np.concatenate(out, axis=0) if out else np.zeros((0,), dtype=np.float32)


def mse_per_batch(fn, x: np.ndarray, batch_size: int = PREDICT_BATCH, inputs: np.ndarray | None = None) -> float:
    """Mean squared reconstruction error of *x* under compiled autoencoder *fn* (the validation loss: the
    same array every epoch, so its batch shapes are compiled once and need no padding); *fn* is applied to
    *inputs* (e.g. the codes of *x*, for a decoder) when given."""
    inputs = x if inputs is None else inputs
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        total += float(np.sum(np.square(fn(inputs[i:i + batch_size]).numpy() - xb, dtype=np.float64)))
    return total / x.size


def constant_mse(x) -> float:
    """MSE of the best constant prediction of *x* (its variance over all values): the error a model must beat
    to be of any use. *x* is an array or a streamed part with ``blocks()``; NaN/Inf values (what may have
    broken the loss) are left out."""
    blocks = [x] if isinstance(x, np.ndarray) else x.blocks()
    count, total, squares = 0, 0.0, 0.0
    for block in blocks:
        block = np.asarray(block, dtype=np.float64)
        block = block[np.isfinite(block)]
        count += block.size
        total += float(block.sum())
        squares += float(np.square(block).sum())
    return squares / count - (total / count) ** 2 if count else math.inf
