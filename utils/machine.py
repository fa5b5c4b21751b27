"""Facts about the machine a run trains on: which device, its name, how many CPU threads."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from .config import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """cuda, then mps, then cpu for "auto"; otherwise the named device, which must exist."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if not available.get(name, False):
        raise ConfigError(f"device={name!r} is not available on this machine; use 'auto' or 'cpu'.")
    return torch.device(name)


def use_threads(threads: int) -> int:
    """Set torch's CPU threads (0 keeps the current number); returns the number in use."""
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def thread_count(threads: int) -> str:
    """"1 thread", "2 threads": for reports."""
    return f"{threads} thread{'s' * (threads != 1)}"


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
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return f"{cpu}, {cores} cores" + (f", {usable} of them usable here" if usable != cores else "")
