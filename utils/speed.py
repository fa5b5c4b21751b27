"""Timing training epochs: what `make benchmark` and notebook 5 measure with."""
import time
from dataclasses import replace

import torch

from .config import TRAINING_IMAGES, TrainConfig
from .train import prepare, train_epoch


def timed(run, device: torch.device) -> float:
    """Wall-clock seconds of `run()`, waiting for the GPU to finish where there is one."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    began = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - began


def time_epoch(cfg: TrainConfig, augment: bool) -> float:
    """Seconds of one epoch from a fresh model, scaled to the whole training set; keeps torch's thread count."""
    threads, run = torch.get_num_threads(), prepare(replace(cfg, augment=augment))
    taken = timed(lambda: train_epoch(run.forward, run.train, run.optimizer, run.scheduler, run.cfg, run.generator,
                                      run.augment, 1), run.device)
    torch.set_num_threads(threads)
    return taken * TRAINING_IMAGES / len(run.train.labels)


def best_epochs(cases: dict[str, tuple[TrainConfig, bool]], repeats: int) -> dict[str, list[float]]:
    """Epoch times per (config, augment) case, fastest first; `repeats` rounds of all cases, so drifts hit all alike."""
    rounds = [[time_epoch(cfg, augment) for cfg, augment in cases.values()] for _ in range(repeats)]
    return {label: sorted(times) for label, times in zip(cases, zip(*rounds, strict=True), strict=True)}
