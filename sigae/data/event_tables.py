"""Events of recordings as tables: the ``events`` matrix of a scores file, rows for ``--events FILE.csv`` /
``.json``, and the per-channel labels the timeline writes over each event. Samples are 1-based in every table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sigae.data.windows import Event
from sigae.errors import ConfigError


# ---------------------------------------------------------------------------- files
def events_matrix(events_per_recording, fs=None) -> tuple[np.ndarray, str]:
    """Events of several recordings as rows ``[recording, first, last, peak_score(, first_s, last_s), peak_sample
    (, peak_s)]`` (recording and samples 1-based, last inclusive; seconds from the recording's start, sample 1
    at 0 s). The first four (six with *fs*) columns are those of earlier versions; the peak's columns follow."""
    rows = []
    for k, events in enumerate(events_per_recording, 1):
        for e in events:
            row = [k, e.start + 1, e.stop, e.peak]
            if fs:
                row += [e.start / fs, (e.stop - 1) / fs]
            row.append(e.peak_at + 1)
            if fs:
                row.append(e.peak_at / fs)
            rows.append(row)
    columns = ("recording, first_sample, last_sample, peak_score" + (", first_s, last_s" if fs else "")
               + ", peak_sample" + (", peak_s" if fs else ""))
    return np.array(rows, dtype=np.float64).reshape(-1, 8 if fs else 5), columns


def event_rows(events_per_recording, fs=None, channels: int = 1) -> list[dict]:
    """One dict per event of several recordings, for tables (``--events FILE.csv``/``.json``).

    ``recording`` (1-based), ``first_sample``, ``last_sample`` (1-based, last inclusive), ``peak_sample``
    (1-based), ``peak_score``, ``length`` (samples, first to last), ``flagged`` (samples above the threshold),
    ``runs`` (flagged runs merged into the event); with *fs* ``first_s``, ``last_s``, ``peak_s`` (sample 1 at
    0 s); with several *channels* ``channels``: ``[(channel (1-based), share of the error), ...]``, largest
    share first.
    """
    rows = []
    for k, events in enumerate(events_per_recording, 1):
        for e in events:
            row = {"recording": k, "first_sample": e.start + 1, "last_sample": e.stop, "peak_sample": e.peak_at + 1,
                   "peak_score": e.peak, "length": e.length, "flagged": e.flagged, "runs": e.runs}
            if fs:
                row.update(first_s=e.start / fs, last_s=(e.stop - 1) / fs, peak_s=e.peak_at / fs)
            if channels > 1:
                row["channels"] = [(c + 1, share) for c, share in e.ranked_channels()]
            rows.append(row)
    return rows


EVENT_TABLE_SUFFIXES = (".csv", ".json")


def check_events_path(path, overwrite: bool = False) -> Path:
    """An events table path: ``.csv`` or ``.json``, not an existing file unless *overwrite*."""
    from sigae.errors import option
    from sigae.data.files import check_writable

    path = Path(path)
    if path.suffix.lower() not in EVENT_TABLE_SUFFIXES:
        raise ConfigError(f"{option('--events', 'events')} {path}: unknown extension "
                          f"{path.suffix.lower() or '(none)'!r}; use .csv or .json")
    return check_writable(path, overwrite)


def write_events(path, events_per_recording, fs=None, *, channels: int = 1, overwrite: bool = False,
                 about: dict | None = None) -> Path:
    """The events of several recordings as a table: ``.csv`` (a header line, one row per event; for several
    channels ``top_channel`` and ``share_ch1`` ... ``share_chC``) or ``.json`` (``{"samples": ..., **about,
    "events": [...]}``, each event as :func:`event_rows` gives it). Written atomically; samples 1-based."""
    import csv
    import io
    import json

    from sigae.data.files import write_text

    path = check_events_path(path, overwrite)
    rows = event_rows(events_per_recording, fs, channels)
    if path.suffix.lower() == ".json":
        document = {"samples": "1-based, last_sample inclusive; times in seconds with sample 1 at 0 s",
                    **(about or {}),
                    "events": [{**r, "channels": [{"channel": c, "share": s} for c, s in r["channels"]]}
                               if "channels" in r else r for r in rows]}
        return write_text(path, json.dumps(document, indent=2) + "\n", overwrite=True)
    names = ["recording", "first_sample", "last_sample", "peak_sample", "peak_score", "length", "flagged", "runs"]
    if fs:
        names += ["first_s", "last_s", "peak_s"]
    if channels > 1:
        names += ["top_channel"] + [f"share_ch{c}" for c in range(1, channels + 1)]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        ranked = r.pop("channels", None)
        if ranked:
            r["top_channel"] = ranked[0][0]
            r.update({f"share_ch{c}": share for c, share in ranked})
        writer.writerow(r)
    return write_text(path, text.getvalue(), overwrite=True)


def event_labels(events: list[Event], most: int = 40) -> list[dict]:
    """What the timeline writes over each event of a recording of several channels: the channel that carries
    most of its error. One dict per event, the *most* highest-peaked (in time order): ``start``, ``stop``
    (0-based, half-open), ``peak`` (its peak score), ``channel`` (1-based), ``share`` (its share of the event's error, 0-1) and ``text``
    (``"ch 3 61%"``). Empty for one channel (events without ``channel_share``)."""
    shown = sorted(sorted(events, key=lambda e: -e.peak)[:most], key=lambda e: e.start)
    out = []
    for e in shown:
        ranked = e.ranked_channels()
        if not ranked:
            continue
        channel, share = ranked[0]
        out.append({"start": e.start, "stop": e.stop, "peak": e.peak, "channel": channel + 1, "share": share,
                    "text": f"ch {channel + 1} {share:.0%}"})
    return out
