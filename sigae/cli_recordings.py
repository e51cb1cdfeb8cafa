"""The command-line side of recordings: windowed train / encode / score / plot, and many input files.

Called by :mod:`sigae.cli` (which parses); everything here is a thin layer over
:mod:`sigae.windowed`, :mod:`sigae.recordings` and :mod:`sigae.windows`. Every
input is read and checked (variable present, channel count, window not longer
than any recording) before anything is trained or written.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from .errors import ConfigError, DataError, SigaeError

WINDOW_HELP = ("train on the sliding windows of long recordings: W points per window, or 'auto' for the dominant "
               "period (autocorrelation, as TSB-UAD). A vector is one recording; an N x C matrix is one recording "
               "with C channels (time along the longer side); --orientation rows/columns makes each row/column "
               "a separate one-channel recording; a cell array (or s.field of a struct array) holds one recording "
               "per element, of any lengths. Validation: the last --validation-split of each recording (no window "
               "crossing the boundary, since overlapping windows on both sides would leak), or whole recordings "
               "when there are 5 or more")


def window_arg(text):
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid window: {text!r} (a whole number of points, or auto)") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2 points, got {value}")
    return value


def add_window_options(p) -> None:
    p.add_argument("--window", type=window_arg, metavar="W|auto", help=WINDOW_HELP)
    p.add_argument("--hop", type=_positive_int, default=1,
                   help="with --window: points between window starts (default 1: every window)")
    p.add_argument("--fs", type=_positive_float, metavar="HZ",
                   help="with --window: sampling rate, stored in the run; events are then also given in seconds")


def _positive_int(text):
    from .cli import _positive_int as check

    return check(text)


def _positive_float(text):
    from .cli import _positive_float as check

    return check(text)


def files_of(paths) -> list[Path]:
    """FILE arguments: files, and the .mat/.h5/.npy/.npz/.csv/.txt files of folders (sorted)."""
    from .recordings import input_files

    if not paths:
        raise SigaeError("FILE is required")
    return input_files(paths)


def read_all(args, files, window=None, hop=1, channels=None, say=print):
    """Every recording of every file, checked before any work: ``[(file, [Recording, ...]), ...]``."""
    from .recordings import read_recordings
    from .windowed import check_recordings

    out = []
    for f in files:
        labels = getattr(args, "labels", None)
        recs = read_recordings(f, args.var, orientation=args.orientation, exclude=(labels,) if labels else (),
                               time_column=getattr(args, "time_column", None))
        out.append((f, recs))
    everything = [r for _, recs in out for r in recs]
    if window is not None and window != "auto":
        check_recordings(everything, window, hop, channels)
    elif channels is None:
        want = everything[0].channels
        for r in everything:
            if r.channels != want:
                raise DataError(f"{r.name}: {r.channels} channel(s), but {everything[0].name} has {want}")
    else:
        for r in everything:
            if r.channels != channels:
                raise DataError(f"{r.name}: {r.channels} channel(s), but the model was trained on {channels}")
    for f, recs in out:
        for note in dict.fromkeys(r.note for r in recs if r.note):  # each note once per file
            say(f"{f}: {note}")
        lengths = [r.length for r in recs]
        say(f"{f}: {len(recs)} recording(s) of {min(lengths)}" + (f"-{max(lengths)}" if max(lengths) != min(lengths)
                                                                   else "")
            + f" points x {recs[0].channels} channel(s) from '{args.var or recs[0].var}'"
            + (", read block by block" if any(r.streamed for r in recs) else ""))
    return out


# ---------------------------------------------------------------------------- train
def train_windowed(args, files, config, out, should_stop, verbose):
    """sigae-train FILE... --window W: returns the fitted model."""
    from .estimator import SignalAutoencoder

    if args.crop or args.pad:
        raise ConfigError("--window: --crop/--pad do not apply; recordings of any lengths are windowed as they are")
    per_file = read_all(args, files, args.window, args.hop)
    recordings = [r for _, recs in per_file for r in recs]
    from .cli import _reading

    provenance = {"file": str(Path(files[0]).resolve()), **_reading(args, args.var)}
    return SignalAutoencoder(config).fit_recordings(
        recordings, args.window, args.hop, fs=args.fs, epochs=args.epochs, batch_size=args.batch_size,
        validation_split=args.validation_split, verbose=verbose, patience=args.patience, seed=args.seed,
        run_dir=out, overwrite=args.overwrite, should_stop=should_stop, source=provenance,
        strategy=args.strategy, mixed_precision=args.mixed_precision, stream=True if args.stream else None)


def windowing_summary(model) -> str:
    w = model.windowing_
    t = w["point_threshold"]
    fs = f", fs {w['fs']:g} Hz" if w.get("fs") else ""
    return (f"windows: {w['window']} points, hop {w['hop']}{fs}; {w['split']}\n"
            f"point threshold: max = {t['max']:.4g}, p99.9 = {_quantile(t, 99.9):.4g} (per-point MSE of "
            f"{t['n_points']:,} training points, normalized units)")


def _quantile(calib, q):
    import numpy as np

    from .windowed import QUANTILE_LEVELS

    return float(np.interp(q, QUANTILE_LEVELS, calib["quantiles"]))


@contextlib.contextmanager
def many_files(args, files):
    """Yield ``(signals, provenance)``: the cut signals of several files in file order (same --var, length and
    channels in each), stacked in memory, or with --stream left in their files and read block by block."""
    import numpy as np

    from .cli import _load_signals

    with contextlib.ExitStack() as stack:
        parts, first = [], None
        for f in files:
            if args.stream:
                from .io import open_signal_dataset

                if args.crop or args.pad:
                    raise ConfigError("--stream: --crop/--pad need the whole file in memory; drop one or the other")
                x = stack.enter_context(open_signal_dataset(f, args.var, orientation=args.orientation,
                                                            layout=args.layout, time_column=args.time_column))
                if x is None:
                    raise DataError(f"--stream: {f} cannot be read block by block (only HDF5, MATLAB v7.3 and .npy "
                                    "files can); drop --stream to load it whole")
                source = x.source
            else:
                x, source = _load_signals(args, f)
            layout = (x.shape[1], x.shape[2] if len(x.shape) == 3 else 1)
            if first is None:
                first = (f, layout)
            elif layout != first[1]:
                raise DataError(f"{f}: signals of {layout[0]} points x {layout[1]} channel(s), but {first[0]} has "
                                f"{first[1][0]} x {first[1][1]}")
            print(f"{f}: {x.shape[0]} signals x {x.shape[1]} points"
                  + (f" x {x.shape[2]} channels (layout {source.layout})" if len(x.shape) == 3 else "")
                  + f" from '{source.var}'" + (", read block by block" if args.stream else ""))
            parts.append(x)
        from .cli import _reading

        provenance = {"files": [str(Path(f).resolve()) for f in files], **_reading(args, args.var)}
        if args.stream:
            yield ConcatenatedSignals(parts), provenance
        else:
            if len({p.ndim for p in parts}) > 1:  # (n, L) beside (n, L, 1)
                parts = [p.reshape(p.shape[:2] + (-1,)) for p in parts]
            yield np.concatenate(parts), provenance


def ConcatenatedSignals(datasets):
    """Several :class:`sigae.io.SignalDataset` s (same signal shape) as one, read block by block across them."""
    import numpy as np

    from .io import SignalDataset

    offsets = np.concatenate([[0], np.cumsum([len(d) for d in datasets])]).astype(np.int64)
    shapes = {tuple(d.shape[1:]) for d in datasets}
    shape = (int(offsets[-1]),) + (shapes.pop() if len(shapes) == 1 else tuple(max(shapes, key=len)))

    class Concatenated(SignalDataset):
        def read(self, start, stop):
            parts = []
            for k, d in enumerate(datasets):
                lo, hi = max(start, offsets[k]), min(stop, offsets[k + 1])
                if lo < hi:
                    part = d.read(int(lo - offsets[k]), int(hi - offsets[k]))
                    parts.append(part.reshape((len(part),) + shape[1:]))
            return np.concatenate(parts) if len(parts) > 1 else parts[0]

    return Concatenated(datasets[0].source, shape, None)


# ---------------------------------------------------------------------------- outputs
def outputs_for(output, files) -> list[Path]:
    """One output per input: *output* itself for one input; for several, *output* is a folder (``DIR/`` or an
    existing folder, each result DIR/<input stem>.mat) or a pattern with ``{stem}`` (e.g. ``out/{stem}.h5``)."""
    from .fileutil import check_writable

    output = str(output)
    if len(files) == 1 and "{stem}" not in output:
        return [Path(output)]
    if "{stem}" in output:
        paths = [Path(output.replace("{stem}", Path(f).stem)) for f in files]
    elif output.endswith(("/", "\\")) or Path(output).is_dir():
        paths = [Path(output) / f"{Path(f).stem}.mat" for f in files]
    else:
        raise ConfigError(f"-o/--output {output}: {len(files)} input files need one output each; give a folder "
                          "(ending in /) or a pattern with {stem}, e.g. scores/{stem}.mat")
    if len(set(paths)) != len(paths):
        raise ConfigError(f"-o/--output {output}: two input files have the same name stem; use separate runs")
    return paths


def check_outputs(paths, overwrite):
    from .cli import _check_output

    for p in paths:
        _check_output(p, overwrite)


# ---------------------------------------------------------------------------- score / encode
def score_windowed(args, model, files) -> int:
    from .recordings import read_labels
    from .scoring import auroc, average_precision
    from .windowed import score_to_file
    from .windows import event_precision_recall

    outputs = outputs_for(args.output, files)
    check_outputs(outputs, args.overwrite)
    window = model.windowing_["window"]
    per_file = read_all(args, files, window, args.hop, model.config.channels)
    labels = {}
    if args.labels:
        for f, recs in per_file:
            labels[f] = read_labels(f, args.labels, recs)
    for (f, recs), out in zip(per_file, outputs):
        results = score_to_file(model, recs, out, hop=args.hop, threshold=args.threshold, metric=args.metric,
                                batch_size=args.batch_size, overwrite=args.overwrite, labels=labels.get(f),
                                source_file=str(f), source_variable=args.var or recs[0].var,
                                run_folder=str(args.run), config_hash=model.config.hash())
        points = sum(r.extra["n"] for r in results)
        n_windows = sum(r.extra["n_windows"] for r in results)
        flagged = sum(int(r.point_is_anomaly.sum()) for r in results if len(r.point_score))
        n_events = sum(len(r.events) for r in results)
        print(f"wrote {out}: point_score of {points:,} points ({n_windows:,} windows of {window}, hop {args.hop}); "
              f"threshold {results[0].threshold:.4g}; {n_events} event(s)"
              + (f", {flagged:,} points flagged" if all(len(r.point_score) for r in results) else ""))
        for k, (rec, res) in enumerate(zip(recs, results), 1):
            for e in res.events[:5]:
                when = ""
                if res.fs:
                    when = f" ({e.start / res.fs:.3f}-{(e.stop - 1) / res.fs:.3f} s)"
                print(f"  event: {'recording ' + str(k) + ', ' if len(recs) > 1 else ''}samples "
                      f"{e.start + 1}-{e.stop}{when}, peak score {e.peak:.4g}")
            if len(res.events) > 5:
                print(f"  ... {len(res.events) - 5} more event(s) in 'events'")
        if f in labels:
            import numpy as np

            truth = np.concatenate(labels[f])
            scores = np.concatenate([r.point_score for r in results])
            ev = [event_precision_recall(r.events, lab) for r, lab in zip(results, labels[f])]
            predicted = sum(e["predicted_events"] for e in ev)
            hits = sum(e["precision"] * e["predicted_events"] for e in ev)
            true_events = sum(e["labelled_events"] for e in ev)
            found = sum(e["recall"] * e["labelled_events"] for e in ev if e["labelled_events"])
            precision = hits / predicted if predicted else 0.0
            recall = found / true_events if true_events else float("nan")
            print(f"against '{args.labels}' ({int((truth != 0).sum())} anomalous points of {len(truth):,}, "
                  f"{true_events} labelled event(s)): per-point AUC-ROC {auroc(scores, truth):.4f}, "
                  f"AUC-PR {average_precision(scores, truth):.4f}; event precision {precision:.3f}, "
                  f"event recall {recall:.3f} ({predicted} predicted event(s))")
    return 0


def encode_windowed(args, model, files) -> int:
    from .windowed import encode_to_file

    outputs = outputs_for(args.output, files)
    check_outputs(outputs, args.overwrite)
    per_file = read_all(args, files, model.windowing_["window"], args.hop, model.config.channels)
    for (f, recs), out in zip(per_file, outputs):
        n, k = encode_to_file(model, recs, out, hop=args.hop, batch_size=args.batch_size, overwrite=args.overwrite,
                              source_file=str(f), run_folder=str(args.run), config_hash=model.config.hash())
        print(f"wrote {out}: latent {n:,} x {k} (one code per window of {model.windowing_['window']}, "
              f"hop {args.hop}) with window_start and window_recording")
    return 0


# ---------------------------------------------------------------------------- plot
def plot_windowed(args, model, out: Path) -> list[Path]:
    """timeline.png (timeline_<k>.png for several recordings) of the recordings of FILE."""
    from .fileutil import check_writable
    from .plots import plot_timeline
    from .recordings import read_labels
    from .windowed import timeline_data

    files = files_of([args.file])
    (f, recs), = read_all(args, files, model.windowing_["window"], args.hop, model.config.channels)
    names = ["timeline.png"] if len(recs) == 1 else [f"timeline_{k}.png" for k in range(1, len(recs) + 1)]
    for name in names:
        check_writable(out / name, args.overwrite)
    labels = read_labels(f, args.labels, recs) if args.labels else [None] * len(recs)
    written = []
    for rec, lab, name in zip(recs, labels, names):
        data = timeline_data(model, rec, hop=args.hop, labels=lab)
        written.append(plot_timeline(data, out / name, title=f"{Path(f).name} ('{rec.var}')"))
    return written
