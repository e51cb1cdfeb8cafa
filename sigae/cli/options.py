"""What the commands share: parser construction, the input options and argparse types, reading the inputs,
checking the outputs, and the run folder helpers.

Imports nothing heavy at module level: ``--help`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from sigae.errors import ConfigError, SigaeError

EXIT_USAGE = 2
LAYOUTS = ("NLC", "NCL", "LNC", "LCN", "CNL", "CLN")  # sigae.data.io.LAYOUTS, without importing sigae.data.io for --help


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (no usage block)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def command_parser(prog: str, description: str, example: str) -> Parser:
    """A command's parser: *description*, and *example* as its epilog."""
    return Parser(prog=prog, description=description, epilog=f"example:\n  {example}",
                  formatter_class=argparse.RawDescriptionHelpFormatter)


# ---------------------------------------------------------------------------- shared options
def add_input_options(p, what="signals"):
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


def load_input_signals(args, path, expected_length=None, say=print, min_signals=1, expected_channels=None):
    from sigae.data.io import load_signals

    x, source = load_signals(path, args.var, orientation=args.orientation, expected_length=expected_length,
                             length_policy=_length_policy(args), min_signals=min_signals, return_info=True,
                             layout=args.layout, expected_channels=expected_channels, time_column=args.time_column)
    if source.note:
        say(f"{path}: {source.note}")
    return x, source


def source_reading(args, var) -> dict:
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


def inherit_reading(args, run_dir) -> None:
    """--layout and --time-column default to the run's own (training.json), said in one line when used."""
    source = _run_source(run_dir)
    used = []
    for option in ("layout", "time_column"):
        if getattr(args, option, None) is None and source.get(option) is not None:
            setattr(args, option, source[option])
            used.append(f"--{option.replace('_', '-')} {source[option]}")
    if used:
        print(f"{run_dir}: reading with {' '.join(used)}, as the run was trained")


def check_channels(path, shape, config):
    """A file's signals must have the trained model's channel count; say so naming the file."""
    channels = shape[2] if len(shape) == 3 else 1
    if channels != config.channels:
        from sigae.errors import DataError

        raise DataError(f"{path}: signals with {channels} channel(s), but the model was trained on "
                        f"{config.channels} channel(s)")


@contextlib.contextmanager
def open_input_signals(args, path, config):
    """(signals, source) for encode and score, checked against the model's length and channels: left on disk
    and streamed when the file allows (sigae.estimator.streaming)."""
    from sigae.data.results import open_signals

    with open_signals(path, args.var, orientation=args.orientation, expected_length=config.input_length,
                      length_policy=_length_policy(args), layout=args.layout, expected_channels=config.channels,
                      time_column=args.time_column) as (signals, source):
        if source.note:
            print(f"{path}: {source.note}")
        check_channels(path, signals.shape, config)
        yield signals, source


def positive_int(text):
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def fraction_below(upper: float):
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


def positive_float(text):
    """An argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def check_output(path, overwrite):
    from sigae.data.files import check_writable

    suffix = Path(path).suffix.lower()
    if suffix not in (".mat", ".npz", ".csv", ".h5", ".hdf5"):
        raise ConfigError(f"-o/--output {path}: unknown extension {suffix or '(none)'!r}; use .mat, .npz, .csv or .h5")
    check_writable(path, overwrite)


# ---------------------------------------------------------------------------- inputs and outputs
def files_of(paths) -> list[Path]:
    """FILE arguments: files, and the .mat/.h5/.npy/.npz/.csv/.txt files of folders (sorted)."""
    from sigae.data.recordings import input_files

    if not paths:
        raise SigaeError("FILE is required")
    return input_files(paths)


def outputs_for(output, files, option: str = "-o/--output", suffix: str = ".mat") -> list[Path]:
    """One output per input: *output* itself for one input; for several, *output* is a folder (``DIR/`` or an
    existing folder, each result DIR/<input stem>.mat) or a pattern with ``{stem}`` (e.g. ``out/{stem}.h5``)."""
    output = str(output)
    if len(files) == 1 and "{stem}" not in output:
        return [Path(output)]
    if "{stem}" in output:
        paths = [Path(output.replace("{stem}", Path(f).stem)) for f in files]
    elif output.endswith(("/", "\\")) or Path(output).is_dir():
        paths = [Path(output) / f"{Path(f).stem}{suffix}" for f in files]
    else:
        raise ConfigError(f"{option} {output}: {len(files)} input files need one output each; give a folder "
                          "(ending in /) or a pattern with {stem}, e.g. scores/{stem}" + suffix)
    if len(set(paths)) != len(paths):
        raise ConfigError(f"{option} {output}: two input files have the same name stem; use separate runs")
    return paths


def check_outputs(paths, overwrite):
    for p in paths:
        check_output(p, overwrite)


# ---------------------------------------------------------------------------- run folders
def load_run(run):
    from sigae.estimator.autoencoder import load

    return load(run)


def output_provenance(model, run, source):
    return {"source_file": str(source.path), "source_variable": source.var, "run_folder": str(Path(run)),
            "config_hash": model.config.hash()}


def run_file_parser(prog, description, example, file_help, what="signals", output_required=True):
    """RUN FILE -o OUTPUT [--batch-size] [--overwrite], plus the input options for signals files."""
    p = command_parser(prog, description, example)
    p.add_argument("run", help="run folder written by sigae-train")
    if what == "signals":
        p.add_argument("file", nargs="+", metavar="FILE",
                       help=f"{file_help} (several, or a folder: one output each, see -o)")
        add_input_options(p)
        p.add_argument("--hop", type=positive_int, default=1,
                       help="model trained with --window: points between window starts (default 1: every window)")
    else:
        p.add_argument("file", help=file_help)
        p.add_argument("--var", default=None, help=f"variable holding the {what} (default: 'latent' if present)")
    p.add_argument("-o", "--output", required=output_required,
                   help="output file: .mat, .npz, .csv or .h5; with several input files a folder (DIR/, one "
                        "<input stem>.mat each) or a pattern such as out/{stem}.h5"
                        + ("" if output_required else "; live data (FILE -, --follow, .f32): a .csv table, "
                           "default standard output"))
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help=f"{what} per batch (default: 1024 for the seed architecture, 256 for others)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return p


def run_setup(run):
    """``(config, windowing or None)`` of a complete run folder, read without TensorFlow, so that a command
    checks its inputs against the run before the seconds TensorFlow takes to load."""
    from sigae.runs.state import read_run_config
    from sigae.runs.folder import load_windowing

    return read_run_config(run), load_windowing(Path(run))


def check_all(args, files, config):
    """With several input files, open every one (variable, length, channels) before the first output is written."""
    if len(files) > 1:
        for file in files:
            with open_input_signals(args, file, config):
                pass


def no_hop(args):
    if args.hop != 1:
        raise SigaeError(f"--hop: {args.run} was trained on cut signals, not on windows of recordings")


# ---------------------------------------------------------------------------- labels
def single_array_labels(path, var) -> None:
    """A .npy file is one array (the signals): --labels cannot name a variable inside it."""
    from pathlib import Path

    if Path(path).suffix.lower() == ".npy":
        raise SigaeError(f"--labels {var}: {path} is a .npy file, which holds one array (the signals); save the "
                         "signals and the labels as two variables of one .mat, .npz or HDF5 file")


def load_labels(path, var, n):
    from sigae.errors import DataError
    from sigae.data.io import load_array

    single_array_labels(path, var)
    labels = load_array(path, var).reshape(-1)
    if labels.size != n:
        raise DataError(f"{path}: variable '{var}' has {labels.size} labels for {n} signals")
    return labels
