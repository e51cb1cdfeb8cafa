"""What a fit records after training: ``metrics_`` (the autoencoder against the PCA baseline, in normalized
and original units), the training and validation signals' scores, and ``threshold_`` calibrated on the
validation signals the model did not fit (:func:`sigae.evaluation.scoring.calibrate_threshold`).
"""

from __future__ import annotations

import numpy as np

from sigae.estimator.preparation import kept_mask
from sigae.evaluation.scoring import PCABaseline, calibrate_threshold, reconstruction_error


def record_results(model, train_pairs, val_pairs, seconds: float, tensorboard=None,
                   out_of_fold: np.ndarray | None = None) -> None:
    """Set *model*'s ``metrics_``, ``train_scores_`` and ``threshold_`` once its weights are final.

    *train_pairs* / *val_pairs*: callables giving the ``(original, normalized)`` blocks of every training /
    validation row (screened or not; *val_pairs* None without validation signals); *seconds*: the training
    time; *tensorboard*: a folder to which the PCA baseline is written beside the losses; *out_of_fold*: the
    training signals' out-of-fold scores (:func:`sigae.estimator.cross_fitting.cross_fit`; NaN where there is
    none), which replace their scores by the model and join the validation signals' in calibrating the
    threshold."""
    t = model.training_
    model.metrics_, model.train_scores_, val_scores = fit_metrics(model, train_pairs, val_pairs, seconds)
    unseen = val_scores[kept_mask(model, model.val_index_)] if len(val_scores) == len(model.val_index_) else None
    if out_of_fold is not None:
        crossed = np.isfinite(out_of_fold)
        model.train_scores_ = np.where(crossed, out_of_fold, model.train_scores_)
        unseen = np.concatenate([np.zeros(0) if unseen is None else unseen, out_of_fold[crossed]])
        model.metrics_["cross_fitting"] = {"folds": model.cross_fitted_["folds"], "n_signals": int(crossed.sum()),
                                           "epochs": model.cross_fitted_["epochs"]}
    model.threshold_ = calibrate_threshold(model.train_scores_, t["threshold_percentile"], unseen,
                                           kept=kept_mask(model), out_of_fold=0 if out_of_fold is None
                                           else int(np.isfinite(out_of_fold).sum()))
    model.metrics_["training"] = {k: t[k] for k in ("epochs", "batch_size", "validation_split", "patience", "seed")}
    model.metrics_["threshold"] = {k: v for k, v in model.threshold_.items() if k not in ("quantiles",
                                                                                        "quantile_levels")}
    if model.config.encoder == "kernels":
        model.metrics_["kernel_code_dims"] = model.config.kernel_code_dims
    if t.get("source"):
        model.metrics_["source"] = t["source"]
    if tensorboard is not None:
        from sigae.training.callbacks import write_pca_baseline

        write_pca_baseline(tensorboard, model.metrics_)
    if model.history_.warning:
        model.metrics_["warning"] = model.history_.warning


def errors(model, pairs, pca) -> tuple[dict, np.ndarray]:
    """MSE of the autoencoder and of *pca* (normalized and original units) over the ``(original,
    normalized)`` blocks of *pairs*, and the autoencoder's score of every signal."""
    squares = {"autoencoder": [0.0, 0.0], "pca": [0.0, 0.0]}
    size, scores = 0, []
    for x_orig, xn in pairs:
        rec = model.reconstruct_normalized(xn)
        scores.append(reconstruction_error(model.normalizer.transform(x_orig), rec))  # as score() has it
        stats = model.normalizer.signal_stats(x_orig)
        for name, rec_n in (("autoencoder", rec), ("pca", pca.reconstruct(xn))):
            squares[name][0] += float(np.sum(np.square(rec_n - xn, dtype=np.float64)))
            squares[name][1] += float(np.sum(np.square(model.normalizer.inverse_transform(rec_n, stats) - x_orig)))
        size += xn.size
    return {name: (a / size, b / size) for name, (a, b) in squares.items()}, np.concatenate(scores)


def fit_metrics(model, train_pairs, val_pairs, seconds) -> tuple[dict, np.ndarray, np.ndarray]:
    """metrics.json (autoencoder vs PCA baseline, both over every training row, screened or not: the
    baseline is the PCA a user would fit to the same rows), the training and the validation signals'
    scores."""
    pca = PCABaseline(model.config.latent_dim).fit_chunks(xn for _, xn in train_pairs())
    train, train_scores = errors(model, train_pairs(), pca)
    n_train = len(model.train_index_)
    n_val = len(model.val_index_)
    metrics = {
        "n_signals": int(n_train + n_val), "n_train": int(n_train), "n_val": int(n_val),
        "input_length": model.config.input_length, "channels": model.config.channels,
        "epochs_run": len(model.history_.loss), "best_epoch": model.history_.best_epoch,
        "initial_val_loss": model.history_.initial_val_loss,
        "stopped_early": model.history_.stopped_early, "train_seconds": round(seconds, 3),
        "parameters": int(model.autoencoder.count_params()),
        "screening": {"rare_fraction": model.config.rare_fraction, "n_screened": int(len(model.screened_index_)),
                      "rows": "split.npz 'screened' (0-based file rows)"},
        "autoencoder": {"train_mse": train["autoencoder"][0], "train_mse_original_units": train["autoencoder"][1]},
        "pca": {"components": pca.components_.shape[0], "train_mse": train["pca"][0],
                "train_mse_original_units": train["pca"][1]},
    }
    val_scores = np.zeros(0)
    if val_pairs is not None:
        val, val_scores = errors(model, val_pairs(), pca)
        for name in ("autoencoder", "pca"):
            metrics[name].update(val_mse=val[name][0], val_mse_original_units=val[name][1])
        ae_val, pca_val = val["autoencoder"][0], val["pca"][0]
        metrics["val_mse_ratio_to_pca"] = ae_val / pca_val if pca_val > 0 else None
        # A model at its PCA start computes PCA in float32 against PCA's float64: a tie within rounding.
        metrics["beats_pca"] = bool(ae_val <= pca_val * (1 + 1e-5))
    return metrics, train_scores, val_scores
