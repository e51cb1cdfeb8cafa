"""Sliding windows, per-point scores, events, streamed recordings: sigae.data.windows, sigae.data.recordings, sigae.estimator.windowed."""

import h5py
import numpy as np
import pytest
import scipy.io

from sigae import ConfigError, DataError, RunFolderError
from sigae.data.recordings import from_array, read_recordings
from sigae.data.segments import WindowDataset, Segment, split_segments
from sigae.estimator.recording_scores import score_recording
from sigae.data.windows import (Event, EventTracker, PointAccumulator, event_precision_recall, find_events, point_scores, sliding_windows, window_starts)
from sigae.data.periods import auto_window, dominant_period


def hand_windows(x, window, starts):
    x = x.reshape(len(x), -1)
    return np.stack([x[s:s + window] for s in starts])


# ---------------------------------------------------------------------------- windows
def test_windows_equal_hand_stack_hop_1():
    x = np.arange(10.0)
    windows, starts = sliding_windows(x, 4, 1)
    assert starts.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert np.array_equal(windows, hand_windows(x, 4, range(7)))
    assert windows.shape == (7, 4, 1) and windows.flags.c_contiguous


def test_windows_hop_above_1_add_a_last_window_ending_on_the_last_point():
    x = np.arange(11.0)
    windows, starts = sliding_windows(x, 4, 3)
    assert starts.tolist() == [0, 3, 6, 7]  # 0, 3, 6 fit; 7 = 11 - 4 covers points 9 and 10
    assert np.array_equal(windows[:, :, 0], [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [7, 8, 9, 10]])
    _, exact = sliding_windows(np.arange(10.0), 4, 3)
    assert exact.tolist() == [0, 3, 6]  # the hop lands on the end: nothing added


def test_windows_of_channels_keep_channels_together():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 3))
    windows, starts = sliding_windows(x, 8, 5)
    assert windows.shape == (len(starts), 8, 3)
    assert np.array_equal(windows, hand_windows(x, 8, starts))


def test_window_dataset_of_several_recordings_equals_hand_stack_in_any_blocks():
    rng = np.random.default_rng(1)
    recs = [rng.standard_normal((n, 2)) for n in (20, 9, 33)]
    ds = WindowDataset([from_array(r) for r in recs], 6, 2)
    expected = np.concatenate([hand_windows(r, 6, window_starts(len(r), 6, 2)) for r in recs])
    assert ds.shape == expected.shape
    assert np.array_equal(ds.read(0, len(ds)), expected)
    blocks = [ds.read(a, min(a + 5, len(ds))) for a in range(0, len(ds), 5)]  # blocks straddle recordings
    assert np.array_equal(np.concatenate(blocks), expected)


def test_split_holds_out_the_tail_of_each_recording_without_crossing_windows():
    recs = [from_array(np.zeros(100)), from_array(np.zeros(50))]
    train, val, text = split_segments(recs, 10, 0.2)
    assert train == [Segment(0, 0, 80), Segment(1, 0, 40)] and val == [Segment(0, 80, 100), Segment(1, 40, 50)]
    ds = WindowDataset(recs, 10, 1, train + val)
    for seg, starts in ds.locate(0, len(ds)):
        assert starts.min() >= seg.start and starts.max() + 10 <= seg.stop  # no window crosses a boundary
    assert "no window crossing" in text


def test_split_holds_out_whole_recordings_when_there_are_many():
    recs = [from_array(np.zeros(40)) for _ in range(10)]
    train, val, text = split_segments(recs, 10, 0.2, seed=3)
    assert len(val) == 2 and len(train) == 8
    assert all(s.start == 0 and s.stop == 40 for s in train + val)
    assert not {s.recording for s in train} & {s.recording for s in val}


# ---------------------------------------------------------------------------- per-point scores
def test_point_score_equals_hand_computation():
    # N = 7, W = 3, hop 2: windows at 0, 2, 4
    errors = np.array([[1.0, 2.0, 3.0],
                       [4.0, 5.0, 6.0],
                       [7.0, 8.0, 9.0]])
    got = point_scores(errors, [0, 2, 4], 7)
    # point 0: w0[0]; 1: w0[1]; 2: mean(w0[2], w1[0]); 3: w1[1]; 4: mean(w1[2], w2[0]); 5: w2[1]; 6: w2[2]
    assert got.tolist() == [1.0, 2.0, 3.5, 5.0, 6.5, 8.0, 9.0]


def test_point_accumulator_in_blocks_equals_one_pass():
    rng = np.random.default_rng(2)
    n, w, hop = 200, 16, 3
    starts = window_starts(n, w, hop)
    errors = rng.random((len(starts), w))
    whole = point_scores(errors, starts, n)
    manual = np.array([np.mean([errors[i, t - s] for i, s in enumerate(starts) if s <= t < s + w])
                       for t in range(n)])
    np.testing.assert_allclose(whole, manual, rtol=1e-12)  # same sums, another order of addition
    acc, parts = PointAccumulator(n, w), []
    for a in range(0, len(starts), 7):
        acc.add(starts[a:a + 7], errors[a:a + 7])
        upto = n if a + 7 >= len(starts) else starts[a + 7]
        parts.append(acc.pop(upto))
    assert np.array_equal(np.concatenate(parts), whole)
    assert len(acc.sums) == 0  # nothing left behind


# ---------------------------------------------------------------------------- events
def test_events_exact_on_injected_anomalies():
    n = 1000
    flags = np.zeros(n, dtype=bool)
    scores = np.zeros(n)
    injected = [(0, 3), (100, 110), (500, 501), (990, 1000)]
    for k, (a, b) in enumerate(injected):
        flags[a:b] = True
        scores[a:b] = np.linspace(1, 2 + k, b - a)
    events = find_events(flags, scores)
    assert [(e.start, e.stop, e.peak, e.peak_at, e.runs, e.flagged) for e in events] == [
        (a, b, float(2 + k) if b - a > 1 else 1.0, b - 1, 1, b - a) for k, (a, b) in enumerate(injected)]
    tracker = EventTracker()
    for a in range(0, n, 37):  # blocks cut through events
        tracker.add(flags[a:a + 37], scores[a:a + 37])
    assert tracker.close() == events


def test_runs_closer_than_the_merge_gap_are_one_event_in_any_blocks():
    """One anomaly comes as several flagged runs (a spike raises every window holding it): runs separated by at
    most merge_gap unflagged points are one event, with the peak of all of them; shorter events are dropped."""
    n = 400
    flags = np.zeros(n, dtype=bool)
    scores = np.zeros(n)
    for a, b, peak in [(10, 12, 1.0), (15, 18, 5.0), (20, 21, 2.0),  # gaps of 3 and 2: one event
                       (40, 41, 3.0),                                 # 19 points after: apart with merge_gap 18
                       (100, 101, 1.5), (300, 330, 4.0)]:
        flags[a:b] = True
        scores[a:b] = 0.5
        scores[b - 1] = peak
    runs = find_events(flags, scores)
    assert len(runs) == 6
    merged = find_events(flags, scores, merge_gap=18)
    assert [(e.start, e.stop, e.peak, e.peak_at, e.runs, e.flagged) for e in merged] == [
        (10, 21, 5.0, 17, 3, 6), (40, 41, 3.0, 40, 1, 1), (100, 101, 1.5, 100, 1, 1), (300, 330, 4.0, 329, 1, 30)]
    assert [(e.start, e.stop) for e in find_events(flags, scores, merge_gap=19)][:2] == [(10, 41), (100, 101)]
    assert [(e.start, e.stop) for e in find_events(flags, scores, merge_gap=18, min_length=2)] == [(10, 21), (300, 330)]
    for block in (1, 7, 19, 64, 400):  # cut anywhere: the same events
        tracker = EventTracker(merge_gap=18, min_length=1)
        for a in range(0, n, block):
            tracker.add(flags[a:a + block], scores[a:a + block])
        assert tracker.close() == merged, block


def test_event_channel_shares_are_the_error_of_each_channel_over_the_event():
    rng = np.random.default_rng(2)
    n, c = 300, 3
    per_channel = rng.random((n, c)) * 0.01
    per_channel[100:110, 1] += 1.0  # channel 2 goes wrong
    per_channel[114:118, 2] += 0.5  # then channel 3, after a gap of 4
    score = per_channel.mean(axis=1)
    flags = score > 0.1
    events = find_events(flags, score, merge_gap=8, channel_scores=per_channel)
    assert [(e.start, e.stop, e.runs) for e in events] == [(100, 118, 2)]
    expected = per_channel[100:118].sum(axis=0) / per_channel[100:118].sum()
    np.testing.assert_allclose(events[0].channel_share, expected, rtol=1e-12)
    assert [ch for ch, _ in events[0].ranked_channels()] == [1, 2, 0]
    for block in (1, 5, 13, 111):
        tracker = EventTracker(merge_gap=8)
        for a in range(0, n, block):
            tracker.add(flags[a:a + block], score[a:a + block], per_channel[a:a + block])
        (streamed,) = tracker.close()
        np.testing.assert_allclose(streamed.channel_share, events[0].channel_share, rtol=1e-12)
        assert (streamed.start, streamed.stop, streamed.peak_at) == (events[0].start, events[0].stop, events[0].peak_at)
    assert find_events(flags, score, merge_gap=8)[0].channel_share is None  # no per-channel errors given


def test_event_options_are_checked():
    with pytest.raises(ConfigError, match=r"merge_gap: must be a whole number of samples >= 0, got -1"):
        EventTracker(merge_gap=-1)
    with pytest.raises(ConfigError, match=r"min_length: must be a whole number of samples >= 1, got 0"):
        find_events(np.zeros(5), min_length=0)


def test_event_precision_recall():
    labels = np.zeros(100)
    labels[10:20] = 1
    labels[50:52] = 1
    predicted = [Event(15, 25, 1.0), Event(70, 71, 1.0)]
    r = event_precision_recall(predicted, labels)
    assert r["precision"] == 0.5 and r["recall"] == 0.5 and r["labelled_events"] == 2


def test_dominant_period_of_a_sine():
    t = np.arange(5000)
    x = np.sin(2 * np.pi * t / 50) + 0.1 * np.random.default_rng(0).standard_normal(5000)
    assert dominant_period(x) == 50
    assert auto_window([x])[0] == 50
    assert auto_window([np.random.default_rng(1).standard_normal(3000)])[0] == 125  # no period: TSB-UAD's fallback


# ---------------------------------------------------------------------------- recordings from files
def write_v73(path, name, matrix):
    """A MATLAB v7.3 file as MATLAB writes it: column-major (transposed) dataset, MATLAB_class, 512-byte header."""
    from sigae.data.results import write_mat73_header

    with h5py.File(path, "w", userblock_size=512) as f:
        d = f.create_dataset(name, data=np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T))
        d.attrs["MATLAB_class"] = np.bytes_("double")
    write_mat73_header(path)


@pytest.mark.parametrize("kind", ["v73", "npy", "h5"])
def test_streamed_windows_equal_in_memory_windows(tmp_path, kind):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 2)).cumsum(axis=0)
    path = tmp_path / {"v73": "r.mat", "npy": "r.npy", "h5": "r.h5"}[kind]
    if kind == "v73":
        write_v73(path, "x", x)
    elif kind == "npy":
        np.save(path, x)
    else:
        with h5py.File(path, "w") as f:
            f["x"] = x
    (rec,) = read_recordings(path, None if kind == "npy" else "x")
    assert rec.streamed and (rec.length, rec.channels) == (500, 2)
    (whole,) = read_recordings(path, None if kind == "npy" else "x", stream=False)
    assert not whole.streamed
    streamed = WindowDataset([rec], 32, 3)
    blocks = np.concatenate([streamed.read(a, min(a + 10, len(streamed))) for a in range(0, len(streamed), 10)])
    assert np.array_equal(blocks, sliding_windows(x, 32, 3)[0])
    assert np.array_equal(WindowDataset([whole], 32, 3).read(0, len(streamed)), blocks)


def test_recordings_of_vectors_cells_columns_and_structs(tmp_path):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(40), rng.standard_normal(55)
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = a[:, None], b[None, :]
    structs = np.zeros((1, 2), dtype=[("x", object)])
    structs[0, 0]["x"], structs[0, 1]["x"] = a[:, None], b[:, None]
    m = rng.standard_normal((30, 3))
    scipy.io.savemat(tmp_path / "f.mat", {"row": a[None, :], "col": a[:, None], "c": cell, "s": structs, "m": m,
                                          "data": {"trials": cell}})
    path = tmp_path / "f.mat"
    for var in ("row", "col"):
        (r,) = read_recordings(path, var)
        assert np.array_equal(r.to_array()[:, 0], a)
    c = read_recordings(path, "c")
    assert [r.length for r in c] == [40, 55] and np.array_equal(c[1].to_array()[:, 0], b)
    nested = read_recordings(path, "data.trials")
    assert [r.var for r in nested] == ["data.trials{1}", "data.trials{2}"] and nested[1].length == 55
    s = read_recordings(path, "s.x")
    assert [r.var for r in s] == ["s(1).x", "s(2).x"] and np.array_equal(s[1].to_array()[:, 0], b)
    (multi,) = read_recordings(path, "m")
    assert multi.channels == 3 and np.array_equal(multi.to_array(), m)
    cols = read_recordings(path, "m", orientation="columns")
    assert len(cols) == 3 and np.array_equal(cols[2].to_array()[:, 0], m[:, 2])
    rows = read_recordings(path, "m", orientation="rows")
    assert len(rows) == 30 and np.array_equal(rows[4].to_array()[:, 0], m[4])


def test_cut_signals_are_not_taken_for_a_recording(tmp_path):
    scipy.io.savemat(tmp_path / "cut.mat", {"signals": np.zeros((100, 200)), "cube": np.zeros((4, 5, 6))})
    with pytest.raises(DataError, match=r"looks like 100 cut signals of 200 points, not a recording"):
        read_recordings(tmp_path / "cut.mat", "signals")
    with pytest.raises(DataError, match=r"cut signals .* not a recording"):
        read_recordings(tmp_path / "cut.mat", "cube")


def test_bad_window_and_hop():
    from sigae.data.segments import check_recordings

    with pytest.raises(DataError, match=r"recording 1: 20 points, shorter than the window of 32 points"):
        check_recordings([from_array(np.zeros(20), "recording 1")], 32, 1)
    with pytest.raises(ConfigError, match="^hop: must be a whole number >= 1"):
        sliding_windows(np.zeros(20), 4, 0)
    with pytest.raises(ConfigError, match="^window: must be a whole number >= 2"):
        sliding_windows(np.zeros(20), 1, 1)


# ---------------------------------------------------------------------------- with a model
@pytest.fixture(scope="module")
def windowed_model():
    from sigae import SignalAutoencoder

    t = np.arange(3000)
    x = np.sin(2 * np.pi * t / 40) + 0.05 * np.random.default_rng(5).standard_normal(3000)
    model = SignalAutoencoder(encoder="conv", filters=(8, 4), kernel_sizes=(3, 3), pool_sizes=(2, 2), latent_dim=4,
                              decoder="mirror")
    model.fit_recordings(x, 32, 2, epochs=2, batch_size=32, seed=0, verbose=0, log=lambda *a: None)
    return model, x


def test_score_recording_equals_hand_computation(windowed_model, monkeypatch):
    model, x = windowed_model
    y = x[:300].copy()
    y[150:160] += 3.0
    result = score_recording(model, y, hop=5)
    windows, starts = sliding_windows(y, 32, 5)
    rec = model.reconstruct(windows)[:, :, None]
    norm = model.normalizer
    errors = np.square(norm.transform(rec) - norm.transform(windows))[:, :, 0]
    hand = np.array([np.mean([errors[i, t - s] for i, s in enumerate(starts) if s <= t < s + 32])
                     for t in range(len(y))])
    # float32 network: the hand path reconstructs in original units and normalizes again
    np.testing.assert_allclose(result.point_score, hand, rtol=1e-4, atol=1e-6)
    assert np.array_equal(result.window_start, starts)
    np.testing.assert_allclose(result.window_score, errors.mean(axis=1), rtol=1e-4, atol=1e-6)
    assert np.array_equal(result.point_is_anomaly, result.point_score > result.threshold)
    assert result.threshold == model.windowing_["point_threshold"]["p"]
    # block by block (a block of 7 windows) gives exactly the same scores
    import sigae.estimator.recording_scores as recording_scores

    monkeypatch.setattr(recording_scores, "block_windows", lambda model, window: 7)
    small = score_recording(model, y, hop=5)
    assert np.array_equal(small.point_score, result.point_score)
    assert small.events == result.events


def test_a_spike_is_one_event_not_one_per_flagged_run(windowed_model):
    """A one-sample spike raises the error of every window holding it, so its flagged points come in many runs;
    by default (merge gap = the window) they are one event on the spike, and merge_gap=0 gives the runs."""
    model, x = windowed_model
    y = x[:1200].copy()
    y[700] += 4.0
    result = score_recording(model, y)
    runs = find_events(result.point_is_anomaly, result.point_score)

    def near(events):  # within a window of the spike
        return [e for e in events if e.stop > 700 - 32 and e.start <= 700 + 32]

    assert (result.merge_gap, result.min_length) == (32, 1)
    assert len(near(result.events)) == 1 and len(near(runs)) > 1
    (event,) = near(result.events)
    assert event.start <= 700 < event.stop and event.runs == len(near(runs)) and event.peak_at == 700
    assert event.flagged == sum(r.length for r in near(runs))
    assert score_recording(model, y, merge_gap=0).events == runs
    assert event not in score_recording(model, y, min_length=event.length + 1).events


def test_events_of_a_multichannel_recording_rank_the_channels(tmp_path):
    from sigae import SignalAutoencoder
    from sigae.data.event_tables import write_events

    t = np.arange(2500)
    rng = np.random.default_rng(3)
    x = np.column_stack([np.sin(2 * np.pi * t / 40), np.cos(2 * np.pi * t / 25), np.sin(2 * np.pi * t / 60)])
    x = x + 0.05 * rng.standard_normal(x.shape)
    model = SignalAutoencoder(filters=(8, 4), kernel_sizes=(3, 3), pool_sizes=(2, 2), latent_dim=4, decoder="mirror")
    model.fit_recordings(x[:1500], 32, 4, epochs=1, batch_size=32, seed=0, verbose=0, log=lambda *a: None)
    y = x.copy()
    y[2000:2010, 1] += 3.0  # channel 2 (0-based 1) goes wrong
    result = score_recording(model, y)
    (event,) = [e for e in result.events if e.start <= 2005 < e.stop]
    assert event.ranked_channels()[0][0] == 1 and sum(event.channel_share) == pytest.approx(1.0)
    write_events(tmp_path / "e.json", [result.events], channels=3)
    import json

    rows = json.loads((tmp_path / "e.json").read_text())["events"]
    assert [r["channels"][0]["channel"] for r in rows if r["first_sample"] <= 2006 <= r["last_sample"]] == [2]
    write_events(tmp_path / "e.csv", [result.events], channels=3)
    header = (tmp_path / "e.csv").read_text().splitlines()[0]
    assert header.endswith("runs,top_channel,share_ch1,share_ch2,share_ch3")


def test_model_of_windows_saves_and_loads_its_windowing(windowed_model, tmp_path):
    import sigae

    model, x = windowed_model
    model.save(tmp_path / "run")
    loaded = sigae.load(tmp_path / "run")
    assert loaded.windowing_ == model.windowing_
    np.testing.assert_array_equal(loaded.score_recording(x[:200]).point_score, model.score_recording(x[:200]).point_score)


def test_scoring_a_recording_with_a_model_of_cut_signals_is_refused(trained):
    model, _, _ = trained
    with pytest.raises(RunFolderError, match="trained on cut signals, not on windows"):
        score_recording(model, np.zeros(500))


@pytest.mark.parametrize("suffix", [".mat", ".h5"])
def test_large_results_are_streamed_to_v73_and_hdf5_with_the_same_values(windowed_model, tmp_path, monkeypatch,
                                                                         suffix):
    import sigae.estimator.recording_files as recording_files
    import sigae.estimator.recording_scores as recording_scores
    from sigae.data.io import load_array

    model, x = windowed_model
    y = x[1000:1700].copy()
    y[300:320] += 3.0  # an anomaly, so that there are events to write
    recs = [from_array(x[:400], "a"), from_array(y, "b")]
    small = recording_files.score_to_file(model, recs, tmp_path / f"small{suffix}", hop=3)
    monkeypatch.setattr(recording_files, "SMALL_RESULT_POINTS", 10)  # every result is now "large": written by blocks
    monkeypatch.setattr(recording_scores, "block_windows", lambda model, window: 50)
    recording_files.score_to_file(model, recs, tmp_path / f"big{suffix}", hop=3)
    if suffix == ".mat":
        assert (tmp_path / "big.mat").read_bytes()[:10] == b"MATLAB 7.3"
    for name in ("point_score", "point_is_anomaly", "point_recording", "window_start", "window_score",
                 "window_recording", "events", "recording_length", "threshold"):
        a = load_array(tmp_path / f"small{suffix}", name)
        b = load_array(tmp_path / f"big{suffix}", name)
        assert np.array_equal(a.reshape(b.shape), b), name
    assert load_array(tmp_path / f"big{suffix}", "point_score").size == 1100
    assert [len(r.events) for r in small] == [len(find_events(r.point_is_anomaly, merge_gap=32)) for r in small]
    assert sum(len(r.events) for r in small) >= 1
    assert load_array(tmp_path / f"small{suffix}", "merge_gap").item() == 32  # the window length


def test_envelope_is_the_min_and_max_of_each_span_fed_in_any_blocks():
    from sigae.estimator.recording_files import Envelope

    x = np.random.default_rng(6).standard_normal(1003)
    env = Envelope(len(x), bins=10)
    for a in range(0, len(x), 97):
        env.add(a, x[a:a + 97])
    spans = [x[a:b] for a, b in zip(env.edges[:-1], env.edges[1:])]
    assert env.edges[0] == 0 and env.edges[-1] == 1003 and len(spans) == 10
    assert env.lo.tolist() == [s.min() for s in spans] and env.hi.tolist() == [s.max() for s in spans]


def test_timeline_of_ten_million_points_is_drawn_from_envelopes(tmp_path):
    import time

    from sigae.evaluation.plots import plot_timeline
    from sigae.estimator.recording_files import Envelope

    n = 10**7
    score = np.full(n, 0.01)
    score[4_000_000:4_000_300] = 2.0
    env_s, env_f = Envelope(n), Envelope(n)
    env_s.add(0, score)
    env_f.add(0, score > 0.5)
    data = {"n": n, "edges": env_s.edges, "signal": (env_s.lo, env_s.hi), "score": (env_s.lo, env_s.hi),
            "flags": env_f.hi > 0, "labels": None, "threshold": 0.5, "events": [Event(4_000_000, 4_000_300, 2.0)],
            "fs": None, "window": 128, "hop": 1, "channels": 1}
    assert len(env_s.lo) == 2000  # one span per pixel column, whatever n
    start = time.perf_counter()
    plot_timeline(data, tmp_path / "t.png")
    assert time.perf_counter() - start < 30  # generous on a loaded machine; about 1 s alone
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hop_larger_than_the_window_is_refused_before_any_work():
    """Points between windows would get no score: a clear error, not a crash after training."""
    from sigae.data.windows import check_window

    from sigae.errors import command_line_words

    with pytest.raises(ConfigError, match=r"^hop: 200 is larger than the window of 128 points.*choose hop=128 or"):
        check_window(128, 200)
    with command_line_words(), pytest.raises(ConfigError, match=r"^--hop: 200 is larger .*choose --hop 128 or"):
        check_window(128, 200)
    check_window(128, 128)  # every point still covered


def test_figures_number_samples_from_1_and_say_so(tmp_path, monkeypatch):
    """Files and messages give samples 1-based; the figures count the same way and mark it."""
    import sigae.evaluation.plots as plots
    from sigae.estimator.recording_files import Envelope

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    plots.plot_reconstructions(np.zeros((2, 50)), np.zeros((2, 50)), tmp_path / "r.png")
    ax = figures[-1].axes[0]
    assert ax.get_title(loc="left") == "signal 1 (1-based)" and ax.lines[0].get_xdata()[0] == 1
    assert figures[-1].axes[-2].get_xlabel() == "sample (1-based)"
    n = 1000
    env = Envelope(n, bins=100)
    env.add(0, np.zeros(n))
    data = {"n": n, "edges": env.edges, "signal": (env.lo, env.hi), "score": (env.lo + 1, env.hi + 1),
            "flags": env.hi > 0, "labels": None, "threshold": 0.5, "events": [], "fs": None, "window": 32, "hop": 1,
            "channels": 1}
    plots.plot_timeline(data, tmp_path / "t.png")
    bottom = figures[-1].axes[1]
    assert bottom.get_xlabel() == "sample (1-based)" and bottom.get_xlim()[0] == 1
    plots.plot_timeline({**data, "fs": 100.0}, tmp_path / "t2.png")
    assert figures[-1].axes[1].get_xlabel() == "time (s, sample 1 at 0 s)" and figures[-1].axes[1].get_xlim()[0] == 0


def test_no_training_point_is_above_the_max_over_training_points(windowed_model):
    """``threshold="max"`` is the maximum point score of the training recording as score_recording scores it
    (whole, so points near the split between training and validation parts see every window that covers them):
    scoring that recording flags nothing, and the largest score equals the threshold exactly."""
    model, x = windowed_model
    result = model.score_recording(x, model.windowing_["hop"], threshold="max")  # the hop it was trained with
    assert not result.point_is_anomaly.any() and not result.events
    assert result.point_score.max() == model.windowing_["point_threshold"]["max"]


def test_timeline_of_four_channels_labels_each_event_with_its_channel(tmp_path):
    """An anomaly injected in channel 3 of 4: every event on it is labelled "ch 3" in the timeline, and the
    figure gets a strip of each channel's score."""
    from sigae import SignalAutoencoder
    from sigae.evaluation.plots import plot_timeline
    from sigae.data.event_tables import event_labels
    from sigae.estimator.recording_files import timeline_data

    t = np.arange(3000)
    rng = np.random.default_rng(7)
    x = np.column_stack([np.sin(2 * np.pi * t / p) for p in (40, 25, 60, 33)])
    x = x + 0.05 * rng.standard_normal(x.shape)
    model = SignalAutoencoder(filters=(8, 4), kernel_sizes=(3, 3), pool_sizes=(2, 2), latent_dim=4, decoder="mirror")
    model.fit_recordings(x[:1500], 32, 4, epochs=1, batch_size=32, seed=0, verbose=0, log=lambda *a: None)
    y = x.copy()
    y[2000:2020, 2] += 3.0  # a level shift in channel 3 (0-based 2)
    y[2600, 2] -= 5.0  # and a spike
    labels = np.zeros(3000)
    labels[2000:2020] = labels[2600] = 1
    data = timeline_data(model, y, labels=labels)
    assert data["channel_score"].shape == (4, len(data["edges"]) - 1)
    on_anomaly = [lab for lab in data["event_labels"] if lab["start"] <= 2019 and lab["stop"] > 2000
                  or lab["start"] <= 2600 < lab["stop"]]
    assert len(on_anomaly) == 2
    assert [lab["channel"] for lab in on_anomaly] == [3, 3] and all(lab["share"] > 0.5 for lab in on_anomaly)
    assert on_anomaly[0]["text"] == f"ch 3 {on_anomaly[0]['share']:.0%}"
    # the labels are the events' top channels, one per event (the highest-peaked ones when there are many)
    events = data["events"]
    assert [lab["channel"] for lab in event_labels(events)] == [e.ranked_channels()[0][0] + 1 for e in events]
    assert len(event_labels(events * 3, most=5)) == 5 and event_labels([Event(0, 5, 1.0)]) == []
    path = plot_timeline(data, tmp_path / "timeline.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["signal_channel"] == 3  # the top panel shows the channel of the highest event
