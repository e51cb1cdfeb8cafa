"""Where and how reproducibly training runs: seeding, tf.distribute strategies by name, the chief process."""

from __future__ import annotations

from sigae.errors import ConfigError


def set_seed(seed: int | None) -> None:
    """Seed Python, numpy and TensorFlow, and ask TensorFlow for deterministic ops."""
    if seed is None:
        return
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


STRATEGIES = ("auto", "default", "mirrored", "multiworker")


def make_strategy(name: str = "default"):
    """A tf.distribute strategy by name.

    ``auto``: MirroredStrategy over all GPUs when there are several, else the
    default strategy; ``mirrored``: MirroredStrategy over the visible devices;
    ``multiworker``: MultiWorkerMirroredStrategy configured by ``TF_CONFIG``
    (create it before any other TensorFlow work, as TensorFlow requires).
    """
    import os

    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError("--strategy multiworker: set TF_CONFIG on every worker (see docs/guides/distributed.md)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"--strategy: unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")


def is_chief(strategy) -> bool:
    """True where run folders are written: one process per training job."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if "chief" in resolver.cluster_spec().as_dict():
        return task_type == "chief"
    return task_type == "worker" and task_id == 0
