"""Reconstruction errors, anomaly thresholds, ranking metrics and the PCA baseline.

Everything here is plain numpy on normalized arrays ``(n, L, C)`` (or
``(n, L)``), so it is cheap to test against direct computations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigae.errors import ConfigError, DataError, option

METRICS = ("mse", "mae")


def per_point_error(x: np.ndarray, y: np.ndarray, metric: str = "mse", per_channel: bool = False) -> np.ndarray:
    """Squared (mse) or absolute (mae) error at every point, averaged over channels.

    Args:
        x: signals ``(n, L)`` or ``(n, L, C)``, normalized units.
        y: their reconstructions, same shape and units.
        metric: ``"mse"`` (squared error) or ``"mae"`` (absolute error).
        per_channel: keep the channels apart instead of averaging them.

    Returns:
        ``(n, L)`` float64 errors in normalized units (squared normalized units for mse); with
        *per_channel*, ``(n, L, C)``.

    Raises:
        ConfigError: an unknown *metric*.
    """
    diff = np.asarray(y, dtype=np.float64) - np.asarray(x, dtype=np.float64)
    if metric == "mse":
        err = np.square(diff)
    elif metric == "mae":
        err = np.abs(diff)
    else:
        raise ConfigError(f"{option('--metric', 'metric')}: unknown metric {metric!r}; choose mse or mae")
    if per_channel:
        return err if err.ndim == 3 else err[:, :, None]
    return err.mean(axis=2) if err.ndim == 3 else err


def reconstruction_error(x: np.ndarray, y: np.ndarray, metric: str = "mse") -> np.ndarray:
    """One score per signal: the mean of :func:`per_point_error` over the ``L`` points, ``(n,)``.

    With ``metric="mse"`` this is the reconstruction-error anomaly score of Sakurada and Yairi, "Anomaly
    detection using autoencoders with nonlinear dimensionality reduction" (MLSDA 2014).
    """
    return per_point_error(x, y, metric).mean(axis=1)


MIN_UNSEEN = 10
"""Fewer validation signals than this: the threshold falls back to the training signals' scores."""
QUANTILE_LEVELS = np.linspace(0.0, 100.0, 1001)
"""The levels (percent) at which calibrations keep the unseen signals' score quantiles."""


def conformal_quantile(scores: np.ndarray, percent):
    """The split-conformal quantile of *scores* ``(m,)`` at *percent* (a number or an array, 0 to 100): the
    ``ceil((m + 1) q)``-th smallest score, q = percent / 100, and the largest one where that rank passes m.

    If *scores* and a new score are exchangeable (the scores of normal signals no model fitted), the new
    score exceeds this quantile with probability at most 1 - q (exactly ``(m + 1 - rank) / (m + 1)``). The
    linear-interpolation percentile is exceeded about that often only on average over sets, with no bound:
    with 140 scores, ``np.percentile(scores, 99)`` lies between the two largest, this quantile is the largest
    (exceeded by 1/141 of new signals). Vovk, Gammerman and Shafer, *Algorithmic Learning
    in a Random World* (Springer, 2005); for outlier scores, Bates et al., "Testing for outliers with
    conformal p-values", *Annals of Statistics* 51(1), 2023.
    """
    ordered = np.sort(np.asarray(scores, dtype=np.float64).reshape(-1))
    m = ordered.size
    # the rank rounded first: (m + 1) q is often a whole number that floating point puts just above it
    rank = np.ceil(np.round((m + 1) * np.asarray(percent, dtype=np.float64) / 100.0, 9)).astype(np.int64)
    return ordered[np.clip(rank, 1, m) - 1]


def calibrate_threshold(train_scores: np.ndarray, percentile: float = 99.0, unseen_scores=None,
                        kept: np.ndarray | None = None, out_of_fold: int = 0) -> dict:
    """Thresholds for new signals, from the scores of signals the model did not fit.

    A model reconstructs the signals it was trained on better than new ones, so a percentile of the
    training signals' scores flags far more than its share of new normal signals. With *unseen_scores*
    ``(m,)`` (the validation signals' scores, likely anomalies screened out) and ``m >= MIN_UNSEEN``, the
    threshold ``p`` is their conformal *percentile* (:func:`conformal_quantile`: with q = percentile / 100, at
    most a share 1 - q of new normal signals score above it, whatever the scores' distribution), and their
    conformal quantiles at :data:`QUANTILE_LEVELS` are kept for other percentiles. Otherwise ``p`` is the
    percentile of the training scores. ``max`` is the largest training score of the signals *kept* (a mask
    ``(n_train,)``; default all), so a signal screened out as a likely anomaly does not set it. The last
    *out_of_fold* of the unseen scores are training signals' out-of-fold scores
    (:mod:`sigae.estimator.cross_fitting`), also from models that did not fit those signals.

    Returns:
        ``{"percentile", "p", "max", "n_train", "method"}`` and, calibrated on unseen signals,
        ``"n_unseen"``, ``"n_out_of_fold"``, ``"quantile_levels"``, ``"quantiles"``; what ``threshold.json``
        holds (scores' units: normalized).
    """
    train_scores = np.asarray(train_scores, dtype=np.float64)
    kept = np.ones(train_scores.size, dtype=bool) if kept is None else np.asarray(kept, dtype=bool)
    calibration = {"percentile": float(percentile), "p": float(np.percentile(train_scores, percentile)),
                   "max": float(train_scores[kept].max() if kept.any() else train_scores.max()),
                   "n_train": int(train_scores.size), "method": "percentile of the training signals' scores"}
    unseen = None if unseen_scores is None else np.asarray(unseen_scores, dtype=np.float64)
    if unseen is not None and unseen.size >= MIN_UNSEEN:
        method = "conformal percentile of the validation signals' scores (signals the model did not fit)" \
            if not out_of_fold else "conformal percentile of the validation signals' and the training signals' " \
                                    "out-of-fold scores (signals the scoring model did not fit)"
        if out_of_fold:
            calibration["n_out_of_fold"] = int(out_of_fold)
        calibration.update(p=float(conformal_quantile(unseen, percentile)), n_unseen=int(unseen.size),
                           method=method, quantile_levels="0, 0.1, ..., 100",
                           quantiles=[float(q) for q in conformal_quantile(unseen, QUANTILE_LEVELS)])
    return calibration


def resolve_threshold(spec, calibration: dict, train_scores: np.ndarray | None = None) -> float:
    """Turn ``None`` (the calibrated percentile), ``"max"``, ``"pNN"`` or a number into a threshold.

    Args:
        spec: ``None``, ``"max"``, ``"pNN"`` (a percentile, 0 to 100, of the unseen signals' scores the
            calibration keeps, or of *train_scores* for a calibration without them) or a number.
        calibration: :func:`calibrate_threshold`'s dictionary.
        train_scores: the training scores, needed for a percentile other than the calibrated one.

    Returns:
        The threshold, in the scores' units (normalized).

    Raises:
        ConfigError: *spec* is not one of the above, a percentile is out of range, or it needs
            *train_scores* and they are missing.
    """
    kind, value = parse_threshold(spec)
    if kind == "default":
        return float(calibration["p"])
    if kind == "max":
        return float(calibration["max"])
    if kind == "percentile":
        if value == calibration["percentile"]:
            return float(calibration["p"])
        if "quantiles" in calibration:
            return float(np.interp(value, QUANTILE_LEVELS, calibration["quantiles"]))
        if train_scores is None:
            raise ConfigError(f"{option('--threshold', 'threshold')}: {spec!r} needs the training scores, which this "
                              "run folder lacks")
        return float(np.percentile(train_scores, value))
    return value


def parse_threshold(spec) -> tuple[str, float | None]:
    """``--threshold`` as ``("default", None)``, ``("max", None)``, ``("percentile", q)`` or ``("value", v)``.

    Raises :class:`ConfigError` for anything else, a percentile outside [0, 100] or a non-finite number."""
    if spec is None:
        return "default", None
    text = str(spec).strip().lower()
    if text == "max":
        return "max", None
    if text.startswith("p"):
        try:
            q = float(text[1:])
        except ValueError:
            q = -1.0
        if not 0 <= q <= 100:
            raise ConfigError(f"{option('--threshold', 'threshold')}: {spec!r} is not a percentile pNN with NN "
                              "between 0 and 100")
        return "percentile", q
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{option('--threshold', 'threshold')}: {spec!r} is neither a number, 'max' nor a "
                          "percentile like p99") from None
    if not np.isfinite(value):
        raise ConfigError(f"{option('--threshold', 'threshold')}: {spec!r} is not a finite number")
    return "value", value


@dataclass
class ScoreResult:
    """Per-signal anomaly scores and flags against a threshold, as :meth:`SignalAutoencoder.score` returns them.

    Attributes:
        scores: ``(n,)`` reconstruction error per signal, normalized units.
        threshold: the threshold used (normalized units).
        is_anomaly: ``(n,)`` booleans, ``scores > threshold``.
        metric: ``"mse"`` or ``"mae"``.
        per_point: ``(n, L)`` per-point errors when asked for (``per_point=True``), else None.
        out_of_fold: ``(n,)`` booleans, true for the model's own training signals scored out of fold (by
            models that did not fit them; :mod:`sigae.estimator.cross_fitting`), or None when the model has no
            out-of-fold scores (or the metric is not mse).
    """

    scores: np.ndarray
    threshold: float
    is_anomaly: np.ndarray
    metric: str = "mse"
    per_point: np.ndarray | None = None
    out_of_fold: np.ndarray | None = None

    def __len__(self):
        return len(self.scores)


def _binary_labels(labels, n: int) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1)
    if labels.size != n:
        raise DataError(f"labels: {labels.size} labels for {n} signals")
    truth = labels != 0
    if truth.all() or not truth.any():
        raise DataError("labels: need both normal (0) and anomalous (nonzero) signals to rank")
    return truth


def auroc(scores, labels) -> float:
    """Area under the ROC curve: the probability that an anomalous signal scores above a normal one.

    Computed as the Mann-Whitney U statistic over the ranks, ties counted half (Hanley and McNeil, "The
    meaning and use of the area under a receiver operating characteristic (ROC) curve", Radiology 143, 1982).

    Args:
        scores: ``(n,)`` scores, higher meaning more anomalous.
        labels: ``(n,)`` labels, 0 normal, nonzero anomalous.

    Raises:
        DataError: the lengths differ, or the labels are all normal or all anomalous.
    """
    truth = _binary_labels(labels, len(scores))
    from scipy.stats import rankdata  # here, not at import: scipy.stats takes 0.8 s to import

    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    n_pos, n_neg = truth.sum(), (~truth).sum()
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(scores, labels) -> float:
    """Average precision: the mean, over the anomalies, of the precision at each anomaly's rank.

    Signals are ranked by decreasing score; among tied scores normal signals come first (pessimistic). This is
    the non-interpolated average precision of information retrieval (Manning, Raghavan and Schütze,
    *Introduction to Information Retrieval*, 2008, section 8.4).

    Raises:
        DataError: the lengths differ, or the labels are all normal or all anomalous.
    """
    truth = _binary_labels(labels, len(scores))
    scores = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((truth, -scores))  # highest score first; among ties, normals first
    hits = truth[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision_at[hits].mean())


def detection_report(scores, labels, threshold: float) -> dict:
    """AUROC, average precision, and precision/recall of ``scores > threshold``.

    Returns:
        ``{"auroc", "average_precision", "precision", "recall", "flagged", "anomalies"}``; precision is 0
        when nothing is flagged.

    Raises:
        DataError: the lengths differ, or the labels are all normal or all anomalous.
    """
    truth = _binary_labels(labels, len(scores))
    flagged = np.asarray(scores) > threshold
    tp = int((flagged & truth).sum())
    return {"auroc": auroc(scores, labels), "average_precision": average_precision(scores, labels),
            "precision": tp / int(flagged.sum()) if flagged.any() else 0.0,
            "recall": tp / int(truth.sum()), "flagged": int(flagged.sum()), "anomalies": int(truth.sum())}


LANCZOS_SIZE = 2000
"""Above this many columns the leading components come from a Lanczos iteration (scipy's eigsh)."""


class PCABaseline:
    """PCA with k components fitted on (flattened) training signals: the linear baseline.

    Signals ``(n, L)`` or ``(n, L, C)`` are flattened to ``(n, L*C)``; ``reconstruct`` projects them onto the
    first k principal directions and back, in the units they were given in (sigae passes normalized signals).
    PCA's reconstruction is the best any rank-k linear encoder/decoder can do in MSE (Eckart-Young), which is
    why every run is compared with it. With *standardize*, each column is divided by its standard deviation
    first (``scale_``; PCA of the correlation matrix), as for the kernels encoder's features.

    Only the k leading components are computed: from a thin SVD of the centred rows when there are fewer
    rows than columns, else from the columns x columns covariance with a partial eigendecomposition
    (``scipy.linalg.eigh(subset_by_index=...)``, or a Lanczos iteration above :data:`LANCZOS_SIZE`
    columns), so wide signals (many points x channels) cost what their data costs, not a full dense
    eigendecomposition.
    """

    def __init__(self, n_components: int, standardize: bool = False):
        self.n_components = int(n_components)
        self.standardize = bool(standardize)

    def fit(self, x):
        """Fit on *x* ``(n, L, C)`` (or ``(n, D)``): a thin SVD when n < D, else as :meth:`fit_chunks` (the
        covariance: for the sample data, 1,600 x 501, an SVD took 1.6-4 s of CPU next to TensorFlow and
        the covariance 0.1-0.2 s)."""
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        if len(flat) >= flat.shape[1]:
            return self.fit_chunks([flat])
        self.mean_ = flat.mean(axis=0)
        centred = flat - self.mean_
        self.scale_ = self._scale(np.sum(centred ** 2, axis=0) / len(flat))
        _, _, vt = np.linalg.svd(centred / self.scale_, full_matrices=False)
        self.components_ = vt[: min(self.n_components, len(flat))]
        return self

    def _scale(self, variance):
        if not self.standardize:
            return np.ones_like(variance)
        std = np.sqrt(np.maximum(variance, 0.0))
        return np.where(std > 1e-12, std, 1.0)

    def fit_chunks(self, chunks):
        """:meth:`fit` on the concatenation of the blocks in *chunks*, through the covariance matrix
        (columns x columns), so the signals never need to be in memory together."""
        import scipy.linalg

        n, total, scatter = 0, None, None
        for block in chunks:
            flat = np.asarray(block, dtype=np.float64).reshape(len(block), -1)
            if total is None:
                total, scatter = np.zeros(flat.shape[1]), np.zeros((flat.shape[1],) * 2)
            n, total, scatter = n + len(flat), total + flat.sum(axis=0), scatter + flat.T @ flat
        self.mean_ = total / n
        covariance = scatter - n * np.outer(self.mean_, self.mean_)
        self.scale_ = self._scale(np.diag(covariance) / n)
        covariance /= np.outer(self.scale_, self.scale_)
        size, k = len(covariance), min(self.n_components, n, len(covariance))
        if size > LANCZOS_SIZE and k < size // 4:
            import scipy.sparse.linalg

            # Lanczos (ARPACK) for the k leading eigenvectors: matrix products instead of a dense
            # tridiagonal reduction (6,400 columns: 3 s against 40-100 s), converged to machine precision
            values, vectors = scipy.sparse.linalg.eigsh(covariance, k=k, which="LA", tol=0,
                                                        v0=np.ones(size) / np.sqrt(size))
            vectors = vectors[:, np.argsort(values)]
        else:
            _, vectors = scipy.linalg.eigh(covariance, subset_by_index=[size - k, size - 1])
        self.components_ = vectors[:, ::-1].T  # largest first, as fit keeps
        return self

    def transform(self, x) -> np.ndarray:
        """PCA codes ``(n, k)`` of signals ``(n, L, C)`` (same units as the fitted signals)."""
        x = np.asarray(x, dtype=np.float64)
        return ((x.reshape(len(x), -1) - self.mean_) / self.scale_) @ self.components_.T

    def code_spread(self, chunks) -> float:
        """Root mean square of the codes of the blocks in *chunks* (every entry alike)."""
        total, count = 0.0, 0
        for block in chunks:
            codes = self.transform(block)
            total, count = total + float(np.sum(codes ** 2)), count + codes.size
        return float(np.sqrt(total / count)) if count and total > 0 else 1.0

    def reconstruct(self, x) -> np.ndarray:
        """Projection of *x* onto the fitted components and back, same shape and units as *x*."""
        x = np.asarray(x, dtype=np.float64)
        flat = (x.reshape(len(x), -1) - self.mean_) / self.scale_
        return (((flat @ self.components_.T) @ self.components_) * self.scale_ + self.mean_).reshape(x.shape)
