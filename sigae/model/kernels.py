"""MiniRocket's random dilated convolution kernels as a Keras layer, for the encoder of the default model.

Dempster, Schmidt and Webb, "MiniRocket: A Very Fast (Almost) Deterministic Transform for Time Series
Classification", KDD 2021 (reference code: aeon's ``MiniRocket`` / ``MiniRocketMultivariate``). Each of the
84 kernels has length 9, weights -1 except three taps of weight 2 (the weights sum to zero, so a constant
offset gives zero); every kernel is applied at a fixed set of dilations (exponentially spaced up to
``(L - 1) / 8``), and each (kernel, dilation) output is summarized by the *proportion of positive values*
(PPV) above a few biases, taken from low-discrepancy quantiles of that convolution on a training signal.
Half the (kernel, dilation) pairs are summarized over the padded output, half over the unpadded part, as in
the paper. With several channels every (kernel, dilation) sums its convolution over a random subset of the
channels (MiniRocketMultivariate).

The features are proportions in [0, 1], insensitive to where in the signal a pattern sits: what the codes of
:class:`~sigae.SignalAutoencoder` need for classification, clustering and similarity search, and what a
Flatten -> Dense code lacks. The kernels are fixed (not trained); :meth:`KernelFeatures.fit_biases` sets
the biases from training signals. Step functions have no gradient: nothing before this layer is trained.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
from keras import ops

KERNEL_LENGTH = 9
N_BASE_KERNELS = 84  # C(9, 3): the positions of the three taps of weight 2
MAX_DILATIONS = 32
GOLDEN = (np.sqrt(5) + 1) / 2


def base_kernels() -> np.ndarray:
    """The 84 MiniRocket kernels, ``(9, 84)``: -1 everywhere, 2 at three taps."""
    kernels = -np.ones((KERNEL_LENGTH, N_BASE_KERNELS), dtype=np.float32)
    for k, taps in enumerate(itertools.combinations(range(KERNEL_LENGTH), 3)):
        kernels[list(taps), k] = 2.0
    return kernels


def dilations_for(input_length: int, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """MiniRocket's dilations for signals of *input_length* points and how many features (biases) each
    kernel has at each dilation; ``n_features`` is rounded down to a multiple of 84."""
    per_kernel = max(1, n_features // N_BASE_KERNELS)
    n_dilations = min(per_kernel, MAX_DILATIONS)
    multiplier = per_kernel / n_dilations
    max_exponent = np.log2(max(input_length - 1, 1) / (KERNEL_LENGTH - 1))
    dilations, counts = np.unique(np.logspace(0, max(max_exponent, 0.0), n_dilations, base=2).astype(np.int64),
                                  return_counts=True)
    counts = (counts * multiplier).astype(np.int64)
    remainder = per_kernel - int(counts.sum())
    i = 0
    while remainder > 0:
        counts[i] += 1
        remainder -= 1
        i = (i + 1) % len(counts)
    return dilations, counts


def minimum_length() -> int:
    """The shortest signal the kernels take: one dilation-1 kernel span."""
    return KERNEL_LENGTH


@keras.saving.register_keras_serializable(package="sigae")
class KernelFeatures(keras.layers.Layer):
    """``(n, L, C)`` signals -> ``(n, n_features)`` PPV features of MiniRocket's kernels (see the module).

    The structure (dilations, channel subsets) follows from ``input_length``, ``channels``, ``n_features``
    and ``seed``; the biases are the layer's only (non-trainable) weights, set by :meth:`fit_biases`."""

    def __init__(self, input_length: int, channels: int, n_features: int, seed: int = 0, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.input_length, self.channels = int(input_length), int(channels)
        self.seed = int(seed)
        self.dilations, self.counts = dilations_for(self.input_length, int(n_features))
        self.n_features = int(N_BASE_KERNELS * self.counts.sum())
        self._kernels = self._make_kernels()

    def _make_kernels(self) -> list[np.ndarray]:
        """One ``(9, C, 84)`` kernel per dilation; with C > 1 each kernel reads a random subset of channels."""
        base = base_kernels()
        rng = np.random.default_rng(self.seed)
        kernels = []
        for _ in self.dilations:
            kernel = np.zeros((KERNEL_LENGTH, self.channels, N_BASE_KERNELS), dtype=np.float32)
            for k in range(N_BASE_KERNELS):
                if self.channels == 1:
                    chosen = [0]
                else:
                    count = int(2 ** rng.uniform(0, np.log2(min(self.channels, KERNEL_LENGTH) + 1)))
                    chosen = rng.choice(self.channels, size=min(max(count, 1), self.channels), replace=False)
                kernel[:, chosen, k] = base[:, k:k + 1]
            kernels.append(kernel)
        return kernels

    def build(self, input_shape):
        self.biases = self.add_weight(shape=(self.n_features,), initializer="zeros", trainable=False,
                                      name="biases")

    def _groups(self):
        """Per dilation: (dilation, padding, kernel indices summarized over the padded output, the others)."""
        for i, dilation in enumerate(self.dilations):
            padding = (KERNEL_LENGTH - 1) * int(dilation) // 2
            padded = [k for k in range(N_BASE_KERNELS) if (i + k) % 2 == 0]
            unpadded = [k for k in range(N_BASE_KERNELS) if (i + k) % 2 == 1]
            yield i, int(dilation), padding, padded, unpadded

    def convolutions(self, x):
        """The 84 kernels' outputs at each dilation, a list of ``(n, L, 84)`` (zero padding, 'same')."""
        return [ops.conv(x, ops.convert_to_tensor(self._kernels[i]), strides=1, padding="same",
                         dilation_rate=dilation) for i, dilation, _, _, _ in self._groups()]

    def _bias_blocks(self):
        """(start, stop) of each (dilation, kernel)'s biases in the feature vector."""
        start = 0
        for i, _, _, _, _ in self._groups():
            for _ in range(N_BASE_KERNELS):
                yield start, start + int(self.counts[i])
                start += int(self.counts[i])

    def call(self, x):
        features, start = [], 0
        for (i, dilation, padding, padded, unpadded), conv in zip(self._groups(), self.convolutions(x)):
            count = int(self.counts[i])
            biases = ops.reshape(self.biases[start:start + N_BASE_KERNELS * count], (N_BASE_KERNELS, count))
            start += N_BASE_KERNELS * count
            # time last, so that each proportion is a mean over contiguous values (twice as fast as over axis 1)
            conv = ops.transpose(conv, (0, 2, 1))  # (n, 84, L)
            block, unpadded_part = [None] * 2, conv[..., padding:self.input_length - padding]
            for j, (kernels, part) in enumerate(((padded, conv), (unpadded, unpadded_part))):
                chosen = ops.take(part, np.asarray(kernels), axis=1)[:, :, None, :]  # (n, k, 1, T)
                b = ops.take(biases, np.asarray(kernels), axis=0)[:, :, None]  # (k, count, 1)
                block[j] = ops.mean(ops.cast(chosen > b, x.dtype), axis=-1)  # (n, k, count)
            # back to kernel order, so that feature (kernel k, bias j) sits at k * count + j
            merged = ops.concatenate(block, axis=1)
            order = np.argsort(np.asarray(padded + unpadded))
            features.append(ops.reshape(ops.take(merged, order, axis=1), (-1, N_BASE_KERNELS * count)))
        return ops.concatenate(features, axis=1)

    def fit_biases(self, x: np.ndarray, seed: int = 0) -> None:
        """Set the biases from training signals *x* ``(n, L, C)`` (normalized units): for each (kernel,
        dilation) the low-discrepancy quantiles of its convolution of one randomly chosen signal."""
        if not self.built:
            self.build((None, self.input_length, self.channels))
        x = np.asarray(x, dtype=np.float32)
        rng = np.random.default_rng(seed)
        picks = rng.integers(len(x), size=(len(self.dilations), N_BASE_KERNELS))
        quantiles = (np.arange(1, self.n_features + 1) * GOLDEN) % 1
        biases = np.empty(self.n_features, dtype=np.float64)
        blocks = iter(self._bias_blocks())
        for i, dilation, _, _, _ in self._groups():
            # only the picked signal's convolution by each kernel: (84, L, 84) per dilation, its diagonal used
            signals = ops.convert_to_tensor(x[picks[i]])
            conv = np.asarray(ops.conv(signals, ops.convert_to_tensor(self._kernels[i]), strides=1, padding="same",
                                       dilation_rate=dilation))
            for k in range(N_BASE_KERNELS):
                start, stop = next(blocks)
                biases[start:stop] = np.quantile(conv[k, :, k], quantiles[start:stop])
        self.biases.assign(biases.astype(np.float32))

    def transform(self, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """The features of *x* ``(n, L, C)`` as a float32 array ``(n, n_features)``, computed in batches."""
        import tensorflow as tf

        if getattr(self, "_compiled", None) is None:
            spec = tf.TensorSpec((None, self.input_length, self.channels), tf.float32)
            self._compiled = tf.function(lambda v: self(v)).get_concrete_function(spec)
        x = np.asarray(x, dtype=np.float32)
        out = [self._compiled(tf.convert_to_tensor(x[i:i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.n_features), dtype=np.float32)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_features)

    def get_config(self):
        config = super().get_config()
        config.update(input_length=self.input_length, channels=self.channels, n_features=self.n_features,
                      seed=self.seed)
        return config
