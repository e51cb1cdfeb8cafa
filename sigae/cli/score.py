"""``sigae-score``: anomaly scores by reconstruction error (per point, for a model of recordings; live data too)."""

from __future__ import annotations

from pathlib import Path

from sigae.cli.options import (check_all, check_outputs, files_of, inherit_reading, load_labels, load_run, no_hop,
                               open_input_signals, output_provenance, outputs_for, positive_float, run_file_parser,
                               run_setup)
from sigae.cli.recordings import add_event_options, no_event_options, score_windowed
from sigae.errors import ConfigError, SigaeError


def score_parser(prog="sigae-score"):
    p = run_file_parser(prog, "Score every signal in FILE by reconstruction error and flag anomalies. With a model "
                              "trained with --window, score every point of the recordings in FILE: point_score, "
                              "point_is_anomaly, events, window_score, window_start (docs/guides/recordings.md).",
                        "sigae-score runs/signals sample_data/signals.mat -o scores.mat --labels labels\n"
                        "  sigae-score runs/windows whole.mat --var series -o scores.mat --labels is_anomaly",
                        "signals file (a model trained with --window: also - for standard input, or a growing "
                        "file with --follow, or a raw float32 .f32/.bin file; docs/guides/streaming.md)",
                         output_required=False)
    p.add_argument("--metric", choices=("mse", "mae"), default="mse", help="per-signal error (default mse)")
    p.add_argument("--threshold", help="a number, 'max' (the largest score of the training signals kept by "
                                       "screening) or a percentile pNN of the validation signals' scores, "
                                       "signals the model did not fit (default: the percentile calibrated at "
                                       "training, p99; for a model of recordings the maximum point score of the "
                                       "training recordings)")
    p.add_argument("--per-point", action="store_true", help="also write the per-point error matrix")
    p.add_argument("--labels", metavar="VAR", help="variable of FILE with 0 = normal, nonzero = anomalous (per "
                                                   "point for a model of recordings); prints AUROC, average "
                                                   "precision, precision and recall (and event-level ones)")
    add_event_options(p)
    p.add_argument("--follow", action="store_true",
                   help="model trained with --window: FILE grows (a .csv/.txt of one time point per line, or raw "
                        "little-endian float32 .f32/.bin, C values per point): score the samples as they are "
                        "appended, writing each point as soon as it is final (one window later) and each event "
                        "when it closes; stops on Ctrl-C or after --idle")
    p.add_argument("--poll", type=positive_float, default=0.5, metavar="SECONDS",
                   help="with --follow: seconds between looks for new data (default 0.5)")
    p.add_argument("--idle", type=positive_float, default=None, metavar="SECONDS",
                   help="with --follow: stop (and score the last points) after this many seconds without new data "
                        "(default: follow until Ctrl-C)")
    return p


def cmd_score(args):
    from sigae.evaluation.scoring import detection_report
    from sigae.estimator.streaming import score_to_file

    from sigae.cli.live import is_live, score_live

    if is_live(args):
        config, windowing = run_setup(args.run)
        _check_threshold_option(args, windowing)
        return score_live(args, windowing, config, lambda: load_run(args.run))
    for name in ("follow", "idle"):
        if getattr(args, name):
            raise ConfigError(f"--{name}: for live data (a FILE that grows); see --help")
    if args.output is None:
        raise ConfigError("-o/--output is required (except for live data: FILE -, --follow)")
    files = files_of(args.file)
    outputs = outputs_for(args.output, files)
    check_outputs(outputs, args.overwrite)
    config, windowing = run_setup(args.run)
    inherit_reading(args, args.run)
    _check_threshold_option(args, windowing)
    if windowing is not None:
        if args.per_point:
            raise SigaeError("--per-point: a model of recordings always writes point_score (one value per sample)")
        return score_windowed(args, files, windowing, config, lambda: load_run(args.run))
    no_hop(args)
    no_event_options(args, args.run)
    check_all(args, files, config)
    model = None
    for file, output in zip(files, outputs):
        with open_input_signals(args, file, config) as (signals, source):
            labels = load_labels(file, args.labels, len(signals)) if args.labels else None
            model = model or load_run(args.run)  # TensorFlow loads once the input is known to be good
            result = score_to_file(model, signals, output, metric=args.metric, threshold=args.threshold,
                                   per_point=args.per_point, batch_size=args.batch_size, overwrite=args.overwrite,
                                   **output_provenance(model, args.run, source))
        print(f"wrote {output}: {len(result)} score{'' if len(result) == 1 else 's'} ({args.metric}, normalized units); threshold "
              f"{result.threshold:.4g}; {int(result.is_anomaly.sum())} flagged as anomalous")
        if result.out_of_fold is not None:
            print(f"{int(result.out_of_fold.sum())} of these signals are the model's training signals: each scored by "
                  "the fold model that did not see it (out-of-fold), not by the model that fitted it")
        if labels is not None:
            r = detection_report(result.scores, labels, result.threshold)
            print(f"against '{args.labels}' ({r['anomalies']} anomalous of {len(labels)}): AUROC {r['auroc']:.3f}, "
                  f"average precision {r['average_precision']:.3f}, precision {r['precision']:.3f}, "
                  f"recall {r['recall']:.3f} at the threshold")
    return 0


def _check_threshold_option(args, windowing) -> None:
    """--threshold and --metric checked before any work (the checks score() makes again)."""
    from sigae.evaluation.scoring import parse_threshold

    kind, _ = parse_threshold(args.threshold)
    calibrated = windowing is not None or (Path(args.run) / "threshold.json").is_file()
    if args.metric != "mse" and kind in ("default", "max", "percentile") and calibrated:
        raise ConfigError("--threshold: the calibrated thresholds are for mse; give a number with --metric mae")
