"""encode / decode / score / plot / info: files read back with scipy, numpy and h5py match the API."""

import struct

import h5py
import numpy as np
import pytest
import scipy.io

from sigae.cli import main
from sigae.evaluation.scoring import conformal_quantile, reconstruction_error


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.fixture
def data_file(tmp_path, trained):
    _, _, x = trained
    path = tmp_path / "x.mat"
    labels = np.zeros(len(x), dtype=np.uint8)
    labels[:5] = 1
    scipy.io.savemat(path, {"signals": x, "labels": labels})
    return path


def _read(path, name):
    if path.suffix == ".mat":
        return scipy.io.loadmat(path)[name]
    if path.suffix == ".npz":
        return np.load(path)[name]
    if path.suffix == ".csv":
        return np.loadtxt(path, delimiter=",", ndmin=2)
    with h5py.File(path, "r") as f:
        return f[name][()]


@pytest.mark.parametrize("ext", [".mat", ".npz", ".csv", ".h5"])
def test_encode_file_matches_api(tmp_path, trained, data_file, capsys, ext):
    model, run, x = trained
    out = tmp_path / f"features{ext}"
    run_cli(capsys, "encode", run, data_file, "-o", out)
    latent = _read(out, "latent")
    # float32 codes are stored losslessly (csv with 9 significant digits), so equality is exact.
    assert np.array_equal(latent.astype(np.float32), model.encode(x))
    if ext == ".mat":
        stored = scipy.io.loadmat(out)
        assert {"source_file", "source_variable", "run_folder", "config_hash"} <= set(stored)
        assert str(stored["config_hash"][0]) == model.config.hash()


def test_decode_of_encoded_file_matches_reconstruct(tmp_path, trained, data_file, capsys):
    model, run, x = trained
    features, rebuilt = tmp_path / "features.mat", tmp_path / "rebuilt.mat"
    run_cli(capsys, "encode", run, data_file, "-o", features)
    run_cli(capsys, "decode", run, features, "-o", rebuilt)
    signals = scipy.io.loadmat(rebuilt)["signals"]
    # Same codes, same decoder call path; tolerance only for any float32 <-> float64 storage step.
    np.testing.assert_allclose(signals, model.reconstruct(x), rtol=0, atol=1e-6)


def test_score_file_matches_api_and_reports_labels(tmp_path, trained, data_file, capsys):
    model, run, x = trained
    out = tmp_path / "scores.mat"
    stdout = run_cli(capsys, "score", run, data_file, "-o", out, "--per-point", "--labels", "labels")
    stored = scipy.io.loadmat(out)
    result = model.score(x, per_point=True)
    np.testing.assert_allclose(stored["score"].ravel(), result.scores, rtol=1e-12)
    assert np.array_equal(stored["is_anomaly"].ravel().astype(bool), result.is_anomaly)
    assert float(stored["threshold"].squeeze()) == pytest.approx(model.threshold_["p"])
    assert stored["per_point_error"].shape == x.shape
    assert "AUROC" in stdout and "average precision" in stdout


def test_threshold_is_calibrated_on_signals_the_model_did_not_fit(trained):
    """Conformal p99 of the validation signals not screened out and of the kept training signals' out-of-fold scores;
    max of the training signals kept by screening."""
    model, _, x = trained
    scores = reconstruction_error(model.normalizer.transform(x), model.normalizer.transform(model.reconstruct(x)))
    unseen = np.setdiff1d(model.val_index_, model.screened_index_)
    kept = np.setdiff1d(model.train_index_, model.screened_index_)
    # the kept training signals' scores are out of fold (scored by models that did not fit them)
    crossed = model.score(x)
    assert np.array_equal(np.flatnonzero(crossed.out_of_fold), kept)
    scores[kept] = crossed.scores[kept]
    # Recomputed through original units and back: equal up to float32 rounding of the model output.
    np.testing.assert_allclose(model.train_scores_, scores[model.train_index_], rtol=1e-4)
    calibration = np.concatenate([scores[unseen], scores[kept]])
    assert model.threshold_["n_unseen"] == len(calibration) and len(unseen) >= 10
    assert model.threshold_["n_out_of_fold"] == len(kept) and model.threshold_["n_train"] == len(model.train_index_)
    assert model.threshold_["p"] == pytest.approx(conformal_quantile(calibration, 99), rel=1e-4)
    assert model.threshold_["max"] == pytest.approx(scores[kept].max(), rel=1e-4)
    assert model.score(x, threshold="p50").threshold == pytest.approx(conformal_quantile(calibration, 50), rel=1e-4)


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_plot_writes_valid_pngs_of_sensible_size(tmp_path, trained, data_file, capsys):
    _, run, _ = trained
    out = tmp_path / "figs"
    run_cli(capsys, "plot", run, data_file, "--labels", "labels", "--out", out)
    for name in ("loss.png", "reconstructions.png", "scores.png", "latent.png"):
        width, height = _png_size(out / name)
        assert 500 <= width <= 2000 and 300 <= height <= 2000, (name, width, height)


def test_info_totals_equal_count_params(trained, capsys):
    model, run, _ = trained
    stdout = run_cli(capsys, "info", run)
    assert f"model.count_params() = {model.autoencoder.count_params():,}" in stdout
    assert f"autoencoder total {model.autoencoder.count_params():,}" in stdout
    assert "bias" in stdout


@pytest.mark.parametrize("command", ["encode", "score", "plot"])
def test_wrong_channel_count_names_the_file(tmp_path, trained, command, capsys):
    _, run, x = trained
    path = tmp_path / "two_channels.h5"
    with h5py.File(path, "w") as f:
        f["signals"] = np.stack([x, x], axis=-1)
    out = tmp_path / ("plots" if command == "plot" else "out.h5")
    code = main([command, str(run), str(path), *(["--out", str(out)] if command == "plot" else ["-o", str(out)])])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{path}: signals with 2 channel(s), but the model was trained on 1 channel(s)" in err
    assert not out.exists()


def test_decode_of_codes_of_the_wrong_width_names_the_file(tmp_path, trained, capsys):
    model, run, _ = trained
    path = tmp_path / "codes.mat"
    scipy.io.savemat(path, {"latent": np.zeros((5, model.config.latent_dim + 1))})
    out = tmp_path / "decoded.mat"
    code = main(["decode", str(run), str(path), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{path}: variable 'latent' is 5x{model.config.latent_dim + 1}" in err and not out.exists()
