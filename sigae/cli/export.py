"""``sigae-export``: SavedModel / LiteRT (TFLite) / ONNX for serving and devices, checked against sigae."""

from __future__ import annotations

import argparse
from pathlib import Path

from sigae.cli.options import (add_input_options, check_channels, command_parser, inherit_reading, load_input_signals,
                               load_run, run_setup)
from sigae.cli.summary import threshold_source
from sigae.errors import SigaeError


def export_parser(prog="sigae-export"):
    p = command_parser(prog, "Export a trained model for serving or devices (SavedModel, LiteRT/TFLite, ONNX), with "
                             "its normalization built in, then reload the export and compare it with sigae on signals.",
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
    add_input_options(p)
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

    from sigae.export import check_input_offset, export_model

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
    config, _ = run_setup(args.run)
    check_input_offset(args.input_offset, config.channels)
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
    inherit_reading(args, run_dir)
    x, info = load_input_signals(args, file, expected_length=config.input_length, expected_channels=config.channels)
    check_channels(file, x.shape, config)
    model = load_run(args.run)  # TensorFlow loads once the signals are known to be good
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
