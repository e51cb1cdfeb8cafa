"""Command-line entry points: ``sigae`` and ``sigae-train`` / ``-encode`` / ``-decode`` / ``-score`` / ``-plot`` / ``-info``.

A thin layer over the Python API: parse, call, print. Every error the user can
cause is one line on stderr and exit code 2. TensorFlow is imported only when a
command starts working, so ``--help`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from pathlib import Path

from sigae.errors import ConfigError, SigaeError, command_line_words

EXIT_USAGE = 2
LAYOUTS = ("NLC", "NCL", "LNC", "LCN", "CNL", "CLN")  # sigae.data.io.LAYOUTS, without importing sigae.data.io for --help


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (no usage block)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _parser(prog: str, description: str, example: str) -> _Parser:
    return _Parser(prog=prog, description=description, epilog=f"example:\n  {example}",
                   formatter_class=argparse.RawDescriptionHelpFormatter)


# ---------------------------------------------------------------------------- shared options
def _add_input_options(p, what="signals"):
    p.add_argument("--var", help=f"variable holding the {what} (a struct field as data.trial, a cell as c{{3}}); "
                                 "default: the only matrix that can hold them")
    p.add_argument("--orientation", choices=("rows", "columns"),
                   help="rows: each row is one signal (default); columns: each column is one signal")
    p.add_argument("--layout", type=str.upper, choices=LAYOUTS, metavar="NLC|NCL|...",
                   help="order of the axes of a 3-D variable as stored: NLC = signals x points x channels (the "
                        "default), NCL = signals x channels x points (aeon, MNE, PyTorch), or any other order of "
                        "N, L, C (CLN: EEGLAB's channels x points x trials). Without it, a 3-D variable read as NLC "
                        "with as many channels as points or more is refused. Commands that use a run read in the "
                        "layout it was trained with unless given")
    p.add_argument("--time-column", metavar="NAME|K|none",
                   help="the column that holds time (a clock, timestamps, a sample index), left out of the "
                        "channels: its header or field name, or its number (1-based); 'none' keeps every column. "
                        "Default: a column named like time (t, time_s, timestamp, X_Value...) or an index (the "
                        "pandas index) is left out, and said; a recording with a column that rises at every sample "
                        "is refused. Commands that use a run read with the run's choice unless given")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--crop", action="store_true", help="signals of different lengths: crop to the shortest")
    group.add_argument("--pad", action="store_true", help="signals of different lengths: zero-pad to the longest")


def _length_policy(args):
    return "crop" if getattr(args, "crop", False) else "pad" if getattr(args, "pad", False) else None


def _load_signals(args, path, expected_length=None, say=print, min_signals=1, expected_channels=None):
    from sigae.data.io import load_signals

    x, source = load_signals(path, args.var, orientation=args.orientation, expected_length=expected_length,
                             length_policy=_length_policy(args), min_signals=min_signals, return_info=True,
                             layout=args.layout, expected_channels=expected_channels, time_column=args.time_column)
    if source.note:
        say(f"{path}: {source.note}")
    return x, source


def _reading(args, var) -> dict:
    """What the run records of how its signals were read, so that encode, score, plot and export read alike."""
    return {"variable": var, "orientation": args.orientation, "layout": args.layout,
            "time_column": args.time_column, "stream": bool(args.stream)}


def _run_source(run_dir) -> dict:
    """The 'source' of a run's training.json ({} when there is none or it cannot be read)."""
    import json

    try:
        training = json.loads((Path(run_dir) / "training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return (training.get("source") or {}) if isinstance(training, dict) else {}


def _inherit_reading(args, run_dir) -> None:
    """--layout and --time-column default to the run's own (training.json), said in one line when used."""
    source = _run_source(run_dir)
    used = []
    for option in ("layout", "time_column"):
        if getattr(args, option, None) is None and source.get(option) is not None:
            setattr(args, option, source[option])
            used.append(f"--{option.replace('_', '-')} {source[option]}")
    if used:
        print(f"{run_dir}: reading with {' '.join(used)}, as the run was trained")


@contextlib.contextmanager
def _training_signals(args, path, say=print):
    """(signals, source) to train on: the whole array, or with --stream the file left on disk."""
    if not args.stream:
        yield _load_signals(args, path, min_signals=2, say=say)  # one signal is enough to encode or score, not to train
        return
    from sigae.data.io import open_signal_dataset

    if args.crop or args.pad:
        raise SigaeError("--stream: --crop/--pad need the whole file in memory; drop one or the other")
    with open_signal_dataset(path, args.var, orientation=args.orientation, min_signals=2, layout=args.layout,
                             time_column=args.time_column) as dataset:
        if dataset is None:
            raise SigaeError(f"--stream: {path} cannot be read block by block (only HDF5, MATLAB v7.3 and "
                             ".npy files can); drop --stream to load it whole")
        if dataset.source.note:
            say(f"{path}: {dataset.source.note}")
        yield dataset, dataset.source


def _check_channels(path, shape, config):
    """A file's signals must have the trained model's channel count; say so naming the file."""
    channels = shape[2] if len(shape) == 3 else 1
    if channels != config.channels:
        from sigae.errors import DataError

        raise DataError(f"{path}: signals with {channels} channel(s), but the model was trained on "
                        f"{config.channels} channel(s)")


@contextlib.contextmanager
def _open_signals(args, path, config):
    """(signals, source) for encode and score, checked against the model's length and channels: left on disk
    and streamed when the file allows (sigae.estimator.streaming)."""
    from sigae.data.results import open_signals

    with open_signals(path, args.var, orientation=args.orientation, expected_length=config.input_length,
                      length_policy=_length_policy(args), layout=args.layout, expected_channels=config.channels,
                      time_column=args.time_column) as (signals, source):
        if source.note:
            print(f"{path}: {source.note}")
        _check_channels(path, signals.shape, config)
        yield signals, source


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _fraction_below(upper: float):
    """An argparse type: a number in [0, *upper*)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
        if not 0 <= value < upper:
            raise argparse.ArgumentTypeError(f"must be in [0, {upper:g}), got {text}")
        return value

    return parse


_fraction = _fraction_below(1.0)
_below_half = _fraction_below(0.5)  # --trim and --rare-fraction


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _check_output(path, overwrite):
    from sigae.data.files import check_writable

    suffix = Path(path).suffix.lower()
    if suffix not in (".mat", ".npz", ".csv", ".h5", ".hdf5"):
        raise ConfigError(f"-o/--output {path}: unknown extension {suffix or '(none)'!r}; use .mat, .npz, .csv or .h5")
    check_writable(path, overwrite)


# ---------------------------------------------------------------------------- train
def train_parser(prog="sigae-train"):
    p = _parser(prog, "Train a 1-D convolutional autoencoder on the signals in FILE (or on the sliding windows of "
                      "the recordings in FILE, with --window) and write a run folder.",
                "sigae-train sample_data/signals.mat --epochs 50 --out runs/demo\n"
                "  sigae-train recordings/ --var x --window 128 --hop 2 --out runs/windows")
    p.add_argument("file", nargs="*", metavar="FILE",
                   help="signals file(s) (.mat any version, .npy, .npz, .csv, .txt, .h5) or a folder of them; "
                        "several are trained on together (same --var in each)")
    _add_input_options(p)
    from sigae.cli.recordings import add_window_options

    add_window_options(p)
    p.add_argument("--out", help="run folder to write (default: runs/<file stem>)")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run from its last completed epoch "
                                                   "(options and signals file come from the run folder; FILE, "
                                                   "if given, must hold the same data)")
    p.add_argument("--epochs", type=_positive_int, default=100, help="training epochs (default 100)")
    p.add_argument("--batch-size", type=_positive_int, default=100, help="signals per step (default 100)")
    p.add_argument("--validation-split", type=_fraction, default=0.2,
                   help="random fraction held out for validation (default 0.2)")
    p.add_argument("--preset", choices=("default", "reconstruction", "seed"), default=None,
                   help="default (except with --window, where reconstruction is): codes for downstream analysis: MiniRocket's random dilated kernels (fixed) and "
                        "PCA of the signals into the latent code, a convolutional decoder trained on it; "
                        "reconstruction: for reconstruction error and anomaly scores: a convolutional autoencoder "
                        "with a PCA-initialized linear path, best epoch restored (never worse than PCA on "
                        "validation); seed: the original architecture and "
                        "recipe sigae started from: encoder Conv1D(256, 3, tanh)/MaxPool(2), Conv1D(32, 3, "
                        "tanh)/MaxPool(2), Dense(32, tanh); decoder Conv1D/UpSampling stages closed by a Dense "
                        "layer to the full length (15 M parameters at 501 points); Adam 1e-3, no PCA start, last "
                        "epoch kept, no screening. The options below override the preset's values")
    p.add_argument("--latent-dim", type=_positive_int, help="size of the latent code (default 32)")
    p.add_argument("--normalize", choices=("global", "per-signal", "per-timestep", "minmax"), default="global",
                   help="how signals are scaled before training (default global)")
    p.add_argument("--decoder", choices=("seed", "mirror"),
                   help="seed: the reference decoder; mirror: the encoder mirrored layer by layer "
                        "(default: mirror; seed with --preset seed)")
    p.add_argument("--tied", action="store_true", help="tie decoder kernels to the encoder's (needs --decoder mirror)")
    p.add_argument("--learning-rate", type=_positive_float, help="Adam learning rate (default 1e-3)")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"),
                   help="constant rate, or cosine decay to 1%% of it over the run (default constant)")
    p.add_argument("--seed", type=int, help="random seed: same seed and data give the same run on a CPU")
    p.add_argument("--trim", type=_below_half, metavar="FRACTION",
                   help="leave the worst-reconstructed FRACTION of each batch out of the gradient, so a few "
                        "anomalous training signals are not learned (default 0: plain MSE)")
    p.add_argument("--rare-fraction", type=_below_half, metavar="FRACTION",
                   help="before training, leave out the signals far out on a principal direction carried by fewer "
                        "than FRACTION of the training signals (anomalies PCA would spend a component on), and "
                        "those that PCA fitted without them reconstructs far worse than the others; FRACTION in "
                        "[0, 0.5); 0 keeps every signal (default 0.01; 0 with --preset seed)")
    p.add_argument("--labels", metavar="VAR",
                   help="variable of FILE with a class label per signal: after training, report the "
                        "cross-validated linear-probe accuracy of the latent codes vs PCA's codes "
                        "(metrics.json 'linear_probe'; needs scikit-learn)")
    p.add_argument("--stream", action="store_true",
                   help="read the signals from the file block by block instead of loading it whole, for files "
                        "larger than memory (HDF5, MATLAB v7.3, .npy)")
    p.add_argument("--patience", type=_positive_int,
                   help="stop when validation loss has not improved for this many epochs; keep the best weights")
    p.add_argument("--strategy", choices=("auto", "default", "mirrored", "multiworker"), default="auto",
                   help="tf.distribute strategy: auto uses all GPUs when there are several; multiworker reads "
                        "TF_CONFIG (see docs/guides/distributed.md); the batch size is global (default auto)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="compute in float16 with float32 weights and loss (for GPUs; slower on most CPUs)")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep checkpoints/ (weights and optimizer state, 3x the model's size) after the run "
                        "completes; by default they are deleted once the model is saved")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing, non-empty run folder (a failed run's folder is replaced without it)")
    p.add_argument("--quiet", action="store_true",
                   help="print nothing but errors and warnings (on stderr), and what --labels asks for; the run "
                        "folder holds the summary (metrics.json)")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="also write per-epoch loss, validation loss, learning rate and the PCA baseline for "
                        "TensorBoard to DIR (tensorboard --logdir DIR); history.csv stays the record")
    return p


class _StopRequest:
    """SIGINT/SIGTERM handler: ask the training loop to stop after the current step."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum=None, frame=None):
        if self.requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after the current step (press Ctrl-C again to abort at once)", file=sys.stderr)

    def install(self):
        import signal

        signal.signal(signal.SIGINT, self)
        signal.signal(signal.SIGTERM, self)
        return lambda: self.requested


def cmd_train(args):
    from sigae.model.config import AutoencoderConfig
    from sigae.estimator.autoencoder import SignalAutoencoder
    from sigae.training.loop import TrainingInterrupted

    stop = _StopRequest()
    verbose = 0 if args.quiet else "auto"
    say = _say(args)
    if args.resume:
        out = Path(args.resume)
        training = _read_training_options(out)
        src = training.get("source") or {}
        if src.get("windowed"):
            from sigae.cli.recordings import resume_windowed

            try:
                model = resume_windowed(args, out, src, stop.install(), verbose, say)
            except TrainingInterrupted as exc:
                return _interrupted(exc, out)
            return _report_training(model, out, args.quiet)
        if len(src.get("files") or []) > 1 or len(args.file) > 1:
            raise SigaeError(f"--resume {out}: runs on several files of cut signals cannot be resumed; train again")
        file = args.file[0] if args.file else src.get("file")
        if not file:
            raise SigaeError(f"--resume {out}: the run does not record its signals file; give FILE")
        args.var = args.var or src.get("variable")
        args.orientation = args.orientation or src.get("orientation")
        args.layout = args.layout or src.get("layout")
        args.time_column = args.time_column or src.get("time_column")
        args.stream = args.stream or bool(src.get("stream"))
        with _training_signals(args, file, say) as (x, _):
            say(f"resuming {out} on {file}")
            try:
                model = SignalAutoencoder.resume(out, x, verbose=verbose, log=say, should_stop=stop.install(),
                                                 tensorboard=args.tensorboard)
            except TrainingInterrupted as exc:
                return _interrupted(exc, out)
    else:
        if not args.file:
            raise SigaeError("FILE is required (or --resume RUN)")
        from sigae.cli.recordings import files_of, many_files, train_windowed

        if args.window is None and (args.hop != 1 or args.fs is not None):
            raise SigaeError("--hop/--fs: only with --window (training on the sliding windows of recordings)")
        if args.window is not None and args.layout:
            raise SigaeError("--layout: names the axes of 3-D arrays of cut signals; recordings (--window) are "
                             "vectors or N x C matrices, whose channels --orientation and --time-column choose")
        files = files_of(args.file)
        out = Path(args.out) if args.out else Path("runs") / Path(args.file[0]).stem
        if out.exists() and not out.is_dir():
            raise SigaeError(f"--out {out}: is a file, not a folder; choose another run folder")
        from sigae.estimator.autoencoder import is_failed_run

        if out.exists() and any(out.iterdir()) and not args.overwrite:
            if not is_failed_run(out):
                raise SigaeError(f"--out {out}: exists and is not empty; pass --overwrite to replace it")
            say(f"replacing the failed run in {out}")
        chosen = {"latent_dim": args.latent_dim, "decoder": args.decoder, "learning_rate": args.learning_rate,
                  "lr_schedule": args.lr_schedule, "trim_fraction": args.trim,
                  "rare_fraction": args.rare_fraction}
        preset = args.preset
        if preset is None:  # windows of recordings are for per-point anomaly scores: the reconstruction model
            preset = "reconstruction" if args.window is not None else "default"
            if args.window is not None:
                say("--window: training the reconstruction preset (made for reconstruction error and per-point "
                    "scores); --preset default for the codes model")
        config = AutoencoderConfig.from_preset(preset, normalize=args.normalize, tied=args.tied,
                                               **{k: v for k, v in chosen.items() if v is not None})
        if args.labels and (args.window is not None or len(files) > 1):
            raise SigaeError("--labels: the linear probe is for one file of cut signals (not --window or several files)")
        if args.window is not None or len(files) > 1:
            try:
                if args.window is not None:
                    model = train_windowed(args, files, config, out, stop.install(), verbose, say)
                else:
                    with many_files(args, files, say) as (x, provenance):
                        model = SignalAutoencoder(config).fit(
                            x, epochs=args.epochs, batch_size=args.batch_size, log=say,
                            validation_split=args.validation_split, verbose=verbose, patience=args.patience,
                            seed=args.seed, run_dir=out, overwrite=args.overwrite, should_stop=stop.install(),
                            source=provenance, strategy=args.strategy, mixed_precision=args.mixed_precision,
                            tensorboard=args.tensorboard, keep_checkpoints=args.keep_checkpoints,
                            layout="NLC")  # read in its --layout already
            except TrainingInterrupted as exc:
                return _interrupted(exc, out)
        else:
            model = _train_one(args, files[0], config, out, stop, verbose, say)
            if isinstance(model, int):
                return model
    return _report_training(model, out, args.quiet)


def _say(args):
    """print, or with --quiet nothing: notes and progress are not errors."""
    return (lambda *a, **k: None) if getattr(args, "quiet", False) else print


def _train_one(args, file, config, out, stop, verbose, say=print):
    """sigae-train FILE (cut signals, one file, possibly streamed): the model, or the exit code if interrupted."""
    from sigae.estimator.autoencoder import SignalAutoencoder
    from sigae.training.loop import TrainingInterrupted

    with _training_signals(args, file, say) as (x, source):
        shape = x.shape
        labels = _probe_labels(args, file, shape[0])
        reading = f"{shape[0]} signals x {shape[1]} points" + (
            f" x {shape[2]} channels (layout {source.layout})" if len(shape) == 3 else "")
        try:
            config = config.with_updates(input_length=shape[1], channels=1 if len(shape) == 2 else shape[2])
        except ConfigError as exc:
            from sigae.errors import DataError

            hint = "; if its axes are in another order, say so with --layout" if len(shape) == 3 else ""
            raise DataError(f"{source.path}: variable '{source.var}' read as {reading}: "
                            f"{str(exc).removeprefix('config: ')}{hint}") from None
        say(f"{source.path}: {reading} from variable '{source.var}'"
              + (", read block by block" if args.stream else ""))
        provenance = {"file": str(Path(source.path).resolve()), **_reading(args, source.var),
                      "orientation": source.orientation}
        try:
            model = SignalAutoencoder(config).fit(
                x, epochs=args.epochs, batch_size=args.batch_size, validation_split=args.validation_split,
                verbose=verbose, log=say, patience=args.patience, seed=args.seed, run_dir=out,
                overwrite=args.overwrite, should_stop=stop.install(), source=provenance,
                strategy=args.strategy, mixed_precision=args.mixed_precision, tensorboard=args.tensorboard,
                keep_checkpoints=args.keep_checkpoints, layout="NLC")  # read in its --layout already
        except TrainingInterrupted as exc:
            return _interrupted(exc, out)
        if labels is not None:
            _report_linear_probe(model, x, out, labels, seed=args.seed or 0)
    return model


def _report_training(model, out, quiet: bool = False) -> int:
    if quiet:  # only what was asked for: the linear probe's accuracy
        probe = training_summary(model.metrics_).splitlines()[-1] if model.metrics_.get("linear_probe") else None
        if probe:
            print(probe)
        return 0
    print(training_summary(model.metrics_))
    if model.windowing_ is not None:
        from sigae.cli.recordings import windowing_summary

        print(windowing_summary(model))
    print(f"run folder: {out}/")
    for name, what in (("model.keras", "the trained autoencoder (encoder and decoder inside)"),
                       ("config.json", "architecture"), ("normalizer.json", "normalization statistics"),
                       ("history.csv", "loss per epoch"), ("metrics.json", "final errors, PCA baseline"),
                       ("threshold.json", "anomaly threshold, calibrated on the validation signals"),
                       ("windowing.json", "window, hop, fs, split and per-point threshold"),
                       ("loss.png", "loss curves"), ("reconstructions.png", "validation reconstructions"),
                       ("checkpoints/", "best and last checkpoints (weights + optimizer state)")):
        if (out / name).exists():
            print(f"  {name:<20} {what}")
    return 0


def _probe_labels(args, file, n_signals: int):
    """--labels read and checked before training, so a wrong variable costs no training time."""
    if not getattr(args, "labels", None):
        return None
    import numpy as np

    from sigae.data.io import load_array

    if args.stream:
        raise SigaeError("--labels: the linear probe needs the signals in memory; drop --stream")
    _single_array_labels(file, args.labels)
    labels = np.asarray(load_array(file, args.labels)).reshape(-1)
    if len(labels) != n_signals:
        raise SigaeError(f"--labels {args.labels}: {len(labels)} labels in {file} for {n_signals} signals")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise SigaeError("--labels: the linear probe needs scikit-learn; pip install 'sigae[sklearn]'") from None
    return labels


def _report_linear_probe(model, x, out: Path, labels, seed: int = 0) -> None:
    """--labels: linear-probe accuracy of the codes vs PCA's, added to metrics.json."""
    from sigae.data.files import write_json
    from sigae.evaluation.probe import probe_report

    model.metrics_["linear_probe"] = probe_report(model, x, labels, seed=seed)
    write_json(out / "metrics.json", model.metrics_)


def _read_training_options(run_dir: Path) -> dict:
    import json

    from sigae.errors import RunFolderError

    file = run_dir / "training.json"
    if not file.is_file():
        raise RunFolderError(f"--resume {run_dir}: not a resumable run folder (no training.json)")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"--resume {run_dir}: training.json is unreadable ({exc})") from None


def _interrupted(exc, out) -> int:
    from sigae.estimator.autoencoder import resumable, resume_hint

    if resumable(out):
        print(f"sigae-train: interrupted; {exc.epochs_done} epoch(s) completed and checkpointed in {out}/checkpoints; "
              f"resume with: sigae-train --resume {out}", file=sys.stderr)
    else:  # --resume refuses these runs: say what does work
        print(f"sigae-train: interrupted after {exc.epochs_done} epoch(s); {resume_hint(out)}", file=sys.stderr)
    return 130


EXACT_MSE = 1e-9
"""Validation MSE (normalized units, where the signals' variance is about 1) below which both the model and PCA
reconstruct to float rounding, and their ratio means nothing."""


def threshold_source(calibration: dict) -> str:
    """What a calibrated threshold is the percentile of, in words."""
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
        lines.append(f"threshold: {threshold['p']:.4g}, p{threshold['percentile']:g} of "
                     f"{threshold_source(threshold)}; about {100 - threshold['percentile']:.3g}% of new normal "
                     f"{unit}s score above it")
    probe = metrics.get("linear_probe")
    if probe:
        lines.append(f"linear probe ({probe['folds']}-fold cross-validated accuracy on --labels): codes "
                     f"{probe['codes']:.3f}, PCA-{probe['pca_components']} codes {probe['pca']:.3f}"
                     + (f", MiniRocket -> PCA-{probe['pca_components']} codes {probe['minirocket']:.3f}"
                        if "minirocket" in probe else " (MiniRocket's probe too with pip install 'sigae[eval]')"))
    return "\n".join(lines)


# ---------------------------------------------------------------------------- run folders
def _load_run(run):
    from sigae.estimator.autoencoder import load

    return load(run)


def _provenance(model, run, source):
    return {"source_file": str(source.path), "source_variable": source.var, "run_folder": str(Path(run)),
            "config_hash": model.config.hash()}


def _run_file_parser(prog, description, example, file_help, what="signals", output_required=True):
    """RUN FILE -o OUTPUT [--batch-size] [--overwrite], plus the input options for signals files."""
    p = _parser(prog, description, example)
    p.add_argument("run", help="run folder written by sigae-train")
    if what == "signals":
        p.add_argument("file", nargs="+", metavar="FILE",
                       help=f"{file_help} (several, or a folder: one output each, see -o)")
        _add_input_options(p)
        p.add_argument("--hop", type=_positive_int, default=1,
                       help="model trained with --window: points between window starts (default 1: every window)")
    else:
        p.add_argument("file", help=file_help)
        p.add_argument("--var", default=None, help=f"variable holding the {what} (default: 'latent' if present)")
    p.add_argument("-o", "--output", required=output_required,
                   help="output file: .mat, .npz, .csv or .h5; with several input files a folder (DIR/, one "
                        "<input stem>.mat each) or a pattern such as out/{stem}.h5"
                        + ("" if output_required else "; live data (FILE -, --follow, .f32): a .csv table, "
                           "default standard output"))
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help=f"{what} per batch (default: 1024 for the seed architecture, 256 for others)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return p


def encode_parser(prog="sigae-encode"):
    return _run_file_parser(prog, "Write the latent code of every signal in FILE, using the trained model in RUN.",
                            "sigae-encode runs/signals sample_data/signals.mat -o features.mat", "signals file")


def cmd_encode(args):
    from sigae.cli.recordings import check_outputs, encode_windowed, files_of, outputs_for
    from sigae.estimator.streaming import encode_to_file

    files = files_of(args.file)
    outputs = outputs_for(args.output, files)
    check_outputs(outputs, args.overwrite)
    config, windowing = _run_setup(args.run)
    _inherit_reading(args, args.run)
    if windowing is not None:
        return encode_windowed(args, files, windowing, config, lambda: _load_run(args.run))
    _no_hop(args)
    _check_all(args, files, config)
    model = None
    for file, output in zip(files, outputs):
        with _open_signals(args, file, config) as (signals, source):
            model = model or _load_run(args.run)  # TensorFlow loads once the input is known to be good
            n, k = encode_to_file(model, signals, output, batch_size=args.batch_size, overwrite=args.overwrite,
                                  **_provenance(model, args.run, source))
        print(f"wrote {output}: latent {n} x {k} from {source.path} ('{source.var}')")
    return 0


def _run_setup(run):
    """``(config, windowing or None)`` of a complete run folder, read without TensorFlow, so that a command
    checks its inputs against the run before the seconds TensorFlow takes to load."""
    from sigae.estimator.autoencoder import read_run_config
    from sigae.estimator.windowed import load_windowing

    return read_run_config(run), load_windowing(Path(run))


def _check_all(args, files, config):
    """With several input files, open every one (variable, length, channels) before the first output is written."""
    if len(files) > 1:
        for file in files:
            with _open_signals(args, file, config):
                pass


def _no_hop(args):
    if args.hop != 1:
        raise SigaeError(f"--hop: {args.run} was trained on cut signals, not on windows of recordings")


def decode_parser(prog="sigae-decode"):
    return _run_file_parser(prog, "Turn latent codes back into signals with the trained decoder of RUN.",
                            "sigae-decode runs/signals features.mat -o signals_out.mat",
                            "latent codes, e.g. written by sigae-encode", what="codes")


def cmd_decode(args):
    import numpy as np

    from sigae.data.io import list_variables, load_array, save_array

    _check_output(args.output, args.overwrite)
    config, _ = _run_setup(args.run)
    names = {v.name for v in list_variables(args.file)}
    var = args.var or ("latent" if "latent" in names else None)
    z = load_array(args.file, var)
    if z.ndim == 1 and z.size == config.latent_dim:
        z = z[None, :]
    if z.ndim != 2 or z.shape[1] != config.latent_dim:
        what = f"variable '{var}'" if var else "the latent codes"
        raise SigaeError(f"{args.file}: {what} is {'x'.join(map(str, z.shape))}; "
                         f"the model's latent codes are n x {config.latent_dim} (one code per row)")
    stats = None
    if config.normalize == "per-signal":
        if not {"signal_mean", "signal_std"} <= names:
            raise SigaeError(f"{args.file}: this model normalizes each signal; the file needs signal_mean and "
                             "signal_std (as written by sigae-encode)")
        mean = load_array(args.file, "signal_mean").reshape(len(z), 1, -1)
        std = load_array(args.file, "signal_std").reshape(len(z), 1, -1)
        stats = (mean, std)
    model = _load_run(args.run)  # TensorFlow loads once the codes are known to be good
    signals = model.decode(z, stats=stats, batch_size=args.batch_size)
    save_array(args.output, "signals", np.asarray(signals), overwrite=args.overwrite,
               source_file=str(args.file), run_folder=str(Path(args.run)), config_hash=model.config.hash())
    print(f"wrote {args.output}: signals {' x '.join(map(str, signals.shape))}")
    return 0


def score_parser(prog="sigae-score"):
    p = _run_file_parser(prog, "Score every signal in FILE by reconstruction error and flag anomalies. With a model "
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
    from sigae.cli.recordings import add_event_options

    add_event_options(p)
    p.add_argument("--follow", action="store_true",
                   help="model trained with --window: FILE grows (a .csv/.txt of one time point per line, or raw "
                        "little-endian float32 .f32/.bin, C values per point): score the samples as they are "
                        "appended, writing each point as soon as it is final (one window later) and each event "
                        "when it closes; stops on Ctrl-C or after --idle")
    p.add_argument("--poll", type=_positive_float, default=0.5, metavar="SECONDS",
                   help="with --follow: seconds between looks for new data (default 0.5)")
    p.add_argument("--idle", type=_positive_float, default=None, metavar="SECONDS",
                   help="with --follow: stop (and score the last points) after this many seconds without new data "
                        "(default: follow until Ctrl-C)")
    return p


def _single_array_labels(path, var) -> None:
    """A .npy file is one array (the signals): --labels cannot name a variable inside it."""
    from pathlib import Path

    if Path(path).suffix.lower() == ".npy":
        raise SigaeError(f"--labels {var}: {path} is a .npy file, which holds one array (the signals); save the "
                         "signals and the labels as two variables of one .mat, .npz or HDF5 file")


def _load_labels(path, var, n):
    from sigae.errors import DataError
    from sigae.data.io import load_array

    _single_array_labels(path, var)
    labels = load_array(path, var).reshape(-1)
    if labels.size != n:
        raise DataError(f"{path}: variable '{var}' has {labels.size} labels for {n} signals")
    return labels


def cmd_score(args):
    from sigae.evaluation.scoring import detection_report
    from sigae.estimator.streaming import score_to_file

    from sigae.cli.live import is_live, score_live
    from sigae.cli.recordings import check_outputs, files_of, no_event_options, outputs_for, score_windowed

    if is_live(args):
        config, windowing = _run_setup(args.run)
        _check_threshold_option(args, windowing)
        return score_live(args, windowing, config, lambda: _load_run(args.run))
    for name in ("follow", "idle"):
        if getattr(args, name):
            raise ConfigError(f"--{name}: for live data (a FILE that grows); see --help")
    if args.output is None:
        raise ConfigError("-o/--output is required (except for live data: FILE -, --follow)")
    files = files_of(args.file)
    outputs = outputs_for(args.output, files)
    check_outputs(outputs, args.overwrite)
    config, windowing = _run_setup(args.run)
    _inherit_reading(args, args.run)
    _check_threshold_option(args, windowing)
    if windowing is not None:
        if args.per_point:
            raise SigaeError("--per-point: a model of recordings always writes point_score (one value per sample)")
        return score_windowed(args, files, windowing, config, lambda: _load_run(args.run))
    _no_hop(args)
    no_event_options(args, args.run)
    _check_all(args, files, config)
    model = None
    for file, output in zip(files, outputs):
        with _open_signals(args, file, config) as (signals, source):
            labels = _load_labels(file, args.labels, len(signals)) if args.labels else None
            model = model or _load_run(args.run)  # TensorFlow loads once the input is known to be good
            result = score_to_file(model, signals, output, metric=args.metric, threshold=args.threshold,
                                   per_point=args.per_point, batch_size=args.batch_size, overwrite=args.overwrite,
                                   **_provenance(model, args.run, source))
        print(f"wrote {output}: {len(result)} score{'' if len(result) == 1 else 's'} ({args.metric}, normalized units); threshold "
              f"{result.threshold:.4g}; {int(result.is_anomaly.sum())} flagged as anomalous")
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


def plot_parser(prog="sigae-plot"):
    p = _parser(prog, "Draw the figures of a run: loss curves and, given signals, reconstructions, "
                      "score histogram and latent map.",
                "sigae-plot runs/signals sample_data/signals.mat --labels labels --out figures")
    p.add_argument("run", help="run folder written by sigae-train")
    p.add_argument("file", nargs="?", help="signals file (optional): enables reconstructions, scores and latent plots")
    _add_input_options(p)
    p.add_argument("--labels", metavar="VAR", help="variable of FILE with labels, used to colour the plots")
    p.add_argument("--out", help="folder for the PNG files (default: RUN/plots)")
    p.add_argument("--hop", type=_positive_int, default=1,
                   help="model trained with --window: points between scored windows (default 1); the figure is "
                        "timeline.png (recording, point score and threshold, events, labels; for several channels each "
                        "event's top channel and a strip of per-channel scores)")
    from sigae.cli.recordings import add_event_options

    add_event_options(p, table=False)
    p.add_argument("--overwrite", action="store_true", help="replace existing PNG files")
    return p


def cmd_plot(args):
    import numpy as np

    from sigae.data.files import check_writable
    from sigae.evaluation.plots import plot_latent, plot_loss, plot_reconstructions, plot_scores

    out = Path(args.out) if args.out else Path(args.run) / "plots"
    config, windowing = _run_setup(args.run)
    if args.file:
        _inherit_reading(args, args.run)
    if windowing is not None:
        check_writable(out / "loss.png", args.overwrite)
        written = []
        if args.file:  # the recordings are checked and read before TensorFlow loads and anything is written
            from sigae.cli.recordings import plot_windowed

            model, written = plot_windowed(args, windowing, config, lambda: _load_run(args.run), out)
        else:
            model = _load_run(args.run)
        if model.history_ and model.history_.loss:
            written.append(plot_loss(model.history_, out / "loss.png"))
        for path in written:
            print(f"wrote {path}")
        return 0
    _no_hop(args)
    from sigae.cli.recordings import no_event_options

    no_event_options(args, args.run)
    names = ["loss.png"] + (["reconstructions.png", "scores.png", "latent.png"] if args.file else [])
    for name in names:
        check_writable(out / name, args.overwrite)
    if args.file:  # every input is checked before the first figure is written (and before TensorFlow loads)
        x, _ = _load_signals(args, args.file, expected_length=config.input_length,
                             expected_channels=config.channels)
        _check_channels(args.file, x.shape, config)
        labels = _load_labels(args.file, args.labels, len(x)) if args.labels else None
    model = _load_run(args.run)
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


def info_parser(prog="sigae-info"):
    p = _parser(prog, "Show the architecture of a run as a parameter table, with config, normalizer, "
                      "threshold and metrics.", "sigae-info runs/signals")
    p.add_argument("run", help="run folder written by sigae-train")
    return p


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


def cmd_info(args):
    import json

    _run_setup(args.run)  # a bad folder is refused before TensorFlow loads
    model = _load_run(args.run)
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
        from sigae.cli.recordings import windowing_summary

        print(windowing_summary(model))
    return 0


def export_parser(prog="sigae-export"):
    p = _parser(prog, "Export a trained model for serving or devices (SavedModel, LiteRT/TFLite, ONNX), with its "
                      "normalization built in, then reload the export and compare it with sigae on signals.",
                "sigae-export runs/signals --format tflite --int8 -o encoder_int8.tflite")
    p.add_argument("run", help="run folder written by sigae-train")
    p.add_argument("--format", required=True, choices=("savedmodel", "tflite", "onnx"),
                   help="savedmodel: a folder for TF Serving / tf.saved_model.load; tflite: a LiteRT flatbuffer "
                        "for devices; onnx: an ONNX file (needs pip install -e '.[export]')")
    p.add_argument("-o", "--output", required=True, help="output path (a folder for savedmodel, a file otherwise)")
    p.add_argument("--part", choices=("encoder", "decoder", "autoencoder", "score"), default="encoder",
                   help="encoder: signals -> codes (default); decoder: codes -> signals; autoencoder: signals -> "
                        "reconstructions; score: signals -> reconstruction MSE per signal")
    p.add_argument("--int8", action="store_true",
                   help="tflite: integer (int8) weights and activations, calibrated on up to 200 training signals; "
                        "float32 input and output")
    p.add_argument("--data", metavar="FILE",
                   help="signals to compare the export with (and, with --int8, to calibrate it); default: the "
                        "training file recorded in the run folder, whose training rows calibrate --int8")
    _add_input_options(p)
    p.add_argument("--input-offset", type=_offsets, metavar="VALUE[,VALUE...]",
                   help="subtract this offset (one value, or one per channel) from the signals before they are "
                        "rounded to float32: the export then takes signals - VALUE (and the autoencoder and decoder "
                        "give their output less VALUE). Needed when the signals are far from zero compared with "
                        "their spread (e.g. 101325 Pa varying by 0.02 Pa), which float32 input cannot hold; the "
                        "export refuses such signals without it and names the value to give")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return p


def _offsets(text):
    """--input-offset: one number, or numbers separated by commas (one per channel)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid offset: {text!r} (a number, or one per channel separated by "
                                         "commas)") from None
    return values[0] if len(values) == 1 else values


def cmd_export(args):
    import json

    import numpy as np

    from sigae.export import check_input_offset as _check_input_offset, export_model

    if args.format == "onnx":
        import importlib.util

        from sigae.export import ExportError

        missing = [name for name in ("tf2onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
        if missing:  # said at once; export_model imports them (and TensorFlow with tf2onnx) to be sure
            raise ExportError(f"--format onnx needs tf2onnx and onnxruntime (no module named "
                              f"{', '.join(missing)}); install them with: pip install -e '.[export]'")
    if Path(args.output).exists() and not args.overwrite:
        raise SigaeError(f"-o/--output {args.output}: already exists; pass --overwrite to replace it")
    run_dir = Path(args.run)
    config, _ = _run_setup(args.run)
    _check_input_offset(args.input_offset, config.channels)
    training = {}
    if (run_dir / "training.json").is_file():
        try:
            training = json.loads((run_dir / "training.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SigaeError(f"{run_dir}: training.json is unreadable ({exc}); give the signals with --data FILE") \
                from None
    source = training.get("source") or {}
    file = args.data or source.get("file")
    if not file:
        raise SigaeError(f"{run_dir}: the run does not record its training file; give the signals with --data FILE")
    if not Path(file).exists():
        raise SigaeError(f"--data {file}: no such file" if args.data else
                         f"{file}: the run's training file is gone; give the signals with --data FILE")
    if not args.data:
        args.var = args.var or source.get("variable")
        args.orientation = args.orientation or source.get("orientation")
    _inherit_reading(args, run_dir)
    x, info = _load_signals(args, file, expected_length=config.input_length, expected_channels=config.channels)
    _check_channels(file, x.shape, config)
    model = _load_run(args.run)  # TensorFlow loads once the signals are known to be good
    representative, calibration = x, f"{len(x)} signals of {file}"
    is_training_file = (not args.data or Path(file).resolve() == Path(source.get("file", "")).resolve())
    if args.int8 and is_training_file and len(x) == training.get("n_signals") and (run_dir / "split.npz").is_file():
        with np.load(run_dir / "split.npz", allow_pickle=False) as split:
            representative = x[split["train"]]
        calibration = f"{len(representative)} training signals of {file}"
    print(f"exporting the {args.part} of {run_dir} as {args.format}{' int8' if args.int8 else ''}; comparing on "
          f"{file} ('{info.var}')" + (f"; calibrating on {calibration} (at most 200 used)" if args.int8 else ""))
    report = export_model(model, args.output, args.format, args.part, signals=x, int8=args.int8,
                          representative=representative, overwrite=args.overwrite, input_offset=args.input_offset)
    print(report.summary())
    if report.input_offset is not None and args.part != "decoder":
        from sigae.export import offset_text

        print(f"input: feed signals - {offset_text(report.input_offset)} as float32 (subtract in the device's own "
              "precision before the rounding)" + (f"; outputs are in original units less "
                                                  f"{offset_text(report.input_offset)}"
                                                  if args.part == "autoencoder" else ""))
    elif report.input_offset is not None:
        from sigae.export import offset_text

        print(f"output: signals in original units less {offset_text(report.input_offset)}")
    if args.int8:
        print(f"int8 quantization error: largest {report.max_abs_diff:.3g} {report.units}, "
              f"{report.relative_diff:.2%} of the largest value")
    if args.part == "score" and model.threshold_:
        print(f"flag a signal as anomalous when its score exceeds {model.threshold_['p']:.6g} "
              f"(p{model.threshold_['percentile']:g} of {threshold_source(model.threshold_)}, threshold.json)")
    return 0


COMMANDS = {
    "train": (train_parser, cmd_train),
    "encode": (encode_parser, cmd_encode),
    "decode": (decode_parser, cmd_decode),
    "score": (score_parser, cmd_score),
    "plot": (plot_parser, cmd_plot),
    "info": (info_parser, cmd_info),
    "export": (export_parser, cmd_export),
}


# ---------------------------------------------------------------------------- running
def _quiet_tensorflow():
    """Keep TensorFlow's C++ start-up chatter (CUDA probes, CPU feature notes) off stderr when it loads, so that
    stderr carries only our lines (:mod:`sigae.model.quiet`). TensorFlow is not imported here: it loads when a
    command first needs it, after the command has checked its inputs, so a wrong file, variable or option is
    refused in a fraction of a second instead of after TensorFlow's start-up (5-10 s)."""
    from sigae.model.quiet import install

    install(command_line=True)


def _show_warning(prog):
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    return show


def name_allows_stdin(args) -> bool:
    """FILE ``-`` is standard input for sigae-score (live data)."""
    return hasattr(args, "follow")


def _check_inputs_exist(args) -> None:
    """Answer a missing input at once, before TensorFlow is loaded."""
    from sigae.errors import DataError, RunFolderError

    run_dir = getattr(args, "run", None)
    if run_dir is not None and not Path(run_dir).is_dir():
        raise RunFolderError(f"{run_dir}: not a run folder (no such directory)")
    files = getattr(args, "file", None)
    for file in [files] if isinstance(files, str) else files or []:
        if file == "-" and name_allows_stdin(args):
            continue
        if not Path(file).exists():
            raise DataError(f"{file}: no such file")
        if Path(file).is_file():
            try:
                with open(file, "rb"):
                    pass
            except OSError as exc:
                raise DataError(f"{file}: cannot be read ({exc.strerror or exc})") from None


def run(name: str, argv=None) -> int:
    """Parse *argv* for command *name*, run it, map errors to exit code 2."""
    make_parser, command = COMMANDS[name]
    prog = f"sigae-{name}"
    args = make_parser(prog).parse_args(argv)
    warnings.showwarning = _show_warning(prog)
    try:
        with command_line_words():
            _check_inputs_exist(args)
            _quiet_tensorflow()
            return command(args)
    except SigaeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{prog}: error: out of memory; try a smaller --batch-size or a smaller input", file=sys.stderr)
        return 1


def main(argv=None) -> int:
    """The umbrella command: ``sigae {train,encode,decode,score,plot,info,export} ...``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    usage = ("usage: sigae {train,encode,decode,score,plot,info,export} ...\n\n"
             "sigae: 1-D convolutional autoencoders for signals in MATLAB files.\n\n"
             "commands (each has --help with an example):\n"
             "  train    train on a signals file and write a run folder\n"
             "  encode   latent code of every signal\n"
             "  decode   signals from latent codes (the trained decoder alone)\n"
             "  score    anomaly scores by reconstruction error\n"
             "  plot     loss, reconstructions, scores and latent figures\n"
             "  info     parameter table, config, normalizer, threshold, metrics\n"
             "  export   SavedModel / LiteRT (TFLite) / ONNX for serving and devices\n")
    if not argv or argv[0] in ("-h", "--help"):
        print(usage, end="")
        return 0 if argv else EXIT_USAGE
    if argv[0] == "--version":
        from sigae import __version__

        print(f"sigae {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"sigae: error: unknown command {argv[0]!r}; choose from {', '.join(COMMANDS)} (see --help)",
              file=sys.stderr)
        return EXIT_USAGE
    return run(argv[0], argv[1:])


def _entry(name):
    def entry():
        sys.exit(run(name))

    entry.__name__ = f"main_{name}"
    return entry


main_train, main_encode, main_decode = _entry("train"), _entry("encode"), _entry("decode")
main_score, main_plot, main_info = _entry("score"), _entry("plot"), _entry("info")
main_export = _entry("export")


def main_umbrella():
    sys.exit(main())


def build_parsers() -> dict:
    """``{command: argparse parser}`` for every ``sigae-<command>`` (the docs' CLI reference is generated from it)."""
    return {name: make_parser(f"sigae-{name}") for name, (make_parser, _) in COMMANDS.items()}
