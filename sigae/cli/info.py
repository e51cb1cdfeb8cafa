"""``sigae-info``: the architecture of a run as a parameter table, with config, normalizer, threshold and
metrics."""

from __future__ import annotations

from sigae.cli.options import command_parser, load_run, run_setup
from sigae.cli.summary import format_parameter_table, threshold_source, training_summary, windowing_summary


def info_parser(prog="sigae-info"):
    p = command_parser(prog, "Show the architecture of a run as a parameter table, with config, normalizer, "
                             "threshold and metrics.", "sigae-info runs/signals")
    p.add_argument("run", help="run folder written by sigae-train")
    return p


def cmd_info(args):
    import json

    run_setup(args.run)  # a bad folder is refused before TensorFlow loads
    model = load_run(args.run)
    print(f"run folder: {args.run}")
    print(format_parameter_table(model.autoencoder))
    print("\nconfig: " + json.dumps(model.config.to_dict()))
    norm = model.normalizer.to_dict()
    short = {k: (v if not isinstance(v, list) or len(v) <= 4 else f"<{len(v)} values>") for k, v in norm.items()}
    print("normalizer: " + json.dumps(short))
    if model.threshold_:
        t = model.threshold_
        print(f"threshold: p{t['percentile']:g} = {t['p']:.4g} ({threshold_source(t)}), max = {t['max']:.4g} "
              "(MSE, normalized units)")
    if model.metrics_:
        print(training_summary(model.metrics_))
    if model.windowing_ is not None:
        print(windowing_summary(model))
    return 0
