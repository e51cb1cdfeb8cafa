"""``sigae-decode``: signals from latent codes, with the trained decoder alone."""

from __future__ import annotations

from pathlib import Path

from sigae.cli.options import check_output, load_run, run_file_parser, run_setup
from sigae.errors import SigaeError


def decode_parser(prog="sigae-decode"):
    return run_file_parser(prog, "Turn latent codes back into signals with the trained decoder of RUN.",
                           "sigae-decode runs/signals features.mat -o signals_out.mat",
                           "latent codes, e.g. written by sigae-encode", what="codes")


def cmd_decode(args):
    import numpy as np

    from sigae.data.io import list_variables, load_array, save_array

    check_output(args.output, args.overwrite)
    config, _ = run_setup(args.run)
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
    model = load_run(args.run)  # TensorFlow loads once the codes are known to be good
    signals = model.decode(z, stats=stats, batch_size=args.batch_size)
    save_array(args.output, "signals", np.asarray(signals), overwrite=args.overwrite,
               source_file=str(args.file), run_folder=str(Path(args.run)), config_hash=model.config.hash())
    print(f"wrote {args.output}: signals {' x '.join(map(str, signals.shape))}")
    return 0
