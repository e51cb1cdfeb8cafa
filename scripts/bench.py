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
"""Codes are tanh outputs in [-1, 1]; sigae's fused first stage reorders float32 sums (sigae.fastpath), which moves
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

    model = sigae.SignalAutoencoder().fit(x, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.2,
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
    parser.add_argument("--side", choices=("reference", "sigae"), help=argparse.SUPPRESS)
    parser.add_argument("--peak", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
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
