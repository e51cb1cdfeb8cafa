"""sigae.data.io on real files written here: every MAT-file version, the other formats, and bad input."""

import struct
import zlib

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigae.errors import DataError, OutputExistsError
from sigae.data.io import SignalSource, list_variables, load_array, load_signals, save_array

RNG = np.random.default_rng(7)
X = np.round(RNG.standard_normal((6, 11)), 6)  # 6 signals of 11 points


# ---------------------------------------------------------------------------- writing test files
class StructArray(list):
    """A MATLAB 1xN struct array (a list of dicts) for write_v73."""


def write_v73(path, variables):
    """A MAT-file v7.3 the way MATLAB writes one: HDF5 behind a 512-byte text header, arrays transposed."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            _put_v73(f, name, value)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + bytes(8) + b"\x00\x02IM")
    return path


def _ref_v73(group, value):
    refs = group.file.require_group("#refs#")
    name = f"r{len(refs)}"
    _put_v73(refs, name, value)
    return refs[name].ref


def _put_v73(group, name, value):
    if isinstance(value, StructArray):
        g = group.create_group(name)
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        for field in value[0]:
            refs = np.array([[_ref_v73(group, item[field])] for item in value], dtype=h5py.ref_dtype)
            g.create_dataset(field, data=refs)  # (N, 1) on disk: a 1xN struct array
    elif isinstance(value, dict):
        g = group.create_group(name)
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        for field, item in value.items():
            _put_v73(g, field, item)
    elif isinstance(value, list):  # a 1xN cell
        refs = np.array([[_ref_v73(group, item)] for item in value], dtype=h5py.ref_dtype)
        group.create_dataset(name, data=refs).attrs["MATLAB_class"] = np.bytes_("cell")
    elif isinstance(value, str):
        ds = group.create_dataset(name, data=np.array([[ord(c)] for c in value], dtype=np.uint16))
        ds.attrs["MATLAB_class"] = np.bytes_("char")
    elif scipy.sparse.issparse(value):
        csc = scipy.sparse.csc_matrix(value)
        g = group.create_group(name)
        g.attrs["MATLAB_class"] = np.bytes_("double")
        g.attrs["MATLAB_sparse"] = np.uint64(csc.shape[0])
        g.create_dataset("data", data=csc.data)
        g.create_dataset("ir", data=csc.indices.astype(np.uint64))
        g.create_dataset("jc", data=csc.indptr.astype(np.uint64))
    elif value.size == 0:
        ds = group.create_dataset(name, data=np.array(value.shape, dtype=np.uint64))
        ds.attrs["MATLAB_class"] = np.bytes_("double")
        ds.attrs["MATLAB_empty"] = np.uint8(1)
    elif value.dtype == bool:
        ds = group.create_dataset(name, data=value.T.astype(np.uint8))
        ds.attrs["MATLAB_class"] = np.bytes_("logical")
    elif value.dtype.kind == "c":
        pair = np.dtype([("real", "<f8"), ("imag", "<f8")])
        data = np.empty(value.T.shape, pair)
        data["real"], data["imag"] = value.T.real, value.T.imag
        group.create_dataset(name, data=data).attrs["MATLAB_class"] = np.bytes_("double")
    else:
        cls = {"f8": "double", "f4": "single"}.get(value.dtype.str[1:], value.dtype.name)
        group.create_dataset(name, data=value.T).attrs["MATLAB_class"] = np.bytes_(cls)


def write_mat(path, version, variables):
    """v4, v6 (v5 uncompressed), v7 (v5 compressed) with scipy; v7.3 by hand."""
    if version == "7.3":
        return write_v73(path, variables)
    options = {"4": {"format": "4"}, "6": {"format": "5"}, "7": {"format": "5", "do_compression": True}}
    scipy.io.savemat(path, variables, **options[version])
    return path


def cell(*items):
    out = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        out[0, i] = item
    return out


def assert_one_line_error(exc_info, path, *needles):
    message = str(exc_info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message and "\r" not in message, message
    message.encode("utf-8")  # printable on any terminal
    for needle in needles:
        assert needle in message, message
    return message


# ---------------------------------------------------------------------------- MAT-file versions
@pytest.mark.parametrize("version", ["4", "6", "7", "7.3"])
def test_every_mat_version_gives_the_identical_array(tmp_path, version):
    path = write_mat(tmp_path / f"v{version}.mat", version, {"signals": X})
    x = load_signals(path)
    assert x.dtype == np.float64 and x.flags.c_contiguous
    np.testing.assert_array_equal(x, X)
    assert [v.name for v in list_variables(path)] == ["signals"]
    assert list_variables(path)[0].shape == (6, 11)


@pytest.mark.parametrize("version", ["6", "7", "7.3"])
def test_structs_cells_and_paths(tmp_path, version):
    trials = [X[0], X[1] * 2, X[2] * 3]
    if version == "7.3":
        variables = {"data": {"trial": X, "trials": [t[None, :] for t in trials]},
                     "c": [X[:2], X[2:4]], "s": StructArray([{"x": X[:2]}, {"x": X[2:5]}])}
    else:
        s = np.empty((1, 2), dtype=[("x", object)])
        s[0, 0]["x"], s[0, 1]["x"] = X[:2], X[2:5]
        variables = {"data": {"trial": X, "trials": cell(*[t[None, :] for t in trials])},
                     "c": cell(X[:2], X[2:4]), "s": s}
    path = write_mat(tmp_path / "nested.mat", version, variables)
    np.testing.assert_array_equal(load_signals(path, "data.trial"), X)
    np.testing.assert_array_equal(load_signals(path, "c{2}"), X[2:4])
    np.testing.assert_array_equal(load_signals(path, "c{1,2}"), X[2:4])
    np.testing.assert_array_equal(load_array(path, "data.trials{3}"), 3 * X[2][None, :])
    np.testing.assert_array_equal(load_signals(path, "s(2).x"), X[2:5])
    np.testing.assert_array_equal(load_signals(path, "data.trials"), np.stack(trials))
    with pytest.raises(DataError) as err:
        load_signals(path, "s.x")
    assert_one_line_error(err, path, "'s.x' of a struct array stacks one vector per element", "e.g. s(1).x")
    with pytest.raises(DataError) as err:
        load_signals(path, "c{3}")
    assert_one_line_error(err, path, "out of range")
    with pytest.raises(DataError) as err:
        load_signals(path, "data.nope")
    assert_one_line_error(err, path, "no field 'nope'", "trial", "trials")
    with pytest.raises(DataError) as err:  # structs and cells are never chosen on their own
        load_signals(path)
    assert_one_line_error(err, path, "no variable could hold signals", "data (1x1 struct)", "c (1x2 cell)")


@pytest.mark.parametrize("version", ["7", "7.3"])
def test_cell_of_unequal_vectors_needs_crop_or_pad(tmp_path, version):
    vectors = [np.arange(1.0, 6.0), np.arange(1.0, 4.0), np.arange(1.0, 5.0)]
    value = [v[None, :] for v in vectors] if version == "7.3" else cell(*[v[None, :] for v in vectors])
    path = write_mat(tmp_path / "ragged.mat", version, {"c": value})
    with pytest.raises(DataError) as err:
        load_signals(path, "c")
    assert str(err.value) == (f"{path}: cell 'c' holds signals of 3 different lengths (min 3, max 5); "
                              "use --crop or --pad to bring them to one length")
    np.testing.assert_array_equal(load_signals(path, "c", length_policy="crop"),
                                  [[1, 2, 3], [1, 2, 3], [1, 2, 3]])
    np.testing.assert_array_equal(load_signals(path, "c", length_policy="pad"),
                                  [[1, 2, 3, 4, 5], [1, 2, 3, 0, 0], [1, 2, 3, 4, 0]])
    _, source = load_signals(path, "c", length_policy="crop", return_info=True)
    assert source == SignalSource(str(path), "c", "rows", "")


@pytest.mark.parametrize("version", ["7", "7.3"])
def test_sparse_is_densified_when_named_and_never_picked(tmp_path, version):
    dense = np.zeros((4, 9))
    dense[1, 3], dense[3, 8] = 2.5, -1.0
    path = write_mat(tmp_path / "sparse.mat", version, {"sp": scipy.sparse.csc_matrix(dense)})
    np.testing.assert_array_equal(load_signals(path, "sp"), dense)
    info = list_variables(path)[0]
    assert (info.name, info.shape, info.kind) == ("sp", (4, 9), "sparse")
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, "no variable could hold signals", "sp (4x9 sparse)")
    with pytest.raises(DataError) as err:
        load_signals(path, "sp", max_bytes=100)
    assert_one_line_error(err, path, "'sp'", "over the limit")
    both = write_mat(tmp_path / "both.mat", version, {"sp": scipy.sparse.csc_matrix(dense), "x": X})
    np.testing.assert_array_equal(load_signals(both), X)


def test_v73_sparse_with_bad_indices_is_refused(tmp_path):
    path = write_v73(tmp_path / "badsparse.mat", {"sp": scipy.sparse.csc_matrix(np.eye(4))})
    with h5py.File(path, "r+") as f:
        f["sp/ir"][0] = 99  # row 100 of a 4-row matrix
    with pytest.raises(DataError) as err:
        load_signals(path, "sp")
    assert_one_line_error(err, path, "not a readable MAT-file")


@pytest.mark.parametrize("version", ["7", "7.3"])
def test_char_logical_and_integer_variables(tmp_path, version):
    flags = X > 0
    counts = (X * 100).astype(np.int16)
    path = write_mat(tmp_path / "types.mat", version, {"name": "trial one", "flags": flags, "counts": counts})
    kinds = {v.name: (v.kind, v.dtype) for v in list_variables(path)}
    assert kinds == {"name": ("char", "char"), "flags": ("logical", "logical"), "counts": ("numeric", "int16")}
    np.testing.assert_array_equal(load_signals(path, "flags"), flags.astype(float))
    np.testing.assert_array_equal(load_signals(path, "counts"), counts.astype(float))
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, "several variables could hold signals", "flags (6x11)", "counts (6x11)")
    with pytest.raises(DataError) as err:
        load_array(path, "name")
    assert_one_line_error(err, path, "'name' is a char array")


def test_v73_empty_and_complex(tmp_path):
    path = write_v73(tmp_path / "odd.mat", {"e": np.zeros((0, 5)), "z": X * 1j})
    assert {v.name: v.shape for v in list_variables(path)} == {"e": (0, 5), "z": (6, 11)}
    with pytest.raises(DataError) as err:
        load_signals(path, "e")
    assert_one_line_error(err, path, "'e' is empty")
    with pytest.raises(DataError) as err:
        load_signals(path, "z")
    assert_one_line_error(err, path, "'z' is complex")


def test_big_endian_and_float32_become_native_float64(tmp_path):
    path = tmp_path / "be.npz"
    np.savez(path, be=X.astype(">f8"), f32=X.astype(np.float32))
    x = load_signals(path, "be")
    assert x.dtype == np.dtype("=f8") and x.dtype.isnative
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(load_signals(path, "f32"), X.astype(np.float32).astype(np.float64))
    h5 = tmp_path / "be.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("x", data=X.astype(">f8"))
    assert load_signals(h5).dtype.isnative


# ---------------------------------------------------------------------------- orientation and channels
def test_orientation_forced_and_automatic(tmp_path):
    path = write_mat(tmp_path / "cols.mat", "7", {"x": X.T})  # 11 points x 6 signals
    np.testing.assert_array_equal(load_signals(path, orientation="columns"), X)
    x, source = load_signals(path, expected_length=11, return_info=True)
    np.testing.assert_array_equal(x, X)
    assert source.orientation == "columns"
    assert source.note == "signals read as columns: their length 11 matches the model"
    x, source = load_signals(path, return_info=True)
    assert x.shape == (11, 6) and source.orientation == "rows" and source.note == ""
    with pytest.raises(DataError) as err:
        load_signals(path, expected_length=7)
    assert_one_line_error(err, path, "11x6", "7 points", "neither side")
    with pytest.raises(DataError) as err:
        load_signals(path, orientation="rows", expected_length=11)
    assert_one_line_error(err, path, "6 points", "--orientation columns")


@pytest.mark.parametrize("version", ["7", "7.3"])
def test_three_dimensional_channels(tmp_path, version):
    cube = RNG.standard_normal((5, 8, 3))
    path = write_mat(tmp_path / "cube.mat", version, {"x": cube})
    np.testing.assert_array_equal(load_signals(path), cube)
    np.testing.assert_array_equal(load_signals(path, orientation="columns"), cube.transpose(1, 0, 2))
    x, source = load_signals(path, expected_length=5, return_info=True)
    assert x.shape == (8, 5, 3) and source.orientation == "columns"


# ---------------------------------------------------------------------------- other formats
def test_npy_npz_h5(tmp_path):
    np.save(tmp_path / "a.npy", X)
    np.testing.assert_array_equal(load_signals(tmp_path / "a.npy"), X)
    assert list_variables(tmp_path / "a.npy")[0].name == "a"
    np.savez(tmp_path / "b.npz", signals=X, labels=np.arange(6))
    np.testing.assert_array_equal(load_signals(tmp_path / "b.npz"), X)
    np.testing.assert_array_equal(load_array(tmp_path / "b.npz", "labels"), np.arange(6.0))
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("group/data", data=X)
        f.create_dataset("meta", data="not numbers")
    assert {(v.name, v.kind) for v in list_variables(tmp_path / "c.h5")} == {("group/data", "numeric"),
                                                                             ("meta", "char")}
    np.testing.assert_array_equal(load_signals(tmp_path / "c.h5"), X)
    np.testing.assert_array_equal(load_signals(tmp_path / "c.h5", "group/data"), X)


@pytest.mark.parametrize("text", [
    "1,2,3\n4,5,6\n",
    "a,b,c\n1,2,3\n4,5,6\n",
    "1;2;3\n4;5;6\n",
    "# comment\n1 2 3\n# another\n4\t5  6\n\n  \n",  # blank lines after the data end it
    "t1 t2 t3\n1 2 3\n4 5 6\n",  # names like t1, t2... name points, not a time axis
])
@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_text_tables(tmp_path, text, suffix):
    path = tmp_path / f"table{suffix}"
    path.write_text(text)
    np.testing.assert_array_equal(load_signals(path), [[1, 2, 3], [4, 5, 6]])


def test_ragged_csv_is_a_data_error(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("1,2,3\n4,5\n")
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, "line 2 has 2 values, but line 1 has 3")


# ---------------------------------------------------------------------------- writing
@pytest.mark.parametrize("suffix", [".mat", ".npz", ".csv", ".h5", ".hdf5"])
def test_save_array_round_trip(tmp_path, suffix):
    latent = RNG.standard_normal((7, 4))
    path = save_array(tmp_path / f"out{suffix}", "latent", latent, source_file="signals.mat", threshold=0.25,
                      flag=True, is_anomaly=np.array([0, 1, 0], dtype=np.uint8))
    assert path == tmp_path / f"out{suffix}"
    np.testing.assert_array_equal(load_array(path, "latent"), latent)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    if suffix != ".csv":
        names = {v.name for v in list_variables(path)}
        assert names == {"latent", "source_file", "threshold", "flag", "is_anomaly"}
        assert load_array(path, "threshold").ravel().tolist() == [0.25]
        assert load_array(path, "is_anomaly").ravel().tolist() == [0, 1, 0]


def test_save_mat_is_matlab_readable_with_valid_names(tmp_path):
    path = save_array(tmp_path / "out.mat", "1bad-name", X, **{"for": np.arange(3), "ok_name": "text"})
    stored = scipy.io.loadmat(path)
    assert {"x1bad_name", "for_", "ok_name"} <= set(stored)
    np.testing.assert_array_equal(stored["x1bad_name"], X)
    assert stored["for_"].shape == (3, 1)  # 1-D arrays are saved as columns
    with pytest.raises(DataError) as err:
        save_array(tmp_path / "clash.mat", "a-b", X, a_b=1)
    assert_one_line_error(err, tmp_path / "clash.mat", "'a-b'", "'a_b'")
    assert not (tmp_path / "clash.mat").exists()


@pytest.mark.parametrize("suffix", [".mat", ".npz", ".csv", ".h5"])
def test_save_array_refuses_to_overwrite(tmp_path, suffix):
    path = save_array(tmp_path / f"out{suffix}", "x", X)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        save_array(path, "x", X * 2)
    assert path.read_bytes() == before
    save_array(path, "x", X * 2, overwrite=True)
    np.testing.assert_array_equal(load_array(path, "x"), X * 2)


def test_save_array_rejects_unknown_extension_and_3d_csv(tmp_path):
    with pytest.raises(DataError) as err:
        save_array(tmp_path / "out.xlsx", "x", X)
    assert_one_line_error(err, tmp_path / "out.xlsx", ".mat", ".npz", ".csv", ".h5")
    with pytest.raises(DataError) as err:
        save_array(tmp_path / "cube.csv", "x", np.zeros((2, 3, 4)))
    assert_one_line_error(err, tmp_path / "cube.csv", "2x3x4")


# ---------------------------------------------------------------------------- bad input
def png_bytes():
    """A real 2x2 grey PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"\x00\x00\xff\x00\xff\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def v5_bytes(tmp_path, compressed, x=None):
    path = tmp_path / "valid.mat"
    scipy.io.savemat(path, {"x": X if x is None else x}, do_compression=compressed)
    return path.read_bytes()


def test_missing_directory_empty_and_unknown_files(tmp_path):
    cases = {tmp_path / "missing.mat": "no such file", tmp_path / "folder.mat": "is a directory",
             tmp_path / "empty.mat": "is empty", tmp_path / "data.xlsx": ".mat, .npy, .npz, .csv, .txt, .h5"}
    (tmp_path / "folder.mat").mkdir()
    (tmp_path / "empty.mat").write_bytes(b"")
    (tmp_path / "data.xlsx").write_bytes(b"PK\x03\x04")
    for path, needle in cases.items():
        for call in (load_signals, load_array, list_variables):
            with pytest.raises(DataError) as err:
                call(path)
            assert_one_line_error(err, path, needle)


def test_png_renamed_truncated_and_corrupted_files(tmp_path):
    png = tmp_path / "picture.mat"
    png.write_bytes(png_bytes())
    truncated = tmp_path / "truncated.mat"
    truncated.write_bytes(v5_bytes(tmp_path, False)[:300])
    noisy = RNG.standard_normal((20, 30))
    body = bytearray(v5_bytes(tmp_path, True, noisy))
    body[200:240] = bytes(b ^ 0xFF for b in body[200:240])  # inside the zlib stream of the only variable
    corrupted = tmp_path / "corrupted.mat"
    corrupted.write_bytes(bytes(body))
    h5_truncated = tmp_path / "truncated73.mat"
    h5_truncated.write_bytes(write_v73(tmp_path / "full73.mat", {"x": X}).read_bytes()[:1500])
    for path in (png, truncated, corrupted, h5_truncated):
        with pytest.raises(DataError) as err:
            load_signals(path)
        assert_one_line_error(err, path)


def test_text_renamed_to_mat_is_named_a_text_file(tmp_path):
    for name, text in (("table.mat", "1,2,3\n4,5,6\n"), ("notes.mat", "measurements of 3 May\n" * 40),
                       ("accents.mat", "x" + "é" * 300)):  # byte 512 falls inside an 'é'
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DataError) as err:
            load_signals(path)
        assert_one_line_error(err, path, "is a text file, not a MAT-file", ".csv or .txt")
    header = v5_bytes(tmp_path, False)[:116]  # MATLAB's own text header, cut short: damaged, not text
    assert header.startswith(b"MATLAB 5.0 MAT-file")
    (tmp_path / "header.mat").write_bytes(header)
    with pytest.raises(DataError) as err:
        load_signals(tmp_path / "header.mat")
    assert_one_line_error(err, tmp_path / "header.mat", "not a readable MAT-file")


def test_absurd_sizes_are_refused_before_reading(tmp_path):
    raw = bytearray(v5_bytes(tmp_path, False))
    assert struct.unpack("<2i", raw[160:168]) == (6, 11)  # dims of the only variable
    raw[160:168] = struct.pack("<2i", 2**31 - 1, 2**31 - 1)
    path = tmp_path / "absurd.mat"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, "'x'", "2147483647x2147483647", "over the limit of 8 GiB")
    h5 = tmp_path / "huge.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("x", shape=(2**20, 2**20), dtype="f8", chunks=(16, 16))
    with pytest.raises(DataError) as err:
        load_signals(h5)
    assert_one_line_error(err, h5, "1048576x1048576", "8 TiB", "over the limit")
    npy = tmp_path / "huge.npy"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    with open(npy, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {**header, "shape": (2**20, 2**20)})
    with pytest.raises(DataError) as err:
        load_signals(npy)
    assert_one_line_error(err, npy, "over the limit")


def test_wrong_variable_lists_what_is_there(tmp_path):
    path = write_mat(tmp_path / "vars.mat", "7", {"signals": X, "labels": np.arange(6)[None, :]})
    with pytest.raises(DataError) as err:
        load_signals(path, "sigals")
    assert_one_line_error(err, path, "no variable 'sigals'", "signals (6x11 double)", "labels (1x6")


@pytest.mark.parametrize("version", ["7", "7.3"])
def test_nan_and_inf_are_counted_and_located(tmp_path, version):
    bad = X.copy()
    bad[2, 16 % 11] = np.nan
    bad[4, 0] = np.inf
    path = write_mat(tmp_path / "nan.mat", version, {"x": bad})
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, "variable 'x' has 2 NaN/Inf values; first at signal 3, point 6 (1-based)")
    with pytest.raises(DataError) as err:
        load_signals(path, orientation="columns")
    assert_one_line_error(err, path, "first at signal 1, point 5 (1-based) is inf")
    with pytest.raises(DataError) as err:
        load_array(path)
    assert_one_line_error(err, path, "first at element (3, 6) (1-based)")


@pytest.mark.parametrize("variables,needle", [
    ({"x": X * (1 + 1j)}, "complex"),
    ({"x": X[:1]}, "single vector"),
    ({"x": X[:, :1]}, "single vector"),
    ({"x": X[:2, :1].T}, "single vector"),
])
def test_unusable_matrices(tmp_path, variables, needle):
    """Training (min_signals=2) refuses a vector; a complex matrix is refused whatever the use."""
    path = write_mat(tmp_path / "bad.mat", "7", variables)
    with pytest.raises(DataError) as err:
        load_signals(path, "x", min_signals=2)
    assert_one_line_error(err, path, needle)


@pytest.mark.parametrize("version", ["4", "7", "7.3"])
def test_a_vector_is_one_signal_to_encode_or_score(tmp_path, version):
    """One row, one column or a 1-D array is one signal (1, L) unless training asks for at least 2."""
    row, column = X[2:3], X[2:3].T
    path = write_mat(tmp_path / "one.mat", version, {"row": row, "column": column})
    for var in ("row", "column"):
        np.testing.assert_array_equal(load_signals(path, var), row)
        np.testing.assert_array_equal(load_signals(path, var, expected_length=X.shape[1]), row)
    flat = tmp_path / "flat.npy"
    np.save(flat, X[2])
    np.testing.assert_array_equal(load_signals(flat), row)
    with pytest.raises(DataError) as err:
        load_signals(flat, min_signals=2)
    assert_one_line_error(err, flat, "single vector (11)", "training needs at least 2")
    with pytest.raises(DataError) as err:  # a vector forced into columns: 11 signals of 1 point
        load_signals(path, "row", orientation="columns")
    assert_one_line_error(err, path, "signals of 1 point(s); need at least 2")


def test_one_signal_zero_length_and_short_signals(tmp_path):
    cube = tmp_path / "one.npy"
    np.save(cube, np.ones((1, 8, 2)))
    assert load_signals(cube).shape == (1, 8, 2)
    with pytest.raises(DataError) as err:
        load_signals(cube, min_signals=2)
    assert_one_line_error(err, cube, "only 1 signal; training needs at least 2")
    empty = tmp_path / "empty.npz"
    np.savez(empty, x=np.zeros((5, 0)))
    with pytest.raises(DataError) as err:
        load_signals(empty, "x")
    assert_one_line_error(err, empty, "'x' is empty")
    short = tmp_path / "short.npy"
    np.save(short, np.ones((5, 3)))
    with pytest.raises(DataError) as err:
        load_signals(short, min_length=4)
    assert_one_line_error(err, short, "3 point(s)", "at least 4")


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    npy = tmp_path / "objects.npy"
    np.save(npy, np.array([[1, "a"], [2, None]], dtype=object), allow_pickle=True)
    npz = tmp_path / "objects.npz"
    np.savez(npz, x=np.array([[1, "a"], [2, None]], dtype=object))
    for path, var in ((npy, None), (npz, "x")):
        with pytest.raises(DataError) as err:
            load_signals(path, var)
        assert_one_line_error(err, path, "array of objects")


def test_non_utf8_variable_names(tmp_path):
    path = write_mat(tmp_path / "names.mat", "7", {"x": X})
    with pytest.raises(DataError) as err:
        load_signals(path, "sig\udcff\nal")
    assert_one_line_error(err, path, "sig\\udcff\\nal")
    h5 = tmp_path / "names.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset(b"sig\xff", data=X)
        f.create_dataset("other", data=X)
    with pytest.raises(DataError) as err:
        load_signals(h5)
    assert_one_line_error(err, h5, "sig\\udcff (6x11)")
    np.testing.assert_array_equal(load_signals(h5, "sig\udcff"), X)


def v5_file_with_matrix(path, matrix, compressed):
    """A v5 file around one raw miMATRIX element (tag included), optionally inside a miCOMPRESSED element."""
    header = b"MATLAB 5.0 MAT-file, written by test_io".ljust(116, b" ") + bytes(8) + b"\x00\x01IM"
    body = zlib.compress(matrix) if compressed else matrix[8:]
    path.write_bytes(header + struct.pack("<II", 15 if compressed else 14, len(body)) + body)
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_data_that_would_crash_scipy_is_refused(tmp_path, compressed):
    """scipy's C reader indexes a table with each element's type code and recurses without limit."""
    matrix = bytearray(v5_bytes(tmp_path, False)[128:])
    assert struct.unpack("<II", matrix[48:56]) == (9, 6 * 11 * 8)  # the miDOUBLE data element of x
    matrix[48:52] = struct.pack("<I", 74)
    path = v5_file_with_matrix(tmp_path / "badtype.mat", bytes(matrix), compressed)
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, "unknown data type 74")
    nested = np.array([[1.0, 2.0]])
    for _ in range(80):
        nested = cell(nested)
    scipy.io.savemat(tmp_path / "deep.mat", {"deep": nested}, do_compression=compressed)
    with pytest.raises(DataError) as err:
        load_signals(tmp_path / "deep.mat", "deep")
    assert_one_line_error(err, tmp_path / "deep.mat", "nested more than 64 deep")


# ---------------------------------------------------------------------------- fuzzing
FUZZ = settings(max_examples=1000, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def only_array_or_data_error(path, data, var=None):
    path.write_bytes(data)
    try:
        x = load_signals(path, var, max_bytes=2**26)
    except DataError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
    else:
        assert isinstance(x, np.ndarray) and x.dtype == np.float64


@FUZZ
@given(data=st.binary(min_size=1, max_size=600))
def test_fuzz_random_bytes(tmp_path, data):
    only_array_or_data_error(tmp_path / "random.mat", data)


@FUZZ
@given(data=st.binary(min_size=1, max_size=400))
def test_fuzz_random_bytes_behind_a_mat_header(tmp_path, data):
    header = b"MATLAB 5.0 MAT-file, Platform: GLNXA64".ljust(124, b" ") + b"\x00\x01IM"
    only_array_or_data_error(tmp_path / "header.mat", header + data)


@pytest.fixture(scope="module")
def valid_mats(tmp_path_factory):
    """Small v6 and v7 files with one variable of each kind sigae walks into."""
    folder = tmp_path_factory.mktemp("valid")
    x = X[:3, :4]
    variables = {"x": x, "c": cell(x[:1], x[1:2]), "s": {"a": x, "name": "ab"}, "sp": scipy.sparse.csc_matrix(x),
                 "i": x.astype(np.int16)}
    files = {}
    for compressed in (False, True):
        scipy.io.savemat(folder / "valid.mat", variables, do_compression=compressed)
        files[compressed] = (folder / "valid.mat").read_bytes()
    return files


@FUZZ
@given(compressed=st.booleans(),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(1, 10**6)),
       var=st.sampled_from([None, "x", "c", "c{2}", "s.a", "s.name", "sp", "i"]))
def test_fuzz_bit_flips_and_truncations(tmp_path, valid_mats, compressed, flips, cut, var):
    data = bytearray(valid_mats[compressed])
    for position, bit in flips:
        data[position % len(data)] ^= 1 << bit
    if cut is not None:
        data = data[:cut % len(data) + 1]
    only_array_or_data_error(tmp_path / "flipped.mat", bytes(data), var)
