"""Resuming a run: what a checkpoint holds, and when a run may continue from one.

A run continues exactly as if it had not stopped only with the same settings (those marked
`resume_must_match` in TrainConfig), on the same kind of device and, on a CPU, with the same number of
threads: random-number generators differ between devices and floating-point sums between thread counts.
Anything else is refused with a message naming the difference.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .checkpoint import CheckpointError, load_checkpoint
from .config import ConfigError, resume_fields
from .results import RunRecord

if TYPE_CHECKING:
    from .train import Training


def machine_of(run: Training) -> dict:
    """What a resumed run must share with the one that wrote the checkpoint."""
    return {"device": run.device.type, "threads": run.threads if run.device.type == "cpu" else None}


def snapshot(run: Training, epoch: int, record: RunRecord) -> dict:
    """Everything needed to continue after `epoch` exactly as if the run had not stopped; tensors and
    plain Python data only, so that it loads with weights_only=True."""
    return {
        "model_name": run.name, "epoch": epoch, "config": record.config, "metrics": record.to_dict(),
        "machine": machine_of(run), "torch_version": str(torch.__version__),
        "model_state": run.model.state_dict(), "optimizer_state": run.optimizer.state_dict(),
        "scheduler_state": run.scheduler.state_dict(), "generator_state": run.generator.get_state(),
        "torch_rng_state": torch.get_rng_state(),
        "cuda_rng_state": torch.cuda.get_rng_state_all() if run.device.type == "cuda" else None,
    }


def architecture(state_dict: dict) -> list[tuple[str, tuple[int, ...]]]:
    """The names and shapes of a model's tensors: equal for the same architecture."""
    return [(name, tuple(t.shape)) for name, t in state_dict.items()]


def machine_differences(saved: dict, current: dict) -> list[str]:
    """How the machine of a resumed run differs from the one that wrote the checkpoint."""
    differences = []
    if saved.get("device") != current["device"]:
        differences.append(f"it was trained on {saved.get('device')}, this run is on {current['device']}: "
                           f"resume with device={saved.get('device')!r} on a machine that has one")
    elif saved.get("threads") != current["threads"]:
        differences.append(f"it was trained with {saved.get('threads')} CPU threads, this run has "
                           f"{current['threads']}: resume with threads={saved.get('threads')}")
    return differences


def resume_or_start(run: Training, record: RunRecord) -> tuple[RunRecord, int]:
    """Restore the run's checkpoint when resuming; refuse to overwrite an interrupted run otherwise.
    Returns the record so far and the first epoch to train."""
    cfg, path = run.cfg, run.cfg.run_dir / "checkpoint.pt"
    if not path.exists():
        if cfg.resume:
            print(f"No checkpoint in {cfg.run_dir} yet: starting from epoch 1.")
        return record, 1
    state = load_checkpoint(path)
    saved, done = state["config"], state["epoch"]
    if not cfg.resume:
        if done < saved["epochs"]:
            raise ConfigError(
                f"{cfg.run_dir} holds an interrupted run (epoch {done} of {saved['epochs']}); continue it with "
                "resume=True, or choose another run_name (or delete the folder) to start afresh.")
        print(f"{cfg.run_dir} held a finished run; this run replaces it.")
        return record, 1
    if architecture(state["model_state"]) != architecture(run.model.state_dict()):
        raise CheckpointError(
            f"{path} holds a {state['model_name']!r} network, whose layers differ from those of the "
            f"{run.name!r} network being trained. Resume with the network that wrote it, or pick another run_name.")
    changed = [f"{k}={record.config[k]!r} (checkpoint: {saved.get(k)!r})" for k in resume_fields()
               if saved.get(k) != record.config[k]]
    if changed:
        raise ConfigError(f"Cannot resume {cfg.run_dir} with other settings: {', '.join(changed)}. Resume with "
                          "the checkpoint's settings, or choose another run_name.")
    differences = machine_differences(state.get("machine", {}), machine_of(run))
    if differences:
        raise ConfigError(f"Cannot resume {cfg.run_dir} exactly here: {'; '.join(differences)}. Or start a new "
                          "run (another run_name) on this machine.")
    restore(state, run)
    print(f"Resuming {cfg.run_dir.name} after epoch {done} of {cfg.epochs}.")
    return RunRecord.from_dict(state["metrics"]), done + 1


def restore(state: dict, run: Training) -> None:
    """Load a `snapshot` back into the live objects."""
    run.model.load_state_dict(state["model_state"])
    run.optimizer.load_state_dict(state["optimizer_state"])
    run.scheduler.load_state_dict(state["scheduler_state"])
    run.generator.set_state(state["generator_state"])
    torch.set_rng_state(state["torch_rng_state"])
    if state.get("cuda_rng_state") is not None:
        torch.cuda.set_rng_state_all(state["cuda_rng_state"])
