"""Field reports of issue #26 ("round 3"), kinds A, B, C, E, F and the 1-D leftover: the shared inputs, and
variants of each kind built here (other formats, layouts, positions, dtypes), since every kind is checked again
on inputs that were never seen.

The inputs in ``../shared/bugcases3`` (beside the project folder) are used when present and skipped otherwise.
"""

import io
import json
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from test_io import assert_one_line_error, write_mat, write_v73

from sigae import SignalAutoencoder
from sigae.cli import main
from sigae.errors import DataError
from sigae.data.io import list_variables, load_array, load_signals, open_signal_dataset
from sigae.data.recordings import read_recordings
from sigae.data.periods import auto_window, find_period

BUGCASES3 = Path(__file__).resolve().parents[1].parent / "shared" / "bugcases3"
RNG = np.random.default_rng(26)
FLAGS = ["--epochs", "1", "--batch-size", "32", "--latent-dim", "4", "--decoder", "mirror", "--seed", "0"]


def bugcase(name):
    path = BUGCASES3 / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared bug cases are not beside this checkout)")
    return path


def cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_cli_error(code, err, *needles):
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


# ============================================================================ A: channels-first 3-D arrays
def channels_first(n=12, channels=3, length=32, seed=0):
    """(signals, channels, points): the layout of aeon, MNE's epochs.get_data() and PyTorch."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    phase = rng.uniform(0, 6, (n, channels, 1))
    return np.sin(2 * np.pi * 3 * t + phase) + 0.01 * rng.standard_normal((n, channels, length))


def write_cube(folder, fmt, cube, dtype=np.float64):
    """*cube* as the one 3-D variable of a file of format *fmt* (MATLAB order kept for .mat files)."""
    cube = cube.astype(dtype)
    path = folder / {"npy": "x.npy", "npy_fortran": "xf.npy", "npz": "x.npz", "h5": "x.h5", "mat7": "x.mat",
                     "mat73": "x73.mat"}[fmt]
    if fmt == "npy":
        np.save(path, cube)
    elif fmt == "npy_fortran":
        np.save(path, np.asfortranarray(cube))
    elif fmt == "npz":
        np.savez(path, x=cube)
    elif fmt == "h5":
        with h5py.File(path, "w") as f:
            f["x"] = cube
    else:
        write_mat(path, "7" if fmt == "mat7" else "7.3", {"x": cube})
    return path


@pytest.mark.parametrize("fmt", ["npy", "npy_fortran", "npz", "h5", "mat7", "mat73"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16])
def test_channels_first_arrays_read_with_layout_in_every_format(tmp_path, fmt, dtype):
    cube = (channels_first() * 1000).astype(dtype)  # 12 signals x 3 channels x 32 points
    path = write_cube(tmp_path, fmt, cube, dtype)
    expected = cube.transpose(0, 2, 1).astype(np.float64)
    x, source = load_signals(path, layout="NCL", return_info=True)
    np.testing.assert_array_equal(x, expected)
    assert source.layout == "NCL"
    assert np.array_equal(load_signals(path, layout="ncl", expected_length=32, expected_channels=3), expected)
    with open_signal_dataset(path, layout="NCL") as dataset:  # left on disk where the format allows it
        if dataset is not None:
            assert dataset.shape == (12, 32, 3)
            np.testing.assert_array_equal(np.concatenate([dataset.read(a, min(a + 5, 12)) for a in range(0, 12, 5)]),
                                          expected)
    # without --layout: 12 signals x 3 points x 32 channels is plainly wrong, and refused
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, "read as 12 signals x 3 points x 32 channels (layout NLC)",
                          "more channels than points", "--layout NCL for 12 signals x 32 points x 3 channels")
    if fmt not in ("npz", "mat7"):  # the formats left on disk say the same
        with pytest.raises(DataError) as err:
            with open_signal_dataset(path):
                pass
        assert_one_line_error(err, path, "--layout NCL")


@pytest.mark.parametrize("layout", ["NLC", "NCL", "LNC", "LCN", "CNL", "CLN"])
def test_every_order_of_the_axes_can_be_named(tmp_path, layout):
    signals = RNG.standard_normal((7, 40, 5))  # N, L, C
    stored = np.transpose(signals, tuple("NLC".index(axis) for axis in layout))  # e.g. CLN: EEGLAB
    for fmt in ("npy", "h5", "mat73"):
        path = write_cube(tmp_path, fmt, stored)
        np.testing.assert_array_equal(load_signals(path, layout=layout), signals)
        with open_signal_dataset(path, layout=layout) as dataset:
            if dataset is not None:
                np.testing.assert_array_equal(dataset.read(2, 6), signals[2:6])


def test_a_plausible_layout_is_read_and_an_ambiguous_one_refused(tmp_path):
    nlc = RNG.standard_normal((6, 50, 4))
    np.save(tmp_path / "nlc.npy", nlc)
    np.testing.assert_array_equal(load_signals(tmp_path / "nlc.npy"), nlc)  # fewer channels than points: as is
    square = RNG.standard_normal((6, 16, 16))
    np.save(tmp_path / "square.npy", square)
    with pytest.raises(DataError) as err:
        load_signals(tmp_path / "square.npy")
    assert_one_line_error(err, tmp_path / "square.npy", "as many channels than points", "--layout")
    np.testing.assert_array_equal(load_signals(tmp_path / "square.npy", layout="NLC"), square)  # said: taken
    with pytest.raises(ValueError, match="layout must be one of"):
        load_signals(tmp_path / "nlc.npy", layout="NTC")


def test_with_a_model_the_layout_that_fits_is_named(tmp_path):
    path = write_cube(tmp_path, "h5", channels_first())
    with pytest.raises(DataError) as err:
        load_signals(path, expected_length=32, expected_channels=3)
    assert_one_line_error(err, path, "the model expects signals of 32 points x 3 channels: try --layout NCL")


def test_fit_refuses_channels_first_arrays_unless_the_layout_is_named():
    cube = channels_first()
    with pytest.raises(DataError, match=r"shape \(12, 3, 32\) read as 12 signals x 3 points x 32 channels.*"
                                        r"layout='NCL'"):
        SignalAutoencoder(latent_dim=4).fit(cube, epochs=1, verbose=0)


def test_cli_channels_first_refused_then_trained_and_scored_in_the_same_layout(tmp_path, capsys):
    cube = channels_first(n=24)
    path = tmp_path / "epochs.npy"
    np.save(path, cube)
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", path, "--out", run, *FLAGS)
    assert_cli_error(code, err, str(path), "24 signals x 3 points x 32 channels", "--layout NCL")
    assert not run.exists()  # nothing written on refusal
    code, out, err = cli(capsys, "train", path, "--layout", "NCL", "--out", run, *FLAGS)
    assert code == 0, err
    assert "24 signals x 32 points x 3 channels (layout NCL)" in out
    assert json.loads((run / "training.json").read_text())["source"]["layout"] == "NCL"
    model = SignalAutoencoder.load(run)
    assert (model.config.input_length, model.config.channels) == (32, 3)
    # score and encode read in the run's layout without being told again, and say so
    code, out, err = cli(capsys, "score", run, path, "-o", tmp_path / "scores.csv")
    assert code == 0, err
    assert "--layout NCL, as the run was trained" in out
    np.testing.assert_allclose(np.loadtxt(tmp_path / "scores.csv", delimiter=",", ndmin=2, skiprows=1)[:, 0],
                               model.score(cube.transpose(0, 2, 1)).scores, rtol=1e-6, atol=1e-9)
    code, _, err = cli(capsys, "encode", run, path, "-o", tmp_path / "codes.npz")
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "codes.npz")["latent"], model.encode(cube.transpose(0, 2, 1)),
                               rtol=1e-5, atol=1e-6)
    # the file in sigae's own layout is read with --layout NLC, and a wrong one is refused naming the fix
    np.save(tmp_path / "nlc.npy", cube.transpose(0, 2, 1))
    code, _, err = cli(capsys, "score", run, tmp_path / "nlc.npy", "--layout", "NLC", "-o", tmp_path / "s2.csv")
    assert code == 0, err
    code, _, err = cli(capsys, "score", run, tmp_path / "nlc.npy", "-o", tmp_path / "s3.csv")
    assert_cli_error(code, err, "try --layout NLC")
    assert not (tmp_path / "s3.csv").exists()


@pytest.mark.parametrize("name,layout,shape", [("aeon_channels_first_40x3x128.npy", "NCL", (40, 128, 3)),
                                               ("mne_channels_first_30x64x100.npy", "NCL", (30, 100, 64))])
def test_bugcase_channels_first(name, layout, shape):
    path = bugcase(name)
    with pytest.raises(DataError) as err:
        load_signals(path, min_signals=2)
    assert_one_line_error(err, path, "more channels than points", f"--layout {layout}")
    assert load_signals(path, layout=layout).shape == shape


# ============================================================================ B: record (compound) tables
def pandas_table(path, key, index, columns: dict, data_columns=False, index_groups=True):
    """The layout ``DataFrame.to_hdf(path, key=key, format="table")`` writes (PyTables' TABLE): a group with
    pandas' attributes, a compound dataset ``table`` (``index``, then ``values_block_0`` holding the columns, or
    one field per column with *data_columns*), and PyTables' index arrays, most of them empty."""
    names = list(columns)
    values = np.column_stack([columns[c] for c in names])
    if data_columns:
        dtype = [("index", "<i8")] + [(c, "<f8") for c in names]
    else:
        dtype = [("index", "<i8"), ("values_block_0", "<f8", (len(names),))]
    table = np.zeros(len(index), dtype)
    table["index"] = index
    if data_columns:
        for c in names:
            table[c] = columns[c]
    else:
        table["values_block_0"] = values
    with h5py.File(path, "a") as f:
        group = f.create_group(key)
        group.attrs["pandas_type"] = np.bytes_("frame_table")
        group.attrs["table_type"] = np.bytes_("appendable_frame")
        ds = group.create_dataset("table", data=table)
        ds.attrs["CLASS"] = np.bytes_("TABLE")
        ds.attrs["index_kind"] = np.bytes_("datetime64[ns]")
        if not data_columns:
            ds.attrs["values_block_0_kind"] = np.bytes_(pickle.dumps(names, protocol=0))
            ds.attrs["values_block_0_dtype"] = np.bytes_("float64")
        if index_groups:
            tindex = group.create_group("_i_table")
            tindex.attrs["CLASS"] = np.bytes_("TINDEX")
            idx = tindex.create_group("index")
            idx.attrs["CLASS"] = np.bytes_("INDEX")
            idx.create_dataset("bounds", shape=(0, 127), dtype="i8")
            idx.create_dataset("indices", shape=(0, 1024), dtype="u4")
            idx.create_dataset("sortedLR", data=np.arange(1200, dtype="i8"))
            idx.create_dataset("indicesLR", data=np.arange(1024, dtype="u4"))
    return path


@pytest.mark.parametrize("data_columns", [False, True])
def test_pandas_table_reads_its_data_columns_as_channels(tmp_path, data_columns):
    n = 900
    clock = 1_709_251_200_000_000_000 + np.arange(n, dtype=np.int64) * 10_000_000
    ax, ay, az = RNG.standard_normal((3, n))
    path = pandas_table(tmp_path / "acc.h5", "acc", clock, {"ax": ax, "ay": ay, "az": az}, data_columns)
    expected = np.column_stack([ax, ay, az])
    assert [v.name for v in list_variables(path)] == ["acc/table"]  # PyTables' index arrays are not listed
    for var in (None, "acc", "acc/table", "/acc/table"):
        (rec,) = read_recordings(path, var)
        assert (rec.length, rec.channels) == (n, 3)
        np.testing.assert_array_equal(rec.to_array(), expected)
        assert "field 'index' (the pandas index) read as the time axis" in rec.note and "ax, ay, az" in rec.note
        x, source = load_array(path, var, return_info=True)
        np.testing.assert_array_equal(x, expected)
    for var in ("acc/table/ay", "acc/ay"):
        np.testing.assert_array_equal(load_array(path, var)[:, 0], ay)
    if not data_columns:
        np.testing.assert_array_equal(load_array(path, "acc/table/values_block_0"), expected)
    with pytest.raises(DataError) as err:
        load_array(path, "acc/table/gx")
    assert_one_line_error(err, path, "record table 'acc/table' has no field 'gx'",
                          "index (the pandas index), ax, ay, az")
    # with the time axis kept on purpose, it is a channel
    assert read_recordings(path, time_column="none")[0].channels == 4


def test_two_pandas_keys_are_listed_and_empty_arrays_never(tmp_path):
    n = 300
    path = pandas_table(tmp_path / "imu.h5", "acc", np.arange(n), {"ax": np.ones(n), "ay": np.zeros(n)})
    pandas_table(path, "gyro", np.arange(n), {"gx": np.ones(n)})
    with h5py.File(path, "a") as f:
        f["empty"] = np.zeros((0, 5))
    with pytest.raises(DataError) as err:
        read_recordings(path)
    message = assert_one_line_error(err, path, "candidates: acc/table, gyro/table;")
    assert "_i_table" not in message and "empty," not in message.split("candidates:")[1].split(";")[0]
    with pytest.raises(DataError) as err:
        load_array(path)
    assert "empty (" not in str(err.value).split("could hold numbers:")[1]


@pytest.mark.parametrize("fmt", ["npy", "npz", "h5"])
def test_structured_and_compound_arrays_read_their_number_fields(tmp_path, fmt):
    n = 400
    t = np.arange(n) * 0.004
    dtype = np.dtype([("t", "<f8"), ("ch", "<f4", (2,)), ("status", "S4"), ("temp", "<i2")])
    records = np.zeros(n, dtype)
    records["t"], records["ch"], records["status"] = t, RNG.standard_normal((n, 2)), b"ok"
    records["temp"] = RNG.integers(-50, 50, n)
    path = tmp_path / f"daq.{fmt}"
    if fmt == "npy":
        np.save(path, records)
    elif fmt == "npz":
        np.savez(path, daq=records)
    else:
        with h5py.File(path, "w") as f:
            f["daq/records"] = records
    expected = np.column_stack([records["ch"].astype(float), records["temp"].astype(float)])
    (rec,) = read_recordings(path)
    np.testing.assert_array_equal(rec.to_array(), expected)
    assert "field 't' read as the time axis" in rec.note and "field 'status' left out (not numbers)" in rec.note
    assert rec.note.endswith("channels: ch[1], ch[2], temp")
    field = {"npy": "temp", "npz": "daq/temp", "h5": "daq/records/temp"}[fmt]
    np.testing.assert_array_equal(load_array(path, field)[:, 0], records["temp"])
    with pytest.raises(DataError) as err:
        load_array(path, field.replace("temp", "status"))
    assert_one_line_error(err, path, "holds text values, not numbers", "t, ch[1], ch[2], temp")


def test_genfromtxt_names_saved_with_np_save(tmp_path):
    text = "time_s,ax,ay\n" + "\n".join(f"{k / 100},{np.sin(k)},{np.cos(k)}" for k in range(200))
    records = np.genfromtxt(io.StringIO(text), delimiter=",", names=True)
    np.save(tmp_path / "acc.npy", records)
    (rec,) = read_recordings(tmp_path / "acc.npy")
    np.testing.assert_array_equal(rec.to_array(), np.column_stack([records["ax"], records["ay"]]))
    assert "'time_s' read as the time axis" in rec.note


def test_a_record_array_that_is_no_table_lists_its_fields(tmp_path):
    grid = np.zeros((3, 4), [("a", "<f8"), ("b", "<f8")])
    grid["b"] = 2.0
    with h5py.File(tmp_path / "grid.h5", "w") as f:
        f["grid"] = grid
    with pytest.raises(DataError) as err:
        load_array(tmp_path / "grid.h5")
    assert_one_line_error(err, tmp_path / "grid.h5", "array of records", "fields a, b", "--var grid/field")
    np.testing.assert_array_equal(load_array(tmp_path / "grid.h5", "grid/b"), np.full((3, 4), 2.0))


def test_bugcase_pandas_table():
    path = bugcase("pandas_table_format.h5")
    expected = np.load(bugcase("pandas_table_expected_4000x2.npy"))
    for var in (None, "acc/table", "acc"):
        (rec,) = read_recordings(path, var)
        np.testing.assert_array_equal(rec.to_array(), expected)


# ============================================================================ C: a time column beside the samples
def acc_table(n=600, start=0.0):
    t = start + np.arange(n) / 100
    return t, np.sin(2 * np.pi * np.arange(n) / 50), np.cos(2 * np.pi * np.arange(n) / 30)


@pytest.mark.parametrize("header,position", [
    ("time_s", 0), ("Time (s)", 0), ("t", 0), ("timestamp", 0), ("X_Value", 0), ("", 0), ("Unnamed: 0", 0),
    ("time", 1), ("datetime", 2), ("elapsed_ms", 2),
])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_time_column_by_its_header_is_left_out_and_said(tmp_path, header, position, newline):
    t, ax, ay = acc_table(start=1.7e9 if header == "timestamp" else 0.0)
    columns = [ax, ay]
    names = ["ax", "ay"]
    columns.insert(position, t)
    names.insert(position, header)
    path = tmp_path / "rec.csv"
    path.write_text(newline.join([",".join(names)] + [",".join(repr(float(v)) for v in row)
                                                      for row in np.column_stack(columns)]) + newline)
    (rec,) = read_recordings(path)
    np.testing.assert_array_equal(rec.to_array(), np.column_stack([ax, ay]))
    assert f"column {position + 1} " in rec.note and "read as the time axis, not a channel" in rec.note
    x, source = load_signals(path, orientation="columns", return_info=True)  # one signal per column
    np.testing.assert_array_equal(x, np.vstack([ax, ay]))
    assert "time axis" in source.note


def test_text_time_columns_and_labview_exports(tmp_path):
    _, ax, ay = acc_table()
    dates = [f"2024-03-01 00:{k // 60:02d}:{k % 60:02d}" for k in range(len(ax))]
    path = tmp_path / "pandas.csv"  # DataFrame.to_csv() with a DatetimeIndex: an unnamed column of dates
    path.write_text(",ax,ay,status\n"
                    + "\n".join(f"{d},{float(a)!r},{float(b)!r},ok" for d, a, b in zip(dates, ax, ay)) + "\n")
    (rec,) = read_recordings(path)
    np.testing.assert_array_equal(rec.to_array(), np.column_stack([ax, ay]))
    assert "column 1 (no name) read as the time axis" in rec.note and "column 4 'status' left out" in rec.note
    headerless = tmp_path / "dates.csv"  # without a header a date is not a number, at its line
    headerless.write_text("\n".join(f"{d},{float(a)!r}" for d, a in zip(dates, ax)) + "\n")
    with pytest.raises(DataError) as err:
        load_array(headerless)
    assert_one_line_error(err, headerless, "line 1, column 1: '2024-03-01 00:00:00' is not a number")
    labview = tmp_path / "labview.txt"  # tab-separated, a name with a space, an empty Comment column
    t = np.arange(len(ax)) * 0.001
    labview.write_text("X_Value\tUntitled\tUntitled 1\tComment\n"
                       + "\n".join(f"{a:.6f}\t{float(b)!r}\t{float(c)!r}\t" for a, b, c in zip(t, ax, ay)) + "\n")
    (rec,) = read_recordings(labview)
    np.testing.assert_array_equal(rec.to_array(), np.column_stack([ax, ay]))
    assert "column 1 'X_Value' read as the time axis" in rec.note and rec.note.endswith("Untitled, Untitled 1")


def test_a_time_like_name_that_decreases_stays_a_channel(tmp_path):
    _, ax, ay = acc_table()
    path = tmp_path / "temps.csv"
    path.write_text("T,ax\n" + "\n".join(f"{a},{b}" for a, b in zip(ay, ax)) + "\n")
    (rec,) = read_recordings(path)
    assert rec.channels == 2 and "named like a time axis or an index but not increasing" in rec.note


def write_headerless(folder, fmt, table):
    path = folder / {"csv": "rec.csv", "txt": "rec.txt", "mat": "rec.mat", "mat73": "rec73.mat", "npy": "rec.npy",
                     "h5": "rec.h5"}[fmt]
    if fmt in ("csv", "txt"):
        np.savetxt(path, table, delimiter="," if fmt == "csv" else " ", fmt="%.17g")
    elif fmt == "mat":
        scipy.io.savemat(path, {"x": table})
    elif fmt == "mat73":
        write_v73(path, {"x": table})
    elif fmt == "npy":
        np.save(path, table)
    else:
        with h5py.File(path, "w") as f:
            f["x"] = table
    return path


@pytest.mark.parametrize("fmt", ["csv", "txt", "mat", "mat73", "npy", "h5"])
@pytest.mark.parametrize("clock", ["seconds", "unix", "datenum", "samples"])
def test_a_headerless_clock_column_is_refused_and_left_out_on_request(tmp_path, fmt, clock):
    t, ax, ay = acc_table()
    t = {"seconds": t, "unix": 1.7e9 + t, "datenum": 739000.5 + t / 86400, "samples": np.arange(len(t)) + 1.0}[clock]
    path = write_headerless(tmp_path, fmt, np.column_stack([ax, t, ay]))  # the clock as column 2
    with pytest.raises(DataError) as err:
        read_recordings(path)
    assert_one_line_error(err, path, "column 2 increases at every one of its 600 points", "--time-column 2",
                          "--time-column none")
    (rec,) = read_recordings(path, time_column=2)
    np.testing.assert_allclose(rec.to_array(), np.column_stack([ax, ay]), rtol=1e-15)
    assert "column 2 read as the time axis" in rec.note
    assert read_recordings(path, time_column="none")[0].channels == 3


def test_a_clock_along_the_rows_is_named_as_a_row(tmp_path):
    t, ax, _ = acc_table()
    scipy.io.savemat(tmp_path / "rows.mat", {"x": np.vstack([t, ax])})  # [t; y]: 2 x N
    with pytest.raises(DataError, match="row 1 increases at every one"):
        read_recordings(tmp_path / "rows.mat")
    np.testing.assert_array_equal(read_recordings(tmp_path / "rows.mat", time_column=1)[0].to_array()[:, 0], ax)


def test_time_column_by_name_number_and_errors(tmp_path):
    t, ax, ay = acc_table()
    path = tmp_path / "clk.csv"
    path.write_text("clk,ax,ay\n" + "\n".join(f"{a},{b},{c}" for a, b, c in zip(t, ax, ay)) + "\n")
    with pytest.raises(DataError) as err:  # a header that does not say time: the rising column is still caught
        read_recordings(path)
    assert_one_line_error(err, path, "column 'clk' increases at every one", "--time-column clk")
    for choice in ("clk", "1", 1):
        np.testing.assert_array_equal(read_recordings(path, time_column=choice)[0].to_array(),
                                      np.column_stack([ax, ay]))
    with pytest.raises(DataError) as err:
        read_recordings(path, time_column="time")
    assert_one_line_error(err, path, "--time-column time: text table 'clk' has no column 'time'; its columns: clk, "
                                     "ax, ay")
    np.save(tmp_path / "plain.npy", np.column_stack([t, ax]))
    with pytest.raises(DataError, match="no column names .* give the column's number"):
        read_recordings(tmp_path / "plain.npy", time_column="clk")


def test_cli_time_column_trains_and_scores_alike(tmp_path, capsys):
    t, ax, ay = acc_table(n=800)
    train = write_headerless(tmp_path, "mat", np.column_stack([t, ax, ay]))
    later = tmp_path / "later.mat"
    scipy.io.savemat(later, {"x": np.column_stack([t + 3600, ax, ay])})
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", train, "--window", "32", "--hop", "4", "--out", run, *FLAGS)
    assert_cli_error(code, err, str(train), "column 1 increases", "--time-column 1")
    assert not run.exists()
    code, out, err = cli(capsys, "train", train, "--window", "32", "--hop", "4", "--time-column", "1", "--out", run,
                         *FLAGS)
    assert code == 0, err
    assert "column 1 read as the time axis" in out and "2 channel(s)" in out
    assert json.loads((run / "training.json").read_text())["source"]["time_column"] == "1"
    code, out, err = cli(capsys, "score", run, later, "-o", tmp_path / "later_scores.mat")
    assert code == 0, err
    assert "--time-column 1, as the run was trained" in out
    model = SignalAutoencoder.load(run)
    expected = model.score_recording(np.column_stack([ax, ay])).point_score
    np.testing.assert_allclose(scipy.io.loadmat(tmp_path / "later_scores.mat")["point_score"].ravel(), expected,
                               rtol=1e-6)


def test_bugcase_timestamp_column():
    train, later = bugcase("timestamp_col_train.csv"), bugcase("timestamp_col_later.csv")
    expected = np.load(bugcase("timestamp_col_channels_expected.npy"))
    (rec,) = read_recordings(later)
    np.testing.assert_allclose(rec.to_array(), expected)
    assert read_recordings(train)[0].channels == 2


# ============================================================================ E: --window auto
def weekly_counts(days=3 * 365, seed=0):
    rng = np.random.default_rng(seed)
    day = np.arange(days)
    return 10 + 3.5 * np.isin(day % 7, (5, 6)) + 0.3 * rng.standard_normal(days)


@pytest.mark.parametrize("period,minimum,expected", [(7, 10, 14), (4, 10, 12), (5, 29, 30), (12, 10, 12)])
def test_auto_window_of_a_short_period_is_a_multiple_the_encoder_takes(period, minimum, expected):
    t = np.arange(2000)
    x = np.sin(2 * np.pi * t / period) + 0.1 * np.random.default_rng(period).standard_normal(2000)
    window, reason = auto_window([x], minimum=minimum)
    assert window == expected and window % period == 0 and window >= minimum
    assert f"dominant period {period} points" in reason
    if period < minimum:
        assert f"at least {minimum} points" in reason


@pytest.mark.parametrize("n", [60, 200, 1000, 5000, 20000])
@pytest.mark.parametrize("seed", range(5))
def test_auto_window_on_white_noise_claims_no_period(n, seed):
    x = np.random.default_rng(seed).standard_normal((n, 1 + seed % 2))
    assert not find_period(x).significant
    window, reason = auto_window([x], minimum=10)
    assert reason.startswith("no significant period") and "default window 125" in reason
    assert window == min(125, n - 1) and window >= 10


def test_auto_window_fits_the_recordings_or_says_why_not():
    x = np.sin(2 * np.pi * np.arange(300) / 100)
    window, reason = auto_window([x, x[:90]], minimum=10, hop=2, lengths=[300, 90])
    assert window == 88 and "cut to 88 points to fit the shortest recording (90 points)" in reason
    with pytest.raises(DataError, match=r"--window auto: .*the encoder needs windows of at least 10 points, and "
                                        r"the shortest recording has 9 points"):
        auto_window([weekly_counts(9)], minimum=10)


def test_cli_window_auto_on_a_weekly_period_trains(tmp_path, capsys):
    np.save(tmp_path / "daily.npy", weekly_counts(400))
    code, out, err = cli(capsys, "train", tmp_path / "daily.npy", "--window", "auto", "--out", tmp_path / "run",
                         *FLAGS)
    assert code == 0, err
    assert "--window auto: 14 points (dominant period 7 points" in out
    window = json.loads((tmp_path / "run" / "windowing.json").read_text())["window"]
    assert window == 14 and window >= SignalAutoencoder.load(tmp_path / "run").config.minimum_length()
    code, _, err = cli(capsys, "train", tmp_path / "daily.npy", "--window", "7", "--out", tmp_path / "run7", *FLAGS)
    assert_cli_error(code, err, "--window 7: shorter than the encoder's shortest input, 10 points")
    assert not (tmp_path / "run7").exists()
    np.save(tmp_path / "short.npy", weekly_counts(9))
    code, _, err = cli(capsys, "train", tmp_path / "short.npy", "--window", "auto", "--out", tmp_path / "run9", *FLAGS)
    assert_cli_error(code, err, "--window auto:", "at least 10 points")
    assert not (tmp_path / "run9").exists()


def test_bugcase_weekly_period():
    x = np.load(bugcase("daily_counts_weekly_period7.npy"))
    assert auto_window([x], minimum=10)[0] == 14


# ============================================================================ F: blank lines in text recordings
@pytest.mark.parametrize("text,line", [
    ("1\n2\n\n4\n5\n", 3),  # a gap in the middle
    ("\n1\n2\n3\n", 1),  # at the start
    ("value\n\n1\n2\n", 2),  # after a header
    ("1\n2\n   \n4\n", 3),  # only spaces
    ("1\r\n2\r\n\r\n4\r\n", 3),  # CRLF
    ("1,2\n3,4\n\t\n5,6\n", 3),  # several columns, a tab
    ("# logger 7\n\n1\n2\n", 2),  # after a comment, before the data
])
def test_blank_lines_among_the_data_are_refused_at_their_line(tmp_path, text, line):
    path = tmp_path / "rec.csv"
    path.write_bytes(text.encode())
    for read in (load_signals, load_array, read_recordings):
        with pytest.raises(DataError) as err:
            read(path)
        assert_one_line_error(err, path, f"line {line} (1-based, counting every line of the file) is blank")


@pytest.mark.parametrize("text", ["1\n2\n3\n", "1\n2\n3", "1\r\n2\r\n3\r\n", "1\n2\n3\n\n\n", "\n\nv\n1\n2\n3\n"])
def test_a_final_newline_and_blank_lines_above_a_header_are_fine(tmp_path, text):
    path = tmp_path / "rec.csv"
    path.write_bytes(text.encode())
    (rec,) = read_recordings(path)
    np.testing.assert_array_equal(rec.to_array()[:, 0], [1, 2, 3])


def test_cli_blank_line_writes_nothing(tmp_path, capsys, trained):
    _, run, x = trained
    lines = [",".join(map(repr, row.tolist())) for row in x[:4]]
    path = tmp_path / "gap.csv"
    path.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")
    out = tmp_path / "scores.mat"
    code, _, err = cli(capsys, "score", run, path, "-o", out)
    assert_cli_error(code, err, str(path), "line 3 (1-based")
    assert not out.exists()


def test_bugcase_blank_line_gap():
    path = bugcase("recording_blank_line_gap.csv")
    with pytest.raises(DataError) as err:
        read_recordings(path)
    assert_one_line_error(err, path, "line 2001 (1-based", "40 blank lines")


# ============================================================================ leftover: one 1-D signal
def test_encode_and_score_take_a_vector_of_the_models_length_as_one_signal(trained):
    model, _, x = trained
    np.testing.assert_array_equal(model.encode(x[3]), model.encode(x[3:4]))
    assert model.score(x[3]).scores.tolist() == model.score(x[3:4]).scores.tolist()
    assert model.reconstruct(x[3]).shape == (64,)
    with pytest.raises(DataError, match=r"a 1-D array of 50 values, but the model takes signals of 64 points x 1 "
                                        r"channel\(s\); give signals shaped \(n, 64\)"):
        model.encode(x[3][:50])
    with pytest.raises(DataError, match=r"signals as columns\? pass x\.T"):
        model.score(x[:5].T)
