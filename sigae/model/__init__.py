"""The model layer: the architecture (``config``), the Keras layers and networks built from it once
(``layers``, ``kernels``, ``network``), the fast inference path (``fastpath``) and the import-time hooks for
Keras and TensorFlow (``registration``, ``quiet``). Imports only :mod:`sigae.errors`.
"""
