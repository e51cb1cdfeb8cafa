"""Live data: StreamScorer equals score_recording for any chunking; sigae-score RUN - and --follow."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sigae

from sigae import DataError, StreamScorer
from sigae.cli import main
from sigae.estimator.live import StreamClosedError, score_chunks
from sigae.estimator.recording_scores import score_recording
from sigae.data.windows import EventTracker

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # the sigae of this checkout in the subprocesses
MODEL = dict(encoder="conv", filters=(8, 4), kernel_sizes=(3, 3), pool_sizes=(2, 2), latent_dim=4, decoder="mirror")


def series(n, channels=1, seed=0):
    """Sines of periods 40, 25, 60, ... plus noise, real-valued, ``(n, channels)``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    periods = np.array([40, 25, 60, 33][:channels])
    return np.sin(2 * np.pi * t / periods + np.arange(channels)) + 0.05 * rng.standard_normal((n, channels))


def with_anomalies(x, spans=((300, 310), (520, 523)), channel=0, size=3.0):
    y = x.copy()
    for a, b in spans:
        y[a:b, channel] += size
    return y


def fit(channels, window, hop, n=1200, seed=0):
    from sigae import SignalAutoencoder

    model = SignalAutoencoder(**MODEL)
    model.fit_recordings(series(n, channels, seed), window, hop, epochs=1, batch_size=32, seed=0, verbose=0,
                         log=lambda *a: None)
    return model


@pytest.fixture(scope="module")
def one_channel():
    return fit(1, 32, 2)


@pytest.fixture(scope="module")
def three_channels():
    return fit(3, 24, 1)


def random_chunks(x, rng, high):
    cuts = [0]
    while cuts[-1] < len(x):
        cuts.append(min(len(x), cuts[-1] + int(rng.integers(1, high + 1))))
    return [x[a:b] for a, b in zip(cuts, cuts[1:])]


def assert_same(streamed, whole):
    assert np.array_equal(streamed.index, np.arange(len(whole.point_score)))
    # exact: the same windows through the same network calls, per-point sums in the same order (see sigae.estimator.live)
    assert np.array_equal(streamed.point_score, whole.point_score)
    assert np.array_equal(streamed.point_is_anomaly, whole.point_is_anomaly)
    if whole.point_score_channel is None:
        assert streamed.point_score_channel is None
    else:
        assert np.array_equal(streamed.point_score_channel, whole.point_score_channel)
    assert streamed.events == whole.events


# ---------------------------------------------------------------------------- StreamScorer
@pytest.mark.parametrize("which, hop", [("one_channel", 1), ("one_channel", 2), ("one_channel", 5),
                                        ("three_channels", 1), ("three_channels", 3)])
def test_any_chunking_gives_the_whole_recording_scores(request, which, hop):
    model = request.getfixturevalue(which)
    channels = model.config.channels
    x = with_anomalies(series(640, channels, seed=7), channel=channels - 1)
    if channels == 1:
        x = x[:, 0]  # a vector, as a one-channel recording is usually given
    whole = score_recording(model, x, hop=hop)
    assert whole.events, "the test needs events"
    rng = np.random.default_rng(hop)
    window = model.windowing_["window"]
    chunkings = {"one sample at a time": [x[i:i + 1] for i in range(len(x))],
                 "random, up to 10": random_chunks(x, rng, 10),
                 "random, up to 3 windows": random_chunks(x, rng, 3 * window),
                 "whole": [x]}
    for name, chunks in chunkings.items():
        streamed = score_chunks(model, chunks, hop=hop)
        assert_same(streamed, whole)
    # other event options and a threshold: the same as well
    options = dict(merge_gap=0, min_length=2, threshold="p99")
    assert_same(score_chunks(model, random_chunks(x, rng, 50), hop=hop, **options),
                score_recording(model, x, hop=hop, **options))


def test_aligned_batches_give_the_same_scores(one_channel, monkeypatch):
    """aligned=True: the windows go to the network in score_recording's batches (here of 16 windows)."""
    x = with_anomalies(series(500, 1, seed=3))
    whole = score_recording(one_channel, x, hop=3, batch_size=16)
    rng = np.random.default_rng(0)
    scorer = StreamScorer(one_channel, hop=3, batch_size=16, aligned=True)
    parts = []
    for chunk in random_chunks(x, rng, 20):
        parts.append(scorer.update(chunk))
        assert scorer.n_seen - scorer.n_final <= 32 + 16 * 3  # at most a window and a batch of windows
    parts.append(scorer.flush())
    assert np.array_equal(np.concatenate([p.point_score for p in parts]), whole.point_score)
    assert [e for p in parts for e in p.events] == whole.events


def test_latency_is_one_window_and_memory_the_last_window(one_channel):
    window = 32
    x = with_anomalies(series(400, 1, seed=1))[:, 0]
    scorer = StreamScorer(one_channel, hop=2)
    done = 0
    for i, chunk in enumerate(random_chunks(x, np.random.default_rng(2), 7)):
        result = scorer.update(chunk)
        assert result.index.tolist() == list(range(done, done + len(result)))
        done += len(result)
        assert scorer.n_final == done == max(0, scorer.n_seen - window)  # final one window after arriving
        assert len(scorer._buffer) <= window  # the last window of samples, never the recording
    last = scorer.flush()
    assert done + len(last) == len(x) and len(last) == window


def test_events_come_when_they_close(one_channel):
    """An event is returned by the update that makes its closing point final, not only at flush."""
    x = with_anomalies(series(900, 1, seed=2), spans=((300, 305),))[:, 0]
    whole = score_recording(one_channel, x)
    (event,) = [e for e in whole.events if e.start <= 302 < e.stop]
    scorer = StreamScorer(one_channel)
    for i in range(len(x)):
        result = scorer.update(x[i:i + 1])
        if event in result.events:
            break
    # closed once merge_gap (= the window) points after its end are final, final one window after arriving
    assert i == event.stop + whole.merge_gap + 32
    assert scorer.n_seen < len(x)


def test_bad_chunks_are_refused_and_the_scorer_goes_on(three_channels):
    scorer = StreamScorer(three_channels)
    with pytest.raises(DataError, match=r"expected samples shaped \(m, 3\)"):
        scorer.update(np.zeros((5, 2)))
    bad = np.zeros((5, 3))
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="first at sample 4 of the recording"):
        scorer.update(bad)
    assert scorer.n_seen == 0
    x = series(100, 3)
    first = scorer.update(x)
    assert np.array_equal(np.concatenate([first.point_score, scorer.flush().point_score]),
                          score_recording(three_channels, x).point_score)
    with pytest.raises(StreamClosedError):
        scorer.update(x)
    with pytest.raises(sigae.ConfigError, match="metric: unknown metric 'rmse'"):
        StreamScorer(three_channels, metric="rmse")
    with pytest.raises(sigae.ConfigError, match="hop"):
        StreamScorer(three_channels, hop=0)
    short = StreamScorer(three_channels)
    short.update(x[:10])
    with pytest.raises(DataError, match="shorter than the window of 24 points"):
        short.flush()


def test_event_channel_shares_do_not_depend_on_the_blocks():
    """EventTracker sums each event's per-channel errors point by point, so any cut gives the same shares."""
    rng = np.random.default_rng(4)
    n = 3000
    scores = rng.gamma(1.0, 1.0, n)
    flags = scores > 3.0
    per_channel = rng.gamma(1.0, 1.0, (n, 3))
    whole = EventTracker(5, 2)
    whole.add(flags, scores, per_channel)
    expected = whole.close()
    assert len(expected) > 10 and all(e.channel_share for e in expected)
    for high in (1, 7, 100):
        tracker, a = EventTracker(5, 2), 0
        while a < n:
            b = min(n, a + int(rng.integers(1, high + 1)))
            tracker.add(flags[a:b], scores[a:b], per_channel[a:b])
            a = b
        assert tracker.close() == expected


# ---------------------------------------------------------------------------- per-channel attribution
def test_an_anomaly_in_one_channel_is_attributed_to_it():
    """Four channels, anomalies injected in channel 3 (0-based 2): every event names channel 3 first, in batch
    and streamed, and point_score is the mean of point_score_channel."""
    model = fit(4, 32, 2, n=1500, seed=1)
    x = with_anomalies(series(1000, 4, seed=9), spans=((250, 262), (600, 603), (800, 840)), channel=2, size=2.5)
    whole = score_recording(model, x)
    assert whole.point_score_channel.shape == (1000, 4)
    np.testing.assert_allclose(whole.point_score_channel.mean(axis=1), whole.point_score, rtol=1e-12)
    assert len(whole.events) >= 3
    assert [e.ranked_channels()[0][0] for e in whole.events] == [2] * len(whole.events)
    assert_same(score_chunks(model, random_chunks(x, np.random.default_rng(1), 40)), whole)


# ---------------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def run(tmp_path_factory, one_channel):
    folder = tmp_path_factory.mktemp("live")
    one_channel.save(folder / "run")
    x = with_anomalies(series(700, 1, seed=5))[:, 0]
    np.savetxt(folder / "rec.csv", x[:, None], fmt="%.17g")
    return folder, folder / "run", x


def run_cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def read_rows(text):
    lines = text.strip().splitlines()
    assert lines[0] == "sample,point_score,point_is_anomaly"
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]]).reshape(-1, 3)
    return table


def batch_table(capsys, run_dir, file, tmp_path, *options):
    out = tmp_path / "batch.csv"
    code, _, err = run_cli(capsys, "score", run_dir, file, "-o", out, "--events", tmp_path / "batch_events.json",
                           *options)
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0] == "point_score,point_is_anomaly"
    return np.array([[float(v) for v in line.split(",")] for line in lines[1:]])


def test_standard_input_piped_gives_the_file_scores(run, tmp_path, capsys):
    folder, run_dir, x = run
    expected = batch_table(capsys, run_dir, folder / "rec.csv", tmp_path, "--hop", "3")
    out = tmp_path / "live.csv"
    writer = ("import sys\nfor line in open(sys.argv[1]):\n    sys.stdout.write(line)\n    sys.stdout.flush()")
    command = (f"{sys.executable} -c '{writer}' {folder / 'rec.csv'} | {sys.executable} -m sigae score {run_dir} - "
               f"--hop 3 -o {out} --events {tmp_path / 'live_events.json'}")
    done = subprocess.run(command, shell=True, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    table = read_rows(out.read_text())
    assert np.array_equal(table[:, 0], np.arange(1, len(x) + 1))
    assert np.array_equal(table[:, 1:], expected)  # the same numbers, written exactly (shortest repr)
    batch_events = json.loads((tmp_path / "batch_events.json").read_text())["events"]
    live_events = json.loads((tmp_path / "live_events.json").read_text())["events"]
    assert live_events == batch_events and batch_events
    assert done.stderr.count("event: samples") == len(batch_events)  # each event on stderr as it closed


def test_standard_input_in_process_with_a_header_and_whitespace(run, tmp_path, capsys, monkeypatch):
    import io

    folder, run_dir, x = run
    expected = batch_table(capsys, run_dir, folder / "rec.csv", tmp_path)
    texts = {"whitespace under a header": "value\n" + "".join(f"  {v!r} \n" for v in x.tolist()),
             "a time column, left out": "time_s;value\n" + "".join(f"{i / 250};{v!r}\n"
                                                                    for i, v in enumerate(x.tolist()))}
    for name, text in texts.items():
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
        code, out, err = run_cli(capsys, "score", run_dir, "-")
        assert code == 0, (name, err)
        assert np.array_equal(read_rows(out)[:, 1:], expected), name
        assert "scored 700 points of standard input" in err


@pytest.mark.parametrize("bad, message", [
    ("abc", "standard input: line 102, column 1: 'abc' is not a number"),
    ("1.0,2.0", "standard input: line 102 has 2 value(s), but the model takes 1 channel(s)"),
    ("nan", "standard input: line 102, column 1: 'nan' is not a finite number"),
])
def test_a_bad_line_stops_with_its_number_and_keeps_the_rows_written(run, tmp_path, capsys, monkeypatch, bad,
                                                                       message):
    import io

    folder, run_dir, x = run
    expected = batch_table(capsys, run_dir, folder / "rec.csv", tmp_path)
    lines = [repr(v) for v in x[:200].tolist()]
    lines[101] = bad  # line 102
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(("\n".join(lines) + "\n").encode())))
    out = tmp_path / "live.csv"
    code, _, err = run_cli(capsys, "score", run_dir, "-", "-o", out)
    assert code == 2 and err.strip().splitlines()[-1].startswith(f"sigae-score: error: {message}")
    assert "Traceback" not in err
    table = read_rows(out.read_text())
    assert len(table) == 101 - 32  # final points of the 101 good samples
    assert np.array_equal(table[:, 1], expected[:len(table), 0])  # still the whole recording's scores


def test_follow_a_float32_file_and_a_truncated_sample(run, tmp_path, capsys):
    folder, run_dir, x = run
    x32 = x.astype(np.float32)
    (tmp_path / "rec32.csv").write_text("".join(f"{float(v)!r}\n" for v in x32))
    expected = batch_table(capsys, run_dir, tmp_path / "rec32.csv", tmp_path)
    raw = tmp_path / "rec.f32"
    raw.write_bytes(x32.astype("<f4").tobytes())
    code, out, err = run_cli(capsys, "score", run_dir, raw, "--follow", "--poll", "0.05", "--idle", "0.3")
    assert code == 0, err
    assert np.array_equal(read_rows(out)[:, 1:], expected)
    raw.write_bytes(x32.astype("<f4").tobytes() + b"\x00\x00")
    code, out, err = run_cli(capsys, "score", run_dir, raw)
    assert code == 2
    assert err.strip().endswith(f"truncated sample at byte offset {4 * len(x)}: 2 byte(s) of a 4-byte sample "
                                "(1 float32 value(s))")
    assert np.array_equal(read_rows(out)[:, 1:], expected[:len(x) - 32])


def test_follow_a_csv_file_while_it_grows(run, tmp_path):
    """A writer appends the recording in pieces (a last line cut in two) while sigae-score --follow reads it;
    Ctrl-C ends it."""
    folder, run_dir, x = run
    growing = tmp_path / "growing.csv"
    growing.write_text("")
    out = tmp_path / "followed.csv"
    process = subprocess.Popen([sys.executable, "-m", "sigae", "score", str(run_dir), str(growing), "--follow",
                                "--poll", "0.05", "-o", str(out)], env=ENV, stderr=subprocess.PIPE, text=True)
    text = "".join(f"{v!r}\n" for v in x.tolist())
    cuts = [0, 1000, 5000, len(text) - 3, len(text)]
    time.sleep(1.0)
    for a, b in zip(cuts, cuts[1:]):
        with open(growing, "a") as f:
            f.write(text[a:b])
        time.sleep(0.5)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < len(x) - 32 + 1):
        time.sleep(0.2)  # every point but the last window is final while the file is followed
    process.send_signal(signal.SIGINT)  # Ctrl-C: the recording ends, its last points are scored
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    from sigae import load

    whole = score_recording(load(run_dir), x)
    table = read_rows(out.read_text())
    assert np.array_equal(table[:, 1], whole.point_score)


def test_live_options_are_checked_before_the_model_loads(run, tmp_path, capsys):
    folder, run_dir, x = run
    code, _, err = run_cli(capsys, "score", run_dir, "-", "-o", tmp_path / "x.mat")
    assert code == 2 and "live scores are written as a .csv table" in err
    code, _, err = run_cli(capsys, "score", run_dir, "-", "--follow")
    assert code == 2 and "--follow: standard input is read until it ends" in err
    code, _, err = run_cli(capsys, "score", run_dir, folder / "rec.csv")
    assert code == 2 and "-o/--output is required" in err
