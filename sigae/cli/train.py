"""``sigae-train``: train on a signals file (or on the windows of recordings) and write a run folder."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from sigae.cli.options import (add_input_options, command_parser, files_of, fraction_below, load_input_signals,
                               positive_float, positive_int, single_array_labels, source_reading)
from sigae.cli.recordings import add_window_options, many_files, resume_windowed, train_windowed
from sigae.cli.summary import training_summary, windowing_summary
from sigae.errors import ConfigError, SigaeError

_fraction = fraction_below(1.0)
_below_half = fraction_below(0.5)  # --trim and --rare-fraction


def _folds(text: str) -> int:
    """--cross-fit-folds: 0 or a whole number >= 2."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value == 1 or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (off) or at least 2, got {value}")
    return value


@contextlib.contextmanager
def _training_signals(args, path, say=print):
    """(signals, source) to train on: the whole array, or with --stream the file left on disk."""
    if not args.stream:  # one signal is enough to encode or score, not to train
        yield load_input_signals(args, path, min_signals=2, say=say)
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


def train_parser(prog="sigae-train"):
    p = command_parser(prog, "Train a 1-D convolutional autoencoder on the signals in FILE (or on the sliding "
                             "windows of the recordings in FILE, with --window) and write a run folder.",
                       "sigae-train sample_data/signals.mat --epochs 50 --out runs/demo\n"
                       "  sigae-train recordings/ --var x --window 128 --hop 2 --out runs/windows")
    p.add_argument("file", nargs="*", metavar="FILE",
                   help="signals file(s) (.mat any version, .npy, .npz, .csv, .txt, .h5) or a folder of them; "
                        "several are trained on together (same --var in each)")
    add_input_options(p)
    add_window_options(p)
    p.add_argument("--out", help="run folder to write (default: runs/<file stem>)")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run from its last completed epoch "
                                                   "(options and signals file come from the run folder; FILE, "
                                                   "if given, must hold the same data)")
    p.add_argument("--epochs", type=positive_int, default=100, help="training epochs (default 100)")
    p.add_argument("--batch-size", type=positive_int, default=100, help="signals per step (default 100)")
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
    p.add_argument("--latent-dim", type=positive_int, help="size of the latent code (default 32)")
    p.add_argument("--normalize", choices=("global", "per-signal", "per-timestep", "minmax"), default="global",
                   help="how signals are scaled before training (default global)")
    p.add_argument("--decoder", choices=("seed", "mirror"),
                   help="seed: the reference decoder; mirror: the encoder mirrored layer by layer "
                        "(default: mirror; seed with --preset seed)")
    p.add_argument("--tied", action="store_true", help="tie decoder kernels to the encoder's (needs --decoder mirror)")
    p.add_argument("--learning-rate", type=positive_float, help="Adam learning rate (default 1e-3)")
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
    p.add_argument("--cross-fit-folds", type=_folds, metavar="K",
                   help="after training, score each of up to 1,000 kept training signals by one of K fold models "
                        "trained without it, so training signals (and anomalies among them) are not flattered by "
                        "the model that fitted them; also calibrates the threshold (default 5; 0 off, as with "
                        "--preset seed)")
    p.add_argument("--labels", metavar="VAR",
                   help="variable of FILE with a class label per signal: after training, report the "
                        "cross-validated linear-probe accuracy of the latent codes vs PCA's codes "
                        "(metrics.json 'linear_probe'; needs scikit-learn)")
    p.add_argument("--stream", action="store_true",
                   help="read the signals from the file block by block instead of loading it whole, for files "
                        "larger than memory (HDF5, MATLAB v7.3, .npy)")
    p.add_argument("--patience", type=positive_int,
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


class StopRequest:
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

    stop = StopRequest()
    verbose = 0 if args.quiet else "auto"
    say = _say(args)
    if args.resume:
        out = Path(args.resume)
        training = _read_training_options(out)
        src = training.get("source") or {}
        if src.get("windowed"):
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
        if args.window is None and (args.hop != 1 or args.fs is not None):
            raise SigaeError("--hop/--fs: only with --window (training on the sliding windows of recordings)")
        if args.window is not None and args.layout:
            raise SigaeError("--layout: names the axes of 3-D arrays of cut signals; recordings (--window) are "
                             "vectors or N x C matrices, whose channels --orientation and --time-column choose")
        files = files_of(args.file)
        out = Path(args.out) if args.out else Path("runs") / Path(args.file[0]).stem
        if out.exists() and not out.is_dir():
            raise SigaeError(f"--out {out}: is a file, not a folder; choose another run folder")
        from sigae.runs.state import is_failed_run

        if out.exists() and any(out.iterdir()) and not args.overwrite:
            if not is_failed_run(out):
                raise SigaeError(f"--out {out}: exists and is not empty; pass --overwrite to replace it")
            say(f"replacing the failed run in {out}")
        chosen = {"latent_dim": args.latent_dim, "decoder": args.decoder, "learning_rate": args.learning_rate,
                  "lr_schedule": args.lr_schedule, "trim_fraction": args.trim,
                  "rare_fraction": args.rare_fraction, "cross_fit_folds": args.cross_fit_folds}
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
        provenance = {"file": str(Path(source.path).resolve()), **source_reading(args, source.var),
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
        print(windowing_summary(model))
    print(f"run folder: {out}/")
    for name, what in (("model.keras", "the trained autoencoder (encoder and decoder inside)"),
                       ("config.json", "architecture"), ("normalizer.json", "normalization statistics"),
                       ("history.csv", "loss per epoch"), ("metrics.json", "final errors, PCA baseline"),
                       ("threshold.json", "anomaly threshold, calibrated on the validation signals"),
                       ("cross_fitted.npz", "training signals' out-of-fold scores (in the threshold too)"),
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
    single_array_labels(file, args.labels)
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
    from sigae.runs.state import resumable, resume_hint

    if resumable(out):
        print(f"sigae-train: interrupted; {exc.epochs_done} epoch(s) completed and checkpointed in {out}/checkpoints; "
              f"resume with: sigae-train --resume {out}", file=sys.stderr)
    else:  # --resume refuses these runs: say what does work
        print(f"sigae-train: interrupted after {exc.epochs_done} epoch(s); {resume_hint(out)}", file=sys.stderr)
    return 130
