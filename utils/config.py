"""Every setting of a training run, with its checks in one place."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .models import MODELS

TARGET_ACCURACY = 99.4  # percent, on the 10,000 test images
MAX_PARAMETERS = 20_000
MAX_EPOCHS = 20
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A setting has a wrong type or value; the message names it and what is allowed."""


@dataclass
class TrainConfig:
    """The defaults reach the target on a 2-core CPU; every field can be overridden."""

    model: str = "baseline"
    epochs: int = 7
    batch_size: int = 128
    lr: float = 0.1  # peak learning rate of the one-cycle schedule
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = True
    augment_strength: float = 1.0  # multiplies every range of the augmentation
    seed: int = 1
    device: str = "auto"
    data_fraction: float = 1.0  # share of the 60,000 training images, for quick runs
    threads: int = 0  # CPU threads; 0 keeps torch's default
    channels_last: bool = True  # memory layout of activations and weights (faster on CPU and GPU)
    bf16: bool = False  # bfloat16 autocast for the training forward pass
    run_name: str = ""  # folder under runs_dir; "" names the run after the model
    runs_dir: str = "runs"
    metrics_path: str = ""  # where metrics.json goes; "" means <runs_dir>/<run_name>/metrics.json
    resume: bool = False  # continue `run_name` from its last complete epoch
    progress: bool = True  # tqdm bar per epoch

    def __post_init__(self) -> None:
        validate(self)
        self.run_name = self.run_name or self.model

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.run_name

    @property
    def metrics_file(self) -> Path:
        return Path(self.metrics_path) if self.metrics_path else self.run_dir / "metrics.json"


def _fail(name: str, value, allowed: str) -> None:
    raise ConfigError(f"{name}={value!r} is not allowed: {name} must be {allowed}.")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError naming the first setting that is wrong, its value and what is allowed."""
    if cfg.model not in MODELS:
        _fail("model", cfg.model, f"one of {sorted(MODELS)}")
    for name, low in (("epochs", 1), ("batch_size", 1), ("seed", 0), ("threads", 0)):
        value = getattr(cfg, name)
        if not _is_int(value) or value < low:
            _fail(name, value, f"an integer >= {low}")
    if cfg.epochs > MAX_EPOCHS:
        _fail("epochs", cfg.epochs, f"at most {MAX_EPOCHS} (the course's budget)")
    for name, ok, allowed in (
        ("lr", lambda v: 0 < v <= 10, "a number in (0, 10]"),
        ("momentum", lambda v: 0 <= v < 1, "a number in [0, 1)"),
        ("weight_decay", lambda v: 0 <= v < 1, "a number in [0, 1)"),
        ("data_fraction", lambda v: 0 < v <= 1, "a number in (0, 1]"),
        ("augment_strength", lambda v: 0 <= v <= 2, "a number in [0, 2]"),
    ):
        value = getattr(cfg, name)
        if not _is_number(value) or not ok(value):
            _fail(name, value, allowed)
    if cfg.device not in DEVICES:
        _fail("device", cfg.device, f"one of {list(DEVICES)}")
    for name in ("augment", "resume", "progress", "channels_last", "bf16"):
        if not isinstance(getattr(cfg, name), bool):
            _fail(name, getattr(cfg, name), "True or False")
    if (not isinstance(cfg.run_name, str) or not re.fullmatch(r"[A-Za-z0-9._-]*", cfg.run_name)
            or set(cfg.run_name) == {"."}):
        _fail("run_name", cfg.run_name, "a folder name of letters, digits, '.', '_' or '-' (not '.' or '..'), "
              "or '' for the model's name")
    if not isinstance(cfg.runs_dir, str) or not cfg.runs_dir:
        _fail("runs_dir", cfg.runs_dir, "a non-empty folder path")
    if not isinstance(cfg.metrics_path, str) or cfg.metrics_path and not cfg.metrics_path.endswith(".json"):
        _fail("metrics_path", cfg.metrics_path, "'' (the run folder) or a path ending in .json")


def config_defaults() -> dict:
    """Every setting with its declared default, before resolution (run_name "" still means the model's name)."""
    return {f.name: f.default for f in fields(TrainConfig)}


def check_int(name: str, value, low: int, high: int | None = None) -> None:
    """A notebook parameter that must be an integer in [low, high]."""
    if not _is_int(value) or value < low or (high is not None and value > high):
        _fail(name, value, f"an integer >= {low}" + (f" and <= {high}" if high is not None else ""))


def check_choice(name: str, value, allowed) -> None:
    """A notebook parameter that must be one of `allowed`."""
    if value not in allowed:
        _fail(name, value, f"one of {list(allowed)}")


def check_folders(name: str, value) -> None:
    """A notebook parameter that must be a list of folder paths (strings)."""
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
        _fail(name, value, "a non-empty list of folder paths, e.g. ['runs/sweep-baseline']")
