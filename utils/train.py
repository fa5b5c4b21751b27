"""One training loop, one test loop, and `fit`, which runs a whole configured training."""
from __future__ import annotations

import argparse
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .augment import RandomAffine
from .checkpoint import CheckpointError, check_writable, load_checkpoint, save_checkpoint, save_json
from .config import TARGET_ACCURACY, ConfigError, TrainConfig, config_defaults
from .data import MNISTDataError, load_mnist, pixel_stats
from .models import build_model, count_parameters


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class Batches:
    """uint8 images and labels on the training device, with the normalisation to apply."""

    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64
    mean: float
    std: float

    def inputs(self, idx: torch.Tensor, augment: RandomAffine | None = None, generator=None,
               channels_last: bool = True) -> torch.Tensor:
        """Normalised float batch (B, 1, 28, 28), augmented first where `augment` is given."""
        x = self.images[idx].unsqueeze(1).float().div_(255)
        if augment is not None:
            x = augment(x, generator)  # in [0, 1], where the padding value 0 is background
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def pick_device(name: str = "auto") -> torch.device:
    """cuda, then mps, then cpu for "auto"; otherwise the named device, which must exist."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if not available.get(name, False):
        raise ConfigError(f"device={name!r} is not available on this machine; use 'auto' or 'cpu'.")
    return torch.device(name)


def train_epoch(model, data: Batches, optimizer, scheduler, cfg: TrainConfig, generator,
                augment: RandomAffine | None, epoch: int) -> float:
    """One pass over the shuffled training set; returns the mean training loss."""
    model.train()
    order = torch.randperm(len(data.labels), generator=generator, device=data.labels.device)
    batches = order.split(cfg.batch_size)
    total = 0.0
    bar = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not cfg.progress, mininterval=1.0)
    for i, idx in enumerate(bar):
        x = data.inputs(idx, augment, generator, cfg.channels_last)
        with torch.autocast(data.labels.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            loss = F.cross_entropy(model(x), data.labels[idx])
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"The loss became {value} at epoch {epoch}, batch {i + 1}/{len(batches)}. Try a lower "
                "learning rate (lr); the last complete epoch's checkpoint is kept."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += value * len(idx)
        bar.set_postfix(loss=f"{value:.4f}", refresh=False)
    return total / len(data.labels)


@torch.inference_mode()
def evaluate(model: nn.Module, data: Batches, batch_size: int = 1000) -> tuple[float, float, torch.Tensor]:
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
    """SGD with Nesterov momentum under a one-cycle schedule: warm up to `lr`, then anneal."""
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                nesterov=True, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, epochs=cfg.epochs,
                                                    steps_per_epoch=steps)
    return optimizer, scheduler


def lr_schedule(cfg: TrainConfig, n_images: int = 60_000) -> list[float]:
    """The learning rate at every step of a run, without training."""
    steps = steps_per_epoch(cfg, round(n_images * cfg.data_fraction))
    optimizer, scheduler = make_optimizer(nn.Linear(1, 1), cfg, steps)
    rates = []
    for _ in range(steps * cfg.epochs):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return rates


def seed_everything(seed: int, device: torch.device) -> torch.Generator:
    """Seed torch's global RNGs (init, dropout) and return a generator for shuffling and augmentation."""
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False  # same numbers on a GPU too
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def load_data(cfg: TrainConfig, device: torch.device) -> tuple[Batches, Batches]:
    """Training and test sets on `device`; a `data_fraction` < 1 keeps a seeded random subset."""
    mnist = load_mnist()
    mean, std = pixel_stats(mnist.train_images)
    images, labels = mnist.train_images, mnist.train_labels
    if cfg.data_fraction < 1:
        keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(cfg.seed))
        keep = keep[: max(1, round(cfg.data_fraction * len(labels)))]
        images, labels = images[keep], labels[keep]
    train = Batches(images.to(device), labels.to(device), mean, std)
    test = Batches(mnist.test_images.to(device), mnist.test_labels.to(device), mean, std)
    return train, test


def first_epoch_at(accuracies: list[float], target: float = TARGET_ACCURACY) -> int | None:
    """1-based epoch at which `target` was first reached, or None."""
    return next((i + 1 for i, acc in enumerate(accuracies) if acc >= target), None)


def fit(cfg: TrainConfig) -> dict:
    """Train `cfg.model` as configured; checkpoint and write metrics.json after every epoch."""
    check_writable(cfg.run_dir)
    check_writable(cfg.metrics_file.parent)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    generator = seed_everything(cfg.seed, device)
    train, test = load_data(cfg, device)

    model = to_device(build_model(cfg.model), device, cfg.channels_last)
    optimizer, scheduler = make_optimizer(model, cfg, steps_per_epoch(cfg, len(train.labels)))
    augment = RandomAffine().scaled(cfg.augment_strength) if cfg.augment else None
    metrics = new_metrics(cfg, model, device)
    metrics, start = resume_or_start(cfg, metrics, model, optimizer, scheduler, generator)

    for epoch in range(start, cfg.epochs + 1):
        began = time.perf_counter()
        lr = scheduler.get_last_lr()[0]
        train_loss = train_epoch(model, train, optimizer, scheduler, cfg, generator, augment, epoch)
        test_loss, accuracy, _ = evaluate(model, test)
        seconds = time.perf_counter() - began
        record_epoch(metrics, train_loss, test_loss, accuracy, seconds, lr)
        print(f"epoch {epoch:2d}/{cfg.epochs}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
              f"test accuracy {accuracy:.2f}%  {seconds:.1f}s", flush=True)
        save_checkpoint(cfg.run_dir / "checkpoint.pt", snapshot(cfg, epoch, model, optimizer, scheduler, generator, metrics))
        save_json(cfg.metrics_file, metrics)
    print(summary_line(metrics))
    return metrics


# Settings that must match for a checkpoint to continue exactly as the run that wrote it.
RESUME_MUST_MATCH = ("model", "epochs", "batch_size", "lr", "momentum", "weight_decay", "augment",
                     "augment_strength", "seed", "data_fraction", "channels_last", "bf16")


def resume_or_start(cfg: TrainConfig, metrics: dict, model, optimizer, scheduler, generator) -> tuple[dict, int]:
    """Restore the run's checkpoint when resuming; refuse to overwrite an interrupted run otherwise.
    Returns the metrics so far and the first epoch to train."""
    path = cfg.run_dir / "checkpoint.pt"
    if not path.exists():
        if cfg.resume:
            print(f"No checkpoint in {cfg.run_dir} yet: starting {cfg.run_name} from epoch 1.")
        return metrics, 1
    state = load_checkpoint(path, cfg.model)
    saved, done = state["config"], state["epoch"]
    if not cfg.resume:
        if done < saved["epochs"]:
            raise ConfigError(
                f"{cfg.run_dir} holds an interrupted run (epoch {done} of {saved['epochs']}); continue it with "
                "resume=True, or choose another run_name (or delete the folder) to start afresh.")
        print(f"Note: starting {cfg.run_name} afresh replaces the finished run in {cfg.run_dir}.")
        return metrics, 1
    changed = [f"{k}={getattr(cfg, k)!r} (checkpoint: {saved.get(k)!r})" for k in RESUME_MUST_MATCH
               if saved.get(k) != getattr(cfg, k)]
    if changed:
        raise ConfigError(f"Cannot resume {cfg.run_dir} with other settings: {', '.join(changed)}. Resume with "
                          "the checkpoint's settings, or choose another run_name.")
    restore(state, model, optimizer, scheduler, generator)
    print(f"Resuming {cfg.run_name} after epoch {done} of {cfg.epochs}.")
    return state["metrics"], done + 1


def load_trained_model(run_dir: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """The model saved in `run_dir`'s checkpoint, in eval mode on `device`."""
    state = load_checkpoint(Path(run_dir) / "checkpoint.pt")
    model = build_model(state["model_name"])
    model.load_state_dict(state["model_state"])
    return to_device(model, torch.device(device), state["config"].get("channels_last", True)).eval()


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name with its core count, for reports."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple GPU (mps), {platform.machine()}"
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():  # Linux: platform.processor() is often empty or just the architecture
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return f"{cpu}, {os.cpu_count()} cores"


def new_metrics(cfg: TrainConfig, model: nn.Module, device: torch.device) -> dict:
    """The metrics record of a run before its first epoch."""
    return {
        "model": cfg.model, "parameters": count_parameters(model), "seed": cfg.seed,
        "epochs": cfg.epochs, "config": cfg.to_dict(), "device": str(device),
        "device_name": device_name(device),
        "threads": torch.get_num_threads(), "torch_version": torch.__version__,
        "train_loss": [], "test_loss": [], "test_accuracy": [], "epoch_seconds": [], "lr": [],
        "best_test_accuracy": None, "final_test_accuracy": None, "first_epoch_at_target": None,
        "target_accuracy": TARGET_ACCURACY, "total_seconds": 0.0,
    }


def record_epoch(metrics: dict, train_loss: float, test_loss: float, accuracy: float, seconds: float, lr: float) -> None:
    """Append one epoch's figures and update the summary fields."""
    for key, value in (("train_loss", train_loss), ("test_loss", test_loss), ("test_accuracy", accuracy),
                       ("epoch_seconds", seconds), ("lr", lr)):
        metrics[key].append(value)
    metrics["best_test_accuracy"] = max(metrics["test_accuracy"])
    metrics["final_test_accuracy"] = accuracy
    metrics["first_epoch_at_target"] = first_epoch_at(metrics["test_accuracy"])
    metrics["total_seconds"] = sum(metrics["epoch_seconds"])


def summary_line(metrics: dict) -> str:
    """One line: parameters, best and final accuracy, first epoch at target, time."""
    first = metrics["first_epoch_at_target"]
    return (f"{metrics['model']}: {metrics['parameters']:,} parameters, best {metrics['best_test_accuracy']:.2f}%, "
            f"final {metrics['final_test_accuracy']:.2f}%, first >= {TARGET_ACCURACY}% at epoch "
            f"{first if first else 'never'}, {metrics['total_seconds']:.0f}s on {metrics['device']}")


def snapshot(cfg, epoch, model, optimizer, scheduler, generator, metrics) -> dict:
    """Everything needed to continue the run after `epoch` exactly as if it had not stopped."""
    return {
        "model_name": cfg.model, "epoch": epoch, "config": cfg.to_dict(), "metrics": metrics,
        "model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict(), "generator_state": generator.get_state(),
        "torch_rng_state": torch.get_rng_state(),
        "cuda_rng_state": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def restore(state: dict, model, optimizer, scheduler, generator) -> None:
    """Load a `snapshot` back into the live objects."""
    model.load_state_dict(state["model_state"])
    optimizer.load_state_dict(state["optimizer_state"])
    scheduler.load_state_dict(state["scheduler_state"])
    generator.set_state(state["generator_state"])
    torch.set_rng_state(state["torch_rng_state"])
    if state.get("cuda_rng_state") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng_state"])


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"{text!r} is not true or false")
    return text.lower() in ("true", "1", "yes")


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """A TrainConfig from `--name value` flags, one per setting."""
    parser = argparse.ArgumentParser(description="Train a course model on MNIST.")
    for name, default in config_defaults().items():
        kind = _bool if isinstance(default, bool) else type(default)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, metavar=type(default).__name__,
                            help=f"default: {default!r}")
    return TrainConfig(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    import sys

    try:
        fit(parse_args())
    except (ConfigError, TrainingDiverged, CheckpointError, MNISTDataError) as err:
        sys.exit(f"error: {err}")
