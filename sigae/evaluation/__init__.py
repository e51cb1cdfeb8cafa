"""The evaluation layer: reconstruction errors, thresholds, AUC-ROC and the PCA baseline (``scoring``),
screening of training signals (``screening``), the linear probe (``probe``) and the figures (``plots``).
Imports only the data layer and :mod:`sigae.errors`.
"""
