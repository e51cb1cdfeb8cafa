"""Time and peak memory of sigae-encode and sigae-score on files larger than memory.

For each size N it writes N synthetic damped oscillations of 501 points as a
float32 MAT-file v7.3 (or a plain .h5 with --format h5), a block at a time so
that making the file needs little memory, then runs ``sigae encode`` and
``sigae score --per-point`` on it as child processes, measuring each child's
wall time and peak resident memory (its own rusage, from os.wait4). Without
--run it first trains a small run (2 epochs on 2000 signals) to use. With
--train-epochs E it also times ``sigae train --stream`` for E epochs on each
file. Files go to a temporary folder, deleted at the end unless --keep.

    python scripts/scale.py --sizes 10000 100000 1000000 --json scale.json
    python scripts/scale.py --sizes 10000 100000 --train-epochs 1 --no-per-point
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sample_data import make_signals  # noqa: E402

from sigae.data.io import list_variables, save_array  # noqa: E402
from sigae.data.results import write_mat73_header  # noqa: E402

LENGTH = 501
BLOCK = 10_000  # signals generated and written at a time


def write_big_file(path: Path, n: int, seed: int) -> None:
    """*n* signals as rows of a float32 variable 'signals': MATLAB v7.3 (stored column-major) or plain HDF5."""
    matlab = path.suffix == ".mat"
    with h5py.File(path, "w", **({"userblock_size": 512} if matlab else {})) as f:
        shape, chunks = ((LENGTH, n), (LENGTH, min(n, 1024))) if matlab else ((n, LENGTH), (min(n, 1024), LENGTH))
        data = f.create_dataset("signals", shape, np.float32, chunks=chunks)
        if matlab:
            data.attrs["MATLAB_class"] = np.bytes_("single")
        for start in range(0, n, BLOCK):
            block = make_signals(min(BLOCK, n - start), LENGTH, seed=seed + start // BLOCK)[0]
            if matlab:
                data[:, start:start + len(block)] = block.T
            else:
                data[start:start + len(block)] = block
    if matlab:
        write_mat73_header(path)


def run_child(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process; its stderr is shown if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"scale.py: {' '.join(argv)} failed with exit code {proc.returncode}:\n{stderr.decode()}")
    return seconds, usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)


def sigae(*args) -> list[str]:
    return [sys.executable, "-m", "sigae", *map(str, args)]


def train_small_run(folder: Path, n: int, epochs: int, seed: int) -> Path:
    data, run = folder / "train.mat", folder / "run"
    save_array(data, "signals", make_signals(n, LENGTH, seed=seed)[0])
    print(f"training a small run: {n} signals, {epochs} epochs ...", flush=True)
    seconds, _ = run_child(sigae("train", data, "--epochs", epochs, "--out", run, "--seed", seed, "--quiet"))
    print(f"  done in {seconds:.0f}s: {run}")
    return run


def measure(run: Path, folder: Path, n: int, fmt: str, per_point: bool, batch_size, seed: int,
            train_epochs: int) -> dict:
    big = folder / f"signals_{n}.{fmt}"
    print(f"{n} signals: writing {big.name} ...", flush=True)
    write_big_file(big, n, seed)
    extra = ["--batch-size", batch_size] if batch_size else []
    latent, scores = folder / f"latent_{n}.{fmt}", folder / f"scores_{n}.{fmt}"
    encode_s, encode_mb = run_child(sigae("encode", run, big, "-o", latent, *extra))
    score_s, score_mb = run_child(sigae("score", run, big, "-o", scores, *extra, *(["--per-point"] * per_point)))
    shapes = {v.name: v.shape for f in (latent, scores) for v in list_variables(f)}
    assert shapes["latent"][0] == n and shapes["score"][0] == n, shapes  # every signal was processed
    row = {"signals": n, "file_gb": big.stat().st_size / 1e9, "encode_s": encode_s, "encode_peak_rss_mb": encode_mb,
           "score_s": score_s, "score_peak_rss_mb": score_mb, "encode_signals_per_s": n / encode_s,
           "score_signals_per_s": n / score_s, "output_gb": (latent.stat().st_size + scores.stat().st_size) / 1e9}
    if train_epochs:
        trained = folder / f"run_{n}"
        row["train_epochs"] = train_epochs
        row["train_s"], row["train_peak_rss_mb"] = run_child(sigae(
            "train", big, "--stream", "--epochs", train_epochs, "--out", trained, "--seed", seed, "--quiet"))
        metrics = json.loads((trained / "metrics.json").read_text())
        assert metrics["n_train"] + metrics["n_val"] == n, metrics
        shutil.rmtree(trained)
    return row


def table(rows: list[dict]) -> str:
    header = (f"{'signals':>9} {'file GB':>8} {'encode s':>9} {'encode MB':>10} {'score s':>8} {'score MB':>9} "
              f"{'encode sig/s':>13} {'score sig/s':>12}")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['signals']:>9,} {r['file_gb']:>8.2f} {r['encode_s']:>9.1f} {r['encode_peak_rss_mb']:>10.0f} "
                     f"{r['score_s']:>8.1f} {r['score_peak_rss_mb']:>9.0f} {r['encode_signals_per_s']:>13,.0f} "
                     f"{r['score_signals_per_s']:>12,.0f}")
    trained = [r for r in rows if "train_s" in r]
    if trained:
        lines += ["", f"{'signals':>9} {'train --stream s':>17} {'epochs':>7} {'train MB':>9}", "-" * 45]
        lines += [f"{r['signals']:>9,} {r['train_s']:>17.1f} {r['train_epochs']:>7} {r['train_peak_rss_mb']:>9.0f}"
                  for r in trained]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], help="numbers of signals")
    p.add_argument("--run", type=Path, help="run folder to use (default: train a small one)")
    p.add_argument("--train-signals", type=int, default=2000, help="signals for the small run (default 2000)")
    p.add_argument("--epochs", type=int, default=2, help="epochs for the small run (default 2)")
    p.add_argument("--format", choices=("mat", "h5"), default="mat",
                   help="input and output files: MAT v7.3 (default) or plain HDF5")
    p.add_argument("--no-per-point", dest="per_point", action="store_false",
                   help="score without --per-point (the per-point errors are the largest output)")
    p.add_argument("--batch-size", type=int, help="--batch-size for encode and score (default: theirs)")
    p.add_argument("--dir", type=Path, help="where to make the temporary folder (default: the system's)")
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    p.add_argument("--train-epochs", type=int, default=0,
                   help="also time sigae train --stream for this many epochs on each file (default 0: no)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="sigae-scale-", dir=args.dir))
    rows = []
    try:
        run = args.run or train_small_run(folder, args.train_signals, args.epochs, args.seed)
        for n in args.sizes:
            rows.append(measure(run, folder, n, args.format, args.per_point, args.batch_size, args.seed,
                                args.train_epochs))
            print(table(rows[-1:]).splitlines()[2], flush=True)
            if not args.keep:
                for file in folder.glob(f"*_{n}.{args.format}"):
                    file.unlink()
    finally:
        if args.keep:
            print(f"files kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print(table(rows))
    if args.json:
        meta = {"run": str(args.run) if args.run else f"trained: {args.train_signals} signals, {args.epochs} epochs",
                "format": args.format, "per_point": args.per_point, "batch_size": args.batch_size,
                "length": LENGTH, "cpus": os.cpu_count(), "machine": platform.platform()}
        args.json.write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
