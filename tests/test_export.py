"""sigae.export / sigae-export: SavedModel, LiteRT (TFLite) float32 and int8, ONNX; normalization built in;
each export reloaded by its own runtime and compared with sigae's output (which runs through sigae.model.fastpath)."""

import numpy as np
import pytest
import tensorflow as tf

from sigae import ConfigError, OutputExistsError, SignalAutoencoder
from sigae.export import ExportError, export_model, run_export
from sigae.model.fastpath import folded_decoder_ok, fused_encoder_ok

from conftest import TINY, make_signals

# Float32 export graph vs sigae (float64 normalization, fastpath's reordered float32 sums): rounding only.
CODE_TOL = 1e-5


def _tflite_codes(path, x):
    """Codes from the LiteRT interpreter called directly (not through sigae.export's runner)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TensorFlow's own, deprecated in favour of LiteRT
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=str(path))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x.astype(np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_seed_model_export_matches_sigae_fastpath_output(tmp_path):
    """The exports are the Keras layers; for the seed model sigae's own output runs through the fused/folded
    fastpath (when XLA is there): the two still agree within float32 rounding."""
    x = make_signals(n=40, length=64, seed=3)
    model = SignalAutoencoder(preset="seed", input_length=64, **TINY).fit(x, epochs=1, batch_size=16, seed=0,
                                                                        verbose=0)
    assert folded_decoder_ok(model.config, model.decoder)
    if not fused_encoder_ok(model.config, model.encoder):
        pytest.skip("this TensorFlow build has no XLA: the fused encoder is not in use")
    report = export_model(model, tmp_path / "encoder", "savedmodel", "encoder", signals=x)
    loaded = tf.saved_model.load(str(tmp_path / "encoder"))  # kept: its functions need the object alive
    codes = loaded.serve(tf.constant(x[:, :, None].astype(np.float32)))
    np.testing.assert_allclose(codes.numpy(), model.encode(x), rtol=0, atol=CODE_TOL)
    assert report.max_abs_diff < CODE_TOL


def test_savedmodel_encoder_gives_the_codes_of_encode(trained, tmp_path):
    model, _, x = trained
    report = export_model(model, tmp_path / "encoder", "savedmodel", "encoder", signals=x)
    loaded = tf.saved_model.load(str(tmp_path / "encoder"))
    codes = loaded.serve(tf.constant(x[:, :, None].astype(np.float32))).numpy()  # original units in
    np.testing.assert_allclose(codes, model.encode(x), rtol=0, atol=CODE_TOL)
    # The report's own comparison and this one call encode separately: codes of order 10 may differ in the
    # last float32 bit (~1e-6) between differently batched calls.
    assert report.max_abs_diff == pytest.approx(float(np.max(np.abs(codes - model.encode(x)))), abs=1e-6)
    assert report.n_compared == len(x) and 0 < report.max_abs_diff < CODE_TOL


def test_tflite_float32_encoder_gives_the_codes_of_encode(trained, tmp_path):
    model, _, x = trained
    report = export_model(model, tmp_path / "encoder.tflite", "tflite", "encoder", signals=x)
    codes = _tflite_codes(tmp_path / "encoder.tflite", x[:, :, None])
    np.testing.assert_allclose(codes, model.encode(x), rtol=0, atol=CODE_TOL)
    assert report.max_abs_diff < CODE_TOL


def test_tflite_int8_error_is_reported(trained, tmp_path):
    model, _, x = trained
    report = export_model(model, tmp_path / "int8.tflite", "tflite", "encoder", signals=x, int8=True,
                          representative=x[:40])
    codes = _tflite_codes(tmp_path / "int8.tflite", x[:, :, None])
    error = float(np.max(np.abs(codes - model.encode(x))))
    assert report.int8 and report.max_abs_diff == pytest.approx(error, rel=1e-6)
    # Quantized to 8 bits: a real error, finite, and small against the codes' range (8 bits: ~1/256 of the
    # range per quantized tensor, accumulated over a few layers, and the linear path's codes span a wide range
    # with a few large values; measured ~10%, 25% leaves room for that).
    assert np.isfinite(error) and CODE_TOL < error < 0.25 * float(np.max(np.abs(model.encode(x))))
    assert report.bytes < (tmp_path / "int8.tflite").stat().st_size + 1
    assert "int8" in report.summary()


def test_onnx_encoder(trained, tmp_path):
    pytest.importorskip("tf2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    model, _, x = trained
    report = export_model(model, tmp_path / "encoder.onnx", "onnx", "encoder", signals=x)
    session = onnxruntime.InferenceSession(str(tmp_path / "encoder.onnx"), providers=["CPUExecutionProvider"])
    codes = session.run(None, {session.get_inputs()[0].name: x[:, :, None].astype(np.float32)})[0]
    np.testing.assert_allclose(codes, model.encode(x), rtol=0, atol=CODE_TOL)
    assert report.max_abs_diff < CODE_TOL


@pytest.mark.parametrize("part", ["decoder", "autoencoder", "score"])
def test_other_parts_match_sigae(trained, tmp_path, part):
    model, _, x = trained
    report = export_model(model, tmp_path / f"{part}.tflite", "tflite", part, signals=x)
    if part == "score":
        got = run_export(tmp_path / f"{part}.tflite", "tflite", x[:, :, None].astype(np.float32))
        np.testing.assert_allclose(got, model.score(x, out_of_fold=False).scores, rtol=1e-5, atol=1e-6)
    elif part == "autoencoder":
        got = run_export(tmp_path / f"{part}.tflite", "tflite", x[:, :, None].astype(np.float32))[:, :, 0]
        # Original units around 3: float32 carries ~7 digits.
        np.testing.assert_allclose(got, model.reconstruct(x), rtol=0, atol=1e-5 * np.abs(x).max())
    else:
        z = model.encode(x)
        got = run_export(tmp_path / f"{part}.tflite", "tflite", z)[:, :, 0]
        np.testing.assert_allclose(got, model.decode(z), rtol=0, atol=1e-5 * np.abs(x).max())
    assert report.max_abs_diff <= 1e-5 * report.max_abs_reference + 1e-6


@pytest.mark.parametrize("normalize", ["per-signal", "per-timestep", "minmax"])
def test_every_normalizer_is_built_in(tmp_path, normalize):
    x = make_signals(n=40, seed=3) * np.linspace(1, 3, 64)  # per-time-point spread differs
    model = SignalAutoencoder(input_length=64, normalize=normalize, decoder="mirror", **TINY).fit(
        x, epochs=1, batch_size=20, seed=0, verbose=0)
    report = export_model(model, tmp_path / "ae", "savedmodel", "autoencoder", signals=x)
    assert report.max_abs_diff <= 1e-5 * report.max_abs_reference
    codes = export_model(model, tmp_path / "enc", "savedmodel", "encoder", signals=x)
    assert codes.max_abs_diff < CODE_TOL


def test_tied_decoder_export(tmp_path):
    x = make_signals(n=30)
    model = SignalAutoencoder(input_length=64, decoder="mirror", tied=True, **TINY).fit(
        x, epochs=1, batch_size=10, seed=0, verbose=0)
    # The tied decoder reads the encoder's kernels: the export must carry them.
    report = export_model(model, tmp_path / "dec", "savedmodel", "decoder", signals=x)
    assert report.max_abs_diff <= 1e-5 * report.max_abs_reference


def test_per_signal_decoder_is_refused(tmp_path):
    x = make_signals(n=20)
    model = SignalAutoencoder(input_length=64, normalize="per-signal", decoder="mirror", **TINY).fit(
        x, epochs=1, batch_size=10, seed=0, verbose=0)
    with pytest.raises(ExportError, match="per-signal"):
        export_model(model, tmp_path / "dec", "savedmodel", "decoder", signals=x)
    assert not (tmp_path / "dec").exists()


def test_multichannel_export(tmp_path):
    x = make_signals(n=30)
    x3 = np.stack([x, 0.5 * x - 1], axis=2)
    model = SignalAutoencoder(input_length=64, decoder="mirror", **TINY).fit(x3, epochs=1, batch_size=10, seed=0,
                                                                            verbose=0)
    report = export_model(model, tmp_path / "enc.tflite", "tflite", "encoder", signals=x3)
    np.testing.assert_allclose(_tflite_codes(tmp_path / "enc.tflite", x3), model.encode(x3), atol=CODE_TOL, rtol=0)
    assert report.max_abs_diff < CODE_TOL


def test_bad_options_write_nothing(trained, tmp_path):
    model, _, x = trained
    # errors raised from the Python API name its arguments, not the command's options
    with pytest.raises(ConfigError, match=r"^int8=True: post-training integer quantization is for format=tflite"):
        export_model(model, tmp_path / "m", "savedmodel", signals=x, int8=True)
    with pytest.raises(ConfigError, match="^format: unknown format 'pb'"):
        export_model(model, tmp_path / "m", "pb", signals=x)
    with pytest.raises(ConfigError, match=r"^input_offset: 2 values for a model of 1 channel"):
        export_model(model, tmp_path / "m", "savedmodel", signals=x, input_offset=[1.0, 2.0])
    (tmp_path / "exists.tflite").write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="pass overwrite=True to replace it"):
        export_model(model, tmp_path / "exists.tflite", "tflite", signals=x)
    assert (tmp_path / "exists.tflite").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.tflite"]


def test_cli_export(trained, tmp_path, capsys):
    import scipy.io

    from sigae.cli import main

    model, run, x = trained
    data = tmp_path / "x.mat"
    scipy.io.savemat(data, {"signals": x})
    out = tmp_path / "enc_int8.tflite"
    assert main(["export", str(run), "--format", "tflite", "--int8", "--data", str(data), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "largest difference" in text and "int8 quantization error" in text and out.is_file()
    # An existing output without --overwrite: one line, exit 2, the file untouched.
    before = out.read_bytes()
    assert main(["export", str(run), "--format", "tflite", "--data", str(data), "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["export", str(run), "--format", "savedmodel", "--part", "score", "--data", str(data),
                 "-o", str(tmp_path / "score")]) == 0
    assert "flag a signal as anomalous when its score exceeds" in capsys.readouterr().out
    # The run folder written by fit() without a file records no training file: --data is needed.
    assert main(["export", str(run), "--format", "tflite", "-o", str(tmp_path / "y.tflite")]) == 2
    assert "--data" in capsys.readouterr().err


def test_onnx_without_its_packages_is_one_line(trained, tmp_path, capsys, monkeypatch):
    from sigae.cli import main

    model, run, x = trained
    monkeypatch.setitem(__import__("sys").modules, "tf2onnx", None)  # import tf2onnx now raises ImportError
    assert main(["export", str(run), "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install -e '.[export]'" in err[0]
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------- float32 input of large offsets
def _feed(path, fmt, inputs):
    """What the device gets from the export for float32 *inputs*, by the runtime called directly."""
    if fmt == "tflite":
        return _tflite_codes(path, inputs)
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: inputs})[0]
    loaded = tf.saved_model.load(str(path))
    return loaded.serve(tf.constant(inputs)).numpy()


@pytest.fixture(scope="module")
def offset_model():
    """A model of two-channel signals far from zero for their spread: 101325 +- 0.02 (pressure in Pa) and
    50 +- 2 (a channel float32 holds well)."""
    base = make_signals(n=60, seed=7) - 3.0  # spread about 0.7
    noise = np.random.default_rng(8).standard_normal(base.shape)
    x = np.stack([101325.0 + 0.03 * base + 0.003 * noise, 50.0 + 2.0 * base[::-1]], axis=2)
    model = SignalAutoencoder(input_length=64, decoder="mirror", **TINY).fit(x, epochs=1, batch_size=20, seed=0,
                                                                            verbose=0)
    return model, x


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "savedmodel"])
def test_float32_input_that_cannot_hold_the_signals_is_refused_naming_offset_and_spread(offset_model, tmp_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
        pytest.importorskip("onnxruntime")
    model, x = offset_model
    path = tmp_path / f"score.{fmt}"
    with pytest.raises(ExportError) as err:
        export_model(model, path, fmt, "score", signals=x)
    message = str(err.value)
    assert len(message.splitlines()) == 1 and "float32 input cannot hold these signals" in message
    assert "channel 1 (1-based): values around 101325 (offset) vary by" in message and "(spread)" in message
    assert "input_offset=101325,50" in message  # the API's words (the command says --input-offset)
    assert not any(tmp_path.iterdir())
    # with the offset taken out before the rounding, the export fed float32 flags what sigae flags on the
    # original data, and its scores are sigae's to float32 rounding
    report = export_model(model, path, fmt, "score", signals=x, input_offset=[101325.0, 50.0])
    got = _feed(path, fmt, (x - [101325.0, 50.0]).astype(np.float32)).reshape(-1)
    expected = model.score(x, out_of_fold=False)
    assert np.array_equal(got > expected.threshold, expected.is_anomaly) and report.flags_differ == 0
    np.testing.assert_allclose(got, expected.scores, rtol=1e-4, atol=1e-6)
    assert report.input_offset == (101325.0, 50.0) and report.input_rounding < 1e-3
    assert "fed float32 signals - 101325,50" in report.summary()


def test_input_offset_shifts_autoencoder_and_decoder_outputs_and_leaves_codes(offset_model, tmp_path):
    model, x = offset_model
    offset = np.array([101325.0, 50.0])
    fed = (x - offset).astype(np.float32)
    export_model(model, tmp_path / "enc", "savedmodel", "encoder", signals=x, input_offset=offset)
    np.testing.assert_allclose(_feed(tmp_path / "enc", "savedmodel", fed), model.encode(x), rtol=0, atol=CODE_TOL)
    export_model(model, tmp_path / "ae", "savedmodel", "autoencoder", signals=x, input_offset=offset)
    rec = _feed(tmp_path / "ae", "savedmodel", fed)
    spread = x.std(axis=(0, 1))
    assert (np.abs(rec - (model.reconstruct(x) - offset)).max(axis=(0, 1)) < 1e-4 * spread).all()
    export_model(model, tmp_path / "dec", "savedmodel", "decoder", signals=x, input_offset=offset)
    z = model.encode(x)
    out = _feed(tmp_path / "dec", "savedmodel", z)
    assert (np.abs(out - (model.decode(z) - offset)).max(axis=(0, 1)) < 1e-4 * spread).all()


def test_moderate_offsets_export_as_before(tmp_path):
    """1000 +- 1: float32 holds it (rounding about 1e-5 of the spread); the export fed float32 flags what sigae
    flags, and the check compares with sigae on the original data."""
    x = 1000.0 + (make_signals(n=50, seed=9) - 3.0)
    model = SignalAutoencoder(input_length=64, decoder="mirror", **TINY).fit(x, epochs=1, batch_size=10, seed=0,
                                                                            verbose=0)
    report = export_model(model, tmp_path / "s.tflite", "tflite", "score", signals=x)
    got = _tflite_codes(tmp_path / "s.tflite", x[:, :, None].astype(np.float32)).reshape(-1)
    expected = model.score(x, out_of_fold=False)
    assert report.flags_differ == 0 and np.array_equal(got > expected.threshold, expected.is_anomaly)
    assert report.max_abs_diff == pytest.approx(float(np.abs(got - expected.scores).max()), rel=1e-3, abs=1e-9)
    assert 0 < report.input_rounding < 1e-3


def test_cli_export_refuses_a_large_offset_and_takes_input_offset(offset_model, tmp_path, capsys):
    import scipy.io

    from sigae.cli import main

    model, x = offset_model
    run = model.save(tmp_path / "run")
    data = tmp_path / "p.mat"
    scipy.io.savemat(data, {"signals": x})
    out = tmp_path / "s.tflite"
    argv = ["export", str(run), "--format", "tflite", "--part", "score", "--data", str(data), "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--input-offset 101325,50" in err[0] and "Traceback" not in err[0]
    assert not out.exists()
    assert main(argv + ["--input-offset", "101325,50"]) == 0
    text = capsys.readouterr().out
    assert "fed float32 signals - 101325,50" in text and "feed signals - 101325,50 as float32" in text
    assert main(argv + ["--input-offset", "1,2,3", "--overwrite"]) == 2
    assert "--input-offset: 3 values for a model of 2 channel(s)" in capsys.readouterr().err
