"""The command line, end to end on small synthetic files."""

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

import sigae
from sigae.cli import main

TINY_FLAGS = ["--epochs", "2", "--batch-size", "16", "--latent-dim", "4", "--seed", "0", "--quiet"]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_writes_every_output(tmp_path, signals_mat, capsys):
    out = tmp_path / "run"
    flags = [f for f in TINY_FLAGS if f != "--quiet"]
    code, stdout, err = run_cli(capsys, "train", signals_mat, "--out", out, *flags, "--lr-schedule", "cosine")
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["lr_schedule"] == "cosine"
    for name in ("model.keras", "config.json", "normalizer.json", "history.csv", "metrics.json", "threshold.json",
                 "loss.png", "reconstructions.png", "run.json"):
        assert (out / name).is_file(), name
    history = (out / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,loss,val_loss,seconds" and len(history) == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pca"]["components"] == 4 and "val_mse" in metrics["autoencoder"]
    assert "validation MSE" in stdout and f"run folder: {out}" in stdout
    for png in ("loss.png", "reconstructions.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = sigae.load(out)
    assert model.config.input_length == 64 and model.config.latent_dim == 4
    # the kept training signals were scored out of fold, and the summary says the threshold rests on them
    assert (out / "cross_fitted.npz").is_file() and model.cross_fitted_ is not None
    assert "training signals' out-of-fold scores" in stdout


def test_cross_fit_folds_option(tmp_path, signals_mat, capsys):
    off = tmp_path / "off"
    code, stdout, err = run_cli(capsys, "train", signals_mat, "--out", off, "--cross-fit-folds", "0",
                                *[f for f in TINY_FLAGS if f != "--quiet"])
    assert code == 0, err
    assert json.loads((off / "config.json").read_text())["cross_fit_folds"] == 0
    assert not (off / "cross_fitted.npz").exists() and "out-of-fold" not in stdout
    code, stdout, err = run_cli(capsys, "score", off, signals_mat, "-o", tmp_path / "off.mat")
    assert code == 0 and "out-of-fold" not in stdout
    bad = tmp_path / "bad"
    with pytest.raises(SystemExit) as exit_info:  # argparse's own exit, as for every option it rejects
        main(["train", str(signals_mat), "--out", str(bad), "--cross-fit-folds", "1", *TINY_FLAGS])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and not bad.exists()
    assert "argument --cross-fit-folds: must be 0 (off) or at least 2, got 1" in err.strip().splitlines()[-1]


def test_score_says_which_signals_were_scored_out_of_fold(tmp_path, signals_mat, capsys):
    run = tmp_path / "run"
    assert run_cli(capsys, "train", signals_mat, "--out", run, *TINY_FLAGS)[0] == 0
    model = sigae.load(run)
    kept = len(np.setdiff1d(model.train_index_, model.screened_index_))
    code, stdout, err = run_cli(capsys, "score", run, signals_mat, "-o", tmp_path / "scores.mat")
    assert code == 0, err
    assert f"{kept} of these signals are the model's training signals" in stdout
    stored = scipy.io.loadmat(tmp_path / "scores.mat")["score"].ravel()
    x = scipy.io.loadmat(signals_mat)["signals"]
    np.testing.assert_array_equal(stored, model.score(x).scores)


def test_train_refuses_non_empty_out_without_overwrite(tmp_path, signals_mat, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    code, _, err = run_cli(capsys, "train", signals_mat, "--out", out, *TINY_FLAGS)
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (out / "keep.txt").read_text() == "precious"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("precious")
    code, _, err = run_cli(capsys, "train", signals_mat, "--out", a_file, "--overwrite", *TINY_FLAGS)
    assert code == 2 and "is a file, not a folder" in err and a_file.read_text() == "precious"


def _mat(tmp_path, name, **variables):
    path = tmp_path / name
    scipy.io.savemat(path, variables)
    return path


@pytest.mark.parametrize("case,variables,needle", [
    ("nan", {"x": np.where(np.eye(4, 64) > 0, np.nan, 1.0)}, "NaN"),
    ("inf", {"x": np.full((4, 64), np.inf)}, "NaN/Inf"),
    ("complex", {"x": np.ones((4, 64)) * 1j}, "complex"),
    ("empty", {"x": np.zeros((0, 0))}, ""),
    ("single", {"x": np.ones((1, 64))}, "signal"),
    ("short", {"x": np.random.default_rng(0).normal(size=(20, 6))}, "too short"),
    ("two_candidates", {"a": np.ones((4, 64)), "b": np.ones((5, 64))}, "--var"),
])
def test_bad_inputs_give_one_line_and_exit_2(tmp_path, capsys, case, variables, needle):
    path = _mat(tmp_path, f"{case}.mat", **variables)
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", path, "--out", out, *TINY_FLAGS)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("sigae-train: error:"), err
    assert needle.lower() in lines[0].lower()
    assert not out.exists()


def test_a_file_or_an_empty_folder_given_as_the_run_is_named_as_such(tmp_path, signals_mat, capsys):
    """Before TensorFlow loads: the run argument is a file, a missing path or a folder sigae-train never wrote."""
    (tmp_path / "empty").mkdir()
    for run, words in ((signals_mat, "not a run folder (a file, not a folder)"),
                       (tmp_path / "gone", "not a run folder (no such directory)"),
                       (tmp_path / "empty", "not a run folder (it holds none of model.keras")):
        code, out, err = run_cli(capsys, "score", run, signals_mat, "-o", tmp_path / "s.csv")
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and words in err, err
        assert not (tmp_path / "s.csv").exists()


def test_missing_file_and_bad_option(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", tmp_path / "nope.mat", "--out", tmp_path / "r")
    assert code == 2 and "nope.mat" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main(["train", "x.mat", "--epochs", "zero"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_columns_orientation(tmp_path, signals, capsys):
    path = _mat(tmp_path, "cols.mat", signals=signals.T)
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", path, "--orientation", "columns", "--out", out, *TINY_FLAGS)
    assert code == 0, err
    assert sigae.load(out).config.input_length == signals.shape[1]


def test_entry_point_help_is_fast_and_has_example():
    for cmd in ("sigae-train", "sigae-encode", "sigae-decode", "sigae-score", "sigae-plot", "sigae-info"):
        result = subprocess.run([cmd, "--help"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and "example:" in result.stdout
    # --help must not import TensorFlow (that is what keeps it instant).
    code = "import sys; from sigae import cli; cli.main(['train','--help']) if False else None; " \
           "print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "False"


def _refused_before_tensorflow(command, *argv):
    """Run sigae-COMMAND in a fresh interpreter: ``(exit code, stderr, whether TensorFlow was imported)``."""
    code = (f"import sys\nfrom sigae.cli import run\ncode = run({command!r}, {[str(a) for a in argv]!r})\n"
            "print(code, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    exit_code, imported = result.stdout.splitlines()[-1].split()
    return int(exit_code), result.stderr, imported == "True"


def test_wrong_inputs_are_refused_before_tensorflow_loads(tmp_path, trained, signals_mat):
    """A wrong file, variable or option costs no TensorFlow start-up (5-10 s): every command checks its inputs
    against the run folder (config.json, windowing.json) first."""
    _, run, x = trained
    scipy.io.savemat(tmp_path / "codes.mat", {"latent": np.zeros((3, 7))})
    scipy.io.savemat(tmp_path / "short.mat", {"x": np.zeros((4, 10))})
    cases = [
        ("train", signals_mat, "--var", "nope", "--out", tmp_path / "r"),
        ("score", run, signals_mat, "--var", "nope", "-o", tmp_path / "s.mat"),
        ("score", run, signals_mat, "--threshold", "p200", "-o", tmp_path / "s.mat"),
        ("score", run, signals_mat, "-o", tmp_path / "s.mat", "--merge-gap", "3"),
        ("encode", run, tmp_path / "short.mat", "-o", tmp_path / "c.mat"),
        ("decode", run, tmp_path / "codes.mat", "-o", tmp_path / "d.mat"),
        ("plot", run, signals_mat, "--var", "nope", "--out", tmp_path / "p"),
        ("export", run, "--format", "tflite", "--data", signals_mat, "--var", "nope", "-o", tmp_path / "e.tflite"),
        ("export", run, "--format", "tflite", "--data", signals_mat, "--input-offset", "1,2", "-o", tmp_path / "e"),
        ("info", tmp_path / "not-a-run"),
    ]
    for command, *argv in cases:
        code, err, imported = _refused_before_tensorflow(command, *argv)
        assert code == 2 and len(err.strip().splitlines()) == 1, (command, err)
        assert not imported, (command, argv)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.mat", "short.mat", "signals.mat"]  # none written


def test_import_sigae_keeps_tensorflows_start_up_lines_off_stderr():
    """Python users get the quiet start-up the commands have, unless they chose TF_CPP_MIN_LOG_LEVEL."""
    import os

    code = ("import os, sigae, tensorflow as tf\n"
            "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], float(tf.reduce_sum(tf.ones(3))))")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0 and result.stdout.split() == ["3", "3.0"]
    assert result.stderr == ""
    chosen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**env, "TF_CPP_MIN_LOG_LEVEL": "1"})
    assert chosen.stdout.split() == ["1", "3.0"]  # the user's choice is kept, and TensorFlow speaks as it says


def test_quiet_prints_only_errors_and_what_was_asked_for(tmp_path, signals_mat, capsys):
    """--quiet: no notes, no progress, no summary or run-folder listing; --labels' probe result is still said."""
    code, stdout, err = run_cli(capsys, "train", signals_mat, "--out", tmp_path / "a", *TINY_FLAGS)
    assert code == 0 and stdout == "" and err == ""
    scipy.io.savemat(tmp_path / "rec.mat", {"x": np.sin(np.arange(800) / 5.0)[:, None]})
    code, stdout, err = run_cli(capsys, "train", tmp_path / "rec.mat", "--window", "auto", "--out", tmp_path / "b",
                                *TINY_FLAGS)
    assert code == 0 and stdout == "" and err == ""
    code, stdout, err = run_cli(capsys, "train", signals_mat, signals_mat, "--out", tmp_path / "c", *TINY_FLAGS)
    assert code == 0 and stdout == ""
    pytest.importorskip("sklearn")
    code, stdout, err = run_cli(capsys, "train", signals_mat, "--labels", "labels", "--out", tmp_path / "d",
                                *TINY_FLAGS)
    assert code == 0 and stdout.startswith("linear probe") and len(stdout.splitlines()) == 1
