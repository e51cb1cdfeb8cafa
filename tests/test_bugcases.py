"""Field reports of issue #15, kinds 1-6 (data input): the shared inputs, and variants of each kind built here.

The inputs in ``../shared/bugcases`` (beside the project folder) are used when present and skipped cleanly
otherwise; every kind is also rebuilt here with numpy/scipy/h5py in other positions, shapes and versions,
because the fix is checked on inputs of the same kind that were never seen.
"""

import struct
import zlib
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_io import StructArray, assert_one_line_error, write_mat, write_v73

import sigae
import sigae.data.io.hdf5
from sigae.cli import main
from sigae.errors import DataError
from sigae.data.io import list_variables, load_array, load_signals, open_signal_dataset

BUGCASES = Path(__file__).resolve().parents[1].parent / "shared" / "bugcases"
RNG = np.random.default_rng(15)
X = np.round(RNG.standard_normal((5, 64)), 6)  # 5 signals of 64 points (the length of the tiny model)


def bugcase(name):
    path = BUGCASES / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared bug cases are not beside this checkout)")
    return path


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------- a MAT v5 writer for objects
# scipy cannot write MATLAB objects; these build the elements MATLAB writes (MAT-file format, MathWorks:
# miMATRIX of class 17 = an MCOS object: name, type system "MCOS", class name, a uint32 description).
def _el(mdtype, data):
    return struct.pack("<II", mdtype, len(data)) + data + bytes(-len(data) % 8)


def _text(s):
    return _el(1, s.encode("latin1"))


def _matrix(mclass, dims, name, *parts):
    body = _el(6, struct.pack("<II", mclass, 0)) + _el(5, struct.pack(f"<{len(dims)}i", *dims)) + _text(name)
    body += b"".join(parts)
    return struct.pack("<II", 14, len(body)) + body


def v5_double(name, x):
    x = np.atleast_2d(np.asarray(x, float))
    return _matrix(6, x.shape, name, _el(9, x.tobytes(order="F")))


def v5_object(name, cls, dims=(1, 1)):
    n = int(np.prod(dims))
    words = np.array([0xDD000000, len(dims), *dims, *range(1, n + 1), 1], dtype=np.uint32)
    description = _matrix(13, (len(words), 1), "", _el(6, words.tobytes()))
    body = _el(6, struct.pack("<II", 17, 0)) + _text(name) + _text("MCOS") + _text(cls) + description
    return struct.pack("<II", 14, len(body)) + body


def v5_function_handle(name):
    inner = _matrix(4, (1, 3), "", _el(16, "sin".encode("utf-8")))  # scipy keeps what is inside as is
    return _matrix(16, (1, 1), name, inner)


def v5_struct(name, fields: dict):
    width = 32
    names = b"".join(f.encode().ljust(width, b"\0") for f in fields)
    return _matrix(2, (1, 1), name, _el(5, struct.pack("<i", width)), _el(1, names), *fields.values())


def v5_cell(name, items):
    return _matrix(1, (1, len(items)), name, *items)


def v5_workspace():
    """The unnamed variable MATLAB appends when a file holds MCOS objects (its __function_workspace__)."""
    return _matrix(9, (1, 16), "", _el(2, bytes(range(16))))


def write_v5(path, elements, compressed):
    header = b"MATLAB 5.0 MAT-file, written by test_bugcases".ljust(116, b" ") + bytes(8) + b"\x00\x01IM"
    body = b"".join(struct.pack("<II", 15, len(z)) + z for z in map(zlib.compress, elements)) if compressed \
        else b"".join(elements)
    path.write_bytes(header + body)
    return path


# ---------------------------------------------------------------------------- kind 1: unreadable objects
def test_bugcase_string_object_beside_signals(capsys, trained):
    path = bugcase("v7_signals_plus_string_object.mat")
    infos = {i.name: i for i in list_variables(path)}
    assert (infos["sensor_name"].kind, infos["sensor_name"].dtype) == ("object", "string")
    expected = scipy.io.loadmat(path, variable_names=["signals"])["signals"]
    np.testing.assert_array_equal(load_signals(path), expected)
    np.testing.assert_array_equal(load_signals(path, "signals"), expected)
    with pytest.raises(DataError) as err:
        load_signals(path, "sensor_name")
    assert_one_line_error(err, path, "'sensor_name' is a MATLAB string object (1x1), not numbers")
    _, run, _ = trained
    code, out, err = cli(capsys, "score", run, path, "-o", Path(run).parent / "objects_scores.csv")
    assert code == 0, err
    assert len(np.loadtxt(Path(run).parent / "objects_scores.csv", delimiter=",", skiprows=1, ndmin=2)) == 20


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("cls", ["string", "datetime", "table", "categorical", "duration"])
@pytest.mark.parametrize("position", ["before", "after", "both"])
def test_objects_in_any_position_are_listed_and_skipped(tmp_path, compressed, cls, position):
    objects = {"before": [v5_object("first", cls, (1, 3))], "after": [v5_object("last", cls)],
               "both": [v5_object("first", cls, (2, 2)), v5_object("last", cls)]}[position]
    elements = (objects[:1] if position != "after" else []) + [v5_double("signals", X)] \
        + (objects[-1:] if position != "before" else []) + [v5_workspace()]
    path = write_v5(tmp_path / "objects.mat", elements, compressed)
    infos = list_variables(path)
    assert [i.name for i in infos] == ["first", "signals", "last"][position == "after":
                                                                 3 - (position == "before")]
    objects_listed = [i for i in infos if i.kind == "object"]
    assert [i.dtype for i in objects_listed] == [cls] * len(objects)
    if position != "after":
        assert infos[0].shape == ((1, 3) if position == "before" else (2, 2))
    np.testing.assert_array_equal(load_signals(path), X)
    np.testing.assert_array_equal(load_array(path), X)
    for obj in objects_listed:
        with pytest.raises(DataError) as err:
            load_signals(path, obj.name)
        assert_one_line_error(err, path, f"'{obj.name}' is a MATLAB {cls} object", "not numbers")


@pytest.mark.parametrize("compressed", [False, True])
def test_objects_inside_structs_and_cells(tmp_path, compressed):
    elements = [v5_struct("meta", {"when": v5_object("", "datetime"), "x": v5_double("", X)}),
                v5_cell("c", [v5_double("", X[0]), v5_object("", "string")]),
                v5_function_handle("f"), v5_double("signals", 2 * X), v5_workspace()]
    path = write_v5(tmp_path / "nested.mat", elements, compressed)
    kinds = {i.name: i.kind for i in list_variables(path)}
    assert kinds == {"meta": "struct", "c": "cell", "f": "function_handle", "signals": "numeric"}
    np.testing.assert_array_equal(load_signals(path), 2 * X)  # the only candidate
    np.testing.assert_array_equal(load_signals(path, "meta.x"), X)
    np.testing.assert_array_equal(load_signals(path, "c{1}"), X[:1])
    for var, needle in [("meta.when", "'meta.when' is a MATLAB datetime object"),
                        ("c{2}", "'c{2}' is a MATLAB string object"), ("c", "'c{2}' is a MATLAB string object"),
                        ("f", "'f' is a function handle")]:
        with pytest.raises(DataError) as err:
            load_signals(path, var)
        assert_one_line_error(err, path, needle)


def test_v73_objects_before_after_and_inside_a_struct(tmp_path):
    path = write_v73(tmp_path / "objects73.mat", {"signals": X, "meta": {"x": X[:2]}})
    with h5py.File(path, "r+") as f:
        for name, group in (("a_name", f), ("z_when", f), ("when", f["meta"])):
            ds = group.create_dataset(name, data=np.array([[3707764736, 2, 1, 1, 1, 1]], dtype=np.uint32))
            ds.attrs["MATLAB_class"] = np.bytes_("string" if name == "a_name" else "datetime")
            ds.attrs["MATLAB_object_decode"] = np.int32(3)
    kinds = {i.name: (i.kind, i.dtype) for i in list_variables(path)}
    assert kinds["a_name"] == ("object", "string") and kinds["z_when"] == ("object", "datetime")
    np.testing.assert_array_equal(load_signals(path), X)
    with pytest.raises(DataError) as err:
        load_signals(path, "meta.when")
    assert_one_line_error(err, path, "'meta.when' is a MATLAB datetime object")


def scipy_test_files():
    folder = Path(scipy.io.__file__).parent / "matlab" / "tests" / "data"
    return sorted(folder.glob("*.mat"))


@pytest.mark.parametrize("path", scipy_test_files(), ids=lambda p: p.name)
def test_scipy_matlab_test_files_give_an_array_or_a_one_line_error(path):
    """scipy's own MAT-files (v4-v7, objects, function handles, corrupt ones): never a crash or traceback."""
    try:
        infos = list_variables(path)
    except DataError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    for var in [None] + [i.name for i in infos]:
        for read in (load_signals, load_array):
            try:
                x = read(path, var)
            except DataError as exc:
                assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
            else:
                assert isinstance(x, np.ndarray) and x.dtype == np.float64


# ---------------------------------------------------------------------------- kind 2: Octave
def octave_put(group, name, value):
    """*value* the way Octave's ``save -hdf5`` stores it: a group with ``type`` and ``value``, transposed."""
    g = group.create_group(name)
    g.attrs["OCTAVE_NEW_FORMAT"] = np.uint8(1)

    def typed(text):
        g.create_dataset("type", data=np.bytes_(text))

    if isinstance(value, dict):
        typed("scalar struct")
        fields = g.create_group("value")
        for key, item in value.items():
            octave_put(fields, key, item)
    elif isinstance(value, StructArray):
        typed("struct")
        fields = g.create_group("value")
        fields.create_dataset("dims", data=np.array([len(value), 1], dtype=np.int64))  # 1xN, reversed
        for key in value[0]:
            octave_put(fields, key, [item[key] for item in value])
    elif isinstance(value, list):
        typed("cell")
        cells = g.create_group("value")
        cells.create_dataset("dims", data=np.array([len(value), 1], dtype=np.int64))  # 1xN, reversed
        digits = len(str(len(value)))
        for i, item in enumerate(value):
            octave_put(cells, f"_{i:0{digits}d}", item)
    elif isinstance(value, str):
        typed("string")
        g.create_dataset("value", data=np.array([[ord(c) for c in value]], dtype=np.int8).T)
    elif isinstance(value, tuple) and value[0] == "range":
        typed("range")
        g.create_dataset("value", data=np.array((0.0, 1.0, 0.1), dtype=[("base", "f8"), ("limit", "f8"),
                                                                        ("increment", "f8")]))
    elif np.ndim(value) == 0:
        typed("bool" if isinstance(value, bool) else "scalar")
        g.create_dataset("value", data=value)
    else:
        value = np.asarray(value)
        typed({"b": "bool matrix", "f": "matrix", "i": f"{value.dtype.name} matrix"}[value.dtype.kind])
        g.create_dataset("value", data=value.T.astype(np.uint8) if value.dtype == bool else value.T)


def write_octave(path, variables):
    with h5py.File(path, "w") as f:
        for name, value in variables.items():
            octave_put(f, name, value)
    return path


def test_bugcase_octave_hdf5_and_text():
    path = bugcase("octave_hdf5_format.mat")
    [info] = list_variables(path)
    assert (info.name, info.shape, info.kind) == ("signals", (12, 64), "numeric")
    with h5py.File(path, "r") as f:
        stored = f["signals/value"][()]
    assert stored.shape == (64, 12)  # Octave stores MATLAB's column-major array transposed
    np.testing.assert_array_equal(load_signals(path), stored.T)
    text = bugcase("octave_text_format.mat")
    for call in (list_variables, load_signals):
        with pytest.raises(DataError) as err:
            call(text)
        assert_one_line_error(err, text, "Octave's text format", "save -v7 file.mat")


@pytest.mark.parametrize("suffix", [".mat", ".h5"])
def test_octave_hdf5_with_several_variables(tmp_path, suffix):
    lengths = [np.arange(1.0, 9.0), np.arange(1.0, 7.0)]
    variables = {"fs": 250.0, "signals": X, "labels": np.array([[1, 0, 1, 0, 1]], dtype=np.int16),
                 "mask": X > 0, "name": "subject 1", "c": [X[0:1], X[1:2], X[2:3]],
                 "s": {"x": X[:3], "inner": {"y": X[3:]}}, "trials": StructArray([{"eeg": X[i:i + 1]} for i in range(4)]),
                 "ragged": lengths, "r": ("range",)}
    path = write_octave(tmp_path / f"octave{suffix}", variables)
    infos = {i.name: (i.shape, i.kind) for i in list_variables(path)}
    assert infos == {"fs": ((1, 1), "numeric"), "signals": ((5, 64), "numeric"), "labels": ((1, 5), "numeric"),
                     "mask": ((5, 64), "logical"), "name": ((1, 9), "char"), "c": ((1, 3), "cell"),
                     "s": ((1, 1), "struct"), "trials": ((1, 4), "struct"), "ragged": ((1, 2), "cell"),
                     "r": ((1, 1), "other")}
    with pytest.raises(DataError) as err:  # two matrices could hold signals: the choice is the user's
        load_signals(path)
    assert_one_line_error(err, path, "several variables", "signals (5x64)", "mask (5x64)")
    np.testing.assert_array_equal(load_signals(path, "signals"), X)
    np.testing.assert_array_equal(load_signals(path, "mask"), (X > 0).astype(float))
    np.testing.assert_array_equal(load_array(path, "labels"), [[1, 0, 1, 0, 1]])
    np.testing.assert_array_equal(load_array(path, "fs"), [[250.0]])
    np.testing.assert_array_equal(load_signals(path, "c"), X[:3])
    np.testing.assert_array_equal(load_signals(path, "c{2}"), X[1:2])
    np.testing.assert_array_equal(load_signals(path, "s.x"), X[:3])
    np.testing.assert_array_equal(load_signals(path, "s.inner.y"), X[3:])
    np.testing.assert_array_equal(load_signals(path, "trials.eeg"), X[:4])
    np.testing.assert_array_equal(load_signals(path, "trials(3).eeg"), X[2:3])
    np.testing.assert_array_equal(load_signals(path, "ragged", length_policy="crop"), [lengths[0][:6], lengths[1]])
    with pytest.raises(DataError) as err:
        load_signals(path, "r")
    message = assert_one_line_error(err, path, "'r' is an Octave range value", "double(x)")
    with pytest.raises(DataError) as err:
        load_signals(path, "name")
    message = assert_one_line_error(err, path, "'name' is a char array")
    assert "not numbers" in message  # text is not numbers; numbers never are called so


def test_octave_matrix_is_streamed_block_by_block(tmp_path):
    path = write_octave(tmp_path / "big.mat", {"signals": X, "fs": 100.0})
    with open_signal_dataset(path) as dataset:
        assert dataset is not None and dataset.shape == X.shape
        np.testing.assert_array_equal(dataset.read(1, 4), X[1:4])


# ---------------------------------------------------------------------------- kind 3: struct arrays
@pytest.mark.parametrize("name", ["struct_array_v7.mat", "struct_array_v73.mat"])
def test_bugcase_struct_arrays(name, capsys, trained):
    path = bugcase(name)
    expected = np.load(bugcase("struct_array_expected_rows.npy"))
    x, source = load_signals(path, "trials.eeg", return_info=True)
    np.testing.assert_array_equal(x, expected)
    assert source.var == "trials.eeg"
    np.testing.assert_array_equal(load_signals(path, "trials(2).eeg"), expected[1:2])
    labels = load_array(path, "trials.label")  # a struct array field of scalars: one row per element
    assert labels.shape == (len(expected), 1)
    _, run, _ = trained
    out = Path(run).parent / f"{name}.csv"
    code, _, err = cli(capsys, "score", run, path, "--var", "trials.eeg", "-o", out)
    assert code == 0, err
    assert len(np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)) == len(expected)  # under a header line


def struct_array_v5(shape, rows, nested=False):
    """A struct array of *shape* whose k-th element (MATLAB's linear order) holds rows[k] as eeg."""
    s = np.empty(shape, dtype=[("eeg" if not nested else "data", object), ("label", object)])
    for k, index in enumerate(np.ndindex(*shape[::-1])):
        index = index[::-1]  # column-major: the first subscript runs fastest
        if nested:
            inner = np.empty((1, 1), dtype=[("eeg", object)])
            inner[0, 0]["eeg"] = rows[k][None, :]
            s[index]["data"] = inner
        else:
            s[index]["eeg"] = rows[k][None, :]
        s[index]["label"] = np.array([[k]])
    return s


def struct_array_v73(path, shape, rows, nested=False):
    """The same as MATLAB v7.3 writes it: one dataset of references per field, dimensions reversed."""
    write_v73(path, {"placeholder": np.zeros((1, 1))})
    with h5py.File(path, "r+") as f:
        del f["placeholder"]
        refs = f.require_group("#refs#")
        g = f.create_group("trials")
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        eeg = np.empty(shape[::-1], dtype=h5py.ref_dtype)
        for k, index in enumerate(np.ndindex(*shape[::-1])):  # HDF5 order = MATLAB's reversed: linear k
            ds = refs.create_dataset(f"e{k}", data=rows[k][:, None])
            ds.attrs["MATLAB_class"] = np.bytes_("double")
            if nested:
                inner = refs.create_group(f"d{k}")
                inner.attrs["MATLAB_class"] = np.bytes_("struct")
                inner["eeg"] = ds
                eeg[index] = inner.ref
            else:
                eeg[index] = ds.ref
        g.create_dataset("data" if nested else "eeg", data=eeg)
    return path


@pytest.mark.parametrize("version", ["6", "7", "7.3"])
@pytest.mark.parametrize("shape", [(1, 6), (6, 1), (2, 3), (3, 2)])
@pytest.mark.parametrize("nested", [False, True])
def test_struct_array_fields_stack_one_signal_per_element(tmp_path, version, shape, nested):
    rows = [RNG.standard_normal(64) for _ in range(6)]
    path = tmp_path / "trials.mat"
    if version == "7.3":
        struct_array_v73(path, shape, rows, nested)
    else:
        write_mat(path, version, {"trials": struct_array_v5(shape, rows, nested)})
    var = "trials.data.eeg" if nested else "trials.eeg"
    np.testing.assert_array_equal(load_signals(path, var), np.stack(rows))
    np.testing.assert_array_equal(load_signals(path, var, expected_length=64), np.stack(rows))
    index = "(2,1)" if shape[0] > 1 else "(1,2)"
    np.testing.assert_array_equal(load_signals(path, f"trials{index}.{var.split('.', 1)[1]}"), rows[1][None, :])
    with pytest.raises(DataError) as err:
        load_signals(path, "trials.nope")
    assert_one_line_error(err, path, "has no field 'nope'")


@pytest.mark.parametrize("version", ["7", "7.3"])
def test_struct_array_of_unequal_lengths_needs_crop_or_pad(tmp_path, version):
    rows = [np.arange(1.0, 9.0), np.arange(1.0, 6.0), np.arange(1.0, 8.0)]
    path = tmp_path / "ragged.mat"
    if version == "7.3":
        write_v73(path, {"trials": StructArray([{"eeg": r[None, :]} for r in rows])})
    else:
        write_mat(path, version, {"trials": struct_array_v5((1, 3), rows)})
    with pytest.raises(DataError) as err:
        load_signals(path, "trials.eeg")
    assert_one_line_error(err, path, "'trials.eeg' holds signals of 3 different lengths (min 5, max 8)",
                          "--crop or --pad")
    np.testing.assert_array_equal(load_signals(path, "trials.eeg", length_policy="crop"),
                                  [r[:5] for r in rows])
    np.testing.assert_array_equal(load_signals(path, "trials.eeg", length_policy="pad"),
                                  [np.pad(r, (0, 8 - len(r))) for r in rows])


# ---------------------------------------------------------------------------- kind 4: HDF5 filters
def test_bugcase_blosc_hdf5():
    path = bugcase("h5_unregistered_filter.h5")
    np.testing.assert_array_equal(load_signals(path), np.load(bugcase("h5_unregistered_filter_expected.npy")))


FILTERS = {"blosc-lz4": hdf5plugin.Blosc(cname="lz4", shuffle=hdf5plugin.Blosc.SHUFFLE),
           "blosc-zstd": hdf5plugin.Blosc(cname="zstd", shuffle=hdf5plugin.Blosc.BITSHUFFLE),
           "blosc2": hdf5plugin.Blosc2(), "lz4": hdf5plugin.LZ4(), "zstd": hdf5plugin.Zstd(),
           "bitshuffle": hdf5plugin.Bitshuffle(), "bzip2": hdf5plugin.BZip2()}


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_hdf5_plugin_filters_are_read_whole_and_by_blocks(tmp_path, name, dtype):
    x = (X * 1000).astype(dtype)
    path = tmp_path / "filtered.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("signals", data=x, chunks=(2, 64), **FILTERS[name])
    np.testing.assert_array_equal(load_signals(path), x.astype(np.float64))
    with open_signal_dataset(path) as dataset:
        np.testing.assert_array_equal(dataset.read(1, 4), x[1:4].astype(np.float64))


def test_an_unavailable_filter_is_named_with_the_fix(tmp_path, monkeypatch):
    path = tmp_path / "zstd.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("signals", data=X, **hdf5plugin.Zstd())
    h5py.h5z.unregister_filter(hdf5plugin.ZSTD_ID)
    try:
        with pytest.raises(DataError) as err:
            load_signals(path)
        assert_one_line_error(err, path, "'signals' is compressed with HDF5 filter 32015 (Zstandard)",
                              "HDF5_PLUGIN_PATH", "h5repack")
        monkeypatch.setattr(sigae.data.io.hdf5, "_plugins", "ModuleNotFoundError: No module named 'hdf5plugin'")
        with open_signal_dataset(path) as dataset, pytest.raises(DataError) as err:
            dataset.read(0, 2)
        assert_one_line_error(err, path, "filter 32015 (Zstandard)", "pip install hdf5plugin")
    finally:
        hdf5plugin.register(force=True)
    np.testing.assert_array_equal(load_signals(path), X)


# ---------------------------------------------------------------------------- kind 5: text tables
@pytest.mark.parametrize("name,line", [("csv_missing_sample_row1.csv", 1), ("csv_missing_sample_row5.csv", 5)])
def test_bugcase_csv_gap_is_an_error_at_its_own_line(name, line, capsys, trained, tmp_path):
    path = bugcase(name)
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, f"line {line}, column 18 is empty")
    _, run, _ = trained
    out = tmp_path / "scores.csv"
    code, _, err = cli(capsys, "score", run, path, "-o", out)
    assert code == 2 and f"line {line}, column 18 is empty" in err and "Traceback" not in err
    assert not out.exists()


def table_text(table, delimiter, header, trailing=False, gap=None):
    lines = [delimiter.join(f"ch{j}" for j in range(table.shape[1]))] if header else []
    for i, row in enumerate(table):
        fields = [repr(float(v)) for v in row]
        if gap is not None and gap[0] == i:
            fields[gap[1]] = ""
        lines.append(delimiter.join(fields) + (delimiter if trailing else ""))
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 6), m=st.integers(2, 7), delimiter=st.sampled_from([",", ";", "\t"]),
       header=st.booleans(), trailing=st.booleans(), data=st.data())
def test_text_tables_keep_every_row_and_place_every_gap(tmp_path, n, m, delimiter, header, trailing, data):
    table = np.round(RNG.standard_normal((n, m)), 4)
    path = tmp_path / "table.csv"
    path.write_text(table_text(table, delimiter, header, trailing))
    np.testing.assert_array_equal(load_signals(path, orientation="rows"), table)  # all n rows, none shifted
    gap = (data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, m - 1)))
    # A line ending in a separator on *every* line is a trailing separator (the documented rule): one line
    # whose last value is missing reads the same, and is then refused for its length by the model.
    assume(not (n == 1 and gap[1] == m - 1 and not trailing))
    path.write_text(table_text(table, delimiter, header, trailing, gap))
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, f"line {gap[0] + 1 + header}, column {gap[1] + 1} is empty")


@pytest.mark.parametrize("text,expected", [
    ("1,2,3\n4,5,6\n7,8,\n", "line 3, column 3 is empty"),  # a trailing separator on one line only
    ("# recorded 2026\n# volts\n1,2,3\n4,,6\n", "line 4, column 2 is empty"),  # comment lines count
    ("# recorded 2026\n\n1,2,3\n4,5,6\n", "line 2 (1-based, counting every line of the file) is blank"),
    ("1 2 3\n4 5\n", "line 2 has 2 values, but line 1 has 3"),
    ("1,2,3\nunits,V,V\n", "line 2, column 1: 'units' is not a number"),
    ("t,a,b\n", "a header line and no numbers"),
])
def test_text_table_errors_name_the_file_line(tmp_path, text, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert_one_line_error(err, path, expected)


def test_whitespace_text_and_a_numeric_first_line_are_data(tmp_path):
    path = tmp_path / "signals.txt"
    path.write_text("1 2 3\n4\t5   6\r\n7 8 9\n")
    np.testing.assert_array_equal(load_signals(path), [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    numbered = tmp_path / "numbered.csv"  # a first line of numbers is a signal, never a header
    numbered.write_text("1,2,3\n4,5,6\n")
    assert load_signals(numbered).shape == (2, 3)


# ---------------------------------------------------------------------------- kind 6: one signal
def test_bugcase_one_new_recording_scores_and_encodes(capsys, trained, tmp_path):
    path = bugcase("one_new_recording.csv")
    x = load_signals(path)
    assert x.shape == (1, 64)
    model, run, _ = trained
    for command, expected in (("score", model.score(x).scores[:, None]), ("encode", model.encode(x))):
        out = tmp_path / f"{command}.csv"
        code, _, err = cli(capsys, command, run, path, "-o", out)
        assert code == 0, err
        # the CLI and the API run the same model on the same float64 input; the CSV keeps every digit
        table = (np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)[:, :1] if command == "score"  # score,is_anomaly
                 else np.loadtxt(out, delimiter=",", ndmin=2))
        np.testing.assert_allclose(table, expected, rtol=1e-6, atol=1e-7)


def one_signal_files(folder, row):
    """One signal of 64 points in every layout a user may hand over."""
    files = {}
    files["row.csv"] = folder / "row.csv"
    files["row.csv"].write_text(",".join(map(repr, row.tolist())) + "\n")
    files["column.csv"] = folder / "column.csv"
    files["column.csv"].write_text("value\n" + "\n".join(map(repr, row.tolist())) + "\n")
    files["flat.npy"] = folder / "flat.npy"
    np.save(files["flat.npy"], row)
    files["row.mat"] = write_mat(folder / "row.mat", "7", {"x": row[None, :]})
    files["column.mat"] = write_mat(folder / "column.mat", "7", {"x": row[:, None]})
    files["column73.mat"] = write_v73(folder / "column73.mat", {"x": row[:, None]})  # streamed
    return files


def test_one_signal_in_any_layout_scores_and_encodes(capsys, trained, tmp_path):
    model, run, x = trained
    row = x[7]
    expected_scores, expected_codes = model.score(row[None, :]).scores, model.encode(row[None, :])
    for name, path in one_signal_files(tmp_path, row).items():
        np.testing.assert_array_equal(load_signals(path, expected_length=64), row[None, :])
        for command, expected in (("score", expected_scores[:, None]), ("encode", expected_codes)):
            out = tmp_path / f"{name}.{command}.csv"
            code, _, err = cli(capsys, command, run, path, "-o", out)
            assert code == 0, f"{name}: {err}"
            table = (np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)[:, :1] if command == "score"  # score,is_anomaly
                     else np.loadtxt(out, delimiter=",", ndmin=2))
            np.testing.assert_allclose(table, expected, rtol=1e-6, atol=1e-7, err_msg=name)


def test_training_still_needs_two_signals(capsys, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text(",".join(map(repr, X[0].tolist())) + "\n")
    code, _, err = cli(capsys, "train", path, "--epochs", 1, "--out", tmp_path / "run")
    assert code == 2 and "training needs at least 2" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "model.keras").exists()
    with pytest.raises(DataError) as exc:
        load_signals(path, min_signals=2)
    assert_one_line_error(exc, path, "single vector (1x64)", "training needs at least 2")
