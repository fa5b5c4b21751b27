"""Atomic files for a run: the checkpoint after each epoch and metrics.json."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written, read, or does not belong to this run."""


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_json(path: Path, data: dict) -> None:
    """Write `data` as indented JSON, atomically."""
    _atomic_write(path, lambda h: h.write(json.dumps(data, indent=2).encode()))


def save_checkpoint(path: Path, state: dict) -> None:
    """Save `state` atomically; on failure the previous checkpoint stays intact."""
    try:
        _atomic_write(path, lambda h: torch.save(state, h))
    except OSError as err:
        raise CheckpointError(
            f"Could not write the checkpoint {path} ({err.strerror or err}); the previous checkpoint, "
            "if any, is unchanged. Free disk space or choose another runs_dir, then rerun with resume=True."
        ) from None


def load_checkpoint(path: str | Path, model_name: str | None = None) -> dict:
    """Read a checkpoint written by `save_checkpoint`; if `model_name` is given it must match."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"There is no checkpoint at {path}; train the run first.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated, corrupt or not a torch file at all
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(err).__name__}). Delete it to start the run "
            "afresh, or pick another run_name."
        ) from None
    if not isinstance(state, dict) or "model_state" not in state:
        raise CheckpointError(f"{path} is not a checkpoint of this course (no model_state). Delete it or pick another run_name.")
    if model_name is not None and state.get("model_name") != model_name:
        raise CheckpointError(
            f"{path} holds a {state.get('model_name')!r} model, not {model_name!r}. Resume with "
            f"model={state.get('model_name')!r}, or pick another run_name for a new run."
        )
    return state


def check_writable(folder: Path) -> None:
    """Fail now, before any training, if `folder` cannot be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise CheckpointError(
            f"The run folder {folder} is not writable ({err.strerror or err}). Choose another runs_dir "
            "or fix its permissions."
        ) from None
