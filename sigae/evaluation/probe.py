"""Linear-probe accuracy: how much class structure a representation carries.

The standard check of unsupervised representations (e.g. Oord et al. 2018, CPC; Chen et al. 2020,
SimCLR): a linear classifier (logistic regression on standardized features) trained on the codes,
accuracy by stratified k-fold cross-validation. sigae reports it for its latent codes beside the same
probe on PCA's codes with as many components. Needs scikit-learn (``pip install 'sigae[sklearn]'``).
"""

from __future__ import annotations

import numpy as np

from sigae.errors import ConfigError, DataError


def linear_probe_accuracy(features, labels, folds: int = 5, seed: int = 0) -> float:
    """Mean stratified *folds*-fold cross-validated accuracy of logistic regression on *features* ``(n, k)``.

    Raises :class:`DataError` when *labels* do not match the features or a class has fewer than 2 members,
    and :class:`ConfigError` when scikit-learn is not installed."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise ConfigError("--labels: the linear probe needs scikit-learn; pip install 'sigae[sklearn]'") from None
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(features):
        raise DataError(f"labels: {len(labels)} labels for {len(features)} signals")
    _, counts = np.unique(labels, return_counts=True)
    if len(counts) < 2 or counts.min() < 2:
        raise DataError("labels: the linear probe needs at least 2 classes with at least 2 signals each "
                        f"(class sizes {sorted(counts.tolist())})")
    splitter = StratifiedKFold(n_splits=int(min(folds, counts.min())), shuffle=True, random_state=seed)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(np.mean(cross_val_score(probe, features, labels, cv=splitter)))


def probe_report(model, x, labels, folds: int = 5, seed: int = 0) -> dict:
    """Linear-probe accuracy of *model*'s codes of signals *x* ``(n, L, C)`` (original units) and of PCA's
    codes with ``latent_dim`` components fitted on the model's training rows (normalized units)."""
    from sigae.evaluation.scoring import PCABaseline

    xn = model.normalizer.transform(np.asarray(x, dtype=np.float64))
    rows = model.train_index_ if model.train_index_ is not None else np.arange(len(xn))
    pca = PCABaseline(model.config.latent_dim).fit(xn[rows])
    report = {"folds": int(folds), "codes": linear_probe_accuracy(model.encode(x), labels, folds, seed),
              "pca": linear_probe_accuracy(pca.transform(xn), labels, folds, seed),
              "pca_components": int(pca.components_.shape[0])}
    rocket = minirocket_codes(xn, rows, model.config.latent_dim, seed)
    if rocket is not None:
        report["minirocket"] = linear_probe_accuracy(rocket, labels, folds, seed)
    return report


def minirocket_codes(xn, rows, k: int, seed: int = 0):
    """MiniRocket -> standardized features -> PCA-k codes of *xn* ``(n, L, C)``, fitted on *rows*: the
    no-learning reference for codes (aeon's ``MiniRocket``, Dempster et al., KDD 2021); None when aeon is
    not installed (``pip install 'sigae[eval]'``)."""
    try:
        from aeon.transformations.collection.convolution_based import MiniRocket
    except ImportError:
        return None
    from sigae.evaluation.scoring import PCABaseline

    xn = np.asarray(xn, dtype=np.float64)
    panel = np.transpose(xn.reshape(xn.shape[0], xn.shape[1], -1), (0, 2, 1))  # aeon: (n, channels, points)
    features = MiniRocket(random_state=seed).fit(panel[rows]).transform(panel)
    return PCABaseline(k, standardize=True).fit(features[rows]).transform(features)
