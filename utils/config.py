"""Every setting of a training run, declared once: its default, what it means, what values it allows,
and whether a resumed run must keep it. Validation, the command line and the training notebook's
parameters cell are all derived from these declarations."""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .models import MODELS

TARGET_ACCURACY = 99.4  # percent, on the 10,000 test images
MAX_PARAMETERS = 20_000
MAX_EPOCHS = 20
TRAINING_IMAGES = 60_000
TEST_IMAGES = 10_000
SEED_MAX = 2**64 - 1  # torch.manual_seed takes an unsigned 64-bit seed

# Names Windows refuses for a file or folder, with or without an extension.
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


class ConfigError(ValueError):
    """A setting has a wrong type or value; the message names it and what is allowed."""


@dataclass(frozen=True)
class Allowed:
    """The values a setting may take beyond its type: `test(value)` says yes or no, `text` says what is allowed."""

    test: Callable[[Any], bool]
    text: str
    choices: tuple = ()  # the values themselves, where the setting is a choice


def number(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Allowed:
    """A number in [low, high], an end excluded where `open_...` is set."""
    def test(v) -> bool:
        return (v > low if open_low else v >= low) and (v < high if open_high else v <= high)
    return Allowed(test, f"a number in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}")


def integer(low: int, high: int | None = None) -> Allowed:
    """An integer >= low (and <= high)."""
    return Allowed(lambda v: v >= low and (high is None or v <= high),
                   f"an integer >= {low}" + (f" and <= {high}" if high is not None else ""))


def one_of(*choices) -> Allowed:
    """Exactly one of `choices`, type included: 1 is not True and "1" is not 1."""
    return Allowed(lambda v: any(type(v) is type(c) and v == c for c in choices), f"one of {list(choices)}", choices)


def _folder_name_ok(name: str) -> bool:
    stem = name.split(".")[0].upper()
    return (bool(re.fullmatch(r"[A-Za-z0-9._-]*", name)) and set(name) != {"."} and not name.endswith(".")
            and stem not in WINDOWS_RESERVED)


FOLDER_NAME = Allowed(_folder_name_ok, "a folder name of letters, digits, '.', '_' or '-' that works on every "
                      "system (not '.', '..', a name ending in '.', nor one Windows reserves such as CON, NUL or "
                      "COM1), or '' for the model's name")
NON_EMPTY = Allowed(bool, "a non-empty folder path")
JSON_PATH = Allowed(lambda v: v == "" or v.endswith(".json"), "'' (the run folder) or a path ending in .json")


def setting(default, doc: str, allowed: Allowed | None = None, *, resume_must_match: bool = False):
    """A TrainConfig field; `resume_must_match` marks the settings a resumed run may not change."""
    return field(default=default, metadata={"doc": doc, "allowed": allowed, "resume_must_match": resume_must_match})


@dataclass
class TrainConfig:
    """The settings of one training run. The defaults are the baseline's recipe; `TrainConfig.recipe`
    gives another model's."""

    model: str = setting("baseline", "a model from utils.models.MODELS", one_of(*MODELS), resume_must_match=True)
    epochs: int = setting(12, "passes over the training set", integer(1, MAX_EPOCHS), resume_must_match=True)
    batch_size: int = setting(128, "images per optimiser step", integer(1, TRAINING_IMAGES), resume_must_match=True)
    lr: float = setting(0.1, "learning rate: the one-cycle schedule's peak, or the constant rate",
                        number(0, 10, open_low=True),
                        resume_must_match=True)
    momentum: float = setting(0.95, "SGD momentum at the start and end of the run (Nesterov when above 0)",
                              number(0, 1, open_high=True), resume_must_match=True)
    min_momentum: float = setting(0.85, "momentum at the learning-rate peak (equal to momentum: constant)",
                                  number(0, 1, open_high=True), resume_must_match=True)
    schedule: str = setting("one-cycle", "'one-cycle': rate up to lr and down to ~0, momentum the other way; "
                            "'constant': both fixed", one_of("one-cycle", "constant"), resume_must_match=True)
    weight_decay: float = setting(5e-4, "L2 penalty on the weights, applied by SGD", number(0, 1, open_high=True),
                                  resume_must_match=True)
    augment: bool = setting(True, "random affine augmentation of the training images", resume_must_match=True)
    augment_strength: float = setting(1.0, "multiplies every augmentation range (0: none)", number(0, 2),
                                      resume_must_match=True)
    seed: int = setting(1, "seeds the weights, dropout, shuffling and augmentation", integer(0, SEED_MAX),
                        resume_must_match=True)
    device: str = setting("auto", "cuda, then mps, then cpu for 'auto'", one_of("auto", "cpu", "cuda", "mps"))
    data_fraction: float = setting(1.0, "share of the 60,000 training images, for quick runs",
                                   number(0, 1, open_low=True), resume_must_match=True)
    validation: int = setting(0, "training images held out to validate on (the same ones in every run; 0: none)",
                              integer(0, TRAINING_IMAGES // 2), resume_must_match=True)
    threads: int = setting(0, "CPU threads; 0 keeps torch's default", integer(0, 1024))
    channels_last: bool = setting(True, "channels-last memory layout (faster convolutions on CPU and GPU)",
                                  resume_must_match=True)
    bf16: bool = setting(False, "bfloat16 autocast for the training forward pass", resume_must_match=True)
    fast_batchnorm: bool = setting(False, "CPU BatchNorm from sums at widths not a multiple of 16 (faster at 8-14)",
                                   resume_must_match=True)
    fast_dropout: bool = setting(False, "CPU dropout that draws where values drop: fewer random numbers, other "
                                 "draws", resume_must_match=True)
    compile: bool = setting(False, "torch.compile the training step (eager where no compiler works)")
    run_name: str = setting("", "folder under runs_dir; '' names the run after the model", FOLDER_NAME)
    runs_dir: str = setting("runs", "where run folders go ('~' is expanded)", NON_EMPTY)
    metrics_path: str = setting("", "where metrics.json goes; '' means the run folder", JSON_PATH)
    resume: bool = setting(False, "continue run_name from its last complete epoch")
    progress: bool = setting(True, "a progress bar per epoch")
    check_target: bool | str = setting("auto", "fail if the course target is missed: True, False, or 'auto' "
                                       "(full runs only)", one_of(True, False, "auto"))

    def __post_init__(self) -> None:
        validate(self)
        self.runs_dir = str(Path(self.runs_dir).expanduser())
        self.metrics_path = str(Path(self.metrics_path).expanduser()) if self.metrics_path else ""

    @classmethod
    def recipe(cls, model: str = "baseline", **overrides) -> TrainConfig:
        """The settings `model` is trained with in this course (see RECIPES), with `overrides` on top."""
        recipe = next((settings for name, settings in RECIPES.items() if name == model), {})
        return cls(**{**recipe, "model": model, **overrides})

    @classmethod
    def from_parameters(cls, namespace: Mapping[str, Any]) -> TrainConfig:
        """The config whose settings are the names in `namespace` (a notebook's `globals()`) that are fields."""
        return cls(**{name: namespace[name] for name in field_names() if name in namespace})

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / (self.run_name or self.model)

    @property
    def metrics_file(self) -> Path:
        return Path(self.metrics_path) if self.metrics_path else self.run_dir / "metrics.json"


# How the course trains each model, where it differs from TrainConfig's defaults.
RECIPES: dict[str, dict[str, Any]] = {
    # A narrower network needs more passes and a higher peak rate. Its BatchNorm layers, 8 to 14 wide, train from
    # sums on a CPU (the same layer, faster there; its accuracy checked by sweeps: README, "BatchNorm from sums").
    "compact": dict(epochs=15, lr=0.2, fast_batchnorm=True),
}


def _fail(name: str, value, allowed: str) -> None:
    raise ConfigError(f"{name}={value!r} is not allowed: {name} must be {allowed}.")


def _type_ok(value, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, kind)


TYPE_TEXT = {bool: "True or False", int: "an integer", float: "a finite number", str: "a string"}


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError naming the first setting that is wrong, its value and what is allowed."""
    for f in fields(cfg):
        check_setting(f.name, getattr(cfg, f.name))
    if cfg.min_momentum > cfg.momentum:
        _fail("min_momentum", cfg.min_momentum, f"at most momentum ({cfg.momentum}); set both to the same value "
              "for a constant momentum")


def check_setting(name: str, value) -> None:
    """Raise ConfigError unless `value` has the type and lies among the values allowed for setting `name`."""
    f = next(f for f in fields(TrainConfig) if f.name == name)
    allowed, kind = f.metadata["allowed"], type(f.default)
    if not (allowed and allowed.choices) and not _type_ok(value, kind):
        _fail(name, value, TYPE_TEXT[kind] + (f", {allowed.text}" if allowed else ""))
    if allowed and not allowed.test(value):
        _fail(name, value, allowed.text)


def field_names() -> list[str]:
    """The settings' names, in declaration order."""
    return [f.name for f in fields(TrainConfig)]


def config_defaults() -> dict:
    """Every setting with its declared default."""
    return {f.name: f.default for f in fields(TrainConfig)}


def resume_fields() -> list[str]:
    """The settings that a resumed run must keep."""
    return [f.name for f in fields(TrainConfig) if f.metadata["resume_must_match"]]


def choices() -> dict[str, tuple]:
    """The allowed values of each setting that is a choice."""
    return {f.name: f.metadata["allowed"].choices for f in fields(TrainConfig)
            if f.metadata["allowed"] and f.metadata["allowed"].choices}


def setting_docs() -> dict[str, str]:
    """What each setting means, for --help and the notebooks' parameters cell."""
    return {f.name: f.metadata["doc"] for f in fields(TrainConfig)}


def parameters_cell(cfg: TrainConfig) -> str:
    """The source of a notebook's `parameters` cell: one line per setting of `cfg`, with what it means."""
    docs = setting_docs()
    lines = ["# The run's settings (from utils.config.TrainConfig); change them here, or with papermill's",
             "# -p NAME VALUE. Every one is checked before training starts."]
    lines += [f"{name} = {value!r}  # {docs[name]}" for name, value in cfg.to_dict().items()]
    return "\n".join(lines)


def changed_settings(cfg: TrainConfig) -> dict[str, Any]:
    """The settings of `cfg` that differ from TrainConfig's defaults."""
    base = TrainConfig().to_dict()
    return {k: v for k, v in cfg.to_dict().items() if v != base[k] or type(v) is not type(base[k])}


def check_int(name: str, value, low: int, high: int | None = None) -> None:
    """A notebook parameter that must be an integer in [low, high]."""
    if not _type_ok(value, int) or not integer(low, high).test(value):
        _fail(name, value, integer(low, high).text)


def check_choice(name: str, value, allowed) -> None:
    """A notebook parameter that must be one of `allowed` (type included)."""
    if not one_of(*allowed).test(value):
        _fail(name, value, one_of(*allowed).text)


def check_folders(name: str, value) -> None:
    """A notebook parameter that must be a list of folder paths (strings)."""
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
        _fail(name, value, "a non-empty list of folder paths, e.g. ['results/sweep-baseline']")

