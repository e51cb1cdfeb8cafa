"""Running the commands: ``run``, the ``sigae`` umbrella ``main``, the ``sigae-<command>`` entry functions
and the parsers for the docs' CLI reference."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from sigae.cli.decode import cmd_decode, decode_parser
from sigae.cli.encode import cmd_encode, encode_parser
from sigae.cli.export import cmd_export, export_parser
from sigae.cli.info import cmd_info, info_parser
from sigae.cli.options import EXIT_USAGE
from sigae.cli.plot import cmd_plot, plot_parser
from sigae.cli.score import cmd_score, score_parser
from sigae.cli.train import cmd_train, train_parser
from sigae.errors import SigaeError, command_line_words

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
    from sigae.errors import DataError
    from sigae.runs.state import check_run_folder_exists

    run_dir = getattr(args, "run", None)
    if run_dir is not None:
        check_run_folder_exists(run_dir)
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
