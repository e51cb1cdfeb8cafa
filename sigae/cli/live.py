"""The command-line side of live data: ``sigae-score RUN -`` and ``sigae-score RUN FILE --follow``.

A thin layer over :class:`sigae.estimator.live.StreamScorer`: samples are read as they
come (standard input until it ends, or a growing file polled every ``--poll``
seconds), fed to the scorer, and every point that becomes final is written at
once as a line ``sample,point_score,point_is_anomaly`` (sample 1-based) to
standard output or to ``-o FILE.csv`` (flushed after each block); every event
is one line on standard error when it closes (and a table with ``--events`` at
the end).

Input: text, one time point per line, its C values separated by ``,``, ``;``
or blanks; lines starting with ``#`` are skipped; the first line may be a
header (a field that is not a number; with C + 1 names one of which says
time or index, such as ``time_s``, that column is left out, as when the file
is read whole); a blank line is an error only when data
follows it (it would be a missing sample). Or a raw binary file (``.f32``,
``.bin``): C little-endian float32 values per time point. A bad line (a field
that is not a number, another count of values) or a truncated binary sample
stops the command with one line naming the line (byte offset) and exit code
2; the points already written stay valid (they are final), the rest is not
scored.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from sigae.cli.recordings import describe_event, event_spans
from sigae.data.io.text import is_number
from sigae.errors import ConfigError, DataError

BINARY_SUFFIXES = (".f32", ".bin")
TEXT_SUFFIXES = (".csv", ".txt")
READ_BYTES = 1 << 16


def is_live(args) -> bool:
    """Whether ``sigae-score`` reads live data: FILE ``-``, ``--follow``, or a raw float32 file."""
    files = list(args.file)
    return (files == ["-"] or "-" in files or getattr(args, "follow", False)
            or any(Path(f).suffix.lower() in BINARY_SUFFIXES for f in files))


# ---------------------------------------------------------------------------- parsing
class TextSamples:
    """Lines of text to samples ``(m, C)``, fed bytes as they come; errors name the 1-based line."""

    def __init__(self, channels: int, where: str):
        self.channels, self.where = channels, where
        self.line = 0  # lines read so far
        self.tail = b""  # an unfinished last line
        self.started = False  # a line of data or the header was seen
        self.data = False  # a line of data was seen
        self.time_column = None  # 0-based column of the header's time axis, left out
        self.blank = None  # line number of a blank line not yet followed by data

    def feed(self, data: bytes, final: bool = False):
        """``(samples (m, C), error or None)``: the samples of the complete lines in *data* (with *final*, the
        unfinished last line too) up to the first bad line, and the DataError of that line."""
        text = self.tail + data
        lines = text.split(b"\n")
        self.tail = b"" if final else lines.pop()
        rows = []
        for raw in lines:
            self.line += 1
            line = raw.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
            if line.startswith("#"):
                continue
            if not line:
                if self.data and self.blank is None:
                    self.blank = self.line
                continue
            fields = self._fields(line)
            first, self.started = not self.started, True
            if first and any(f and not is_number(f) for f in fields):  # an empty field is a missing value
                self._header(fields)  # the first line holds words: a header
                continue
            columns = list(enumerate(fields, 1))
            if self.time_column is not None and len(fields) == self.channels + 1:
                del columns[self.time_column]  # the time axis (a clock such as 12:00:01 too)
            numbers = []
            for column, text_field in columns:
                value = float(text_field) if is_number(text_field) else None
                if value is None or not math.isfinite(value):
                    what = "is not a number" if value is None else "is not a finite number"
                    return self._rows(rows), DataError(
                        f"{self.where}: line {self.line}, column {column}: {text_field[:40]!r} {what}")
                numbers.append(value)
            if self.blank is not None:
                return self._rows(rows), DataError(f"{self.where}: line {self.blank} is empty (a missing sample) "
                                                   f"and data follows it on line {self.line}")
            self.data = True
            if len(numbers) != self.channels:
                return self._rows(rows), DataError(
                    f"{self.where}: line {self.line} has {len(numbers)} value(s), but the model takes "
                    f"{self.channels} channel(s): one time point per line, {self.channels} value(s)")
            rows.append(numbers)
        return self._rows(rows), None

    def _header(self, names) -> None:
        """A header of C + 1 names, one of which says time or index (``time_s``, ``t``, ``sample``...): that column
        is the time axis, left out of the channels, as when the file is read whole (sigae.data.io.tables)."""
        from sigae.data.io.tables import name_role

        roles = [j for j, name in enumerate(names) if name_role(name)]
        if len(names) == self.channels + 1 and len(roles) == 1:
            self.time_column = roles[0]

    @staticmethod
    def _fields(line: str) -> list[str]:
        for delimiter in (";", ","):
            if delimiter in line:
                return [f.strip().strip('"').strip() for f in line.split(delimiter)]
        return line.split()

    def _rows(self, rows) -> np.ndarray:
        return np.array(rows, dtype=np.float64).reshape(-1, self.channels)


class BinarySamples:
    """Raw little-endian float32 bytes to samples ``(m, C)``; a truncated last sample names its byte offset."""

    def __init__(self, channels: int, where: str):
        self.channels, self.where = channels, where
        self.size = 4 * channels
        self.offset = 0  # bytes turned into samples so far
        self.tail = b""

    def feed(self, data: bytes, final: bool = False):
        data = self.tail + data
        whole = len(data) // self.size * self.size
        self.tail = data[whole:]
        samples = np.frombuffer(data[:whole], dtype="<f4").astype(np.float64).reshape(-1, self.channels)
        self.offset += whole
        error = None
        if final and self.tail:
            error = DataError(f"{self.where}: truncated sample at byte offset {self.offset}: {len(self.tail)} "
                              f"byte(s) of a {self.size}-byte sample ({self.channels} float32 value(s))")
        bad = ~np.isfinite(samples)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            error = DataError(f"{self.where}: NaN/Inf value at byte offset {self.offset - whole + row * self.size} "
                              f"(sample {(self.offset - whole) // self.size + row + 1}, 1-based)")
            samples = samples[:row]
        return samples, error


# ---------------------------------------------------------------------------- sources
def _chunks(read, parser, follow: bool, poll: float, idle: float | None):
    """``(samples, error)`` as bytes come from ``read()`` (b"" when none are there now); without *follow* an empty
    read is the end; with it, the end comes after *idle* seconds without new bytes (or Ctrl-C)."""
    last = time.monotonic()
    try:
        while True:
            data = read()
            if data:
                last = time.monotonic()
                samples, error = parser.feed(data)
                yield samples, error
                if error is not None:
                    return
                continue
            if not follow or (idle is not None and time.monotonic() - last >= idle):
                break
            time.sleep(poll)
    except KeyboardInterrupt:  # Ctrl-C ends the recording: its last points are scored
        pass
    yield parser.feed(b"", final=True)


def _read_stdin():
    stream = sys.stdin.buffer
    read1 = getattr(stream, "read1", None)
    return (lambda: read1(READ_BYTES)) if read1 else (lambda: stream.read(READ_BYTES))


# ---------------------------------------------------------------------------- the command
def score_live(args, windowing, config, load_model) -> int:
    """sigae-score RUN - / RUN FILE --follow / RUN FILE.f32: options and inputs checked, then the model loaded
    and the samples scored as they come."""
    from sigae.data.files import check_writable
    from sigae.data.event_tables import check_events_path
    from sigae.data.windows import check_window

    files = list(args.file)
    source = files[0]
    if windowing is None:
        raise ConfigError(f"{source}: scoring live data needs a model trained on recordings (--window); "
                          f"{args.run} was trained on cut signals")
    if len(files) > 1:
        raise ConfigError(f"{' '.join(files)}: live data is one recording: give one FILE (or - for standard input)")
    for name in ("labels", "per_point"):
        if getattr(args, name, None):
            raise ConfigError(f"--{name.replace('_', '-')}: not available for live data; score the finished "
                              "recording's file for it")
    if source == "-" and args.follow:
        raise ConfigError("--follow: standard input is read until it ends; --follow is for a FILE that grows")
    suffix = "" if source == "-" else Path(source).suffix.lower()
    if suffix not in BINARY_SUFFIXES + TEXT_SUFFIXES + ("",) or (suffix == "" and source != "-"):
        raise ConfigError(f"{source}: live data is read from a text file (.csv, .txt: one time point per line) or a "
                          f"raw float32 file ({', '.join(BINARY_SUFFIXES)}); got {suffix or 'no extension'!r}")
    if args.output is not None:
        if Path(args.output).suffix.lower() != ".csv":
            raise ConfigError(f"-o/--output {args.output}: live scores are written as a .csv table (one line per "
                              "point as it becomes final)")
        check_writable(args.output, args.overwrite)
    if args.events:
        check_events_path(args.events, args.overwrite)
    check_window(windowing["window"], args.hop)
    merge_gap, min_length = event_spans(args, windowing)
    channels = config.channels
    where = "standard input" if source == "-" else str(source)
    parser = (BinarySamples if suffix in BINARY_SUFFIXES else TextSamples)(channels, where)
    model = load_model()
    from sigae.estimator.live import StreamScorer

    scorer = StreamScorer(model, hop=args.hop, threshold=args.threshold, metric=args.metric, merge_gap=merge_gap,
                          min_length=min_length, batch_size=args.batch_size)
    out = open(args.output, "w", encoding="utf-8") if args.output is not None else sys.stdout  # noqa: SIM115
    events = []
    try:
        return _score(args, scorer, parser, source, where, out, events, channels)
    except BrokenPipeError:  # the reader of standard output went away (| head): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python exits
        return 0
    finally:
        if out is not sys.stdout:
            out.close()


def _score(args, scorer, parser, source, where, out, events, channels) -> int:
    """Read, score, write until the input ends (or a bad line); then the events table and the summary."""
    from sigae.data.event_tables import write_events

    flagged = 0
    out.write("sample,point_score,point_is_anomaly\n")
    out.flush()

    def write(result):
        nonlocal flagged
        if len(result):
            out.write("".join(f"{i + 1},{s!r},{int(f)}\n" for i, s, f in
                              zip(result.index.tolist(), result.point_score.tolist(),
                                  result.point_is_anomaly.tolist())))
            out.flush()
            flagged += int(result.point_is_anomaly.sum())
        for e in result.events:
            events.append(e)
            print(describe_event(e, scorer.fs), file=sys.stderr, flush=True)

    if source == "-":
        chunks = _chunks(_read_stdin(), parser, False, 0.0, None)
        handle = None
    else:
        handle = open(source, "rb")  # noqa: SIM115
        chunks = _chunks(lambda: handle.read(READ_BYTES), parser, args.follow, args.poll, args.idle)
    try:
        for samples, error in chunks:
            if len(samples):
                write(scorer.update(samples))
            if error is not None:
                raise error
    finally:
        if handle is not None:
            handle.close()
    if scorer.n_seen < scorer.window:
        raise DataError(f"{where}: {scorer.n_seen} sample(s), fewer than the window of {scorer.window}; "
                        "nothing to score")
    write(scorer.flush())
    if args.events:
        write_events(args.events, [events], scorer.fs, channels=channels, overwrite=args.overwrite,
                     about={"source_file": where, "run_folder": str(args.run), "threshold": scorer.threshold,
                            "merge_gap": scorer.merge_gap, "min_length": scorer.min_length})
    print(f"scored {scorer.n_seen:,} points of {where} as they came (window {scorer.window}, hop {args.hop}); "
          f"threshold {scorer.threshold:.4g}; {flagged:,} flagged; {len(events)} event(s)"
          + (f"; wrote {args.output}" if args.output else "") + (f" and {args.events}" if args.events else ""),
          file=sys.stderr)
    return 0


__all__ = ["is_live", "score_live", "TextSamples", "BinarySamples"]
