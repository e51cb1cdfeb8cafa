"""Long recordings on the command line: train --window, score per point, encode per window, timeline, many files."""

import json

import h5py
import numpy as np
import pytest
import scipy.io

from sigae import DataError
from sigae.cli import main

FLAGS = ["--epochs", "2", "--batch-size", "32", "--latent-dim", "4", "--decoder", "mirror", "--seed", "0", "--quiet"]
SAY = FLAGS[:-1]  # without --quiet: the notes are what these tests read


def run_cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors (one line too: see sigae.cli.options.Parser)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def recording(n, seed=0, anomalies=()):
    """Sine of period 40 plus noise; *anomalies*: (start, stop) spans replaced by a level shift + spike."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.sin(2 * np.pi * t / 40) + 0.05 * rng.standard_normal(n)
    labels = np.zeros(n, dtype=np.uint8)
    for a, b in anomalies:
        x[a:b] = 2.5
        labels[a:b] = 1
    return x, labels


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The issue's example, small: train on the normal part of a series, with --window 32 --hop 2."""
    folder = tmp_path_factory.mktemp("rec")
    x, labels = recording(2000, anomalies=[(1200, 1215), (1700, 1703)])
    scipy.io.savemat(folder / "train.mat", {"series": x[:800, None]})
    scipy.io.savemat(folder / "whole.mat", {"series": x[:, None], "is_anomaly": labels[:, None]})
    out = folder / "run"
    code = main(["train", str(folder / "train.mat"), "--var", "series", "--window", "32", "--hop", "2",
                 "--fs", "100", "--out", str(out), *FLAGS])
    assert code == 0
    return folder, out


def test_train_score_with_labels_as_in_the_issue(run, capsys):
    folder, out = run
    windowing = json.loads((out / "windowing.json").read_text())
    assert (windowing["window"], windowing["hop"], windowing["fs"]) == (32, 2, 100)
    assert windowing["segments"] == {"train": [[0, 0, 640]], "validation": [[0, 640, 800]]}
    scores = folder / "scores.mat"
    code, stdout, err = run_cli(capsys, "score", out, folder / "whole.mat", "--var", "series", "-o", scores,
                                "--labels", "is_anomaly")
    assert code == 0, err
    d = scipy.io.loadmat(scores)
    assert d["point_score"].shape == (2000, 1) and d["point_is_anomaly"].shape == (2000, 1)
    assert d["window_start"].ravel().tolist() == list(range(1, 1970))  # hop 1: every window, 1-based
    np.testing.assert_array_equal(d["point_is_anomaly"].ravel(), d["point_score"].ravel() > d["threshold"].item())
    events = d["events"]
    assert events.shape[1] == 8
    assert str(d["events_columns"][0]) == ("recording, first_sample, last_sample, peak_score, first_s, last_s, "
                                           "peak_sample, peak_s")
    assert d["merge_gap"].item() == 32 and d["min_length"].item() == 1  # the window length by default
    flagged = d["point_is_anomaly"].ravel().astype(bool)
    score = d["point_score"].ravel()
    for _, first, last, peak, first_s, last_s, peak_sample, peak_s in events:
        # an event starts and ends on flagged points, no flagged point within 32 samples outside it
        first, last = int(first), int(last)
        assert flagged[first - 1] and flagged[last - 1]
        assert not flagged[max(0, first - 33):first - 1].any() and not flagged[last:last + 32].any()
        assert peak == score[first - 1:last].max() == score[int(peak_sample) - 1]
        assert (first_s, last_s, peak_s) == ((first - 1) / 100, (last - 1) / 100, (peak_sample - 1) / 100)
    assert "per-point AUC-ROC" in stdout and "AUC-PR" in stdout and "event precision" in stdout
    assert "(1-based)" in stdout


def test_score_hop_and_encode_per_window(run, capsys):
    folder, out = run
    code, stdout, err = run_cli(capsys, "score", out, folder / "whole.mat", "--var", "series", "-o",
                                folder / "s5.h5", "--hop", "5")
    assert code == 0, err
    with h5py.File(folder / "s5.h5") as f:
        assert f["point_score"].shape == (2000,)
        assert f["window_start"][:].tolist() == list(range(1, 1967, 5)) + [1969]
    code, stdout, err = run_cli(capsys, "encode", out, folder / "whole.mat", "--var", "series", "-o",
                                folder / "codes.mat", "--hop", "10")
    assert code == 0, err
    d = scipy.io.loadmat(folder / "codes.mat")
    assert d["latent"].shape == (198, 4) and d["window_start"].ravel()[-1] == 1969
    assert set(d["window_recording"].ravel().tolist()) == {1}


def test_one_event_per_anomaly_improves_event_precision(run, capsys, tmp_path):
    """Flagged runs a few samples apart are one event: event precision with merging is at least that of the
    runs, which are printed beside it; --merge-gap 0 gives the runs; --events writes the table."""
    import csv
    import re

    folder, out = run
    x, labels = recording(2000, seed=4)
    x[1500] += 4.0  # a one-sample spike
    labels[1500] = 1
    x[900:930] += 2.0  # a level shift
    labels[900:930] = 1
    scipy.io.savemat(tmp_path / "y.mat", {"series": x[:, None], "is_anomaly": labels[:, None]})
    code, stdout, err = run_cli(capsys, "score", out, tmp_path / "y.mat", "--var", "series", "-o",
                                tmp_path / "s.mat", "--labels", "is_anomaly", "--events", tmp_path / "events.csv")
    assert code == 0, err
    merged = re.search(r"event precision ([\d.]+), event recall ([\d.]+) \((\d+) predicted", stdout)
    runs = re.search(r"unmerged, each flagged run an event: event precision ([\d.]+), event recall ([\d.]+) "
                     r"\((\d+) run", stdout)
    assert merged and runs, stdout
    assert float(merged[1]) >= float(runs[1]) and float(merged[2]) == float(runs[2]) == 1.0
    assert int(merged[3]) < int(runs[3])
    rows = list(csv.DictReader(open(tmp_path / "events.csv")))
    assert len(rows) == int(merged[3])
    assert [r for r in rows if int(r["first_sample"]) <= 1501 <= int(r["last_sample"])][0]["peak_sample"] == "1501"
    assert {"first_s", "last_s", "peak_s", "runs", "flagged"} <= set(rows[0])
    code, stdout, err = run_cli(capsys, "score", out, tmp_path / "y.mat", "--var", "series", "-o",
                                tmp_path / "s0.mat", "--merge-gap", "0", "--events", tmp_path / "runs.json")
    assert code == 0, err
    document = json.loads((tmp_path / "runs.json").read_text())
    assert document["merge_gap"] == 0 and len(document["events"]) == int(runs[3])
    assert "1-based" in document["samples"]
    code, stdout, err = run_cli(capsys, "score", out, tmp_path / "y.mat", "--var", "series", "-o",
                                tmp_path / "s1.mat", "--merge-gap", "0.32s", "--min-length", "0.05s")
    assert code == 0, err
    d = scipy.io.loadmat(tmp_path / "s1.mat")
    assert (d["merge_gap"].item(), d["min_length"].item()) == (32, 5)  # fs 100 Hz
    assert (d["events"][:, 2] - d["events"][:, 1] + 1 >= 5).all()


def test_event_options_bad_input(run, tmp_path, capsys, trained):
    folder, out = run
    err = bad(capsys, tmp_path, "score", out, folder / "whole.mat", "--var", "series", "-o", tmp_path / "s.mat",
              "--events", tmp_path / "e.txt")
    assert "--events" in err and "use .csv or .json" in err
    err = bad(capsys, tmp_path, "score", out, folder / "whole.mat", "--var", "series", "-o", tmp_path / "s.mat",
              "--min-length", "0")
    assert "--min-length: must be a whole number of samples >= 1" in err
    err = bad(capsys, tmp_path, "score", out, folder / "whole.mat", "--var", "series", "-o", tmp_path / "s.mat",
              "--merge-gap", "ten")
    assert "--merge-gap" in err and "invalid length" in err
    (tmp_path / "e.csv").write_text("precious")
    err = bad(capsys, tmp_path, "score", out, folder / "whole.mat", "--var", "series", "-o", tmp_path / "s.mat",
              "--events", tmp_path / "e.csv")
    assert "e.csv: already exists; pass --overwrite" in err and (tmp_path / "e.csv").read_text() == "precious"
    _, cut_run, x = trained
    scipy.io.savemat(tmp_path / "cut.mat", {"signals": x[:5]})
    err = bad(capsys, tmp_path, "score", cut_run, tmp_path / "cut.mat", "-o", tmp_path / "s.mat", "--merge-gap", "3")
    assert "--merge-gap" in err and "cut signals" in err


def test_merge_gap_in_seconds_needs_the_runs_fs(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "a.mat", {"x": recording(600)[0][:, None]})
    code, _, err = run_cli(capsys, "train", tmp_path / "a.mat", "--window", "32", "--hop", "4", "--out",
                           tmp_path / "run", *FLAGS)
    assert code == 0, err
    err = bad(capsys, tmp_path, "score", tmp_path / "run", tmp_path / "a.mat", "-o", tmp_path / "s.mat",
              "--merge-gap", "0.5s")
    assert "--merge-gap 0.5s: seconds need the sampling rate" in err and "--fs" in err


def test_csv_scores_have_a_header_naming_the_columns(run, capsys, tmp_path):
    folder, out = run
    code, _, err = run_cli(capsys, "score", out, folder / "whole.mat", "--var", "series", "-o", tmp_path / "p.csv")
    assert code == 0, err
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "point_score,point_is_anomaly" and len(lines) == 2001  # line k + 1 is sample k
    table = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    assert set(table[:, 1].tolist()) <= {0.0, 1.0} and lines[1].split(",")[1] in ("0", "1")


def test_timeline_figure(run, capsys):
    folder, out = run
    code, stdout, err = run_cli(capsys, "plot", out, folder / "whole.mat", "--var", "series", "--labels",
                                "is_anomaly", "--out", folder / "fig")
    assert code == 0, err
    assert (folder / "fig" / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_many_files_one_output_each(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for k, n in enumerate((500, 650, 420)):
        scipy.io.savemat(data / f"rec{k}.mat", {"x": recording(n, seed=k)[0][:, None], "rpm": 1797})
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "train", data, "--var", "x", "--window", "32", "--hop", "4", "--out", out,
                                *FLAGS)
    assert code == 0, err
    assert json.loads((out / "windowing.json").read_text())["recordings"][1]["length"] == 650
    code, stdout, err = run_cli(capsys, "score", out, data / "rec0.mat", data / "rec2.mat", "--var", "x", "-o",
                                f"{tmp_path}/scores/", "--hop", "4")
    assert code == 0, err
    assert scipy.io.loadmat(tmp_path / "scores" / "rec2.mat")["point_score"].shape == (420, 1)
    code, stdout, err = run_cli(capsys, "encode", out, data, "--var", "x", "-o", tmp_path / "codes_{stem}.h5",
                                "--hop", "8")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.glob("codes_*.h5")) == ["codes_rec0.h5", "codes_rec1.h5", "codes_rec2.h5"]


def test_cell_of_recordings_scored_into_one_file(run, tmp_path, capsys):
    _, out = run
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = recording(300)[0][:, None], recording(450, seed=1)[0][:, None]
    scipy.io.savemat(tmp_path / "c.mat", {"runs": cell})
    code, stdout, err = run_cli(capsys, "score", out, tmp_path / "c.mat", "--var", "runs", "-o", tmp_path / "s.mat")
    assert code == 0, err
    d = scipy.io.loadmat(tmp_path / "s.mat")
    assert d["point_score"].shape == (750, 1) and d["recording_length"].ravel().tolist() == [300, 450]
    assert np.bincount(d["point_recording"].ravel()).tolist() == [0, 300, 450]


def test_streamed_v73_training(tmp_path, capsys):
    from sigae.data.results import write_mat73_header

    path = tmp_path / "big.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("x", data=recording(1500)[0][None, :]).attrs["MATLAB_class"] = np.bytes_("double")
    write_mat73_header(path)
    code, stdout, err = run_cli(capsys, "train", path, "--var", "x", "--window", "32", "--hop", "3", "--stream",
                                "--out", tmp_path / "run", *SAY)
    assert code == 0, err
    assert "read block by block" in stdout


# ---------------------------------------------------------------------------- bad input: one line, exit 2, nothing written
def bad(capsys, tmp_path, *argv):
    before = set(tmp_path.rglob("*"))
    code, stdout, err = run_cli(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert set(tmp_path.rglob("*")) == before  # nothing written
    return err


def test_window_longer_than_a_recording_names_it(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "a.mat", {"x": np.zeros((500, 1))})
    scipy.io.savemat(tmp_path / "b.mat", {"x": np.zeros((90, 1))})
    err = bad(capsys, tmp_path, "train", tmp_path / "a.mat", tmp_path / "b.mat", "--var", "x", "--window", "100",
              "--out", tmp_path / "run", *FLAGS)
    assert "b.mat ('x'): 90 points, shorter than the window of 100 points" in err


def test_hop_below_1(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "a.mat", {"x": np.zeros((500, 1))})
    err = bad(capsys, tmp_path, "train", tmp_path / "a.mat", "--window", "32", "--hop", "0", *FLAGS)
    assert "--hop" in err and ">= 1" in err


def test_window_on_cut_signals(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "cut.mat", {"signals": np.zeros((100, 128)), "labels": np.zeros((100, 1))})
    err = bad(capsys, tmp_path, "train", tmp_path / "cut.mat", "--window", "32", "--out", tmp_path / "run", *FLAGS)
    assert "looks like 100 cut signals of 128 points, not a recording" in err and "without --window" in err


def test_missing_variable_and_other_channels_are_refused_before_training(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "a.mat", {"x": np.zeros((500, 1))})
    scipy.io.savemat(tmp_path / "b.mat", {"y": np.zeros((500, 1))})
    scipy.io.savemat(tmp_path / "c.mat", {"x": np.zeros((500, 2))})
    err = bad(capsys, tmp_path, "train", tmp_path / "a.mat", tmp_path / "b.mat", "--var", "x", "--window", "32",
              "--out", tmp_path / "run", *FLAGS)
    assert "b.mat: no variable 'x'" in err
    err = bad(capsys, tmp_path, "train", tmp_path / "a.mat", tmp_path / "c.mat", "--var", "x", "--window", "32",
              "--out", tmp_path / "run", *FLAGS)
    assert "c.mat ('x'): 2 channel(s)" in err


def test_many_files_of_cut_signals_with_another_length(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "a.mat", {"signals": np.zeros((20, 64))})
    scipy.io.savemat(tmp_path / "b.mat", {"signals": np.zeros((20, 65))})
    err = bad(capsys, tmp_path, "train", tmp_path / "a.mat", tmp_path / "b.mat", "--out", tmp_path / "run", *FLAGS)
    assert "b.mat: signals of 65 points x 1 channel(s), but" in err


def test_windowed_model_needs_a_recording(run, tmp_path, capsys):
    _, out = run
    code, _, err = run_cli(capsys, "score", out, "-o", tmp_path / "s.mat")
    assert code == 2 and "FILE" in err and not (tmp_path / "s.mat").exists()
    scipy.io.savemat(tmp_path / "cut.mat", {"signals": np.zeros((100, 128))})
    err = bad(capsys, tmp_path, "score", out, tmp_path / "cut.mat", "-o", tmp_path / "s.mat")
    assert "not a recording" in err
    scipy.io.savemat(tmp_path / "short.mat", {"x": np.zeros((20, 1))})
    err = bad(capsys, tmp_path, "score", out, tmp_path / "short.mat", "-o", tmp_path / "s.mat")
    assert "20 points, shorter than the window of 32" in err


def test_several_inputs_need_a_folder_or_pattern(run, tmp_path, capsys):
    folder, out = run
    err = bad(capsys, tmp_path, "score", out, folder / "whole.mat", folder / "train.mat", "--var", "series",
              "-o", tmp_path / "s.mat")
    assert "need one output each" in err


def test_hop_without_window_is_refused(tmp_path, capsys, signals_mat):
    err = bad(capsys, tmp_path, "train", signals_mat, "--hop", "2", "--out", tmp_path / "run", *FLAGS)
    assert "--hop/--fs: only with --window" in err


def test_many_files_of_cut_signals_are_scored_one_output_each(tmp_path, capsys, trained):
    _, run, x = trained
    scipy.io.savemat(tmp_path / "a.mat", {"signals": x[:10]})
    scipy.io.savemat(tmp_path / "b.mat", {"signals": x[10:30]})
    code, _, err = run_cli(capsys, "score", run, tmp_path / "a.mat", tmp_path / "b.mat", "-o", f"{tmp_path}/out/")
    assert code == 0, err
    assert scipy.io.loadmat(tmp_path / "out" / "b.mat")["score"].shape == (20, 1)
    scipy.io.savemat(tmp_path / "c.mat", {"signals": np.zeros((5, 50))})  # another length: refused before writing
    err = bad(capsys, tmp_path, "score", run, tmp_path / "a.mat", tmp_path / "c.mat", "-o", f"{tmp_path}/out2/")
    assert "c.mat" in err


def test_window_auto_picks_the_period_and_says_so(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "a.mat", {"x": recording(1500)[0][:, None]})
    code, stdout, err = run_cli(capsys, "train", tmp_path / "a.mat", "--window", "auto", "--hop", "4", "--out",
                                tmp_path / "run", *SAY)
    assert code == 0, err
    assert "--window auto: 40 points (dominant period 40 points" in stdout
    assert json.loads((tmp_path / "run" / "windowing.json").read_text())["window"] == 40


def test_many_files_of_cut_signals_streamed(tmp_path, capsys, signals):
    import sigae

    np.save(tmp_path / "a.npy", signals[:30])
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["signals"] = signals[30:64]
    code, stdout, err = run_cli(capsys, "train", tmp_path / "a.npy", tmp_path / "b.h5", "--stream", "--out",
                                tmp_path / "run", *SAY)
    assert code == 0, err
    assert stdout.count("read block by block") == 2
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_signals"] == 64
    assert sigae.load(tmp_path / "run").config.input_length == 64


def test_labels_variable_is_not_taken_for_the_recording(tmp_path):
    """Without --var, a file holding the recording and its --labels vector names the recording by itself."""
    from sigae.data.recordings import read_recordings

    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal(500), np.zeros(500, dtype=np.uint8)
    scipy.io.savemat(tmp_path / "rec.mat", {"x": x[:, None], "labels": labels[:, None]})
    with pytest.raises(DataError, match=r"candidates: (x, labels|labels, x)"):
        read_recordings(tmp_path / "rec.mat")
    (rec,) = read_recordings(tmp_path / "rec.mat", exclude=("labels",))
    assert rec.var == "x" and np.array_equal(rec.to_array()[:, 0], x)


def test_an_interrupted_windowed_run_promises_resume_only_when_it_can(tmp_path, capsys, monkeypatch):
    """Ctrl-C and loading the folder say how to resume a windowed run (tests/test_resume_windows.py resumes
    them); a folder from an earlier sigae, which did not record its windowing, is not promised a resume."""
    import sigae
    from sigae.cli.train import StopRequest
    from sigae import RunFolderError

    scipy.io.savemat(tmp_path / "a.mat", {"x": recording(600)[0][:, None]})
    monkeypatch.setattr(StopRequest, "install", lambda self: (lambda: True))  # Ctrl-C at the first step
    code, _, err = run_cli(capsys, "train", tmp_path / "a.mat", "--window", "32", "--hop", "4", "--out",
                           tmp_path / "run", *FLAGS)
    assert code == 130 and f"resume with: sigae-train --resume {tmp_path / 'run'}" in err, err
    with pytest.raises(RunFolderError, match=r"SignalAutoencoder\.resume_recordings\("):
        sigae.load(tmp_path / "run")
    code, _, err = run_cli(capsys, "train", "--resume", tmp_path / "run")
    assert code == 2 and "no epoch was completed" in err
    training = json.loads((tmp_path / "run" / "training.json").read_text())
    del training["source"]["windowing"]  # as an earlier sigae wrote it
    (tmp_path / "run" / "training.json").write_text(json.dumps(training))
    with pytest.raises(RunFolderError) as exc:
        sigae.load(tmp_path / "run")
    assert "cannot be resumed; train it again" in str(exc.value) and "resume(" not in str(exc.value)
    code, _, err = run_cli(capsys, "train", "--resume", tmp_path / "run")
    assert code == 2 and "cannot be resumed" in err and "--overwrite" in err


def test_a_model_of_recordings_checks_its_inputs_before_tensorflow_loads(run, tmp_path):
    import subprocess
    import sys

    folder, out = run
    for command, *argv in [("score", out, folder / "whole.mat", "--var", "nope", "-o", tmp_path / "s.mat"),
                           ("score", out, folder / "whole.mat", "--var", "series", "--labels", "nope", "-o",
                            tmp_path / "s.mat"),
                           ("score", out, folder / "whole.mat", "--var", "series", "--events", tmp_path / "e.xls",
                            "-o", tmp_path / "s.mat"),
                           ("encode", out, folder / "whole.mat", "--var", "nope", "-o", tmp_path / "c.mat"),
                           ("plot", out, folder / "whole.mat", "--var", "nope", "--out", tmp_path / "p")]:
        code = (f"import sys\nfrom sigae.cli import run\ncode = run({command!r}, {[str(a) for a in argv]!r})\n"
                "print(code, 'tensorflow' in sys.modules)")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert result.stdout.splitlines()[-1].split() == ["2", "False"], (command, argv, result.stderr)
    assert not any(tmp_path.iterdir())
