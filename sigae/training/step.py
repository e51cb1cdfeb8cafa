"""One training step and the batches of an epoch, for any tf.distribute strategy.

:func:`make_train_step` compiles the step: each replica's mean squared error over its part of the global
batch (optionally trimmed to its best-reconstructed signals), its gradients applied by the loop's optimizer.
:class:`EpochBatches` gives an epoch's shuffled global batches, from arrays in memory or a
:class:`sigae.training.data.StreamedPart` read from a file, split across replicas by the strategy.
"""

from __future__ import annotations

import numpy as np


def make_train_step(strategy, optimizer, forward, autoencoder, trim_fraction: float, with_codes: bool):
    """``train_step(batch, global_n) -> loss``: a tf.function running one step on every replica of *strategy*.

    *batch* is a global batch of signals, or ``(signals, codes)`` *with_codes* (the encoder frozen: *forward*
    maps codes to reconstructions); *global_n* is its number of signals (a float32 tensor). The loss returned is
    the plain mean over the batch; with *trim_fraction* > 0 the gradient comes from the best-reconstructed
    ``1 - trim_fraction`` of each replica's signals (see :func:`sigae.training.loop.train_autoencoder`).
    """
    import tensorflow as tf

    variables = autoencoder.trainable_variables
    mixed = autoencoder.compute_dtype == "float16"

    # A closure, not a module function: strategy.run traces it inside train_step with the optimizer, model and
    # options it captures.
    def replica_step(batch, global_n):
        # Each replica sums its signals' errors and divides by the global batch size, so the sum over
        # replicas (and the gradients Keras all-reduces) is the mean over the global batch.
        xb, inputs = batch if with_codes else (batch, batch)
        with tf.GradientTape() as tape:
            output = tf.cast(forward(inputs), tf.float32)  # the loss stays float32
            per_signal = tf.reduce_mean(tf.square(output - xb), axis=[1, 2])
            loss = tf.reduce_sum(per_signal) / global_n
            objective = loss
            if trim_fraction > 0:
                keep = tf.cast(tf.math.ceil(tf.cast(tf.shape(per_signal)[0], tf.float32) * (1 - trim_fraction)),
                               tf.int32)
                kept = -tf.math.top_k(-per_signal, keep, sorted=False).values
                objective = tf.reduce_sum(kept) / (global_n * (1 - trim_fraction))
            scaled = optimizer.scale_loss(objective) if mixed else objective
        optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return loss

    @tf.function(reduce_retracing=True)
    def train_step(batch, global_n):
        per_replica = strategy.run(replica_step, args=(batch, global_n))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return train_step


class EpochBatches:
    """An epoch's global batches of *x_train* (with the codes of a frozen encoder, ``codes[1]``, when given),
    split across replicas (and workers) by *strategy*.

    In memory, the signals are shuffled by the loop's generator (one permutation per epoch); streamed from a
    file, by a generator seeded with ``[seed, epoch]`` (so a resumed run draws the same batches).
    """

    def __init__(self, x_train, batch_size: int, seed, codes, strategy):
        import tensorflow as tf

        self.x_train, self.batch_size, self.seed, self.codes, self.strategy = x_train, batch_size, seed, codes, strategy
        self.streamed = not isinstance(x_train, np.ndarray)
        self.options = tf.data.Options()
        self.options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA

    def __call__(self, epoch: int, rng):
        import tensorflow as tf

        x_train, batch_size, codes = self.x_train, self.batch_size, self.codes
        if self.streamed:  # batches read from the file as they are needed
            epoch_rng = np.random.default_rng(None if self.seed is None else [self.seed, epoch])
            spec = tf.TensorSpec((None,) + tuple(x_train.shape[1:]), tf.float32)
            dataset = tf.data.Dataset.from_generator(lambda: x_train.batches(batch_size, epoch_rng),
                                                     output_signature=spec).prefetch(2)
        else:
            order = rng.permutation(len(x_train))
            slices = x_train[order] if codes is None else (x_train[order], codes[1][order])
            dataset = tf.data.Dataset.from_tensor_slices(slices).batch(batch_size)
        return iter(self.strategy.experimental_distribute_dataset(dataset.with_options(self.options)))
