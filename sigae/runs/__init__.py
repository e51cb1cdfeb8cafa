"""The run folder: writing it, reading it back, its state (complete, interrupted, failed) and resuming.

Imports the training, evaluation, model and data layers; never the estimator or the commands."""
