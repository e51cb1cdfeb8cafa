"""The estimator layer: :class:`~sigae.estimator.autoencoder.SignalAutoencoder` (a façade), how it is fitted
(``fitting``, ``preparation``, ``fit_results``), how it works on recordings (``windowed``, ``recording_scores``,
``recording_files``), on files (``streaming``) and on live data (``live``). Imports the runs, training,
evaluation, model and data layers.
"""
