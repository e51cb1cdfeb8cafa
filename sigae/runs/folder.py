"""Writing and reading what a run folder holds about a model: the files before training (config, normalizer,
split, options), the results after it (model, threshold, scores, metrics, history, figures, windowing), and
reading them back. The model is passed in (any object with :class:`sigae.SignalAutoencoder`'s attributes), so
this layer does not import the estimator.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from sigae.data.preprocessing import normalizer_from_dict
from sigae.errors import OutputExistsError, RunFolderError, option
from sigae.runs.state import MODEL_FILE, read_json, replace_dir, write_run_state

WINDOWING_FILE = "windowing.json"


CROSS_FITTED_FILE = "cross_fitted.npz"
"""The training signals' out-of-fold scores and fingerprints (:mod:`sigae.estimator.cross_fitting`)."""


def save_run(model, path, overwrite: bool = False, figures: bool = True) -> Path:
    """Write a complete run folder for the fitted *model* atomically (a temporary folder renamed into place).
    Raises OutputExistsError for a non-empty folder without *overwrite*."""
    from sigae.data.files import current_umask

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputExistsError(f"{path}: run folder exists and is not empty; pass "
                                f"{option('--overwrite', 'overwrite=True')} to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; the run folder gets the usual permissions
    try:
        write_setup(model, tmp)
        write_results(model, tmp, figures)
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def write_setup(model, folder: Path) -> None:
    """What a run needs before training: config, normalizer, split, options; marked incomplete."""
    from sigae.data.files import atomic_path, write_json, write_text

    write_text(folder / "config.json", model.config.to_json())
    write_json(folder / "normalizer.json", model.normalizer.to_dict())
    if model.train_index_ is not None:
        with atomic_path(folder / "split.npz") as tmp:
            np.savez(tmp, train=model.train_index_, val=model.val_index_, screened=model.screened_index_)
    if getattr(model, "training_", None) is not None:
        write_json(folder / "training.json", model.training_)
    write_run_state(folder, model.config, status="training")


def write_results(model, folder: Path, figures: bool = True) -> None:
    """The trained model and its results, then the completion mark (last)."""
    from sigae.data.files import atomic_path, write_json, write_text
    from sigae.evaluation.plots import plot_loss, plot_reconstructions

    with atomic_path(folder / MODEL_FILE) as tmp:
        model.autoencoder.save(tmp)
    if model.threshold_ is not None:
        write_json(folder / "threshold.json", {**model.threshold_, "metric": "mse", "units": "normalized"})
        with atomic_path(folder / "train_scores.npy") as tmp:
            np.save(tmp, np.asarray(model.train_scores_, dtype=np.float64))
    if getattr(model, "cross_fitted_", None):
        with atomic_path(folder / CROSS_FITTED_FILE) as tmp:
            np.savez(tmp, **model.cross_fitted_)
    if model.history_ is not None:
        write_text(folder / "history.csv", model.history_.to_csv())
    if model.metrics_ is not None:
        write_json(folder / "metrics.json", model.metrics_)
    if figures and model.history_ is not None and model.history_.loss:
        plot_loss(model.history_, folder / "loss.png")
    if figures and model.figure_signals_ is not None:
        rec = model.reconstruct(model.figure_signals_)
        windowed = bool(((model.training_ or {}).get("source") or {}).get("windowed"))
        unit = "window" if windowed else "signal"
        rows = model.figure_rows_
        rows = range(len(rec)) if rows is None else rows
        plot_reconstructions(model.figure_signals_, rec, folder / "reconstructions.png",
                             labels=[f"validation {unit} {int(i) + 1} (1-based)" for i in rows],
                             title=f"Validation {unit}s: original vs reconstruction")
    if model.windowing_ is not None:
        write_json(folder / WINDOWING_FILE, model.windowing_)
    extra = {"warning": model.history_.warning} if model.history_ is not None and model.history_.warning else {}
    write_run_state(folder, model.config, status="complete", saved=time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra)


def read_normalizer(path: Path):
    """The fitted normalizer of the run folder *path*."""
    return normalizer_from_dict(read_json(path / "normalizer.json", path))


def read_results(model, path: Path) -> None:
    """Set *model*'s ``threshold_``, ``train_scores_``, ``metrics_``, ``history_`` and ``windowing_`` from the
    run folder *path* (each None when its file is absent)."""
    if (path / "threshold.json").is_file():
        model.threshold_ = read_json(path / "threshold.json", path)
        model.train_scores_ = np.load(path / "train_scores.npy", allow_pickle=False) \
            if (path / "train_scores.npy").is_file() else None
    if (path / CROSS_FITTED_FILE).is_file():
        with np.load(path / CROSS_FITTED_FILE, allow_pickle=False) as stored:
            model.cross_fitted_ = {name: stored[name] for name in stored.files}
    if (path / "metrics.json").is_file():
        model.metrics_ = read_json(path / "metrics.json", path)
    if (path / "history.csv").is_file():
        model.history_ = read_history(path / "history.csv")
        if model.metrics_ is not None:  # what history.csv has no column for
            model.history_.best_epoch = model.metrics_.get("best_epoch")
            model.history_.initial_val_loss = model.metrics_.get("initial_val_loss")
    model.windowing_ = load_windowing(path)


def load_windowing(folder: Path):
    """``windowing.json`` of a run folder, or None for a model of cut signals."""
    file = Path(folder) / WINDOWING_FILE
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{folder}: {WINDOWING_FILE} is unreadable ({exc})") from None


def read_history(file: Path):
    from sigae.training.loop import History

    history = History()
    for line in file.read_text(encoding="utf-8").splitlines()[1:]:
        _, loss, val, seconds = line.split(",")
        history.loss.append(float(loss))
        if val:
            history.val_loss.append(float(val))
        history.seconds.append(float(seconds))
    return history


def load_keras_model(file: Path):
    import keras

    from sigae.model import layers  # noqa: F401  (registers the tied layers for deserialization)

    try:
        return keras.saving.load_model(file, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad archive
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunFolderError(f"{file}: cannot load the model safely ({reason[:300]})") from None


def check_model_matches_config(autoencoder, config, folder: Path) -> None:
    """The saved model must have exactly the architecture config.json describes (RunFolderError otherwise)."""
    from sigae.model.network import build_models

    _, _, expected = build_models(config)
    got = {w.path: tuple(w.shape) for w in autoencoder.weights}
    want = {w.path: tuple(w.shape) for w in expected.weights}
    if got != want or tuple(autoencoder.input_shape[1:]) != tuple(expected.input_shape[1:]):
        raise RunFolderError(f"{folder}: model.keras and config.json disagree about the architecture "
                             f"({len(got)} weights vs {len(want)} expected); the folder is inconsistent")
