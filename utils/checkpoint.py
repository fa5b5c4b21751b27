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

TEMP_SUFFIX = ".partial"  # a write in progress: `.<name>.<random>.partial` beside its file; git ignores it


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written, read, or does not belong to this run."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make a rename inside `folder` durable (a no-op where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write through a temporary file in the same folder, then rename over `path`: a reader sees the old
    file or the new one, never half of one. The file gets the usual permissions (0644 under umask 022)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete what a killed write left in `folder` (its temporary files); returns them."""
    stale = sorted(folder.glob(f".*{TEMP_SUFFIX}")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def save_json(path: Path, data: dict) -> None:
    """Write `data` as indented JSON, atomically."""
    atomic_write(path, lambda h: h.write(json.dumps(data, indent=2).encode()))


def save_checkpoint(path: Path, state: dict) -> None:
    """Save `state` (tensors and plain Python data only) atomically; on failure the previous one stays."""
    try:
        atomic_write(path, lambda h: torch.save(state, h))
    except OSError as err:
        raise CheckpointError(
            f"Could not write the checkpoint {path} ({err.strerror or err}); the previous checkpoint, "
            "if any, is unchanged. Free disk space or choose another runs_dir, then rerun with resume=True."
        ) from None


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint written by `save_checkpoint`. Only tensors and plain data are unpickled
    (weights_only=True), so a crafted file cannot run code; the file is never changed or deleted."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"There is no checkpoint at {path}; train the run first.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        named = re.search(r"GLOBAL (\S+) was not an allowed global", str(err))
        if not named:
            raise _unreadable(path, err) from None
        raise CheckpointError(
            f"{path} was refused: it names Python code ({named.group(1)}) besides tensors and plain data, and "
            "loading it could run that code, so nothing in it was loaded or run. A checkpoint written by this "
            "course never does. Unless you trust where it came from, move it away (or pick another run_name) "
            "to start afresh."
        ) from None
    except Exception as err:  # truncated, not a torch file, or from a torch this one cannot read
        raise _unreadable(path, err) from None
    if not isinstance(state, dict) or "model_state" not in state:
        raise CheckpointError(f"{path} is not a checkpoint of this course (it has no model_state). It was left "
                              "as it is; move it away or pick another run_name.")
    return state


def _unreadable(path: Path, err: Exception) -> CheckpointError:
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return CheckpointError(
        f"{path} could not be read by torch {torch.__version__} ({type(err).__name__}: {first_line}). It may be "
        "cut short by a crash, or written by another version of torch. It was left as it is: load it with the "
        "torch that wrote it, or move it away (or pick another run_name) to start afresh."
    )


def check_writable(folder: Path) -> None:
    """Fail now, before any training, if `folder` cannot be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-", suffix=TEMP_SUFFIX):
            pass
    except OSError as err:
        raise CheckpointError(
            f"The run folder {folder} is not writable ({err.strerror or err}). Choose another runs_dir "
            "or fix its permissions."
        ) from None
