"""Side-by-side speed benchmark: the seed user's plain-Keras script vs sigae.

Both train the same architecture (the seed's, for the data's length) on the
same signals, split, batch size, epochs and seed, then encode every signal.
Each side runs in its own subprocess (so peak memory is its own), the sides
alternate for ``--repeats`` rounds to average out machine noise, and the
first epoch (graph tracing) is discarded from the training rate.

The reference is written the way the seed user wrote it: functional
sub-models composed once, ``compile("adam", "mse")``, ``fit(batch_size=100)``
and ``encoder.predict``. It gets sigae's validation signals as
``validation_data`` so both report validation MSE on the same signals.

    python scripts/bench.py [--file sample_data/signals.mat | --synthetic N] [--epochs 4] [--repeats 2] [--json out.json]

``--end-to-end`` times whole processes instead (what a user waits for), see :func:`end_to_end`:

    python scripts/bench.py --end-to-end [--epochs 100] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]


def load_data(args):
    import numpy as np

    if args.synthetic:
        sys.path.insert(0, str(ROOT / "scripts"))
        from make_sample_data import make_signals

        return make_signals(args.synthetic, args.length, seed=args.seed)[0]
    import sigae

    return np.asarray(sigae.load_signals(args.file, args.var), dtype=np.float32)


def training_flops_per_signal(autoencoder) -> float:
    """FLOPs of one training step per signal: 2 per multiply-add, x3 for the forward and two backward products."""
    import keras

    macs = 0
    for model in (autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")):
        for layer in model.layers:
            if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv1DTranspose)):
                in_channels = layer.input.shape[-1]
                positions = max(layer.output.shape[1], layer.input.shape[1])
                macs += positions * layer.kernel_size[0] * in_channels * layer.filters
            elif isinstance(layer, keras.layers.Dense):
                macs += layer.input.shape[-1] * layer.units
    return 6.0 * macs


def matmul_peak_gflops(seconds: float = 3.0) -> float:
    """Measured float32 matrix-multiply throughput of this machine (TensorFlow, all cores)."""
    import tensorflow as tf

    a = tf.random.normal((2048, 2048))
    b = tf.random.normal((2048, 2048))
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))
    matmul(a, b).numpy()
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        matmul(a, b).numpy()
        runs += 1
    return runs * 2 * 2048 ** 3 / (time.perf_counter() - start) / 1e9


def split(n, validation_split, seed):
    import numpy as np

    n_val = int(round(n * validation_split))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def seed_models(length):
    """Seed 003's models, as the user wrote them (sub-models built once and composed)."""
    from keras import Input, Model
    from keras.layers import Conv1D, Dense, Flatten, MaxPooling1D, Reshape, UpSampling1D

    encoder_input = Input(shape=(length, 1))
    e = Conv1D(256, 3, activation="tanh", padding="valid")(encoder_input)
    e = MaxPooling1D(2)(e)
    e = Conv1D(32, 3, activation="tanh", padding="valid")(e)
    e = MaxPooling1D(2)(e)
    encoded = Dense(32, activation="tanh")(Flatten()(e))
    encoder = Model(encoder_input, encoded, name="encoder")
    encoded_input = Input(shape=(32,))
    d = Reshape((32, 1))(encoded_input)
    d = Conv1D(32, 3, activation="tanh", padding="valid")(d)
    d = UpSampling1D(2)(d)
    d = Conv1D(256, 3, activation="tanh", padding="valid")(d)
    d = UpSampling1D(2)(d)
    decoded = Reshape((length, 1))(Dense(length)(Flatten()(d)))
    decoder = Model(encoded_input, decoded, name="decoder")
    x = Input(shape=(length, 1))
    return encoder, decoder, Model(x, decoder(encoder(x)), name="autoencoder")


ENCODE_PASSES = 5
ENCODING_TOLERANCE = 1e-5
"""Codes are tanh outputs in [-1, 1]; sigae's fused first stage reorders float32 sums (sigae.model.fastpath), which moves
the last few bits: 1e-5 is about 100 float32 ulps at 1."""


def timed(encode):
    """(result, median seconds) of ENCODE_PASSES calls of *encode*: one pass over 2,000 signals takes a tenth of a
    second, where a single timing is mostly noise."""
    seconds = []
    for _ in range(ENCODE_PASSES):
        start = time.perf_counter()
        result = encode()
        seconds.append(time.perf_counter() - start)
    return result, statistics.median(seconds)


def run_reference(args, x):
    """The seed user's script: global standardization, compile("adam", "mse"), fit, encoder.predict."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(args.seed)
    train, val = split(len(x), 0.2, args.seed)
    mean, std = x[train].mean(), x[train].std()
    xn = ((x - mean) / std).astype(np.float32)[:, :, None]
    encoder, decoder, autoencoder = seed_models(x.shape[1])
    autoencoder.compile("adam", "mse")
    times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    history = autoencoder.fit(xn[train], xn[train], epochs=args.epochs, batch_size=args.batch_size,
                              validation_data=(xn[val], xn[val]), callbacks=[EpochTimer()], verbose=0)
    encoder.predict(xn[:args.batch_size], verbose=0)  # warm-up
    latent, encode_seconds = timed(lambda: encoder.predict(xn, verbose=0))
    return {"epoch_seconds": times[1:], "n_train": len(train), "val_mse": float(history.history["val_loss"][-1]),
            "encode_seconds": encode_seconds, "n_encoded": len(x),
            "flops": training_flops_per_signal(autoencoder), "latent": latent}


def run_sigae(args, x):
    import numpy as np

    import sigae

    model = sigae.SignalAutoencoder(preset="seed").fit(x, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.2,
                                          seed=args.seed, verbose=0)
    model.encode(x[:args.batch_size])  # warm-up
    latent, encode_seconds = timed(lambda: model.encode(x))
    # The same trained encoder through plain encoder.predict: sigae's encodings must match it.
    xn = model.normalizer.transform(x).astype(np.float32)
    reference_latent = model.encoder.predict(xn, verbose=0)
    return {"epoch_seconds": model.history_.seconds[1:], "n_train": len(model.train_index_),
            "val_mse": model.metrics_["autoencoder"]["val_mse"], "encode_seconds": encode_seconds,
            "n_encoded": len(x), "flops": training_flops_per_signal(model.autoencoder),
            "max_encoding_difference": float(np.max(np.abs(latent - reference_latent)))}


def child(args):
    """Run one side and print its measurements as one JSON line."""
    x = load_data(args)
    result = (run_reference if args.side == "reference" else run_sigae)(args, x)
    result.pop("latent", None)
    result["length"] = int(x.shape[1])
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.peak:
        result["matmul_gflops"] = matmul_peak_gflops()
    print("BENCH " + json.dumps(result))


def run_side(args, side, peak=False):
    cmd = [sys.executable, __file__, "--side", side, "--epochs", str(args.epochs), "--batch-size",
           str(args.batch_size), "--seed", str(args.seed), "--length", str(args.length)]
    cmd += ["--synthetic", str(args.synthetic)] if args.synthetic else ["--file", args.file]
    cmd += ["--var", args.var] if args.var else []
    cmd += ["--peak"] if peak else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode or not lines:
        sys.exit(f"bench: the {side} run failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][6:])


def summarize(runs, peak):
    """Median rates over the repeats (every epoch after the first counts)."""
    out = {}
    for side, results in runs.items():
        epochs = [s for r in results for s in r["epoch_seconds"]]
        first = results[0]
        out[side] = {
            "train_signals_per_s": first["n_train"] / statistics.median(epochs),
            "encode_signals_per_s": statistics.median(r["n_encoded"] / r["encode_seconds"] for r in results),
            "val_mse": statistics.median(r["val_mse"] for r in results),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "epochs_timed": len(epochs),
        }
        out[side]["train_gflops"] = out[side]["train_signals_per_s"] * first["flops"] / 1e9
        if "max_encoding_difference" in first:
            out[side]["max_encoding_difference"] = max(r["max_encoding_difference"] for r in results)
    ref, own = out["reference"], out["sigae"]
    out["ratios"] = {"train": own["train_signals_per_s"] / ref["train_signals_per_s"],
                     "encode": own["encode_signals_per_s"] / ref["encode_signals_per_s"],
                     "val_mse": own["val_mse"] / ref["val_mse"]}
    out["matmul_peak_gflops"] = peak
    return out


def table(summary, args, n, length) -> str:
    ref, own, ratio = summary["reference"], summary["sigae"], summary["ratios"]
    peak = summary["matmul_peak_gflops"]
    rows = [
        ("training, signals/s", f"{ref['train_signals_per_s']:.0f}", f"{own['train_signals_per_s']:.0f}",
         f"{ratio['train']:.2f}x"),
        ("training, GFLOP/s (of ~%.0f matmul peak)" % peak, f"{ref['train_gflops']:.1f}",
         f"{own['train_gflops']:.1f}", ""),
        ("encoding, signals/s", f"{ref['encode_signals_per_s']:.0f}", f"{own['encode_signals_per_s']:.0f}",
         f"{ratio['encode']:.2f}x"),
        ("validation MSE after %d epochs" % args.epochs, f"{ref['val_mse']:.5f}", f"{own['val_mse']:.5f}",
         f"{ratio['val_mse']:.3f}"),
        ("peak memory, MB", f"{ref['peak_rss_mb']:.0f}", f"{own['peak_rss_mb']:.0f}", ""),
    ]
    lines = [f"{n} signals x {length} points, batch {args.batch_size}, "
             f"{args.epochs} epochs x {args.repeats} repeats (first epoch of each run not timed)",
             "", "| | plain Keras (seed script) | sigae | sigae / reference |", "|---|---:|---:|---:|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    mse_ok = ratio["val_mse"] <= 1.10
    codes_ok = own["max_encoding_difference"] <= ENCODING_TOLERANCE
    lines += ["", f"validation MSE within 10% of the reference: {'yes' if mse_ok else 'NO'}; "
                  f"sigae encodings vs encoder.predict on the same weights: max |difference| "
                  f"{own['max_encoding_difference']:.2e} (within float32 tolerance {ENCODING_TOLERANCE:g}: "
                  f"{'yes' if codes_ok else 'NO'})"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- whole processes (--end-to-end)
SEED_ARCHITECTURE_FLAGS: list[str] = ["--preset", "seed"]
"""sigae-train options that build the seed script's architecture and recipe (Conv1D 256/32, kernel 3, pooling 2,
latent 32 with tanh, the seed decoder, no best-epoch restore), so that both sides train the same model."""

SEED_SCRIPT = """
import sys, time
import numpy as np, scipy.io, keras
file, var, epochs, batch, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
sys.path.insert(0, sys.argv[7])
from bench import seed_models, split
x = np.asarray(scipy.io.loadmat(file)[var], dtype=np.float32)
keras.utils.set_random_seed(seed)
train, val = split(len(x), 0.2, seed)
mean, std = x[train].mean(), x[train].std()
xn = ((x - mean) / std)[:, :, None]
encoder, decoder, autoencoder = seed_models(x.shape[1])
autoencoder.compile("adam", "mse")
history = autoencoder.fit(xn[train], xn[train], epochs=epochs, batch_size=batch, validation_data=(xn[val], xn[val]),
                          verbose=0)
latent = encoder.predict(xn, verbose=0)
np.save(out, latent)
print("BENCH_VAL_MSE", history.history["val_loss"][-1])
"""
"""The seed user's whole script: load the .mat, standardize with the training split's mean and std, fit the
seed model (Keras' compile/fit; sigae's random validation split as validation_data, so both sides report MSE on
the same signals), encode every signal with encoder.predict."""

KERAS_ENCODE_SCRIPT = """
import sys, json
import numpy as np, scipy.io, keras
run, file, var, out = sys.argv[1:5]
x = np.asarray(scipy.io.loadmat(file)[var], dtype=np.float32)
norm = json.load(open(run + "/normalizer.json"))
encoder = keras.models.load_model(run + "/model.keras").get_layer("encoder")
np.save(out, encoder.predict(((x - norm["mean_"][0]) / norm["scale_"][0])[:, :, None], verbose=0))
"""
"""Encoding in a fresh process as a plain-Keras user would: load the saved model, standardize, encoder.predict."""

COLD_SCRIPT = """
import sys, json, time
import numpy as np, scipy.io
side, run, file, var = sys.argv[1:5]
x = np.asarray(scipy.io.loadmat(file)[var], dtype=np.float32)
rng = np.random.default_rng(1)
new = np.concatenate([x, x[:, ::-1]])[:4000] + 0.01 * rng.standard_normal((4000, x.shape[1])).astype(np.float32)
if side == "sigae":
    import sigae
    model = sigae.load(run)
    first = lambda v: model.encode(v)
else:
    import keras
    norm = json.load(open(run + "/normalizer.json"))
    encoder = keras.models.load_model(run + "/model.keras").get_layer("encoder")
    first = lambda v: encoder.predict(((v - norm["mean_"][0]) / norm["scale_"][0])[:, :, None], verbose=0)
first(x[:100])
start = time.perf_counter()
codes = first(new)
print("BENCH_COLD", json.dumps({"seconds": time.perf_counter() - start, "n": len(new)}))
"""
"""Encoding 4,000 new signals right after a first call on 100, in one process: the timed call meets batch
shapes that were not compiled yet."""


def run_process(cmd, env=None):
    """Run *cmd*; return (stdout, wall seconds, CPU seconds, peak RSS in MB) of that one process."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})}, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        sys.exit(f"bench: {' '.join(map(str, cmd))} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return stdout, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _value(stdout, key):
    return json.loads([line for line in stdout.splitlines() if line.startswith(key + " ")][-1].split(" ", 1)[1])


def end_to_end(args):
    """Whole processes, alternating sides each repeat: the seed script vs ``sigae-train``; encoding all
    signals in a fresh process, ``encoder.predict`` vs ``sigae-encode``; and the cold-encode case."""
    import tempfile

    import numpy as np
    import scipy.io

    var = args.var or "signals"
    bin_dir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="sigae-bench-"))
    results = {key: [] for key in ("seed_train", "sigae_train", "keras_encode", "sigae_encode", "keras_cold",
                                   "sigae_cold")}
    for repeat in range(args.repeats):
        run = work / f"run{repeat}"
        train = {
            "seed_train": [sys.executable, "-c", SEED_SCRIPT, args.file, var, str(args.epochs), str(args.batch_size),
                           str(args.seed), str(work / "seed_latent.npy"), str(ROOT / "scripts")],
            "sigae_train": [str(bin_dir / "sigae-train"), args.file, "--var", var, "--epochs", str(args.epochs),
                            "--batch-size", str(args.batch_size), "--seed", str(args.seed), "--out", str(run),
                            "--quiet", *SEED_ARCHITECTURE_FLAGS],
        }
        order = ("seed_train", "sigae_train") if repeat % 2 == 0 else ("sigae_train", "seed_train")
        for side in order:
            stdout, wall, cpu, peak = run_process(train[side])
            if side == "seed_train":
                val_mse = _value(stdout, "BENCH_VAL_MSE")
            else:
                val_mse = json.loads((run / "metrics.json").read_text())["autoencoder"]["val_mse"]
                folder_mb = sum(f.stat().st_size for f in run.rglob("*") if f.is_file()) / 2**20
            results[side].append({"wall": wall, "cpu": cpu, "peak_mb": peak, "val_mse": val_mse,
                                  **({"folder_mb": folder_mb} if side == "sigae_train" else {})})
            print(f"round {repeat + 1}: {side} {wall:.1f} s wall, {cpu:.1f} s CPU, val MSE {val_mse:.5f}",
                  file=sys.stderr)
        encode = {
            "keras_encode": [sys.executable, "-c", KERAS_ENCODE_SCRIPT, str(run), args.file, var,
                             str(work / "keras_codes.npy")],
            "sigae_encode": [str(bin_dir / "sigae-encode"), str(run), args.file, "--var", var, "-o",
                             str(work / f"codes{repeat}.npz")],
            "keras_cold": [sys.executable, "-c", COLD_SCRIPT, "keras", str(run), args.file, var],
            "sigae_cold": [sys.executable, "-c", COLD_SCRIPT, "sigae", str(run), args.file, var],
        }
        pairs = [("keras_encode", "sigae_encode"), ("keras_cold", "sigae_cold")]
        for pair in pairs:
            for side in pair if repeat % 2 == 0 else pair[::-1]:
                stdout, wall, cpu, peak = run_process(encode[side])
                entry = {"wall": wall, "cpu": cpu, "peak_mb": peak}
                if side.endswith("cold"):
                    cold = _value(stdout, "BENCH_COLD")
                    entry["signals_per_s"] = cold["n"] / cold["seconds"]
                results[side].append(entry)
        ours = np.load(work / f"codes{repeat}.npz")["latent"]
        theirs = np.load(work / "keras_codes.npy")
        results["sigae_encode"][-1]["max_code_difference"] = float(np.max(np.abs(ours - theirs)))
    n, length = scipy.io.loadmat(args.file)[var].shape
    summary = {side: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
               for side, rows in results.items()}
    print(end_to_end_table(summary, args, n, length))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "summary": summary, "runs": results}, indent=2)
                                   + "\n")


def end_to_end_table(summary, args, n, length) -> str:
    seed, own = summary["seed_train"], summary["sigae_train"]
    kenc, senc = summary["keras_encode"], summary["sigae_encode"]
    kcold, scold = summary["keras_cold"], summary["sigae_cold"]
    rows = [
        ("training job, wall s", seed["wall"], own["wall"], seed["wall"] / own["wall"]),
        ("training job, CPU s", seed["cpu"], own["cpu"], seed["cpu"] / own["cpu"]),
        ("training job, peak memory MB", seed["peak_mb"], own["peak_mb"], None),
        ("validation MSE (normalized)", seed["val_mse"], own["val_mse"], own["val_mse"] / seed["val_mse"]),
        ("encode all signals (fresh process), wall s", kenc["wall"], senc["wall"], kenc["wall"] / senc["wall"]),
        ("encode all signals (fresh process), CPU s", kenc["cpu"], senc["cpu"], kenc["cpu"] / senc["cpu"]),
        ("cold encode of 4,000 after 100, signals/s", kcold["signals_per_s"], scold["signals_per_s"],
         scold["signals_per_s"] / kcold["signals_per_s"]),
    ]
    lines = [f"{n} signals x {length} points, batch {args.batch_size}, {args.epochs} epochs, medians of "
             f"{args.repeats} repeat(s), sides alternating; sigae-train flags: {' '.join(SEED_ARCHITECTURE_FLAGS) or '(default)'}",
             "", "| | seed script / plain Keras | sigae | speed-up (or ratio) |", "|---|---:|---:|---:|"]
    for label, a, b, ratio in rows:
        fmt = (lambda v: f"{v:.5f}") if "MSE" in label else (lambda v: f"{v:,.0f}" if v >= 100 else f"{v:.1f}")
        lines.append(f"| {label} | {fmt(a)} | {fmt(b)} | {'' if ratio is None else f'{ratio:.2f}x'} |")
    lines += ["", f"run folder after sigae-train: {own['folder_mb']:.0f} MB; validation MSE within 10%: "
                  f"{'yes' if own['val_mse'] <= 1.10 * seed['val_mse'] else 'NO'}; sigae-encode vs encoder.predict "
                  f"codes: max |difference| {senc['max_code_difference']:.2e}"]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default=str(ROOT / "sample_data" / "signals.mat"))
    parser.add_argument("--var", default=None)
    parser.add_argument("--synthetic", type=int, default=0, metavar="N", help="N generated signals instead of --file")
    parser.add_argument("--length", type=int, default=501, help="points per generated signal (with --synthetic)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--end-to-end", action="store_true",
                        help="time whole processes: seed script vs sigae-train, encoder.predict vs sigae-encode, "
                             "cold encode (use --epochs 100 for the issue's comparison)")
    parser.add_argument("--side", choices=("reference", "sigae"), help=argparse.SUPPRESS)
    parser.add_argument("--peak", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.end_to_end:
        if args.synthetic:
            parser.error("--end-to-end times the commands on a file; give --file")
        return end_to_end(args)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is not timed)")
    if args.side:
        return child(args)
    runs = {"reference": [], "sigae": []}
    peak = None
    for repeat in range(args.repeats):
        for side in ("reference", "sigae") if repeat % 2 == 0 else ("sigae", "reference"):
            result = run_side(args, side, peak=peak is None)
            peak = result.pop("matmul_gflops", peak)
            runs[side].append(result)
            print(f"round {repeat + 1}: {side} {result['n_train'] / statistics.median(result['epoch_seconds']):.0f} "
                  f"train signals/s, {result['n_encoded'] / result['encode_seconds']:.0f} encode signals/s",
                  file=sys.stderr)
    summary = summarize(runs, peak)
    n = runs["reference"][0]["n_encoded"]
    print(table(summary, args, n, runs["reference"][0]["length"]))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k not in ("side", "peak")},
                                               **summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
