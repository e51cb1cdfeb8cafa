"""bfloat16 mixed precision vs float32 on this CPU: CPU seconds per epoch, validation MSE, encoding CPU seconds.

float32 runs through sigae's fast path (sigae.model.fastpath, as sigae-train does); ``mixed_bfloat16`` (Keras'
policy: bfloat16 compute, float32 weights and loss) runs through the Keras layers, since the fast path is
float32 only. Both start from the same weights, split and batches (seed 0). CPU time (``time.process_time``)
is reported rather than wall time because the machine may be shared.

    python scripts/bench_bfloat16.py [--epochs 10] [--file sample_data/signals.mat]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default=str(ROOT / "sample_data" / "signals.mat"))
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    import sigae
    from sigae.model import fastpath
    from sigae.model.network import build_models
    from sigae.training import make_predict_fn, predict_batches, set_seed, train_autoencoder

    x = np.asarray(sigae.load_signals(args.file), dtype=np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    train, val = order[len(x) // 5:], order[:len(x) // 5]
    x = ((x - x[train].mean()) / x[train].std())[:, :, None]
    new = np.concatenate([x, x[:, ::-1]])
    config = sigae.AutoencoderConfig(input_length=x.shape[1])
    results, codes = {}, {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        set_seed(0)
        encoder, decoder, autoencoder = build_models(config)
        keras.config.set_dtype_policy("float32")
        fast = policy == "float32"
        cpu, last = [], [time.process_time()]

        def timer(epoch, history):
            now = time.process_time()
            cpu.append(now - last[0])
            last[0] = now

        encode = fastpath.encoder_call(encoder, config) if fast else None
        decode = fastpath.decoder_call(decoder, config) if fast else None
        history = train_autoencoder(
            autoencoder, x[train], x[val], epochs=args.epochs, batch_size=100, learning_rate=1e-3, seed=0, verbose=0,
            on_epoch_end=timer, forward=fastpath.training_call(encoder, decoder, config) if fast else None,
            predict_forward=(lambda v: decode(encode(v))) if fast else None)
        predict = make_predict_fn(encoder, encode)
        predict_batches(predict, new[:1024], 1024)  # compile
        seconds = []
        for _ in range(3):
            start = time.process_time()
            codes[policy] = predict_batches(predict, new, 1024)
            seconds.append(time.process_time() - start)
        if fast:
            trained = encoder.get_weights()
        results[policy] = {"epoch_cpu_s": statistics.median(cpu[1:]), "final_val_mse": history.val_loss[-1],
                           "val_mse": history.val_loss, "encode_cpu_s": statistics.median(seconds),
                           "n_encoded": len(new)}
        print(policy, json.dumps(results[policy]), flush=True)
    # Inference alone in bfloat16, on the float32-trained weights: how far the codes move.
    keras.config.set_dtype_policy("mixed_bfloat16")
    bf16_encoder = build_models(config)[0]
    keras.config.set_dtype_policy("float32")
    bf16_encoder.set_weights(trained)
    same_weights = predict_batches(make_predict_fn(bf16_encoder), new, 1024)
    f32, bf16 = results["float32"], results["mixed_bfloat16"]
    print(f"training CPU per epoch: bfloat16 / float32 = {bf16['epoch_cpu_s'] / f32['epoch_cpu_s']:.3f}; "
          f"final validation MSE: bfloat16 / float32 = {bf16['final_val_mse'] / f32['final_val_mse']:.3f}; "
          f"encoding CPU: bfloat16 / float32 = {bf16['encode_cpu_s'] / f32['encode_cpu_s']:.3f}; "
          f"codes of the same float32-trained encoder computed in bfloat16: max |difference| "
          f"{float(np.abs(codes['float32'] - same_weights).max()):.2e} (codes are tanh outputs in [-1, 1])")


if __name__ == "__main__":
    main()
