"""Training under tf.distribute strategies: one code path for every strategy."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

import sigae
from sigae import SignalAutoencoder

from conftest import TINY, make_signals

WORKER = """
import os, sys
import numpy as np
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import sigae
x = sigae.load_signals(sys.argv[1])
model = sigae.SignalAutoencoder(input_length=64, filters=(8, 4), latent_dim=4).fit(
    x, epochs=1, batch_size=8, seed=0, verbose=0, run_dir=sys.argv[2], strategy="multiworker")
np.savez(sys.argv[3], *model.autoencoder.get_weights())
"""


def _free_ports(k):
    sockets = [socket.socket() for _ in range(k)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_mirrored_on_one_cpu_equals_default():
    x = make_signals(n=40, seed=2)
    runs = [SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=2, batch_size=8, seed=4, verbose=0,
                                                             strategy=name) for name in ("default", "mirrored")]
    for a, b in zip(runs[0].autoencoder.get_weights(), runs[1].autoencoder.get_weights()):
        # One replica: the all-reduce is the identity and the same kernels run on the same batches.
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert runs[0].history_.loss == pytest.approx(runs[1].history_.loss, rel=1e-6)


def test_two_workers_train_in_step_and_only_the_chief_writes(tmp_path):
    data = tmp_path / "signals.mat"
    scipy.io.savemat(data, {"signals": make_signals(n=48, seed=6)})
    run = tmp_path / "run"
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(data), str(run),
                                       str(tmp_path / f"weights{index}.npz")],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [r[1][-2000:] for r in results]
    assert json.loads((run / "run.json").read_text())["complete"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "signals.mat", "weights0.npz", "weights1.npz"]
    w0, w1 = np.load(tmp_path / "weights0.npz"), np.load(tmp_path / "weights1.npz")
    for key in w0.files:
        assert np.array_equal(w0[key], w1[key])
    assert sigae.load(run).config.latent_dim == 4


def test_mixed_precision_keeps_float32_weights_and_loss(tmp_path):
    x = make_signals(n=24, seed=3)
    model = SignalAutoencoder(input_length=64, **TINY).fit(x, epochs=2, batch_size=8, seed=0, verbose=0,
                                                            mixed_precision=True, run_dir=tmp_path / "run")
    assert model.autoencoder.compute_dtype == "float16"
    assert all(w.dtype == "float32" for w in model.autoencoder.weights)
    assert all(np.isfinite(model.history_.loss)) and model.history_.loss[1] < model.history_.loss[0]
    rec = model.reconstruct(x)
    assert rec.dtype == np.float64 and np.isfinite(rec).all()
    # The global policy is restored: the next model is float32 again.
    assert SignalAutoencoder(input_length=64, **TINY).build().autoencoder.compute_dtype == "float32"
    loaded = sigae.load(tmp_path / "run")
    np.testing.assert_allclose(loaded.reconstruct(x), rec, rtol=1e-6, atol=1e-6)
