"""The command-line side of recordings: windowed train / encode / score / plot, and many input files.

Called by the command modules of :mod:`sigae.cli` (which parse); everything here is a thin layer over
:mod:`sigae.estimator.windowed`, :mod:`sigae.data.recordings` and :mod:`sigae.data.windows`. Every
input is read and checked (variable present, channel count, window not longer
than any recording) before anything is trained or written.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from sigae.cli.options import (check_outputs, files_of, load_input_signals, outputs_for, positive_float, positive_int,
                               source_reading)
from sigae.errors import ConfigError, DataError

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
    p.add_argument("--hop", type=positive_int, default=1,
                   help="with --window: points between window starts (default 1: every window)")
    p.add_argument("--fs", type=positive_float, metavar="HZ",
                   help="with --window: sampling rate, stored in the run; events are then also given in seconds")


MERGE_GAP_HELP = ("model trained with --window: flagged runs separated by at most this many unflagged samples are one "
                  "event (one anomaly raises the score of every window holding it, so its flagged points come in "
                  "runs with short gaps); N samples, or seconds as 0.5s when the run has --fs; 0 keeps every run "
                  "apart (default: the window length)")
MIN_LENGTH_HELP = ("model trained with --window: drop events shorter than this, first to last sample; N samples or "
                   "seconds as 0.05s (default 1: keep every event)")


def span_arg(text):
    """``--merge-gap`` / ``--min-length``: ``(N, "samples")`` or, for ``0.5s``, ``(0.5, "s")``."""
    import math

    raw = text.strip().lower()
    seconds = raw.endswith("s")
    try:
        value = float(raw[:-1]) if seconds else int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid length: {text!r} (a whole number of samples, or seconds such "
                                         "as 0.5s)") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return (value, "s" if seconds else "samples")


def add_event_options(p, table: bool = True) -> None:
    p.add_argument("--merge-gap", type=span_arg, metavar="N|SECONDSs", help=MERGE_GAP_HELP)
    p.add_argument("--min-length", type=span_arg, metavar="N|SECONDSs", help=MIN_LENGTH_HELP)
    if table:
        p.add_argument("--events", metavar="FILE.csv|FILE.json",
                       help="model trained with --window: also write the events as a table, one row per event: "
                            "recording, first/last/peak sample (1-based, last inclusive), peak score, length, "
                            "flagged samples, merged runs (seconds too with --fs; for several channels each "
                            "channel's share of the error); several input files: a pattern with {stem}")


def event_spans(args, windowing) -> tuple[int | None, int]:
    """``(merge_gap, min_length)`` in samples from ``--merge-gap`` / ``--min-length`` (seconds need the run's fs)."""
    import math

    fs = windowing.get("fs")
    out = []
    for name, span, default in (("--merge-gap", getattr(args, "merge_gap", None), None),
                                ("--min-length", getattr(args, "min_length", None), 1)):
        if span is None:
            out.append(default)
            continue
        value, unit = span
        if unit == "samples":
            out.append(int(value))
            continue
        if not fs:
            raise ConfigError(f"{name} {value:g}s: seconds need the sampling rate, and this run has none (train "
                              "with --fs HZ); give samples instead")
        samples = value * fs
        out.append(max(1, math.ceil(samples - 1e-9)) if name == "--min-length" else int(round(samples)))
    return out[0], out[1]


def no_event_options(args, run) -> None:
    """--merge-gap, --min-length and --events are for models of recordings."""
    for name in ("merge_gap", "min_length", "events"):
        if getattr(args, name, None) is not None:
            raise ConfigError(f"--{name.replace('_', '-')}: {run} was trained on cut signals, not on windows of "
                              "recordings, so there are no events")


def read_all(args, files, window=None, hop=1, channels=None, say=print):
    """Every recording of every file, checked before any work: ``[(file, [Recording, ...]), ...]``."""
    from sigae.data.recordings import read_recordings
    from sigae.data.segments import check_recordings

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
def train_windowed(args, files, config, out, should_stop, verbose, say=print):
    """sigae-train FILE... --window W: returns the fitted model."""
    from sigae.estimator.autoencoder import SignalAutoencoder

    if args.crop or args.pad:
        raise ConfigError("--window: --crop/--pad do not apply; recordings of any lengths are windowed as they are")
    per_file = read_all(args, files, args.window, args.hop, say=say)
    recordings = [r for _, recs in per_file for r in recs]
    provenance = {"file": str(Path(files[0]).resolve()), **source_reading(args, args.var)}
    return SignalAutoencoder(config).fit_recordings(
        recordings, args.window, args.hop, fs=args.fs, epochs=args.epochs, batch_size=args.batch_size, log=say,
        validation_split=args.validation_split, verbose=verbose, patience=args.patience, seed=args.seed,
        run_dir=out, overwrite=args.overwrite, should_stop=should_stop, source=provenance,
        strategy=args.strategy, mixed_precision=args.mixed_precision, stream=True if args.stream else None)


def resume_windowed(args, out, source, should_stop, verbose, say=print):
    """sigae-train --resume RUN [FILE...] for a run on windows of recordings: the recordings read again (from
    FILE, or from the files the run records) and checked to be the run's, then training continued."""
    from sigae.errors import RunFolderError
    from sigae.estimator.autoencoder import SignalAutoencoder
    from sigae.runs.state import resume_hint
    from sigae.data.segments import check_same_recordings, stored_recordings

    if not source.get("windowing"):
        raise RunFolderError(f"--resume {out}: " + resume_hint(out))
    run = source["windowing"]
    for name, given, stored in (("--window", args.window, run["window"]), ("--hop", args.hop, run["hop"]),
                                ("--fs", args.fs, run["fs"])):
        if given is not None and given != stored and not (name == "--hop" and given == 1):
            raise ConfigError(f"{name} {given}: the run was started with {name} {stored}; --resume continues it "
                              "with its own options (drop the option)")
    if args.file:
        args.var = args.var or source.get("variable")
        args.orientation = args.orientation or source.get("orientation")
        args.time_column = args.time_column or source.get("time_column")
        recordings = [r for _, recs in read_all(args, files_of(args.file), say=say) for r in recs]
    else:
        recordings = stored_recordings(source)
    check_same_recordings(recordings, source)  # before TensorFlow loads
    say(f"resuming {out} on {', '.join(dict.fromkeys(r.file for r in recordings))}")
    return SignalAutoencoder.resume_recordings(out, recordings, verbose=verbose, log=say, should_stop=should_stop,
                                               tensorboard=args.tensorboard)


@contextlib.contextmanager
def many_files(args, files, say=print):
    """Yield ``(signals, provenance)``: the cut signals of several files in file order (same --var, length and
    channels in each), stacked in memory, or with --stream left in their files and read block by block."""
    import numpy as np

    with contextlib.ExitStack() as stack:
        parts, first = [], None
        for f in files:
            if args.stream:
                from sigae.data.io import open_signal_dataset

                if args.crop or args.pad:
                    raise ConfigError("--stream: --crop/--pad need the whole file in memory; drop one or the other")
                x = stack.enter_context(open_signal_dataset(f, args.var, orientation=args.orientation,
                                                            layout=args.layout, time_column=args.time_column))
                if x is None:
                    raise DataError(f"--stream: {f} cannot be read block by block (only HDF5, MATLAB v7.3 and .npy "
                                    "files can); drop --stream to load it whole")
                source = x.source
            else:
                x, source = load_input_signals(args, f, say=say)
            layout = (x.shape[1], x.shape[2] if len(x.shape) == 3 else 1)
            if first is None:
                first = (f, layout)
            elif layout != first[1]:
                raise DataError(f"{f}: signals of {layout[0]} points x {layout[1]} channel(s), but {first[0]} has "
                                f"{first[1][0]} x {first[1][1]}")
            say(f"{f}: {x.shape[0]} signals x {x.shape[1]} points"
                + (f" x {x.shape[2]} channels (layout {source.layout})" if len(x.shape) == 3 else "")
                + f" from '{source.var}'" + (", read block by block" if args.stream else ""))
            parts.append(x)
        provenance = {"files": [str(Path(f).resolve()) for f in files], **source_reading(args, args.var)}
        if args.stream:
            yield ConcatenatedSignals(parts), provenance
        else:
            if len({p.ndim for p in parts}) > 1:  # (n, L) beside (n, L, 1)
                parts = [p.reshape(p.shape[:2] + (-1,)) for p in parts]
            yield np.concatenate(parts), provenance


def ConcatenatedSignals(datasets):
    """Several :class:`sigae.data.io.SignalDataset` s (same signal shape) as one, read block by block across them."""
    import numpy as np

    from sigae.data.io import SignalDataset

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


# ---------------------------------------------------------------------------- score / encode
def score_windowed(args, files, windowing, config, load_model) -> int:
    """sigae-score with a model of recordings: every input checked and read (no TensorFlow yet), then
    ``load_model()`` and the scores."""
    from sigae.data.recordings import read_labels
    from sigae.data.event_tables import check_events_path, write_events
    from sigae.estimator.recording_files import score_to_file

    outputs = outputs_for(args.output, files)
    check_outputs(outputs, args.overwrite)
    tables = outputs_for(args.events, files, "--events", ".csv") if args.events else [None] * len(files)
    for table in tables:
        if table is not None:
            check_events_path(table, args.overwrite)
    merge_gap, min_length = event_spans(args, windowing)
    window = windowing["window"]
    per_file = read_all(args, files, window, args.hop, config.channels)
    labels = {}
    if args.labels:
        for f, recs in per_file:
            labels[f] = read_labels(f, args.labels, recs)
    model = load_model()
    for (f, recs), out, table in zip(per_file, outputs, tables):
        results = score_to_file(model, recs, out, hop=args.hop, threshold=args.threshold, metric=args.metric,
                                batch_size=args.batch_size, overwrite=args.overwrite, labels=labels.get(f),
                                merge_gap=merge_gap, min_length=min_length,
                                source_file=str(f), source_variable=args.var or recs[0].var,
                                run_folder=str(args.run), config_hash=model.config.hash())
        points = sum(r.extra["n"] for r in results)
        n_windows = sum(r.extra["n_windows"] for r in results)
        flagged = sum(int(r.point_is_anomaly.sum()) for r in results if len(r.point_score))
        n_events = sum(len(r.events) for r in results)
        gap = results[0].merge_gap
        print(f"wrote {out}: point_score of {points:,} points ({n_windows:,} windows of {window}, hop {args.hop}); "
              f"threshold {results[0].threshold:.4g}; {n_events} event(s) ("
              + (f"flagged runs at most {gap} samples apart merged" if gap else "flagged runs not merged")
              + (f", events shorter than {results[0].min_length} samples dropped" if results[0].min_length > 1
                 else "") + ")"
              + (f", {flagged:,} points flagged" if all(len(r.point_score) for r in results) else ""))
        for k, (rec, res) in enumerate(zip(recs, results), 1):
            for e in res.events[:5]:
                print("  " + describe_event(e, res.fs, k if len(recs) > 1 else None))
            if len(res.events) > 5:
                print(f"  ... {len(res.events) - 5} more event(s) in 'events'" + (f" and {table}" if table else ""))
        if table is not None:
            write_events(table, [r.events for r in results], results[0].fs, channels=model.config.channels,
                         overwrite=args.overwrite,
                         about={"source_file": str(f), "run_folder": str(args.run), "threshold": results[0].threshold,
                                "merge_gap": results[0].merge_gap, "min_length": results[0].min_length})
            print(f"wrote {table}: {n_events} event(s), one row each")
        if f in labels:
            _report_against_labels(args.labels, results, labels[f])
    return 0


def describe_event(e, fs=None, recording=None) -> str:
    """One event as a line: samples (1-based), times, peak, channels by their share of the error."""
    when = f" ({e.start / fs:.3f}-{(e.stop - 1) / fs:.3f} s)" if fs else ""
    text = (f"event: {'recording ' + str(recording) + ', ' if recording else ''}samples {e.start + 1}-{e.stop} "
            f"(1-based){when}, peak score {e.peak:.4g} at sample {e.peak_at + 1}")
    if e.runs > 1:
        text += f"; {e.runs} flagged runs merged"
    ranked = e.ranked_channels()
    if ranked:
        text += "; channels by share of the error: " + ", ".join(f"{c + 1} ({share:.0%})" for c, share in ranked[:3])
        if len(ranked) > 3:
            text += ", ..."
    return text


def _report_against_labels(name, results, labels) -> None:
    """Per-point AUC-ROC and AUC-PR, event precision and recall, and the same for the unmerged runs."""
    import numpy as np

    from sigae.evaluation.scoring import auroc, average_precision
    from sigae.data.windows import event_precision_recall, find_events

    truth = np.concatenate(labels)
    scores = np.concatenate([r.point_score for r in results])

    def pooled(events_per_recording):
        ev = [event_precision_recall(events, lab) for events, lab in zip(events_per_recording, labels)]
        predicted = sum(e["predicted_events"] for e in ev)
        hits = sum(e["precision"] * e["predicted_events"] for e in ev)
        true_events = sum(e["labelled_events"] for e in ev)
        found = sum(e["recall"] * e["labelled_events"] for e in ev if e["labelled_events"])
        return (hits / predicted if predicted else 0.0, found / true_events if true_events else float("nan"),
                predicted, true_events)

    precision, recall, predicted, true_events = pooled([r.events for r in results])
    line = (f"against '{name}' ({int((truth != 0).sum())} anomalous points of {len(truth):,}, "
            f"{true_events} labelled event(s)): per-point AUC-ROC {auroc(scores, truth):.4f}, "
            f"AUC-PR {average_precision(scores, truth):.4f}; event precision {precision:.3f}, "
            f"event recall {recall:.3f} ({predicted} predicted event(s))")
    if results[0].merge_gap or results[0].min_length > 1:
        runs = [find_events(r.point_is_anomaly) for r in results]
        p_runs, r_runs, n_runs, _ = pooled(runs)
        line += (f"; unmerged, each flagged run an event: event precision {p_runs:.3f}, event recall "
                 f"{r_runs:.3f} ({n_runs} run(s))")
    print(line)


def encode_windowed(args, files, windowing, config, load_model) -> int:
    """sigae-encode with a model of recordings: inputs checked and read first, then ``load_model()``."""
    from sigae.estimator.recording_files import encode_to_file

    outputs = outputs_for(args.output, files)
    check_outputs(outputs, args.overwrite)
    if config.normalize == "per-signal":
        raise ConfigError("sigae-encode: windows of a per-signal normalized model need their mean/std to be decoded; "
                          "not supported for windowed models")
    per_file = read_all(args, files, windowing["window"], args.hop, config.channels)
    model = load_model()
    for (f, recs), out in zip(per_file, outputs):
        n, k = encode_to_file(model, recs, out, hop=args.hop, batch_size=args.batch_size, overwrite=args.overwrite,
                              source_file=str(f), run_folder=str(args.run), config_hash=model.config.hash())
        print(f"wrote {out}: latent {n:,} x {k} (one code per window of {model.windowing_['window']}, "
              f"hop {args.hop}) with window_start and window_recording")
    return 0


# ---------------------------------------------------------------------------- plot
def plot_windowed(args, windowing, config, load_model, out: Path):
    """timeline.png (timeline_<k>.png for several recordings) of the recordings of FILE: inputs checked and read
    first; returns ``(model, written paths)``."""
    from sigae.data.files import check_writable
    from sigae.evaluation.plots import plot_timeline
    from sigae.data.recordings import read_labels
    from sigae.estimator.recording_files import timeline_data

    files = files_of([args.file])
    (f, recs), = read_all(args, files, windowing["window"], args.hop, config.channels)
    names = ["timeline.png"] if len(recs) == 1 else [f"timeline_{k}.png" for k in range(1, len(recs) + 1)]
    for name in names:
        check_writable(out / name, args.overwrite)
    labels = read_labels(f, args.labels, recs) if args.labels else [None] * len(recs)
    merge_gap, min_length = event_spans(args, windowing)
    model = load_model()
    written = []
    for rec, lab, name in zip(recs, labels, names):
        data = timeline_data(model, rec, hop=args.hop, labels=lab, merge_gap=merge_gap, min_length=min_length)
        written.append(plot_timeline(data, out / name, title=f"{Path(f).name} ('{rec.var}')"))
    return model, written
