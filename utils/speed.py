"""Timing training epochs: what `make benchmark` and notebook 5 measure with."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import torch

from .config import TRAINING_IMAGES, TrainConfig
from .train import prepare, train_epoch


def timed(run: Callable[[], object], device: torch.device) -> float:
    """Wall-clock seconds of `run()`, waiting for the GPU to finish where there is one."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    began = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - began


def time_epoch(cfg: TrainConfig, augment: bool) -> float:
    """Seconds for one training epoch of `cfg` (on its data_fraction) from a fresh model, scaled to 60,000
    images; torch's thread count is left as it was."""
    threads = torch.get_num_threads()
    run = prepare(replace(cfg, augment=augment))
    taken = timed(lambda: train_epoch(run.forward, run.train, run.optimizer, run.scheduler, run.cfg, run.generator,
                                      run.augment, 1), run.device)
    torch.set_num_threads(threads)
    return taken * TRAINING_IMAGES / len(run.train.labels)


def best_epochs(cases: dict[str, tuple[TrainConfig, bool]], repeats: int) -> dict[str, list[float]]:
    """Epoch times of every case (config, augment), in `repeats` rounds that each run every case once, so
    that drifts in the machine's speed hit all cases alike. Returns all times, fastest first."""
    times = {label: [] for label in cases}
    for _ in range(repeats):
        for label, (cfg, augment) in cases.items():
            times[label].append(time_epoch(cfg, augment))
    return {label: sorted(t) for label, t in times.items()}
