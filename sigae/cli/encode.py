"""``sigae-encode``: the latent code of every signal (every window, for a model of recordings)."""

from __future__ import annotations

from sigae.cli.options import (check_all, check_outputs, files_of, inherit_reading, load_run, no_hop,
                               open_input_signals, output_provenance, outputs_for, run_file_parser, run_setup)
from sigae.cli.recordings import encode_windowed


def encode_parser(prog="sigae-encode"):
    return run_file_parser(prog, "Write the latent code of every signal in FILE, using the trained model in RUN.",
                           "sigae-encode runs/signals sample_data/signals.mat -o features.mat", "signals file")


def cmd_encode(args):
    from sigae.estimator.streaming import encode_to_file

    files = files_of(args.file)
    outputs = outputs_for(args.output, files)
    check_outputs(outputs, args.overwrite)
    config, windowing = run_setup(args.run)
    inherit_reading(args, args.run)
    if windowing is not None:
        return encode_windowed(args, files, windowing, config, lambda: load_run(args.run))
    no_hop(args)
    check_all(args, files, config)
    model = None
    for file, output in zip(files, outputs):
        with open_input_signals(args, file, config) as (signals, source):
            model = model or load_run(args.run)  # TensorFlow loads once the input is known to be good
            n, k = encode_to_file(model, signals, output, batch_size=args.batch_size, overwrite=args.overwrite,
                                  **output_provenance(model, args.run, source))
        print(f"wrote {output}: latent {n} x {k} from {source.path} ('{source.var}')")
    return 0
