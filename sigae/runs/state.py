"""The run folder's state: ``run.json`` (complete, training, interrupted, failed), what a folder can be used
for, and the messages that say so. No TensorFlow here, so commands check their run folder at once.

A run folder holds ``config.json``, ``normalizer.json``, ``split.npz``, ``training.json`` (written before
training), ``checkpoints/`` and ``history.csv`` (during), and ``model.keras``, ``threshold.json``,
``train_scores.npy``, ``metrics.json``, figures and, for recordings, ``windowing.json`` (at the end);
``run.json`` marks it complete last. See docs/reference/run-folder.md.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from sigae import __version__
from sigae.errors import OutputExistsError, RunFolderError, option
from sigae.model.config import AutoencoderConfig

MODEL_FILE = "model.keras"


def check_run_folder_exists(path) -> Path:
    """*path* as a Path if it is a folder; else :class:`~sigae.RunFolderError` saying what it is instead
    (missing, or a file)."""
    path = Path(path)
    if not path.is_dir():
        why = "a file, not a folder" if path.exists() else "no such directory"
        raise RunFolderError(f"{path}: not a run folder ({why})")
    return path


def read_run_config(path) -> AutoencoderConfig:
    """The configuration of the complete run folder *path*, after the checks :meth:`SignalAutoencoder.load` makes
    before it reads the model; no TensorFlow, so a command can check its inputs against the run at once.

    Raises :class:`~sigae.RunFolderError` for a folder that is missing, failed, incomplete or unreadable."""
    path = check_run_folder_exists(path)
    state = read_json(path / "run.json", path) if (path / "run.json").is_file() else {}
    if state.get("status") == "failed":
        raise RunFolderError(failed_run_message(path, state))
    if state.get("complete") is False:
        raise RunFolderError(f"{path}: the run is not complete (training interrupted?); " + resume_hint(path))
    required = ("model.keras", "config.json", "normalizer.json")
    missing = [name for name in required if not (path / name).is_file()]
    if len(missing) == len(required) and not state:
        raise RunFolderError(f"{path}: not a run folder (it holds none of {', '.join(required)}); give a folder "
                             "that sigae-train wrote")
    if missing:
        raise RunFolderError(f"{path}: incomplete run folder, missing {', '.join(missing)}")
    if not state.get("complete"):
        raise RunFolderError(f"{path}: run.json is missing or does not mark the run complete")
    return AutoencoderConfig.load(path / "config.json")


def resumable(run_dir) -> bool:
    """Whether an interrupted run can be resumed: one file of cut signals (not several files), or windows of
    recordings whose run records its windowing, as :meth:`SignalAutoencoder.resume`,
    :meth:`SignalAutoencoder.resume_recordings` and ``sigae-train --resume`` require."""
    source = training_source(run_dir)
    if source is None:
        return True  # not known to be otherwise
    if source.get("windowed"):
        return bool(source.get("windowing"))
    return len(source.get("files") or []) <= 1


def training_source(run_dir) -> dict | None:
    try:
        return json.loads((Path(run_dir) / "training.json").read_text(encoding="utf-8")).get("source") or {}
    except (OSError, ValueError, AttributeError):
        return None


def resume_hint(run_dir) -> str:
    """How to go on from an interrupted run in *run_dir*, truthfully for runs that cannot be resumed."""
    from sigae.errors import option

    windowed = bool((training_source(run_dir) or {}).get("windowed"))
    if resumable(run_dir):
        return "continue it with: " + option(f"sigae-train --resume {run_dir}",
                                              f"SignalAutoencoder.resume_recordings('{run_dir}')" if windowed
                                              else f"SignalAutoencoder.resume('{run_dir}', x)")
    what = ("a run on windows of recordings started by an earlier sigae (which did not record its windowing)"
            if windowed else "a run on several files")
    return (f"{what} cannot be resumed; train it again "
            + option(f"(sigae-train ... --out {run_dir} --overwrite)", "(fit(..., overwrite=True))"))


def run_state(run_dir) -> dict:
    """The contents of *run_dir*/run.json (``{}`` when absent or unreadable)."""
    try:
        return json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_failed_run(run_dir) -> bool:
    """Whether *run_dir* holds a run whose training failed (nothing in it is worth keeping)."""
    return run_state(run_dir).get("status") == "failed"


def failed_run_message(run_dir, state: dict) -> str:
    """What users of a failed run folder are told: what failed, and the command that starts afresh."""
    training = {}
    try:
        training = json.loads((Path(run_dir) / "training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    file = (training.get("source") or {}).get("file") or "FILE"
    lr = state.get("learning_rate")
    option = f" --learning-rate {1e-3 if lr > 1e-3 else lr / 10:g}" if isinstance(lr, (int, float)) else ""
    return (f"{run_dir}: failed: {state.get('reason', 'training failed')}; {state.get('remedy', 'retrain it')}, "
            f"e.g. sigae-train {file} --out {run_dir}{option} with the run's other options "
            "(a failed run folder is replaced without --overwrite)")


def write_run_state(folder: Path, config: AutoencoderConfig, status: str, **extra) -> None:
    """run.json: ``complete`` (true only for a finished run) and ``status`` (training, interrupted,
    failed, complete), with details."""
    from sigae.data.files import write_json

    write_json(folder / "run.json", {"complete": status == "complete", "status": status,
                                     "sigae_version": __version__, "config_hash": config.hash(), **extra})


def record_failure(run_dir: Path, config: AutoencoderConfig, training: dict, exc) -> None:
    """Mark *run_dir* failed, with the reason; drop its checkpoints, since resuming would repeat the failure."""
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    write_run_state(run_dir, config, status="failed", reason=exc.reason, remedy=exc.remedy,
                     failed_at_epoch=exc.epoch, learning_rate=config.learning_rate)
    exc.args = (f"{exc}; {run_dir}/run.json records the failure, and the next sigae-train --out {run_dir} "
                "replaces the folder without --overwrite",)


def replace_dir(tmp: Path, path: Path) -> None:
    """Move the finished *tmp* folder onto *path*, replacing an old one only at the last moment."""
    if path.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, trash / "run")
        os.replace(tmp, path)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, path)


def read_json(file: Path, folder: Path):
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{folder}: {file.name} is unreadable ({exc})") from None




def prepare_run_dir(run_dir, overwrite: bool) -> Path:
    """An empty run folder to train into (with ``checkpoints/``); an existing non-empty one only with
    *overwrite* or when it holds a failed run. Raises OutputExistsError."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputExistsError(f"{run_dir}: exists and is not a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not overwrite and not is_failed_run(run_dir):
            raise OutputExistsError(f"{run_dir}: run folder exists and is not empty; pass "
                                    f"{option('--overwrite', 'overwrite=True')} to replace it")
        shutil.rmtree(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    return run_dir


def worker_run_dir() -> Path:
    """A temporary run folder for a worker that is not the chief (removed after training)."""
    run_dir = Path(tempfile.mkdtemp(prefix="sigae-worker-"))
    (run_dir / "checkpoints").mkdir()
    return run_dir
