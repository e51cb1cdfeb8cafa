"""Training an autoencoder: sigae's own loop (not ``Model.fit``) and what it needs.

==================  ===========================================================================================
``loop``            :func:`train_autoencoder`, :class:`History`, :class:`TrainingInterrupted`, :class:`TrainingFailed`
``step``            the compiled training step (any tf.distribute strategy, trimmed loss) and an epoch's batches
``optimizer``       Adam with fused updates, the learning-rate schedule, loss scaling under mixed precision
``checkpoints``     ``last.npz`` / ``best.npz`` written off the training thread, :func:`load_checkpoint`
``prediction``      compiled inference in padded batches (``PREDICT_BATCH``...), validation loss, constant baseline
``strategy``        :func:`set_seed`, tf.distribute strategies by name, :func:`is_chief`
``callbacks``       Keras callbacks and TensorBoard under the loop
``data``            training and validation signals streamed from a file (:class:`StreamedPart`)
==================  ===========================================================================================

Importing this package (or any of its modules) does not import TensorFlow; the functions do when called. The
names in the table are available here too (``sigae.training.train_autoencoder``), imported when first used.
"""

_LAZY = {
    "train_autoencoder": "loop", "History": "loop", "TrainingInterrupted": "loop", "TrainingFailed": "loop",
    "load_checkpoint": "checkpoints", "CheckpointWriter": "checkpoints",
    "make_predict_fn": "prediction", "predict_batches": "prediction", "PREDICT_BATCH": "prediction",
    "FUSED_PREDICT_BATCH": "prediction", "SMALL_PREDICT_BATCH": "prediction",
    "set_seed": "strategy", "make_strategy": "strategy", "is_chief": "strategy", "STRATEGIES": "strategy",
    "make_adam": "optimizer", "make_learning_rate": "optimizer",
    "StreamedPart": "data",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"sigae.training.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'sigae.training' has no attribute {name!r}")
