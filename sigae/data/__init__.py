"""The data layer: signals and recordings as arrays and files, with no TensorFlow.

File formats (``io``), array checks (``signals``), normalizers (``preprocessing``), recordings, windows,
periods, segments, event tables and result files. Imports only :mod:`sigae.errors`.
"""
