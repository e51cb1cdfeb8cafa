"""Figures users look at: loss curves, reconstructions, score histogram, latent map.

matplotlib with the Agg backend; every figure is written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sigae.data.files import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _pyplot().close(fig)
    return Path(path)


def plot_loss(history, path, title: str = "Training loss") -> Path:
    """Training and validation MSE per epoch (normalized units, log scale), the best epoch marked.

    Args:
        history: a ``sigae.training.loop.History`` (``model.history_``): ``loss``, ``val_loss``, ``best_epoch``.
        path: the PNG file to write (atomically).

    Returns:
        *path* as a ``Path``.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    epochs = np.arange(1, len(history.loss) + 1)
    ax.plot(epochs, history.loss, label="training", marker="o" if len(epochs) < 30 else None)
    if history.val_loss:
        ax.plot(epochs, history.val_loss, label="validation", marker="o" if len(epochs) < 30 else None)
    initial = getattr(history, "initial_val_loss", None)
    if initial is not None:
        ax.plot([0], [initial], linestyle="none", marker="D", color="C1",
                label="validation at the start (epoch 0)")
    if history.best_epoch is not None and (history.best_epoch or initial is not None):
        ax.axvline(history.best_epoch, color="grey", linestyle=":", label=f"best epoch ({history.best_epoch})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    values = np.concatenate([np.asarray(history.loss, float), np.asarray(history.val_loss or [1.0], float),
                             [initial if initial is not None else 1.0]])
    if np.all(values > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (normalized units)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_reconstructions(original, reconstruction, path, labels=None, title="Reconstructions",
                         units: str = "original units") -> Path:
    """One row per signal: original and reconstruction overlaid, and their difference beside.

    Args:
        original: ``(k, L)`` or ``(k, L, C)`` signals (the first channel is shown), in *units*.
        reconstruction: their reconstructions, same shape and units.
        path: the PNG file to write (atomically).
        labels: one caption per row (default ``signal 1 (1-based)``, ...).
        units: the y-axis label (``model.reconstruct`` returns original units).

    Returns:
        *path* as a ``Path``.
    """
    plt = _pyplot()
    original = np.asarray(original)
    reconstruction = np.asarray(reconstruction)
    original = original[:, :, 0] if original.ndim == 3 else original
    reconstruction = reconstruction[:, :, 0] if reconstruction.ndim == 3 else reconstruction
    k = len(original)
    fig, axes = plt.subplots(k, 2, figsize=(10, 1.9 * k + 0.8), squeeze=False, sharex=True,
                             gridspec_kw={"width_ratios": [3, 2]}, layout="constrained")
    t = np.arange(1, original.shape[1] + 1)  # samples numbered from 1, as in every file and message
    for row in range(k):
        ax, ax_err = axes[row]
        ax.plot(t, original[row], color="black", linewidth=1.0, label="original")
        ax.plot(t, reconstruction[row], color="tab:orange", linewidth=1.0, label="reconstruction")
        ax.set_ylabel(units, fontsize=8)
        caption = labels[row] if labels is not None else f"signal {row + 1} (1-based)"
        ax.set_title(caption, fontsize=9, loc="left")
        ax_err.plot(t, reconstruction[row] - original[row], color="tab:red", linewidth=0.8)
        ax_err.axhline(0, color="grey", linewidth=0.5)
        ax_err.set_title("error (reconstruction - original)", fontsize=9, loc="left")
        if row == 0:
            ax.legend(fontsize=8, loc="upper right")
    axes[-1][0].set_xlabel("sample (1-based)")
    axes[-1][1].set_xlabel("sample (1-based)")
    fig.suptitle(title)
    return _save(fig, path)


def plot_scores(scores, threshold, path, labels=None, metric="mse") -> Path:
    """Histogram of anomaly scores with the threshold dashed; labelled data coloured.

    Args:
        scores: ``(n,)`` reconstruction errors (normalized units); a log10 axis when they span over 100x.
        threshold: the threshold, same units.
        path: the PNG file to write (atomically).
        labels: optional ``(n,)`` labels, 0 normal and nonzero anomalous.
        metric: ``"mse"`` or ``"mae"``, for the axis label.

    Returns:
        *path* as a ``Path``.
    """
    plt = _pyplot()
    scores = np.asarray(scores, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    positive = scores[scores > 0]
    use_log = positive.size == scores.size and scores.size > 1 and positive.max() / positive.min() > 100
    values = np.log10(scores) if use_log else scores
    bins = np.histogram_bin_edges(values, bins=min(60, max(10, scores.size // 20)))
    if labels is None:
        ax.hist(values, bins=bins, color="tab:blue", alpha=0.8, label=f"signals ({scores.size})")
    else:
        truth = np.asarray(labels).reshape(-1) != 0
        ax.hist(values[~truth], bins=bins, color="tab:blue", alpha=0.7, label=f"normal ({(~truth).sum()})")
        ax.hist(values[truth], bins=bins, color="tab:red", alpha=0.7, label=f"anomalous ({truth.sum()})")
    line = np.log10(threshold) if use_log and threshold > 0 else threshold
    flagged = int((scores > threshold).sum())
    ax.axvline(line, color="black", linestyle="--", label=f"threshold {threshold:.3g} ({flagged} flagged)")
    ax.set_xlabel(f"log10 reconstruction {metric.upper()} (normalized units)" if use_log
                  else f"reconstruction {metric.upper()} (normalized units)")
    ax.set_ylabel("number of signals")
    ax.set_yscale("log")
    ax.set_title("Anomaly scores")
    ax.legend()
    return _save(fig, path)


def plot_latent(latent, path, color=None, color_label="score", categorical=False) -> Path:
    """2-D PCA projection of the latent codes, coloured by score or label.

    Args:
        latent: ``(n, latent_dim)`` latent codes (``model.encode(x)``).
        path: the PNG file to write (atomically).
        color: optional ``(n,)`` values: a colour scale, or with *categorical* one colour per value
            (0/1 values are drawn as normal/anomalous).
        color_label: the name of *color* in the legend or colour bar.

    Returns:
        *path* as a ``Path``.
    """
    plt = _pyplot()
    latent = np.asarray(latent, dtype=np.float64)
    centered = latent - latent.mean(axis=0)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    xy = centered @ vt[:2].T
    if xy.shape[1] < 2:
        xy = np.column_stack([xy[:, 0], np.zeros(len(xy))])
    explained = (s[:2] ** 2 / max((s ** 2).sum(), 1e-300)) * 100
    fig, ax = plt.subplots(figsize=(6.5, 5.2), layout="constrained")
    if color is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=8, alpha=0.7)
    elif categorical:
        color = np.asarray(color).reshape(-1)
        binary = set(np.unique(color).tolist()) <= {0, 1}
        for value in np.unique(color):
            mask = color == value
            name = ("normal" if value == 0 else "anomalous") if binary else f"{color_label} {value:g}"
            ax.scatter(xy[mask, 0], xy[mask, 1], s=10 if value == 0 else 22, alpha=0.7,
                       label=f"{name} ({mask.sum()})")
        ax.legend(fontsize=8)
    else:
        points = ax.scatter(xy[:, 0], xy[:, 1], s=8, c=color, cmap="viridis", alpha=0.8)
        fig.colorbar(points, ax=ax, label=color_label)
    ax.set_xlabel(f"latent PC 1 ({explained[0]:.0f}% of variance)")
    ax.set_ylabel(f"latent PC 2 ({explained[1] if len(explained) > 1 else 0:.0f}% of variance)")
    ax.set_title(f"Latent codes ({latent.shape[1]} dimensions), 2-D PCA projection")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_timeline(data: dict, path, title: str = "Recording") -> Path:
    """A long recording over time: signal (top, first channel) and per-point score with the threshold (bottom),
    flagged events shaded red, labelled anomalies shaded green when given; for several channels each event
    labelled with the channel carrying most of its error ("ch 3 61%") and a strip of each channel's score.

    *data* is :func:`sigae.estimator.recording_files.timeline_data`'s: min/max envelopes over about 2,000 spans, so a recording of
    10^7 points draws as fast as one of 10^4 (no line segment per point).
    """
    plt = _pyplot()
    edges = np.asarray(data["edges"], dtype=np.float64)
    fs = data.get("fs")
    # seconds put sample 1 at 0 s; without fs the axis counts samples from 1, as files and messages do
    x = np.repeat(edges / fs if fs else edges + 1.0, 2)[1:-1]  # each span drawn from its first to its last point

    def steps(values):
        return np.repeat(values, 2)

    channel_score = data.get("channel_score")
    several = channel_score is not None
    if several:
        fig, (ax, ax_s, ax_c) = plt.subplots(3, 1, figsize=(12, 7.2), sharex=True, layout="constrained",
                                             gridspec_kw={"height_ratios": [3, 2, min(2.5, 0.4 + 0.25 * len(channel_score))]})
    else:
        fig, (ax, ax_s) = plt.subplots(2, 1, figsize=(12, 5.6), sharex=True, layout="constrained",
                                       gridspec_kw={"height_ratios": [3, 2]})
    lo, hi = data["signal"]
    ax.fill_between(x, steps(lo), steps(hi), color="black", linewidth=0.6, step=None)
    channels = data.get("channels", 1)
    shown = data.get("signal_channel", 1)
    ax.set_ylabel("signal (original units)" + (f"\nchannel {shown} of {channels}" if channels > 1 else ""), fontsize=9)
    s_lo, s_hi = data["score"]
    ax_s.fill_between(x, steps(s_lo), steps(s_hi), color="tab:blue", linewidth=0.6)
    ax_s.axhline(data["threshold"], color="black", linestyle="--", linewidth=1,
                 label=f"threshold {data['threshold']:.3g}")
    positive = s_hi[np.isfinite(s_hi) & (s_hi > 0)]
    if positive.size and positive.size == np.isfinite(s_hi).sum() and s_hi.max() / max(s_lo.min(), 1e-300) > 100:
        ax_s.set_yscale("log")
    ax_s.set_ylabel("point score\n(MSE, normalized units)", fontsize=9)
    n_events = len(data["events"])
    for axis in (ax, ax_s):
        axis.fill_between(x, 0, 1, where=steps(data["flags"]), transform=axis.get_xaxis_transform(),
                          color="tab:red", alpha=0.3, edgecolor="tab:red", linewidth=0.8,
                          label=f"flagged ({n_events} event{'s' if n_events != 1 else ''})")
        if data.get("labels") is not None:
            axis.fill_between(x, 0.94, 1, where=steps(data["labels"]),
                              transform=axis.get_xaxis_transform(), color="tab:green", alpha=0.8, edgecolor="tab:green",
                              linewidth=0.8,
                              label="labelled anomalous")
        axis.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax_s.legend(fontsize=8, loc="upper right")
    bottom = ax_s
    if several:  # which channel carries each event: its label over the event, and each channel's score below
        rows = []  # the last label's position in each row of labels, so that close events' labels do not overlap
        for label in data.get("event_labels") or []:
            middle = (label["start"] + label["stop"] - 1) / 2
            where = (middle - edges[0]) / max(edges[-1] - edges[0], 1)  # 0-1 along the axis
            row = next((k for k, last in enumerate(rows) if where - last > 0.06), len(rows))
            if row == len(rows):
                rows.append(where)
            rows[row] = where
            ax_s.annotate(label["text"], (middle / fs if fs else middle + 1.0, 1.0),
                          xycoords=ax_s.get_xaxis_transform(), xytext=(0, 2 + 9 * (row % 3)),
                          textcoords="offset points", ha="center", va="bottom", fontsize=7, color="tab:red",
                          annotation_clip=False)
        image = np.where(np.isfinite(channel_score), channel_score, np.nan)
        top = np.nanmax(image) if np.isfinite(image).any() else 1.0
        ax_c.pcolormesh(edges / fs if fs else edges + 1.0, np.arange(len(image) + 1) + 0.5, image, cmap="Reds",
                        vmin=0, vmax=max(top, data["threshold"]), shading="flat")
        ticks = range(1, len(image) + 1, max(1, math.ceil(len(image) / 12)))  # at most about 12 names
        ax_c.set_yticks(ticks, [f"ch {c}" for c in ticks], fontsize=7)
        ax_c.invert_yaxis()
        ax_c.set_ylabel("score by\nchannel", fontsize=9)
        bottom = ax_c
    bottom.set_xlabel("time (s, sample 1 at 0 s)" if fs else "sample (1-based)")
    if not fs:
        from matplotlib.ticker import FuncFormatter

        bottom.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax_s.set_xlim(x[0], x[-1])
    ax.set_title(f"{title}: {data['n']:,} points, windows of {data['window']} (hop {data['hop']})", fontsize=10)
    return _save(fig, path)
