"""Streaming encode/score: HDF5, MAT v7.3 and .npy inputs read block by block, outputs written as they come.

Blocks are forced small (CHUNK_BYTES = 1 makes a block one batch, and --batch-size 16 on 300 signals gives 19
blocks), and every streamed result is compared with one in-memory call of the API at the same batch size.
"""

import warnings

import h5py
import numpy as np
import pytest
import scipy.io
from conftest import TINY, make_signals
from test_io import write_v73

import sigae
from sigae.data import results
from sigae.estimator import streaming
from sigae.cli import main
from sigae.errors import ConfigError, DataError
from sigae.data.io import SignalDataset, list_variables, load_array, load_signals, open_signal_dataset, save_array
from sigae.data.preprocessing import NORMALIZERS, ZeroSpreadWarning, make_normalizer

N, BATCH = 300, 16


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of one batch, and a count of the blocks read from disk."""
    monkeypatch.setattr(results, "CHUNK_BYTES", 1)
    reads = []
    original = SignalDataset.read

    def read(self, start, stop):
        reads.append((start, stop))
        return original(self, start, stop)

    monkeypatch.setattr(SignalDataset, "read", read)
    return reads


@pytest.fixture
def no_loading(monkeypatch):
    """Fail if anything reads the signals whole: streaming must not fall back to load_signals."""
    def fail(*args, **kwargs):
        raise AssertionError("load_signals called: the file was not streamed")

    monkeypatch.setattr(results, "load_signals", fail)


@pytest.fixture(scope="module")
def x():
    return make_signals(n=N, seed=3)


def write_input(tmp_path, kind, x, name="signals"):
    """The signals as rows of a MAT v7.3 file (stored transposed, float32), an .h5 dataset or an .npy file."""
    if kind == "v73":
        return write_v73(tmp_path / "big.mat", {name: x.astype(np.float32), "labels": np.arange(len(x)) % 7 == 0})
    if kind == "h5":
        path = tmp_path / "big.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset(f"group/{name}", data=x, chunks=(32, x.shape[1]))
        return path
    path = tmp_path / "big.npy"
    np.save(path, x)
    return path


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_h5(path, name):
    with h5py.File(path, "r") as f:
        return f[name][()]


@pytest.mark.parametrize("kind", ["v73", "h5", "npy"])
def test_streamed_encode_equals_in_memory(tmp_path, trained, x, capsys, small_blocks, no_loading, kind):
    model, run, _ = trained
    source = write_input(tmp_path, kind, x)
    expected = model.encode(load_signals(source), batch_size=BATCH)
    out = tmp_path / "latent.h5"
    code, stdout, err = cli(capsys, "encode", run, source, "-o", out, "--batch-size", BATCH)
    assert code == 0, err
    assert len(small_blocks) == -(-N // BATCH)  # ceil: every block read once
    # Same float64 signals, same batches through the same compiled encoder: bitwise equal.
    assert np.array_equal(read_h5(out, "latent"), expected)
    assert read_h5(out, "source_variable").decode() == {"v73": "signals", "h5": "group/signals", "npy": "big"}[kind]
    assert f"latent {N} x {model.config.latent_dim}" in stdout


def test_columns_are_found_and_said_while_streaming(tmp_path, trained, x, capsys, small_blocks, no_loading):
    model, run, _ = trained
    path = tmp_path / "cols.h5"
    with h5py.File(path, "w") as f:
        f["x"] = x.T  # 64 x 300: only the rows have the model's length
    out = tmp_path / "latent.h5"
    code, stdout, err = cli(capsys, "encode", run, path, "-o", out, "--batch-size", BATCH)
    assert code == 0, err
    assert "signals read as columns: their length 64 matches the model" in stdout
    assert np.array_equal(read_h5(out, "latent"), model.encode(x, batch_size=BATCH))


def test_large_mat_output_is_matlab_v73(tmp_path, trained, x, capsys, monkeypatch, small_blocks):
    model, run, _ = trained
    monkeypatch.setattr(results, "IN_MEMORY_BYTES", 0)
    source, out = write_input(tmp_path, "v73", x), tmp_path / "latent.mat"
    code, _, err = cli(capsys, "encode", run, source, "-o", out, "--batch-size", BATCH)
    assert code == 0, err
    head = out.read_bytes()[:128]
    assert head.startswith(b"MATLAB 7.3 MAT-file") and head[124:128] == b"\x00\x02IM"
    with h5py.File(out, "r") as f:
        # Column-major as MATLAB stores it: a (n, k) matrix appears as (k, n) in HDF5.
        assert f["latent"].shape == (model.config.latent_dim, N)
        assert f["latent"].attrs["MATLAB_class"] == b"single"
        assert f["config_hash"].attrs["MATLAB_class"] == b"char"
        assert np.array_equal(f["latent"][()].T, model.encode(load_signals(source), batch_size=BATCH))
        assert "".join(map(chr, f["config_hash"][()].ravel())) == model.config.hash()
    info = {v.name: v for v in list_variables(out)}  # sigae's own v7.3 reader sees MATLAB's shapes
    assert info["latent"].shape == (N, model.config.latent_dim)
    assert info["config_hash"].shape == (1, len(model.config.hash())) and info["config_hash"].kind == "char"
    assert np.array_equal(load_array(out, "latent"), model.encode(load_signals(source), batch_size=BATCH))
    rebuilt = tmp_path / "rebuilt.mat"
    code, _, err = cli(capsys, "decode", run, out, "-o", rebuilt)
    assert code == 0, err
    np.testing.assert_allclose(scipy.io.loadmat(rebuilt)["signals"],
                               model.reconstruct(load_signals(source), batch_size=BATCH),
                               rtol=0, atol=1e-6)  # the decode batches differ; float32 rounding at most


@pytest.mark.parametrize("ext,v73", [(".h5", False), (".mat", False), (".mat", True)])
def test_streamed_score_equals_in_memory(tmp_path, trained, x, capsys, monkeypatch, small_blocks, no_loading,
                                         ext, v73):
    model, run, _ = trained
    if v73:
        monkeypatch.setattr(results, "IN_MEMORY_BYTES", 0)
    source, out = write_input(tmp_path, "v73", x), tmp_path / f"scores{ext}"
    expected = model.score(load_signals(source), per_point=True, batch_size=BATCH)
    code, stdout, err = cli(capsys, "score", run, source, "-o", out, "--per-point", "--batch-size", BATCH,
                            "--labels", "labels")
    assert code == 0, err
    if ext == ".mat" and not v73:
        stored = {k: v for k, v in scipy.io.loadmat(out).items()}
        score, flags, per_point = stored["score"].ravel(), stored["is_anomaly"].ravel(), stored["per_point_error"]
        threshold = float(stored["threshold"].squeeze())
    else:
        with h5py.File(out, "r") as f:
            t = (lambda a: a.T) if v73 else (lambda a: a)  # v7.3: stored column-major
            score, flags = t(f["score"][()]).ravel(), t(f["is_anomaly"][()]).ravel()
            per_point, threshold = t(f["per_point_error"][()]), float(np.squeeze(f["threshold"][()]))
    # Per-signal arithmetic on the same model outputs: exactly equal.
    assert np.array_equal(score, expected.scores)
    assert np.array_equal(flags.astype(bool), expected.is_anomaly)
    assert np.array_equal(per_point, expected.per_point) and per_point.shape == (N, x.shape[1])
    assert threshold == expected.threshold
    assert "AUROC" in stdout and f"{N} scores" in stdout


@pytest.mark.parametrize("ext", [".csv", ".npz"])
def test_text_and_npz_outputs_are_what_save_array_writes(tmp_path, trained, x, capsys, small_blocks, ext):
    model, run, _ = trained
    source, out, ref = write_input(tmp_path, "h5", x), tmp_path / f"scores{ext}", tmp_path / f"ref{ext}"
    code, _, err = cli(capsys, "score", run, source, "-o", out, "--per-point", "--batch-size", BATCH)
    assert code == 0, err
    result = model.score(x, per_point=True, batch_size=BATCH)
    save_array(ref, "score", result.scores, is_anomaly=result.is_anomaly.astype(np.uint8),
               per_point_error=result.per_point, csv_columns=("score", "is_anomaly"))
    if ext == ".csv":
        assert out.read_text() == ref.read_text()
        lines = out.read_text().splitlines()
        assert lines[0] == "score,is_anomaly" and len(lines) == len(x) + 1  # a header, then one line per signal
        table = np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)
        assert np.array_equal(table[:, 0], result.scores) and np.array_equal(table[:, 1], result.is_anomaly)
    else:
        with np.load(out) as got, np.load(ref) as want:
            assert {"score", "is_anomaly", "per_point_error", "threshold", "metric", "config_hash"} <= set(got.files)
            for key in want.files:
                assert got[key].dtype == want[key].dtype and np.array_equal(got[key], want[key]), key


@pytest.mark.parametrize("kind", ["v73", "h5", "npy"])
def test_nan_in_a_late_block_leaves_nothing(tmp_path, trained, x, capsys, small_blocks, kind):
    _, run, _ = trained
    bad = x.copy()
    bad[250, 7] = np.nan  # block 16 of 19
    bad[260:262, 3] = np.inf
    source = write_input(tmp_path, kind, bad)
    out = tmp_path / "scores.h5"
    out.write_bytes(b"previous results")
    code, _, err = cli(capsys, "score", run, source, "-o", out, "--per-point", "--batch-size", BATCH, "--overwrite")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    with pytest.raises(DataError) as exc:  # the message load_signals gives for the whole file
        load_signals(source)
    assert lines[0] == f"sigae-score: error: {exc.value}"
    assert "3 NaN/Inf values; first at signal 251, point 8" in lines[0] and str(source) in lines[0]
    assert small_blocks[-1][0] == 240  # stopped at the bad block
    assert out.read_bytes() == b"previous results"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, out.name])  # no temporary file


def test_stream_errors_are_load_signals_errors(tmp_path, trained, x, capsys):
    _, run, _ = trained
    path = tmp_path / "wrong.h5"
    with h5py.File(path, "w") as f:
        f["x"] = x[:, :50]
    code, _, err = cli(capsys, "encode", run, path, "-o", tmp_path / "z.h5")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    with pytest.raises(DataError) as exc:
        load_signals(path, expected_length=64)
    assert err.strip() == f"sigae-encode: error: {exc.value}" and "neither side" in err
    assert not (tmp_path / "z.h5").exists()


def test_unstreamable_variables_fall_back_to_load_signals(tmp_path):
    cells = write_v73(tmp_path / "cells.mat", {"c": [np.ones((1, 5)), np.zeros((1, 5))]})
    with open_signal_dataset(cells, "c") as dataset:
        assert dataset is None
    v5 = tmp_path / "v5.mat"
    scipy.io.savemat(v5, {"x": np.ones((3, 5))})
    with open_signal_dataset(v5) as dataset:
        assert dataset is None
    columns_3d = tmp_path / "c3.npy"
    np.save(columns_3d, np.ones((5, 3, 2)))
    with open_signal_dataset(columns_3d, orientation="columns") as dataset:
        assert dataset is None


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("orientation, channels", [("rows", 0), ("rows", 2), ("columns", 0)])
def test_npy_of_either_memory_order_is_read_by_blocks(tmp_path, order, orientation, channels):
    """np.save of what scipy.io.loadmat returns is Fortran-ordered: its rows are read by blocks too."""
    signals = make_signals(n=50, length=40, seed=5)
    if channels:
        signals = np.stack([signals, -signals], axis=2)
    stored = signals.T if orientation == "columns" else signals
    path = tmp_path / "s.npy"
    np.save(path, np.asfortranarray(stored) if order == "F" else np.ascontiguousarray(stored))
    with open_signal_dataset(path, orientation=orientation) as dataset:
        blocks = [dataset.read(i, min(i + 7, 50)) for i in range(0, 50, 7)]
    assert np.array_equal(np.concatenate(blocks), signals)  # exact: the same float64 values, reordered


def test_per_signal_stats_and_one_warning_for_all_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "CHUNK_BYTES", 1)
    signals = make_signals(n=100, seed=4)
    signals[[5, 40, 41, 90]] = 2.0  # constant signals: zero spread, in three blocks
    model = sigae.SignalAutoencoder(input_length=64, normalize="per-signal", **TINY).build()
    model.normalizer = make_normalizer("per-signal").fit(signals)
    out = tmp_path / "latent.h5"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        streaming.encode_to_file(model, signals, out, batch_size=BATCH)
    said = [w.message for w in caught if isinstance(w.message, ZeroSpreadWarning)]
    assert [str(m) for m in said] == ["4 signal(s) had zero spread; they are only shifted, not scaled"]
    with pytest.warns(ZeroSpreadWarning):
        mean, std = model.signal_stats(signals)
    assert np.array_equal(read_h5(out, "signal_mean"), mean[:, 0, :])
    assert np.array_equal(read_h5(out, "signal_std"), std[:, 0, :])


@pytest.mark.parametrize("kind", sorted(NORMALIZERS))
@pytest.mark.parametrize("channels", [1, 3])
def test_streamed_normalizer_fit_equals_fit(kind, channels):
    rng = np.random.default_rng(1)
    x = 1e3 + rng.standard_normal((1000, 40, channels)) * rng.uniform(0.01, 5, (1, 40, channels))
    whole = make_normalizer(kind).fit(x)
    streamed = make_normalizer(kind).fit_chunks(x[i:i + 70] for i in range(0, len(x), 70))
    for name, value in whole.to_dict().items():
        if name != "kind":
            # Chan's merge of per-block moments vs numpy's two-pass std: float64 rounding only.
            np.testing.assert_allclose(streamed.to_dict()[name], value, rtol=1e-11, atol=0)


def test_streamed_normalizer_fit_checks_blocks():
    with pytest.raises(ConfigError, match="no signals"):
        make_normalizer("global").fit_chunks(iter([]))
    with pytest.raises(ConfigError, match="shaped"):
        make_normalizer("minmax").fit_chunks([np.ones((4, 10)), np.ones((4, 11))])


# ---------------------------------------------------------------------------- training from a file left on disk
@pytest.fixture
def small_training_blocks(monkeypatch):
    """Training blocks of 8 signals (windows of 8 blocks), so 300 signals span 38 blocks and 5 windows."""
    from sigae.training import data as trainingdata

    monkeypatch.setattr(trainingdata, "BLOCK_BYTES", 8 * 64 * 8)


def test_streamed_batches_cover_every_training_signal_once(tmp_path, x, small_training_blocks):
    from sigae.training.data import StreamedPart

    rows = x + np.arange(N)[:, None] * 1000.0  # each signal's offset says which row it is
    path = write_input(tmp_path, "h5", rows)
    mask = np.random.default_rng(0).random(N) < 0.8
    with open_signal_dataset(path) as dataset:
        identity = make_normalizer("global").fit(np.array([[-1.0], [1.0]]))  # mean 0, std 1
        part = StreamedPart(dataset, mask, identity)
        batches = list(part.batches(BATCH, np.random.default_rng(1)))
        again = list(part.batches(BATCH, np.random.default_rng(2)))
    seen = np.round(np.concatenate(batches)[:, 0, 0] / 1000.0).astype(int)
    assert sorted(seen) == sorted(np.flatnonzero(mask))  # every training row once, no validation row
    assert [len(b) for b in batches[:-1]] == [BATCH] * (len(batches) - 1) and len(batches) == -(-mask.sum() // BATCH)
    assert batches[0].dtype == np.float32 and batches[0].shape[1:] == (64, 1)
    assert not np.array_equal(seen, np.round(np.concatenate(again)[:, 0, 0] / 1000.0).astype(int))  # reshuffled


def test_pca_baseline_from_blocks_equals_svd():
    from sigae.evaluation.scoring import PCABaseline

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 40)) + 0.1 * rng.normal(size=(500, 40)) + 5.0
    whole = PCABaseline(4).fit(x)
    blocks = PCABaseline(4).fit_chunks(x[i:i + 64] for i in range(0, len(x), 64))
    # Same subspace (signs of components may differ): reconstructions agree to float64 rounding of the
    # covariance route, which squares the condition number.
    np.testing.assert_allclose(blocks.reconstruct(x), whole.reconstruct(x), rtol=0, atol=1e-8)
    np.testing.assert_allclose(blocks.mean_, whole.mean_, rtol=1e-13)


@pytest.mark.parametrize("kind", ["v73", "npy"])
def test_streamed_training_uses_the_in_memory_split_and_statistics(tmp_path, x, capsys, monkeypatch,
                                                                   small_training_blocks, kind):
    path = write_input(tmp_path, kind, x)
    monkeypatch.setattr("sigae.data.io.load_signals", lambda *a, **k: pytest.fail("the file was loaded whole"))
    options = ["--epochs", 2, "--batch-size", BATCH, "--seed", 0, "--latent-dim", 4]
    code, out, err = cli(capsys, "train", path, "--stream", "--out", tmp_path / "streamed", *options)
    assert code == 0, err
    assert "read block by block" in out
    monkeypatch.undo()
    code, _, err = cli(capsys, "train", path, "--out", tmp_path / "memory", *options)
    assert code == 0, err
    streamed, memory = sigae.load(tmp_path / "streamed"), sigae.load(tmp_path / "memory")
    for name in ("train", "val"):
        assert np.array_equal(np.load(tmp_path / "streamed/split.npz")[name], np.load(tmp_path / "memory/split.npz")[name])
    # Blockwise moments vs numpy over the whole training split: float64 rounding only.
    np.testing.assert_allclose(streamed.normalizer.mean_, memory.normalizer.mean_, rtol=1e-12)
    np.testing.assert_allclose(streamed.normalizer.scale_, memory.normalizer.scale_, rtol=1e-12)
    m_streamed = __import__("json").loads((tmp_path / "streamed/metrics.json").read_text())
    m_memory = __import__("json").loads((tmp_path / "memory/metrics.json").read_text())
    assert (m_streamed["n_train"], m_streamed["n_val"]) == (m_memory["n_train"], m_memory["n_val"]) == (240, 60)
    np.testing.assert_allclose(m_streamed["pca"]["val_mse"], m_memory["pca"]["val_mse"], rtol=1e-7)  # see PCA test
    assert len(m_streamed["autoencoder"]) == 4 and m_streamed["epochs_run"] == 2
    # The streamed run's own numbers are those of its model on the same rows, computed in memory.
    val = x[np.load(tmp_path / "streamed/split.npz")["val"]]
    norm = streamed.normalizer
    val_mse = np.mean(np.square(norm.transform(streamed.reconstruct(val)) - norm.transform(val)))
    np.testing.assert_allclose(m_streamed["autoencoder"]["val_mse"], val_mse, rtol=1e-5)  # float32 model


def test_stream_refuses_files_that_cannot_be_streamed(tmp_path, x, capsys):
    scipy.io.savemat(tmp_path / "v5.mat", {"signals": x})
    code, out, err = cli(capsys, "train", tmp_path / "v5.mat", "--stream", "--out", tmp_path / "run")
    assert code == 2 and err.count("\n") == 1 and "--stream" in err and "v5.mat" in err
    assert not (tmp_path / "run").exists()


def test_interrupted_streamed_run_resumes_to_the_same_weights(tmp_path, x, small_training_blocks):
    from sigae.training.loop import TrainingInterrupted

    path = write_input(tmp_path, "h5", x)
    options = dict(epochs=3, batch_size=BATCH, seed=0, verbose=0)
    steps = iter(range(10**6))
    with open_signal_dataset(path) as dataset:
        whole = sigae.SignalAutoencoder(input_length=64, **TINY).fit(dataset, run_dir=tmp_path / "whole", **options)
        with pytest.raises(TrainingInterrupted):  # in the middle of epoch 2 (15 steps per epoch)
            sigae.SignalAutoencoder(input_length=64, **TINY).fit(
                dataset, run_dir=tmp_path / "cut", should_stop=lambda: next(steps) == 20, **options)
        resumed = sigae.SignalAutoencoder.resume(tmp_path / "cut", dataset, verbose=0)
    # Each epoch's shuffle comes from (seed, epoch), and ops are deterministic: bitwise equal.
    for a, b in zip(resumed.autoencoder.get_weights(), whole.autoencoder.get_weights()):
        assert np.array_equal(a, b)
    assert resumed.metrics_["autoencoder"] == whole.metrics_["autoencoder"]
