"""Training and validation signals read block by block from a file left on disk (``sigae-train --stream``).

A :class:`StreamedPart` is the training or the validation rows of a
:class:`sigae.data.io.SignalDataset`, normalized as they are read. The split is
the in-memory one (rows chosen at random by index), so ``--stream`` trains on
the same rows as loading the whole file would. Training batches are shuffled
within a window of consecutive blocks visited in random order: every signal is
seen once per epoch, and memory stays at a window's worth of signals.
"""

from __future__ import annotations

import math

import numpy as np

from sigae.data.io import SignalDataset

BLOCK_BYTES = 8 * 2**20
"""Float64 signals read at a time: about 2,000 signals of 501 points."""

WINDOW_BLOCKS = 8
"""Blocks shuffled together when batches are drawn."""


def block_rows(shape) -> int:
    return max(1, BLOCK_BYTES // (math.prod(shape[1:]) * 8))


class StreamedPart:
    """The rows of *dataset* whose *mask* entry is true, as normalized float32 ``(n, L, C)`` blocks."""

    def __init__(self, dataset: SignalDataset, mask: np.ndarray, normalizer=None):
        self.dataset, self.mask, self.normalizer = dataset, np.asarray(mask, dtype=bool), normalizer
        self.rows = block_rows(dataset.shape)
        self.starts = [s for s in range(0, len(dataset), self.rows) if self.mask[s:s + self.rows].any()]
        self.shape = (int(self.mask.sum()),) + _signal_shape(dataset.shape)

    def __len__(self):
        return self.shape[0]

    def raw_blocks(self, starts=None):
        """The part's signals in original units (float64, 3-D), one block at a time."""
        for start in self.starts if starts is None else starts:
            stop = min(start + self.rows, len(self.dataset))
            x = self.dataset.read(start, stop)[self.mask[start:stop]]
            yield x.reshape((len(x),) + self.shape[1:])

    def pairs(self):
        """``(original, normalized)`` blocks, in file order."""
        for x in self.raw_blocks():
            yield x, self.normalizer.transform(x).astype(np.float32)

    def blocks(self):
        """Normalized float32 blocks, in file order."""
        for _, xn in self.pairs():
            yield xn

    def batches(self, batch_size: int, rng: np.random.Generator):
        """One epoch of shuffled normalized batches; all full but the last, as with an array."""
        order = rng.permutation(len(self.starts))
        carry = np.zeros((0,) + self.shape[1:], dtype=np.float32)
        for w in range(0, len(order), WINDOW_BLOCKS):
            window = [self.starts[i] for i in order[w:w + WINDOW_BLOCKS]]
            fresh = np.concatenate([self.normalizer.transform(x).astype(np.float32) for x in self.raw_blocks(window)])
            pool = np.concatenate([carry, fresh[rng.permutation(len(fresh))]])
            full = len(pool) // batch_size * batch_size
            for i in range(0, full, batch_size):
                yield pool[i:i + batch_size]
            carry = pool[full:]
        if len(carry):
            yield carry


def _signal_shape(shape) -> tuple:
    return (shape[1], shape[2] if len(shape) == 3 else 1)
