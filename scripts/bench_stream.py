"""Sustained scoring rate of live data (sigae.StreamScorer) against scoring the whole recording at once.

Trains a small windowed model (the reconstruction preset that ``sigae-train --window`` uses) on a synthetic
recording, or loads ``--run RUN``, then scores a recording

* at once: :func:`sigae.estimator.recording_scores.score_recording` on the whole array;
* streamed: :class:`sigae.StreamScorer` fed chunks of 1, 64 and 1024 samples (``--chunks``), then flushed;

checks that every streamed result equals the whole-recording one (scores, flags, events) and prints points per
second and the ratio to scoring at once. Each timing is the best of ``--repeats`` after one warm-up (the
network's first call compiles). Chunks of 1 sample stream only the first ``--one-sample-points`` points (one
network call per window: the rate is what matters, not the total).

    python scripts/bench_stream.py [--run RUN --file FILE --var VAR] [--points 40000] [--window 64] [--hop 1]
                                   [--channels 1] [--chunks 1 64 1024] [--repeats 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def synthetic(n, channels, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    periods = np.array([40, 25, 60, 33, 50, 45, 70, 28, 36][:channels])
    x = np.sin(2 * np.pi * t / periods) + 0.05 * rng.standard_normal((n, channels))
    for start in range(n // 7, n, n // 5):  # a few level shifts to have events
        x[start:start + 10] += 2.5
    return x


def stream(model, x, chunk, hop, limit=None):
    """``(seconds, scores, events)`` of streaming *x* (its first *limit* points) in chunks of *chunk* samples."""
    import numpy as np

    from sigae import StreamScorer

    x = x[:limit] if limit else x
    begin = time.perf_counter()
    scorer = StreamScorer(model, hop=hop)
    parts = [scorer.update(x[a:a + chunk]) for a in range(0, len(x), chunk)]
    parts.append(scorer.flush())
    seconds = time.perf_counter() - begin
    return seconds, np.concatenate([p.point_score for p in parts]), [e for p in parts for e in p.events]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", help="a run folder trained with --window (default: train a small one here)")
    p.add_argument("--file", help="recording to score (with --run; default: synthetic)")
    p.add_argument("--var", help="variable of --file")
    p.add_argument("--points", type=int, default=40000, help="points of the synthetic recording (default 40000)")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--hop", type=int, default=1, help="hop of scoring (default 1: every window)")
    p.add_argument("--chunks", type=int, nargs="+", default=[1, 64, 1024])
    p.add_argument("--one-sample-points", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    import numpy as np

    from sigae import SignalAutoencoder, load  # before TensorFlow: sigae keeps its start-up lines off stderr
    from sigae.estimator.recording_scores import score_recording

    import tensorflow as tf

    if args.run:
        model = load(args.run)
        if args.file:
            from sigae import read_recordings

            x = read_recordings(args.file, args.var)[0].read(0, None)
        else:
            x = synthetic(args.points, model.config.channels)
    else:
        x = synthetic(args.points, args.channels)
        model = SignalAutoencoder(preset="reconstruction")
        begin = time.perf_counter()
        model.fit_recordings(x[:6000], args.window, 4, epochs=2, batch_size=64, seed=0, verbose=0,
                             log=lambda *a: None)
        print(f"trained the reconstruction preset on 6000 points, window {args.window}, hop 4, 2 epochs, "
              f"in {time.perf_counter() - begin:.1f} s")
    window = model.windowing_["window"]
    n = len(x)
    print(f"recording: {n:,} points x {x.shape[1] if x.ndim == 2 else 1} channel(s); window {window}, hop {args.hop}; "
          f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU(s)")

    def best(fn):
        fn()  # warm-up: the first calls compile
        times = []
        for _ in range(args.repeats):
            begin = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - begin)
        return min(times), out

    whole_s, whole = best(lambda: score_recording(model, x, hop=args.hop))
    rows = [{"mode": "whole recording at once", "points": n, "seconds": whole_s, "equal": True}]
    for chunk in args.chunks:
        limit = args.one_sample_points if chunk == 1 else None
        (seconds, scores, events) = min((stream(model, x, chunk, args.hop, limit) for _ in range(args.repeats)),
                                        key=lambda r: r[0])
        m = len(scores)
        reference = whole if m == n else score_recording(model, x[:m], hop=args.hop)
        equal = bool(np.array_equal(scores, reference.point_score) and events == reference.events)
        rows.append({"mode": f"streamed, chunks of {chunk}", "points": m, "seconds": seconds, "equal": equal})
    base = n / whole_s
    print(f"\n{'mode':<28} {'points':>8} {'seconds':>9} {'points/s':>10} {'vs whole':>9}  equal to whole")
    for r in rows:
        r["points_per_s"] = r["points"] / r["seconds"]
        r["ratio"] = r["points_per_s"] / base
        print(f"{r['mode']:<28} {r['points']:>8,} {r['seconds']:>9.3f} {r['points_per_s']:>10,.0f} "
              f"{r['ratio']:>8.2f}x  {'yes' if r['equal'] else 'NO'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"window": window, "hop": args.hop, "rows": rows}, indent=2) + "\n")
    return 0 if all(r["equal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
