"""What training starts from: the training rows (screened, in memory or streamed from a file) and the
PCA starts of the default models (the kernels encoder's code, the linear path).

Functions of a :class:`sigae.SignalAutoencoder` whose split and normalizer are set (``train_index_``,
``val_index_``, ``screened_index_``, ``normalizer``); called by :mod:`sigae.estimator.fitting`.
"""

from __future__ import annotations

import numpy as np

from sigae.data.io import SignalDataset
from sigae.evaluation.scoring import PCABaseline


def streamed_parts(model, dataset: SignalDataset, screened: bool = True):
    """The training and validation rows of a file left on disk, normalized as they are read; the
    training rows without the screened ones unless *screened* is false."""
    from sigae.training.data import StreamedPart

    val = np.zeros(len(dataset), dtype=bool)
    val[model.val_index_] = True
    train = ~val
    if screened:
        train[model.screened_index_] = val[model.screened_index_] = False
    return StreamedPart(dataset, train, model.normalizer), StreamedPart(dataset, val, model.normalizer)


def kept_mask(model, rows=None) -> np.ndarray:
    """Mask over *rows* (default: the model's ``train_index_``): the rows not screened out."""
    return ~np.isin(model.train_index_ if rows is None else rows, model.screened_index_)


def screen_rows(model, x) -> np.ndarray:
    """The training rows :func:`sigae.evaluation.screening.screen_rare` leaves out (sorted file rows)."""
    from sigae.evaluation.screening import screen_cross_fitted, screen_rare

    rows = np.union1d(model.train_index_, model.val_index_)
    if model.config.rare_fraction <= 0:
        return np.zeros(0, dtype=np.int64)
    if isinstance(x, SignalDataset):
        from sigae.training.data import StreamedPart

        def blocks(mask):
            chosen = np.zeros(len(x), dtype=bool)
            chosen[rows[mask]] = True
            return StreamedPart(x, chosen, model.normalizer).blocks()
    else:
        xn = model.normalizer.transform(x[rows])

        def blocks(mask):
            return [xn[mask]]
    training = np.isin(rows, model.train_index_)
    keep = screen_rare(blocks, len(rows), model.config.latent_dim, model.config.rare_fraction, training=training)
    keep &= screen_cross_fitted(blocks, len(rows), model.config.latent_dim, training=training)
    return rows[~keep]


def start_from_pca(model, xn_train, seed, biases=None, features=None) -> None:
    """Start a freshly built *model* where its architecture says: the kernels encoder's code
    (:func:`start_kernel_code`, with *biases* and *features* if given), the linear path at PCA
    (:func:`start_linear_path`), or nowhere else (the seed architecture trains from its random start)."""
    if model.config.encoder == "kernels":
        start_kernel_code(model, xn_train, seed, biases=biases, features=features)
    elif model.config.linear_path:
        start_linear_path(model, xn_train)


def training_calls(model, xn_train, xn_val=None):
    """``(codes, forward, predict_forward)`` for :func:`sigae.training.loop.train_autoencoder`: a frozen
    encoder's (the kernels encoder's) codes of the in-memory *xn_train* / *xn_val*, computed once, and the
    decoder-only steps on them; otherwise no codes and the whole autoencoder's steps."""
    from sigae.model import fastpath

    if not model.encoder.trainable_weights and isinstance(xn_train, np.ndarray):
        codes = (model.decoder, model.predict_normalized("encoder", xn_train),
                 None if xn_val is None else model.predict_normalized("encoder", xn_val))
        return codes, fastpath.decoder_call(model.decoder, model.config, training=True), \
            model.inference_call("decoder")
    return None, fastpath.training_call(model.encoder, model.decoder, model.config), \
        model.inference_call("autoencoder")


def start_kernel_code(model, xn_train, seed, biases=None, features=None) -> None:
    """Set the kernels encoder from the normalized training signals (in memory or streamed): the kernel
    biases, the PCA of the standardized kernel features and the PCA of the signals (see
    :func:`sigae.model.network.init_kernel_code`). *biases* ``(F,)`` are taken instead of fitted, and
    *features* ``(m, F)`` (the kernel features of the in-memory *xn_train* under those biases) instead of
    computed, when given (the fold models of :mod:`sigae.estimator.cross_fitting`)."""
    from sigae.model.network import LINEAR_CODE_SCALE, init_kernel_code

    blocks = (lambda: [xn_train]) if isinstance(xn_train, np.ndarray) else xn_train.blocks
    kernels = model.encoder.get_layer("encoder_kernels")
    if biases is None:
        kernels.fit_biases(next(iter(blocks())), seed=0 if seed is None else seed)
    else:
        kernels.biases.assign(biases)
    batch = model.inference_batch_size
    feature_pca = PCABaseline(model.config.kernel_code_dims, standardize=True)
    if features is None:
        if isinstance(xn_train, np.ndarray):
            computed = kernels.transform(xn_train, batch)  # once: the PCA fit and the code spread both read them
            features = lambda: [computed]  # noqa: E731
        else:
            features = lambda: (kernels.transform(block, batch) for block in blocks())  # noqa: E731
        feature_pca.fit_chunks(features())
    else:  # in memory: a thin SVD when there are fewer signals than features
        features = (lambda given: lambda: [given])(features)
        feature_pca.fit(next(iter(features())))
    spread = feature_pca.code_spread(features())
    linear_dims = model.config.latent_dim - model.config.kernel_code_dims
    mean, components = np.zeros(0), np.zeros((0, 0))
    if linear_dims:
        pca = PCABaseline(linear_dims)
        pca.fit(xn_train) if isinstance(xn_train, np.ndarray) else pca.fit_chunks(xn_train.blocks())
        mean = pca.mean_
        components = pca.components_ * (LINEAR_CODE_SCALE / pca.code_spread(blocks()))
    init_kernel_code(model.encoder, model.decoder, feature_pca.mean_, feature_pca.scale_,
                     feature_pca.components_ / spread, mean, components)


def start_linear_path(model, xn_train) -> None:
    """Start the linear path at PCA of the normalized training signals (in memory or streamed)."""
    from sigae.model.network import init_linear_path

    pca = PCABaseline(model.config.latent_dim)
    pca.fit(xn_train) if isinstance(xn_train, np.ndarray) else pca.fit_chunks(xn_train.blocks())
    init_linear_path(model.encoder, model.decoder, pca.mean_, pca.components_)
