"""``sigae-plot``: the figures of a run (loss; with signals, reconstructions, scores and latent map; timelines
for a model of recordings)."""

from __future__ import annotations

from pathlib import Path

from sigae.cli.options import (add_input_options, check_channels, command_parser, inherit_reading, load_input_signals,
                               load_labels, load_run, no_hop, positive_int, run_setup)
from sigae.cli.recordings import add_event_options, no_event_options, plot_windowed


def plot_parser(prog="sigae-plot"):
    p = command_parser(prog, "Draw the figures of a run: loss curves and, given signals, reconstructions, "
                             "score histogram and latent map.",
                       "sigae-plot runs/signals sample_data/signals.mat --labels labels --out figures")
    p.add_argument("run", help="run folder written by sigae-train")
    p.add_argument("file", nargs="?", help="signals file (optional): enables reconstructions, scores and latent plots")
    add_input_options(p)
    p.add_argument("--labels", metavar="VAR", help="variable of FILE with labels, used to colour the plots")
    p.add_argument("--out", help="folder for the PNG files (default: RUN/plots)")
    p.add_argument("--hop", type=positive_int, default=1,
                   help="model trained with --window: points between scored windows (default 1); the figure is "
                        "timeline.png (recording, point score and threshold, events, labels; for several channels each "
                        "event's top channel and a strip of per-channel scores)")
    add_event_options(p, table=False)
    p.add_argument("--overwrite", action="store_true", help="replace existing PNG files")
    return p


def cmd_plot(args):
    import numpy as np

    from sigae.data.files import check_writable
    from sigae.evaluation.plots import plot_latent, plot_loss, plot_reconstructions, plot_scores

    out = Path(args.out) if args.out else Path(args.run) / "plots"
    config, windowing = run_setup(args.run)
    if args.file:
        inherit_reading(args, args.run)
    if windowing is not None:
        check_writable(out / "loss.png", args.overwrite)
        written = []
        if args.file:  # the recordings are checked and read before TensorFlow loads and anything is written
            model, written = plot_windowed(args, windowing, config, lambda: load_run(args.run), out)
        else:
            model = load_run(args.run)
        if model.history_ and model.history_.loss:
            written.append(plot_loss(model.history_, out / "loss.png"))
        for path in written:
            print(f"wrote {path}")
        return 0
    no_hop(args)
    no_event_options(args, args.run)
    names = ["loss.png"] + (["reconstructions.png", "scores.png", "latent.png"] if args.file else [])
    for name in names:
        check_writable(out / name, args.overwrite)
    if args.file:  # every input is checked before the first figure is written (and before TensorFlow loads)
        x, _ = load_input_signals(args, args.file, expected_length=config.input_length,
                             expected_channels=config.channels)
        check_channels(args.file, x.shape, config)
        labels = load_labels(args.file, args.labels, len(x)) if args.labels else None
    model = load_run(args.run)
    written = []
    if model.history_ is not None and model.history_.loss:
        written.append(plot_loss(model.history_, out / "loss.png"))
    if args.file:
        result = model.score(x)
        order = np.argsort(result.scores)
        worst = order[::-1][:3]
        typical = order[len(order) // 2 - 1: len(order) // 2 + 2]
        picks = np.concatenate([worst, typical])
        rec = model.reconstruct(x[picks])
        captions = [f"{kind}: signal {i + 1} (1-based) of the file, score {result.scores[i]:.3g}"
                    for kind, i in zip(["worst"] * len(worst) + ["typical"] * len(typical), picks)]
        written.append(plot_reconstructions(x[picks], rec, out / "reconstructions.png", labels=captions,
                                            title="Worst and typical signals: original vs reconstruction"))
        written.append(plot_scores(result.scores, result.threshold, out / "scores.png", labels=labels))
        latent = model.encode(x)
        if labels is not None:
            written.append(plot_latent(latent, out / "latent.png", color=labels, color_label="label", categorical=True))
        else:
            written.append(plot_latent(latent, out / "latent.png", color=result.scores, color_label="anomaly score"))
    for path in written:
        print(f"wrote {path}")
    return 0
