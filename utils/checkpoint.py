"""A run's files: the checkpoint after each epoch and metrics.json, written atomically, read safely."""
from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

TEMP_SUFFIX = ".partial"  # a write in progress, beside its file; git ignores it


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written, read, or does not belong to this run."""


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write through a temporary file in the same folder, then rename it over `path`: a reader sees the old file
    or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; others may read a run, as any file's
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename durable; Windows cannot open folders
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temporary files a killed write left in `folder`; returns them."""
    stale = sorted(folder.glob(f".*{TEMP_SUFFIX}")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def save_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda h: h.write(json.dumps(data, indent=2).encode()))


def save_checkpoint(path: Path, state: dict) -> None:
    """Save `state` (tensors and plain data only) atomically; on failure the previous one stays."""
    try:
        atomic_write(path, lambda h: torch.save(state, h))
    except OSError as err:
        raise CheckpointError(f"Could not write the checkpoint {path} ({err.strerror or err}); the previous one is "
                              "unchanged. Free disk space or choose another runs_dir, then rerun with resume=True.") \
            from None


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with weights_only=True, so that a crafted file cannot run code; never changes the file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"There is no checkpoint at {path}; train the run first.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - truncated, not a torch file, unsafe, or from another torch
        named = re.search(r"GLOBAL (\S+) was not an allowed global", str(err))
        if isinstance(err, pickle.UnpicklingError) and named:
            raise CheckpointError(f"{path} was refused: it names Python code ({named.group(1)}) besides tensors and "
                                  "plain data, so nothing in it was loaded or run. Unless you trust where it came "
                                  "from, move it away (or pick another run_name) to start afresh.") from None
        first = (str(err).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{path} could not be read by torch {torch.__version__} ({type(err).__name__}: {first}):"
                              " it may be cut short by a crash, or written by another version of torch. It was left "
                              "as it is; load it with the torch that wrote it, or move it away to start afresh.") \
            from None
    if not isinstance(state, dict) or "model_state" not in state:
        raise CheckpointError(f"{path} is not a checkpoint of this course (it has no model_state). It was left as "
                              "it is; move it away or pick another run_name.")
    return state


def check_writable(folder: Path) -> None:
    """Fail now, before any training, if `folder` cannot be created or written; clear what killed writes left."""
    remove_stale_temp_files(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-", suffix=TEMP_SUFFIX):
            pass
    except OSError as err:
        raise CheckpointError(f"The run folder {folder} is not writable ({err.strerror or err}). Choose another "
                              "runs_dir or fix its permissions.") from None
