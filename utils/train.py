"""One training loop, one test loop, and `fit`, which runs a whole configured training."""
from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .augment import RandomAffine
from .batchnorm import use_fast_batchnorm
from .checkpoint import check_writable, load_checkpoint, remove_stale_temp_files, save_checkpoint, save_json
from .config import TrainConfig
from .data import Batches, training_validation_and_test
from .machine import device_name, pick_device, use_threads
from .models import build_model, count_parameters, use_fast_dropout
from .results import RunRecord, summary_line
from .resume import resume_or_start, snapshot


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


# Times per epoch the host reads the running loss: each read waits for the device to finish its queue, so a
# GPU epoch is paced by the GPU, not by Python; a NaN is still caught within the epoch it appears in.
LOSS_CHECKS_PER_EPOCH = 8


def train_epoch(model: nn.Module, data: Batches, optimizer, scheduler, cfg: TrainConfig, generator: torch.Generator,
                augment: RandomAffine | None, epoch: int) -> tuple[float, float]:
    """One pass over the shuffled training set; returns the mean training loss and the percent of training
    images classified right as they trained (augmented, dropout on)."""
    model.train()
    device = data.labels.device
    order = torch.randperm(len(data.labels), generator=generator, device=device)
    batches = order.split(cfg.batch_size)
    check_every = math.ceil(len(batches) / LOSS_CHECKS_PER_EPOCH)
    # the sum of per-image losses, on the device (float64 where the device has it: the same sum as in Python)
    total = torch.zeros((), dtype=torch.float32 if device.type == "mps" else torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    checked, seen = 0, 0
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
            value = total.item()
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"The loss became {value} at epoch {epoch}, in batches {checked + 1}-{i} of {len(batches)}. "
                    "Try a lower learning rate (lr); the last complete epoch's checkpoint is kept.")
            checked = i
            bar.set_postfix(loss=f"{value / seen:.4f}", refresh=False)
    return total.item() / len(data.labels), 100.0 * correct.item() / len(data.labels)


# Images per evaluation batch: a 256-image batch's activations (12.8 MB at the baseline's widest layer) stay in a
# CPU's cache and its allocator's free lists; 1,000-image batches took twice as long on a 2-core AMD EPYC.
EVAL_BATCH = 256


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
    accuracy = 100.0 * (predicted == data.labels).float().mean().item()
    return loss / len(data.labels), accuracy, predicted.cpu()


def to_device(model: nn.Module, device: torch.device, channels_last: bool = True) -> nn.Module:
    """Move `model` to `device`, with channels-last weights where asked (faster convolutions)."""
    return model.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def steps_per_epoch(cfg: TrainConfig, n_images: int) -> int:
    """Optimiser steps in one epoch (the last batch may be smaller)."""
    return math.ceil(n_images / cfg.batch_size)


def make_optimizer(model: nn.Module, cfg: TrainConfig, steps: int):
    """SGD with weight decay (and Nesterov momentum, unless momentum is 0) under cfg.schedule: one-cycle, where
    the learning rate warms up to `lr` and anneals to almost zero while momentum goes the other way, from
    `momentum` down to `min_momentum` at the peak and back; or constant, `lr` and `momentum` throughout."""
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                                weight_decay=cfg.weight_decay)
    if cfg.schedule == "constant":
        return optimizer, torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps, cycle_momentum=cfg.momentum > 0,
        base_momentum=cfg.min_momentum, max_momentum=cfg.momentum)
    return optimizer, scheduler


def current_momentum(optimizer) -> float:
    return optimizer.param_groups[0]["momentum"]


def rates_and_momenta(cfg: TrainConfig, n_images: int | None = None) -> tuple[list[float], list[float]]:
    """The learning rate and the momentum at every step of a run, without training."""
    n_images = n_images or round(60_000 * cfg.data_fraction)
    optimizer, scheduler = make_optimizer(nn.Linear(1, 1), cfg, steps_per_epoch(cfg, n_images))
    rates, momenta = [], []
    for _ in range(steps_per_epoch(cfg, n_images) * cfg.epochs):
        rates.append(scheduler.get_last_lr()[0])
        momenta.append(current_momentum(optimizer))
        optimizer.step()
        scheduler.step()
    return rates, momenta


def seed_everything(seed: int, device: torch.device) -> torch.Generator:
    """Seed torch's global RNGs (init, dropout) and return a generator for shuffling and augmentation."""
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False  # same numbers on a GPU too
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


@dataclass
class Training:
    """Everything a run needs before its first epoch, built by `prepare`."""

    cfg: TrainConfig
    name: str  # the model's name in reports: its registry name, or its class name
    device: torch.device
    threads: int
    model: nn.Module
    train: Batches
    validation: Batches | None  # held-out training images, where cfg.validation asks for them
    test: Batches
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    augment: RandomAffine | None
    forward: nn.Module  # what the training step calls: `model` itself, or compiled (cfg.compile)

    def new_record(self) -> RunRecord:
        config = {**self.cfg.to_dict(), "model": self.name}
        return RunRecord(model=self.name, parameters=count_parameters(self.model), config=config,
                         device=self.device.type, device_name=device_name(self.device), threads=self.threads,
                         torch_version=str(torch.__version__))


def prepare(cfg: TrainConfig, model: nn.Module | None = None) -> Training:
    """Seed, load the data, build (or take) the model, optimiser and schedule; writes nothing.

    `model` is a network built elsewhere (in a notebook, say) to train instead of `cfg.model`; it is
    initialised after seeding only if built here, so build it after `seed_everything` for a seeded start."""
    device = pick_device(cfg.device)
    threads = use_threads(cfg.threads)
    generator = seed_everything(cfg.seed, device)
    name = cfg.model if model is None else type(model).__name__
    model = to_device(build_model(cfg.model) if model is None else model, device, cfg.channels_last)
    if cfg.fast_batchnorm:
        use_fast_batchnorm(model)
    if cfg.fast_dropout:
        use_fast_dropout(model)
    train, validation, test = training_validation_and_test(device, cfg.data_fraction, cfg.seed, cfg.validation)
    optimizer, scheduler = make_optimizer(model, cfg, steps_per_epoch(cfg, len(train.labels)))
    augment = RandomAffine().scaled(cfg.augment_strength) if cfg.augment else None
    forward = model
    if cfg.compile:
        first = train.inputs(torch.arange(min(cfg.batch_size, len(train.labels)), device=device),
                             channels_last=cfg.channels_last)
        forward = compiled_or_eager(model, first, cfg.bf16)
    return Training(cfg, name, device, threads, model, train, validation, test, optimizer, scheduler, generator,
                    augment, forward)


def compiled_or_eager(model: nn.Module, batch: torch.Tensor, bf16: bool = False) -> nn.Module:
    """`model` compiled by torch.compile, after one trial training step on `batch` has compiled it; `model`
    itself, with a warning saying why, where that fails (no C compiler, an unsupported platform). The trial
    leaves no trace: weights, BatchNorm statistics, gradients and the random state are as before it."""
    # a CUDA build of torch on a machine without CUDA logs a warning when it compiles: not the user's concern
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state(), (torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)
    # static shapes: the one odd last batch of an epoch gets a second graph rather than slower dynamic kernels
    compiled = torch.compile(model, dynamic=False)
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


def fit(cfg: TrainConfig, model: nn.Module | None = None) -> RunRecord:
    """Train `cfg.model`, or the given `model`, as configured; checkpoint and write metrics.json after every
    epoch. A given model's run is named after its class unless `cfg.run_name` says otherwise."""
    began = time.perf_counter()
    if model is not None and not cfg.run_name:
        cfg = replace(cfg, run_name=type(model).__name__.lower())
    run = prepare(cfg, model)
    check_writable(cfg.run_dir)
    check_writable(cfg.metrics_file.parent)
    remove_stale_temp_files(cfg.run_dir)
    record, start = resume_or_start(run, run.new_record())
    record.setup_seconds += time.perf_counter() - began

    for epoch in range(start, cfg.epochs + 1):
        began = time.perf_counter()
        lr, momentum = run.scheduler.get_last_lr()[0], current_momentum(run.optimizer)
        train_loss, train_accuracy = train_epoch(run.forward, run.train, run.optimizer, run.scheduler, cfg,
                                                 run.generator, run.augment, epoch)
        validation = evaluate(run.model, run.validation)[:2] if run.validation else None
        test_loss, accuracy, predicted = evaluate(run.model, run.test)
        seconds = time.perf_counter() - began
        wrong = (predicted != run.test.labels.cpu()).nonzero().flatten()
        misread = torch.stack([wrong, predicted[wrong]], 1).tolist()
        record.add_epoch(train_loss, test_loss, accuracy, seconds, lr, momentum, validation,
                         misread=misread, train_accuracy=train_accuracy)
        validated = f"validation accuracy {validation[1]:.2f}%  " if validation else ""
        print(f"epoch {epoch:2d}/{cfg.epochs}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  {validated}"
              f"test accuracy {accuracy:.2f}%  {seconds:.1f}s", flush=True)
        save_checkpoint(cfg.run_dir / "checkpoint.pt", snapshot(run, epoch, record))
        save_json(cfg.metrics_file, record.to_dict())
    print(summary_line(record))
    return record


def load_trained_model(run_dir: str | Path, device: torch.device | str = "cpu",
                       model: nn.Module | None = None) -> nn.Module:
    """The model saved in `run_dir`'s checkpoint, in eval mode on `device`. A model that is not in the
    registry must be given (freshly built): its weights are loaded into it."""
    state = load_checkpoint(Path(run_dir) / "checkpoint.pt")
    model = build_model(state["model_name"]) if model is None else model
    model.load_state_dict(state["model_state"])
    return to_device(model, torch.device(device), state["config"].get("channels_last", True)).eval()
