"""The models' arithmetic computed with less work, from the same Keras weights.

The Keras models stay the definition (saved, summarized, composed as
``Model(x, decoder(encoder(x)))``); sigae's training step and its encode /
decode / reconstruct calls go through the functions here, which are exact
rewrites in real arithmetic and differ from the layers only by float32
rounding (``tests/test_fastpath.py`` bounds it):

* **Dense after UpSampling1D(p) and Flatten** (the seed decoder's last and
  largest layer, 15 M of its weights): the p copies of each time step meet p
  rows of the kernel, so the layer equals a Dense on the input *before*
  upsampling with those rows summed. Half the multiply-adds of the forward
  pass and of both backward products.
* **First convolution + max-pooling + activation** (one input channel, so
  three multiply-adds per output): for a non-decreasing activation,
  ``act(max(z)) == max(act(z))``, and XLA fuses the three into one pass, so
  the 499 x 256 pre-pooling activations are never written to memory.
  Inference only: the fused kernel's gradient is slower than oneDNN's.

Any other architecture (mirrored or tied decoder, other activations, mixed
precision), or a TensorFlow build without XLA, runs through the Keras layers
unchanged.
"""

from __future__ import annotations

import functools
from typing import Callable

from sigae.model.config import AutoencoderConfig

MONOTONE_ACTIVATIONS = frozenset({"tanh", "relu", "sigmoid", "linear", "elu", "softplus", "softsign"})
FUSED_FIRST_STAGE_MAX_TAPS = 8
"""The fused first stage unrolls kernel_size x channels multiply-adds; beyond a few, oneDNN's convolution wins."""


def _float32(model) -> bool:
    return all(layer.compute_dtype == "float32" for layer in model.layers)  # not under mixed precision


@functools.cache
def xla_available() -> bool:
    """Whether this TensorFlow build compiles ``jit_compile=True`` functions on its default device."""
    import tensorflow as tf

    try:
        tf.function(lambda v: v * 2.0, jit_compile=True)(tf.ones(2))
    except Exception:  # builds without XLA raise various errors; any of them means "no"
        return False
    return True


def fused_encoder_ok(config: AutoencoderConfig, encoder) -> bool:
    """Whether the encoder's first stage can run as one fused convolution-pooling-activation pass."""
    return (_float32(encoder) and not config.linear_path and config.activation in MONOTONE_ACTIVATIONS
            and config.kernel_sizes[0] * config.channels <= FUSED_FIRST_STAGE_MAX_TAPS and xla_available())


def folded_decoder_ok(config: AutoencoderConfig, decoder) -> bool:
    """Whether the decoder ends with UpSampling1D, Flatten, Dense (the seed decoder)."""
    return config.decoder == "seed" and not config.linear_path and _float32(decoder)


def _conv_pool_activation(x, kernel, bias, *, pool: int, activation):
    """Valid Conv1D (stride 1) -> MaxPooling1D(pool) -> activation, as Keras computes them, in one pass."""
    import tensorflow as tf

    taps, channels, _ = kernel.shape
    n_pooled = (x.shape[1] - taps + 1) // pool
    n = n_pooled * pool  # MaxPooling1D drops the convolution outputs past the last whole window
    z = None
    for j in range(taps):
        for c in range(channels):
            term = x[:, j:j + n, c:c + 1] * kernel[j, c]
            z = term if z is None else z + term
    z = tf.reduce_max(tf.reshape(z, (-1, n_pooled, pool, kernel.shape[-1])), axis=2)
    return activation(z + bias)  # max(z) + b == max(z + b): adding b is monotone, in floats too


def encoder_call(encoder, config: AutoencoderConfig) -> Callable:
    """``x -> encoder(x)`` for inference, the first stage fused when :func:`fused_encoder_ok`."""
    import tensorflow as tf

    if not fused_encoder_ok(config, encoder):
        return lambda x: encoder(x, training=False)
    conv = encoder.get_layer("encoder_conv1")
    fused = tf.function(_conv_pool_activation, jit_compile=True)
    rest = [encoder.get_layer(f"encoder_{kind}{i}") for i in range(2, len(config.filters) + 1)
            for kind in ("conv", "pool")]
    rest += [encoder.get_layer("encoder_flatten"), encoder.get_layer("encoder_dense")]

    def call(x):
        h = fused(x, tf.convert_to_tensor(conv.kernel), tf.convert_to_tensor(conv.bias),
                  pool=config.pool_sizes[0], activation=conv.activation)
        for layer in rest:
            h = layer(h, training=False)
        return h

    return call


def decoder_call(decoder, config: AutoencoderConfig, training: bool = False) -> Callable:
    """``z -> decoder(z)``, the final Dense folded onto the un-upsampled input when :func:`folded_decoder_ok`."""
    import tensorflow as tf

    if not folded_decoder_ok(config, decoder):
        return lambda z: decoder(z, training=training)
    n_stages = len(config.filters)
    head = [decoder.get_layer("decoder_reshape_in")]
    for i in range(1, n_stages + 1):
        head.append(decoder.get_layer(f"decoder_conv{i}"))
        if i < n_stages:
            head.append(decoder.get_layer(f"decoder_upsample{i}"))
    repeats = config.pool_sizes[0]  # the last decoder stage mirrors the first encoder stage
    dense, reshape_out = decoder.get_layer("decoder_dense"), decoder.get_layer("decoder_reshape_out")

    def call(z):
        h = z
        for layer in head:
            h = layer(h, training=training)
        steps, channels = h.shape[1], h.shape[2]
        # Flatten(UpSampling1D(h)) repeats h[t] at rows (t * p + r) * channels, r < p, of the Dense kernel.
        kernel = tf.reshape(dense.kernel, (steps, repeats, channels, dense.units))
        kernel = tf.reshape(tf.reduce_sum(kernel, axis=1), (steps * channels, dense.units))
        y = tf.matmul(tf.reshape(h, (-1, steps * channels)), kernel)
        if dense.use_bias:
            y = y + dense.bias
        return reshape_out(dense.activation(y), training=training)

    return call


def training_call(encoder, decoder, config: AutoencoderConfig) -> Callable:
    """``x -> autoencoder(x, training=True)`` for the training step (folded decoder, Keras encoder)."""
    decode = decoder_call(decoder, config, training=True)
    return lambda x: decode(encoder(x, training=True))
