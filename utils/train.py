"""The training loop, evaluation, checkpoints and `fit`: a whole run, saved after every epoch and resumable exactly
(same settings, same kind of device and, on a CPU, the same thread count, or it is refused)."""
from __future__ import annotations

import json
import logging
import math
import os
import pickle
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .augment import RandomAffine
from .config import ConfigError, TrainConfig, resume_differences
from .data import Batches, training_size, training_validation_and_test
from .machine import device_name, pick_device, use_threads
from .models import build_model, count_parameters, layer_list
from .results import RunRecord, summary_line

# Each read of the running loss waits for the device's queue; a few reads an epoch let a GPU run ahead of Python
# while a NaN is still caught within the epoch it appears in.
LOSS_CHECKS_PER_EPOCH = 8
EVAL_BATCH = 256  # small enough for a batch's activations to stay in a CPU's cache
TEMP_SUFFIX = ".partial"  # a write in progress, beside its file; git ignores it


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written, read, or does not belong to this run."""


def train_epoch(model: nn.Module, data: Batches, optimizer, scheduler, cfg: TrainConfig, generator: torch.Generator,
                augment: RandomAffine | None, epoch: int) -> tuple[float, float]:
    """One pass over the shuffled training set; returns the mean loss and the percent right as it trained."""
    model.train()
    device = data.labels.device
    batches = torch.randperm(len(data.labels), generator=generator, device=device).split(cfg.batch_size)
    check_every = math.ceil(len(batches) / LOSS_CHECKS_PER_EPOCH)
    total = torch.zeros((), dtype=torch.float32 if device.type == "mps" else torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    checked = seen = 0
    bar = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not cfg.progress, mininterval=1.0)
    for i, idx in enumerate(bar, start=1):
        x, labels = data.inputs(idx, augment, generator, cfg.channels_last), data.labels[idx]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            logits = model(x)
            loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.detach().to(total.dtype) * len(idx)
        correct += (logits.detach().argmax(1) == labels).sum()
        seen += len(idx)
        if i % check_every == 0 or i == len(batches):
            if not math.isfinite(value := total.item()):
                raise TrainingDiverged(f"The loss became {value} at epoch {epoch}, in batches {checked + 1}-{i} of "
                                       f"{len(batches)}. Try a lower learning rate (lr); the last complete epoch's "
                                       "checkpoint is kept.")
            checked = i
            bar.set_postfix(loss=f"{value / seen:.4f}", refresh=False)
    return total.item() / len(data.labels), 100.0 * correct.item() / len(data.labels)


@torch.inference_mode()
def evaluate(model: nn.Module, data: Batches, batch_size: int = EVAL_BATCH) -> tuple[float, float, torch.Tensor]:
    """Mean loss, accuracy in percent and the predicted label of every image (always in float32)."""
    model.eval()
    channels_last = next(model.parameters()).is_contiguous(memory_format=torch.channels_last)
    loss, predictions = 0.0, []
    for idx in torch.arange(len(data.labels), device=data.labels.device).split(batch_size):
        logits = model(data.inputs(idx, channels_last=channels_last))
        loss += F.cross_entropy(logits, data.labels[idx], reduction="sum").item()
        predictions.append(logits.argmax(1))
    predicted = torch.cat(predictions)
    return loss / len(data.labels), 100.0 * (predicted == data.labels).float().mean().item(), predicted.cpu()


def layout(channels_last: bool) -> torch.memory_format:
    return torch.channels_last if channels_last else torch.contiguous_format


def steps_per_epoch(cfg: TrainConfig) -> int:
    """Optimiser steps in one epoch (the last batch may be smaller)."""
    return math.ceil(training_size(cfg.data_fraction, cfg.validation) / cfg.batch_size)


def make_optimizer(model: nn.Module, cfg: TrainConfig):
    """SGD with weight decay (Nesterov unless momentum is 0) and its one-cycle or constant schedule."""
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                                weight_decay=cfg.weight_decay)
    if cfg.schedule == "constant":
        return optimizer, torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    return optimizer, torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch(cfg),
        cycle_momentum=cfg.momentum > 0, base_momentum=cfg.min_momentum, max_momentum=cfg.momentum)


def rates_and_momenta(cfg: TrainConfig) -> tuple[list[float], list[float]]:
    """The learning rate and the momentum at every step of a run, without training."""
    optimizer, scheduler = make_optimizer(nn.Linear(1, 1), cfg)
    rates, momenta = [], []
    for _ in range(steps_per_epoch(cfg) * cfg.epochs):
        rates.append(scheduler.get_last_lr()[0])
        momenta.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    return rates, momenta


@dataclass
class Training:
    """Everything a run needs before its first epoch, built by `prepare`."""

    cfg: TrainConfig
    name: str  # the model's name in reports: its registry name, or its class name
    device: torch.device
    threads: int
    model: nn.Module
    train: Batches
    validation: Batches | None
    test: Batches
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator  # shuffling and augmentation
    augment: RandomAffine | None
    forward: nn.Module  # what the training step calls: `model`, or `model` compiled

    @property
    def machine(self) -> dict:  # what a resumed run must share with the one that wrote the checkpoint
        return {"device": self.device.type, "threads": self.threads if self.device.type == "cpu" else None}


def prepare(cfg: TrainConfig, model: nn.Module | None = None) -> Training:
    """Seed, load the data, build (or take) the model, optimiser and schedule; writes nothing. A `model` built
    elsewhere is initialised with this seed only if it is built after this call."""
    device, threads = pick_device(cfg.device), use_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # the weights and dropout
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False  # same numbers on a GPU too
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    name = cfg.model if model is None else type(model).__name__
    model = (build_model(cfg.model) if model is None else model).to(device, memory_format=layout(cfg.channels_last))
    train, validation, test = training_validation_and_test(device, cfg.data_fraction, cfg.seed, cfg.validation)
    optimizer, scheduler = make_optimizer(model, cfg)
    augment = RandomAffine().scaled(cfg.augment_strength) if cfg.augment else None
    forward = model
    if cfg.compile:
        first = torch.arange(min(cfg.batch_size, len(train.labels)), device=device)
        forward = compiled_or_eager(model, train.inputs(first, channels_last=cfg.channels_last), cfg.bf16)
    return Training(cfg, name, device, threads, model, train, validation, test, optimizer, scheduler, generator,
                    augment, forward)


def compiled_or_eager(model: nn.Module, batch: torch.Tensor, bf16: bool = False) -> nn.Module:
    """`model` compiled after a trial training step on `batch` that leaves no trace, or `model` itself with a
    warning where compiling fails."""
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # a CUDA build's warning on a CPU
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state(), (torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)
    compiled = torch.compile(model, dynamic=False)  # the odd last batch gets its own graph, not slower kernels
    try:
        model.train()
        with torch.autocast(batch.device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = compiled(batch).float().square().mean()
        loss.backward()
        return compiled
    except Exception as err:  # noqa: BLE001 - any compiler failure means: train eagerly
        first = (str(err).strip().splitlines() or [""])[0][:300]
        warnings.warn(f"torch.compile does not work here ({type(err).__name__}: {first}); training eagerly "
                      "instead. Set compile=False to skip the attempt.", stacklevel=2)
        return model
    finally:
        model.load_state_dict(saved)
        model.zero_grad(set_to_none=True)
        torch.set_rng_state(rng[0])
        if rng[1] is not None:
            torch.cuda.set_rng_state_all(rng[1])


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write through a temporary file beside `path`, then rename it over `path`: a reader never sees half a file."""
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
    for stale in folder.glob(f".*{TEMP_SUFFIX}") if folder.is_dir() else []:
        stale.unlink(missing_ok=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-", suffix=TEMP_SUFFIX):
            pass
    except OSError as err:
        raise CheckpointError(f"The run folder {folder} is not writable ({err.strerror or err}). Choose another "
                              "runs_dir or fix its permissions.") from None


def snapshot(run: Training, epoch: int, record: RunRecord) -> dict:
    """Everything needed to continue after `epoch`; tensors and plain data only, so it loads with weights_only."""
    return {"model_name": run.name, "epoch": epoch, "config": record.config, "metrics": record.to_dict(),
            "machine": run.machine, "torch_version": str(torch.__version__),
            "model_state": run.model.state_dict(), "optimizer_state": run.optimizer.state_dict(),
            "scheduler_state": run.scheduler.state_dict(), "generator_state": run.generator.get_state(),
            "torch_rng_state": torch.get_rng_state(),
            "cuda_rng_state": torch.cuda.get_rng_state_all() if run.device.type == "cuda" else None}


def machine_differences(saved: dict, current: dict) -> list[str]:
    """How the machine of a resumed run differs from the one that wrote the checkpoint."""
    if saved.get("device") != current["device"]:
        return [f"it was trained on {saved.get('device')}, this run is on {current['device']}: resume with "
                f"device={saved.get('device')!r} on a machine that has one"]
    if saved.get("threads") != current["threads"]:
        return [f"it was trained with {saved.get('threads')} CPU threads, this run has {current['threads']}: resume "
                f"with threads={saved.get('threads')}"]
    return []


def resume_or_start(run: Training, record: RunRecord) -> tuple[RunRecord, int]:
    """Restore the checkpoint when resuming, else refuse to overwrite an interrupted run; returns the record so far
    and the first epoch to train."""
    cfg, path = run.cfg, run.cfg.run_dir / "checkpoint.pt"
    if not path.exists():
        if cfg.resume:
            print(f"No checkpoint in {cfg.run_dir} yet: starting from epoch 1.")
        return record, 1
    state = load_checkpoint(path)
    saved, done = state["config"], state["epoch"]
    if not cfg.resume:
        if done < saved["epochs"]:
            raise ConfigError(f"{cfg.run_dir} holds an interrupted run (epoch {done} of {saved['epochs']}). Continue "
                              "it with resume=True, or choose another run_name (or delete the folder) to start afresh.")
        print(f"{cfg.run_dir} held a finished run; this run replaces it.")
        return record, 1
    shapes = [[(k, tuple(v.shape)) for k, v in s.items()] for s in (state["model_state"], run.model.state_dict())]
    if shapes[0] != shapes[1] or state["metrics"].get("layers") != record.layers:  # the tensors, or their layers
        raise CheckpointError(f"{path} holds a {state['model_name']!r} network, whose layers differ from those of "
                              f"{run.name!r}. Resume with the network that wrote it, or pick another run_name.")
    changed = [f"{k}={record.config[k]!r} (checkpoint: {saved.get(k)!r})"
               for k in resume_differences(saved, record.config)]
    if changed:
        raise ConfigError(f"Cannot resume {cfg.run_dir} with other settings: {', '.join(changed)}. Resume with the "
                          "checkpoint's settings, or choose another run_name.")
    if differences := machine_differences(state.get("machine", {}), run.machine):
        raise ConfigError(f"Cannot resume {cfg.run_dir} exactly here: {'; '.join(differences)}. Or start a new run "
                          "(another run_name) on this machine.")
    run.model.load_state_dict(state["model_state"])
    run.optimizer.load_state_dict(state["optimizer_state"])
    run.scheduler.load_state_dict(state["scheduler_state"])
    run.generator.set_state(state["generator_state"])
    torch.set_rng_state(state["torch_rng_state"])
    if state.get("cuda_rng_state") is not None:
        torch.cuda.set_rng_state_all(state["cuda_rng_state"])
    print(f"Resuming {cfg.run_dir.name} after epoch {done} of {cfg.epochs}.")
    return RunRecord.from_dict(state["metrics"]), done + 1


def fit(cfg: TrainConfig, model: nn.Module | None = None) -> RunRecord:
    """Train `cfg.model`, or the given `model` (its run named after its class unless `cfg.run_name` says
    otherwise); checkpoint and write metrics.json after every epoch."""
    began = time.perf_counter()
    if model is not None and not cfg.run_name:
        cfg = replace(cfg, run_name=type(model).__name__.lower())
    run = prepare(cfg, model)
    check_writable(cfg.run_dir)
    check_writable(cfg.metrics_file.parent)
    record = RunRecord(model=run.name, parameters=count_parameters(run.model),
                       config={**cfg.to_dict(), "model": run.name}, device=run.device.type,
                       device_name=device_name(run.device), threads=run.threads,
                       torch_version=str(torch.__version__), layers=layer_list(run.model))
    record, start = resume_or_start(run, record)
    record.setup_seconds += time.perf_counter() - began
    for epoch in range(start, cfg.epochs + 1):
        began = time.perf_counter()
        lr, momentum = run.scheduler.get_last_lr()[0], run.optimizer.param_groups[0]["momentum"]
        train_loss, train_accuracy = train_epoch(run.forward, run.train, run.optimizer, run.scheduler, cfg,
                                                 run.generator, run.augment, epoch)
        validation = evaluate(run.model, run.validation)[:2] if run.validation else None
        test_loss, accuracy, predicted = evaluate(run.model, run.test)
        seconds = time.perf_counter() - began
        wrong = (predicted != run.test.labels.cpu()).nonzero().flatten()
        figures = dict(train_loss=train_loss, train_accuracy=train_accuracy, test_loss=test_loss,
                       test_accuracy=accuracy, epoch_seconds=seconds, lr=lr, momentum=momentum)
        if validation:
            figures.update(validation_loss=validation[0], validation_accuracy=validation[1])
        record.add_epoch(misread=torch.stack([wrong, predicted[wrong]], 1).tolist(), **figures)
        validated = f"validation accuracy {validation[1]:.2f}%  " if validation else ""
        print(f"epoch {epoch:2d}/{cfg.epochs}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  {validated}"
              f"test accuracy {accuracy:.2f}%  {seconds:.1f}s", flush=True)
        save_checkpoint(cfg.run_dir / "checkpoint.pt", snapshot(run, epoch, record))
        atomic_write(cfg.metrics_file, lambda h: h.write(json.dumps(record.to_dict(), indent=2).encode()))
    print(summary_line(record))
    return record


def load_trained_model(run_dir: str | Path, device: torch.device | str = "cpu",
                       model: nn.Module | None = None) -> nn.Module:
    """The model saved in `run_dir`'s checkpoint, in eval mode on `device`; a model not in MODELS must be given."""
    state = load_checkpoint(Path(run_dir) / "checkpoint.pt")
    model = build_model(state["model_name"]) if model is None else model
    model.load_state_dict(state["model_state"])
    return model.to(device, memory_format=layout(state["config"].get("channels_last", True))).eval()
