"""Every setting of a training run, with its default, its meaning and its check, declared once: the command line,
the notebooks' parameters cell and resume's rules all read these declarations."""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .models import MODELS

ROOT = Path(__file__).resolve().parents[1]  # the repository
RESULTS = ROOT / "results"  # the course's committed runs; a user's own go to runs/
TARGET_ACCURACY = 99.4  # percent, on the 10,000 test images
MAX_PARAMETERS = 20_000
MAX_EPOCHS = 20
TRAINING_IMAGES = 60_000
TEST_IMAGES = 10_000


def shown(path: Path) -> str:
    """`path` relative to the repository where it is inside it, for messages."""
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_absolute() and path.is_relative_to(ROOT) else str(path)


class ConfigError(ValueError):
    """A setting has a wrong type or value; the message names it and what is allowed."""


Rule = tuple[str, Callable[[Any], bool]]  # what is allowed, in words and as a test


def integer(low: int, high: int | None = None) -> Rule:
    """A whole number (not a bool) from `low` to `high`."""
    return (f"an integer >= {low}" + (f" and <= {high}" if high is not None else ""),
            lambda v: type(v) is int and v >= low and (high is None or v <= high))


def number(low: float, high: float, open_low: bool = False, open_high: bool = False) -> Rule:
    def ok(v) -> bool:
        return (type(v) in (int, float) and math.isfinite(v) and (v > low if open_low else v >= low)
                and (v < high if open_high else v <= high))
    return f"a number in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}", ok


def one_of(*choices) -> Rule:
    """Exactly one of `choices`, type included: 1 is not True and "1" is not 1."""
    return f"one of {list(choices)}", lambda v: any(type(v) is type(c) and v == c for c in choices)


YES_NO: Rule = ("True or False", lambda v: type(v) is bool)
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10))}  # Windows'
FOLDER_NAME: Rule = ("a folder name of letters, digits, '.', '_' or '-' that works on every system (not '.', '..', "
                     "a name ending in '.', nor one Windows reserves such as CON or COM1), or '' for the model's name",
                     lambda v: type(v) is str and bool(re.fullmatch(r"[\w.-]*", v, re.A)) and not v.endswith(".")
                     and v.split(".")[0].upper() not in RESERVED)


def setting(default, doc: str, rule: Rule = None, *, resume_must_match: bool = True):
    """A TrainConfig field; `resume_must_match` marks what a resumed run may not change."""
    rule = rule or {bool: YES_NO, str: ("a string", lambda v: type(v) is str)}[type(default)]
    return field(default=default, metadata={"doc": doc, "rule": rule, "resume_must_match": resume_must_match})


@dataclass
class TrainConfig:
    """The settings of one training run; the defaults are the baseline's recipe (`recipe` gives another's)."""

    model: str = setting("baseline", "a model from utils.models.MODELS", one_of(*MODELS))
    epochs: int = setting(12, "passes over the training set", integer(1, MAX_EPOCHS))
    batch_size: int = setting(128, "images per optimiser step", integer(1, TRAINING_IMAGES))
    lr: float = setting(0.1, "learning rate: the one-cycle schedule's peak, or the constant rate",
                        number(0, 10, open_low=True))
    momentum: float = setting(0.95, "SGD momentum at the start and end of the run (Nesterov when above 0)",
                              number(0, 1, open_high=True))
    min_momentum: float = setting(0.85, "momentum at the learning-rate peak (equal to momentum: constant)",
                                  number(0, 1, open_high=True))
    schedule: str = setting("one-cycle", "'one-cycle': rate up to lr and down to ~0, momentum the other way; "
                            "'constant': both fixed", one_of("one-cycle", "constant"))
    weight_decay: float = setting(5e-4, "L2 penalty on the weights, applied by SGD", number(0, 1, open_high=True))
    augment: bool = setting(True, "random affine augmentation of the training images")
    augment_strength: float = setting(0.5, "multiplies every range of RandomAffine (0: none)", number(0, 2))
    seed: int = setting(1, "seeds the weights, dropout, shuffling and augmentation", integer(0, 2**64 - 1))
    device: str = setting("auto", "cuda, then mps, then cpu for 'auto'", one_of("auto", "cpu", "cuda", "mps"),
                          resume_must_match=False)  # resume compares the device actually used
    data_fraction: float = setting(1.0, f"share of the {TRAINING_IMAGES:,} training images, for quick runs",
                                   number(0, 1, open_low=True))
    validation: int = setting(0, "training images held out to validate on (the same ones in every run; 0: none)",
                              integer(0, TRAINING_IMAGES // 2))
    threads: int = setting(0, "CPU threads; 0 keeps torch's default", integer(0, 1024), resume_must_match=False)
    channels_last: bool = setting(True, "channels-last memory layout (faster convolutions on CPU and GPU)")
    bf16: bool = setting(False, "bfloat16 autocast for the training forward pass")
    compile: bool = setting(False, "torch.compile the training step (eager where no compiler works)")
    run_name: str = setting("", "folder under runs_dir; '' names the run after the model", FOLDER_NAME,
                            resume_must_match=False)
    runs_dir: str = setting("runs", "where run folders go ('~' is expanded)",
                            ("a non-empty folder path", lambda v: type(v) is str and v != ""), resume_must_match=False)
    metrics_path: str = setting("", "where metrics.json goes; '' means the run folder",
                                ("'' (the run folder) or a path ending in .json",
                                 lambda v: type(v) is str and (v == "" or v.endswith(".json"))),
                                resume_must_match=False)
    resume: bool = setting(False, "continue run_name from its last complete epoch", resume_must_match=False)
    progress: bool = setting(True, "a progress bar per epoch", resume_must_match=False)
    check_target: bool | str = setting("auto", "fail if the course target is missed: True, False, or 'auto' "
                                       "(full runs only)", one_of(True, False, "auto"), resume_must_match=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            check_setting(f.name, getattr(self, f.name))
        if self.min_momentum > self.momentum:
            fail("min_momentum", self.min_momentum, f"at most momentum ({self.momentum}); set both to the same "
                 "value for a constant momentum")
        self.runs_dir = str(Path(self.runs_dir).expanduser())
        self.metrics_path = str(Path(self.metrics_path).expanduser()) if self.metrics_path else ""

    @classmethod
    def recipe(cls, model: str = "baseline", **overrides) -> TrainConfig:
        """The settings `model` is trained with in this course (RECIPES), with `overrides` on top."""
        recipe = RECIPES.get(model, {}) if isinstance(model, str) else {}
        return cls(**{**recipe, "model": model, **overrides})

    @classmethod
    def from_parameters(cls, namespace: Mapping[str, Any]) -> TrainConfig:
        """The settings in `namespace` (a notebook's `globals()`); one that is None or absent takes the recipe's."""
        given = {name: namespace[name] for name in field_names() if namespace.get(name) is not None}
        return cls.recipe(given.pop("model", "baseline"), **given)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / (self.run_name or self.model)

    @property
    def metrics_file(self) -> Path:
        return Path(self.metrics_path) if self.metrics_path else self.run_dir / "metrics.json"


# How the course trains each model, where it differs from TrainConfig's defaults: chosen on held-out training
# images by the rule in results/choosing-the-recipes.md (a narrower network needs more passes).
RECIPES: dict[str, dict[str, Any]] = {"compact": dict(epochs=20, lr=0.2, augment_strength=1.0)}


def fail(name: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{name}={value!r} is not allowed: {name} must be {allowed}.")


def check_parameter(name: str, value: Any, rule: Rule) -> None:
    """Raise ConfigError unless `value` passes `rule`, e.g. check_parameter("seed", seed, integer(0))."""
    if not rule[1](value):
        fail(name, value, rule[0])


def check_setting(name: str, value: Any) -> None:
    """Raise ConfigError unless `value` is allowed for setting `name`."""
    check_parameter(name, value, next(f for f in fields(TrainConfig) if f.name == name).metadata["rule"])


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def config_defaults() -> dict:
    return {f.name: f.default for f in fields(TrainConfig)}


def resume_fields() -> list[str]:
    """The settings that a resumed run, or a run kept by a sweep, must share."""
    return [f.name for f in fields(TrainConfig) if f.metadata["resume_must_match"]]


def resume_differences(saved: dict, config: dict) -> list[str]:
    """The settings a resumed or kept run must share that differ; one an older record lacks counts as its default."""
    defaults = config_defaults()
    return [k for k in resume_fields() if saved.get(k, defaults[k]) != config[k]]


# What a learner changes: the training notebooks' parameters cell lists these. The others (threads, device,
# compile, folders, resume...) work the same through papermill's -p and the command line.
LEARNER_SETTINGS = ("model", "epochs", "batch_size", "lr", "schedule", "momentum", "min_momentum", "weight_decay",
                    "augment", "augment_strength", "seed", "validation", "data_fraction")


def parameters_cell(model: str) -> str:
    """A training notebook's `parameters` cell for `model`: the learner's settings, each None where the recipes
    differ, with what each means."""
    recipes = {name: TrainConfig.recipe(name).to_dict() for name in ("baseline", *RECIPES)}
    lines = ["# The run's settings (utils.config.TrainConfig); change them here, or with papermill's -p NAME VALUE.",
             "# None takes the model's course recipe. Every setting is checked before training starts."]
    for name, doc in ((f.name, f.metadata["doc"]) for f in fields(TrainConfig)):
        values = {recipe[name] for recipe in recipes.values()}
        if name in LEARNER_SETTINGS and (name == "model" or len(values) == 1):
            lines.append(f"{name} = {model if name == 'model' else values.pop()!r}  # {doc}")
        elif name in LEARNER_SETTINGS:
            by_model = ", ".join(f"{m} {recipe[name]!r}" for m, recipe in recipes.items())
            lines.append(f"{name} = None  # {doc} (None: {by_model})")
    return "\n".join(lines)


def shown_settings(cfg: TrainConfig) -> dict[str, Any]:
    """The learner's settings of `cfg`, and any other that differs from its default."""
    defaults = config_defaults()
    return {k: v for k, v in cfg.to_dict().items() if k in LEARNER_SETTINGS or v != defaults[k]}


def changed_settings(cfg: TrainConfig) -> dict[str, Any]:
    """The settings of `cfg` that differ from TrainConfig's defaults."""
    base = TrainConfig().to_dict()
    return {k: v for k, v in cfg.to_dict().items() if v != base[k] or type(v) is not type(base[k])}


FOLDERS: Rule = ("a non-empty list of folder paths, e.g. ['results/sweep-baseline']",
                 lambda v: type(v) in (list, tuple) and bool(v) and all(type(f) is str and f for f in v))
