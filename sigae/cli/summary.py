"""What the commands print about a trained model: the training summary, the threshold's source, the windowing
and the parameter table."""

from __future__ import annotations

EXACT_MSE = 1e-9
"""Validation MSE (normalized units, where the signals' variance is about 1) below which both the model and PCA
reconstruct to float rounding, and their ratio means nothing."""


def threshold_source(calibration: dict) -> str:
    """What a calibrated threshold is the percentile of, in words."""
    if calibration.get("n_out_of_fold"):
        n_val = calibration["n_unseen"] - calibration["n_out_of_fold"]
        validation = f"{n_val} validation signals' and " if n_val else "the "
        return (f"{validation}{calibration['n_out_of_fold']} training signals' out-of-fold scores (signals the "
                f"scoring model did not fit)")
    if "n_unseen" in calibration:
        return f"the {calibration['n_unseen']} validation signals' scores (signals the model did not fit)"
    return f"the {calibration['n_train']} training signals' scores"


def training_summary(metrics: dict) -> str:
    """The end-of-training lines: autoencoder vs PCA, and what to try when PCA wins."""
    ae, pca = metrics["autoencoder"], metrics["pca"]
    lines = [f"trained {metrics['epochs_run']} epoch{'' if metrics['epochs_run'] == 1 else 's'} in {metrics['train_seconds']:.1f}s "
             f"(best epoch {metrics['best_epoch']}), {metrics['parameters']:,} parameters"]
    if metrics.get("warning"):
        lines.append(f"warning: {metrics['warning']}")
    if "val_mse" not in ae:
        lines.append(f"training MSE (normalized units): autoencoder {ae['train_mse']:.4g}, "
                     f"PCA-{pca['components']} {pca['train_mse']:.4g} (no validation split)")
        return "\n".join(lines)
    screening = metrics.get("screening") or {}
    screened = screening.get("n_screened", 0)
    windowed = bool((metrics.get("source") or {}).get("windowed"))
    unit = "window" if windowed else "signal"  # a model of recordings trains (and screens) windows
    if screened:
        share = screened / max(1, metrics.get("n_signals", screened))
        lines.append(f"screened: {screened} of {metrics.get('n_signals', '?')} {unit}s ({share:.1%}) left out of "
                     f"training and validation as likely anomalies: each stands far out on a direction that fewer than "
                     f"{100 * screening['rare_fraction']:.3g}% of the training {unit}s share, or PCA fitted to the "
                     f"other {unit}s reconstructs it far worse than they are (some unusual normal {unit}s among "
                     f"them); {'window numbers' if windowed else 'rows'} (0-based) in "
                     f"split.npz 'screened', --rare-fraction 0 keeps every {unit}")
    ratio = metrics.get("val_mse_ratio_to_pca")
    ratio_text = f"ratio {ratio:.3g}" if ratio is not None else "PCA is exact here"
    lines.append(f"validation MSE (normalized units): autoencoder {ae['val_mse']:.4g}, "
                 f"PCA-{pca['components']} {pca['val_mse']:.4g} ({ratio_text})")
    k = pca["components"]
    at_start = metrics.get("best_epoch") == 0
    kernel_dims = metrics.get("kernel_code_dims")
    if kernel_dims:
        lines.append(f"note: this model's codes are made for downstream analysis (classification, clustering, "
                     f"similarity search): {kernel_dims} of its {k} numbers summarize random-kernel features, "
                     f"{k - kernel_dims} are PCA of the signals, so it reconstructs coarser than PCA-{k} by design; "
                     "for reconstruction train with --preset reconstruction")
        if at_start:
            lines.append(f"note: best epoch 0 is the model as fit set it up before training (its PCA start); no "
                         f"epoch did better on the held-out {unit}s, so that start was kept"
                         + (f" (the val_loss of each epoch leaves the screened {unit}s out; the validation MSE "
                            f"above counts every validation {unit})" if screened else ""))
    elif max(ae["val_mse"], pca["val_mse"]) < EXACT_MSE:
        lines.append(f"note: both reconstruct the held-out {unit}s to float rounding (MSE below {EXACT_MSE:g}): "
                     f"these {unit}s have at most {k} dimensions, and PCA-{k} describes them exactly")
    elif at_start and screened:
        lines.append(f"note: no epoch did better on held-out {unit}s than the model's start, PCA-{k} of the {unit}s "
                     f"kept by screening, so the model is that PCA"
                     + ("" if metrics["beats_pca"] else
                        f"; its validation MSE is above PCA-{k}'s because that PCA was fitted to every training "
                        f"{unit}, the screened ones included, and partly reconstructs the screened validation "
                        f"{unit}s, which the model is not meant to; score the file to see them flagged"))
    elif at_start and metrics["beats_pca"]:
        lines.append(f"note: no epoch did better than the model's PCA start on held-out {unit}s, so the model is "
                     f"PCA-{k}: these {unit}s look linear at this code size (PCA is enough here; "
                     "more epochs, --batch-size 32 or a smaller --latent-dim may let the convolutional paths help)")
    elif not metrics["beats_pca"] and screened:
        lines.append(f"note: PCA-{k} was fitted to every training {unit}, the screened ones included, "
                     f"and the validation MSE counts the screened validation {unit}s, which the model was not meant "
                     "to reconstruct; score the file to see them flagged")
    elif not metrics["beats_pca"]:
        lines.append(f"note: the autoencoder reconstructs worse than a linear PCA with {k} components "
                     f"on held-out {unit}s; try smaller batches with more epochs and cosine decay "
                     "(--batch-size 16 --epochs 300 --lr-schedule cosine helped most on small real datasets), "
                     "another --normalize, or use PCA for this data")
    threshold = metrics.get("threshold")
    if threshold and not windowed:  # a model of recordings flags points, against windowing.json's threshold
        share = "at most" if "n_unseen" in threshold else "about"  # conformal on unseen signals' scores
        lines.append(f"threshold: {threshold['p']:.4g}, p{threshold['percentile']:g} of "
                     f"{threshold_source(threshold)}; {share} {100 - threshold['percentile']:.3g}% of new normal "
                     f"{unit}s score above it")
    probe = metrics.get("linear_probe")
    if probe:
        lines.append(f"linear probe ({probe['folds']}-fold cross-validated accuracy on --labels): codes "
                     f"{probe['codes']:.3f}, PCA-{probe['pca_components']} codes {probe['pca']:.3f}"
                     + (f", MiniRocket -> PCA-{probe['pca_components']} codes {probe['minirocket']:.3f}"
                        if "minirocket" in probe else " (MiniRocket's probe too with pip install 'sigae[eval]')"))
    return "\n".join(lines)


def windowing_summary(model) -> str:
    w = model.windowing_
    t = w["point_threshold"]
    fs = f", fs {w['fs']:g} Hz" if w.get("fs") else ""
    return (f"windows: {w['window']} points, hop {w['hop']}{fs}; {w['split']}\n"
            f"point threshold: max = {t['max']:.4g}, p99.9 = {_quantile(t, 99.9):.4g} (per-point MSE of "
            f"{t['n_points']:,} training points, normalized units)")


def _quantile(calib, q):
    import numpy as np

    from sigae.estimator.recording_scores import QUANTILE_LEVELS

    return float(np.interp(q, QUANTILE_LEVELS, calib["quantiles"]))


def format_parameter_table(autoencoder) -> str:
    from sigae.model.network import parameter_table

    rows = parameter_table(autoencoder)
    header = f"{'part':<8} {'layer':<22} {'type':<20} {'output shape':<14} {'weights':>11} {'biases':>8} {'total':>11}"
    lines = [header, "-" * len(header)]
    totals = {"encoder": 0, "decoder": 0}
    for r in rows:
        shape = "(" + ", ".join(str(s) for s in r["output_shape"]) + ")"
        weights = f"tied:{r['tied_to']}" if r["tied_to"] else f"{r['weights']:,}"
        lines.append(f"{r['part']:<8} {r['layer']:<22} {r['type']:<20} {shape:<14} {weights:>11} "
                     f"{r['biases']:>8,} {r['total']:>11,}")
        totals[r["part"]] += r["total"]
    lines.append("-" * len(header))
    lines.append(f"encoder total {totals['encoder']:,} | decoder total {totals['decoder']:,} | "
                 f"autoencoder total {totals['encoder'] + totals['decoder']:,} "
                 f"(model.count_params() = {autoencoder.count_params():,})")
    lines.append("Mirrored layers do not have mirrored counts: a layer has one bias per output unit, so a Dense "
                 "a->b has a*b weights + b biases while its mirror b->a has b*a + a.")
    tied = [r for r in rows if r["tied_to"]]
    if tied:
        lines.append("Tied layers use the transpose of their encoder twin's kernel; the shared kernel is counted "
                     "once, in the encoder: " + ", ".join(f"{r['layer']} <- {r['tied_to']}" for r in tied))
    return "\n".join(lines)
