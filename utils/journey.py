"""The design journey (notebook 7, `make journey`): from a plain stack of 3x3 convolutions to the course's
network, one change per step, every step trained with the same budget over the same seeds, and judged on
validation accuracy."""
from __future__ import annotations

import csv
import difflib
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import TARGET_ACCURACY, TrainConfig, changed_settings
from .data import REPO_ROOT
from .models import build_model, count_parameters
from .results import RunRecord
from .tables import MarkdownText, markdown_table

JOURNEY_DIR = REPO_ROOT / "results" / "journey"
EPOCHS = 5  # every step's budget: short enough for 7 steps x 3 seeds in under an hour on 2 cores
SEEDS = (1, 2, 3)
VALIDATION = 5000  # held-out training images each step is judged on
CONSTANT_RATE = dict(schedule="constant", lr=0.01)  # a rate a network without BatchNorm trains with


@dataclass(frozen=True)
class Step:
    """One step: what it changes, what the designer expects, the model and its settings."""

    name: str  # its folder under results/journey
    change: str
    target: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)

    def config(self, **overrides) -> TrainConfig:
        """The step's training settings (the shared budget, validation, its own changes)."""
        return TrainConfig.recipe(self.model, **{"epochs": EPOCHS, "validation": VALIDATION, **self.settings,
                                                 **overrides})


STEPS: tuple[Step, ...] = (
    Step("1-plain", "five 3x3 convolutions with ReLU, max pooling after the 28x28 and 14x14 blocks, one linear "
         "layer on the 32 maps of 7x7; a constant learning rate, no augmentation",
         "a working network to improve on: well above chance, short of 99.4%, and over the 20,000-parameter "
         "budget (most of it in the linear layer)", "plain", dict(CONSTANT_RATE, augment=False)),
    Step("2-batchnorm", "+ BatchNorm after every 3x3 convolution",
         "faster, steadier training: each layer's inputs keep a fixed scale", "plain-bn",
         dict(CONSTANT_RATE, augment=False)),
    Step("3-transition", "+ a 1x1 convolution from 32 maps to 8 before the linear layer",
         "inside the budget at little or no cost in accuracy", "bn-transition",
         dict(CONSTANT_RATE, augment=False)),
    Step("4-dropout", "+ dropout (5%) after the 28x28 and the 14x14 blocks",
         "a smaller gap between training and validation accuracy", "baseline", dict(CONSTANT_RATE, augment=False)),
    Step("5-augmentation", "+ random rotation, shift, zoom and shear of the training images",
         "better validation accuracy: the test digits are written at other angles and places", "baseline",
         dict(CONSTANT_RATE)),
    Step("6-one-cycle", "a one-cycle schedule (warm up to 0.1, anneal to almost 0, momentum cycled) instead of the "
         "constant rate of 0.01: the course's recipe, on this budget",
         "higher accuracy at the last epoch: large steps early, fine ones at the end", "baseline"),
    Step("7-gap", "global average pooling over one 1x1-convolution map per digit instead of the transition and "
         "linear layer: the compact model's road",
         "fewer parameters for about the same accuracy", "baseline-gap"),
)


def step_runs(step: Step, root: Path = JOURNEY_DIR) -> list[RunRecord]:
    """The finished runs of `step` in `root`, one per seed found."""
    return [RunRecord.load(p) for p in sorted((root / step.name).glob("seed*/metrics.json"))]


def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class StepResult:
    """A step's figures over its seeds: each accuracy at the last epoch, mean and spread."""

    step: Step
    parameters: int
    seeds: int
    train: tuple[float, float]  # percent right while training (augmented, dropout on)
    validation: tuple[float, float]
    test: tuple[float, float]
    epochs_to_target: list[int | None]  # per seed: first epoch at 99.4% test accuracy, None where never
    seconds: float  # mean training seconds of a run
    epochs: int = EPOCHS  # the budget the runs trained with

    @property
    def gap(self) -> float:
        """Training minus validation accuracy, in points: how much better the network does on what it learns."""
        return self.train[0] - self.validation[0]


def summarise(step: Step, runs: list[RunRecord]) -> StepResult:
    def last(name: str) -> tuple[float, float]:
        return mean_spread([getattr(r, name)[-1] for r in runs])

    return StepResult(step, count_parameters(build_model(step.model)), len(runs), last("train_accuracy"),
                      last("validation_accuracy"), last("test_accuracy"),
                      [r.first_epoch_at_target for r in runs], statistics.mean(r.total_seconds for r in runs),
                      max(r.epochs for r in runs))


def results(root: Path = JOURNEY_DIR) -> list[StepResult]:
    """Every step that has runs in `root`, in journey order."""
    return [summarise(step, runs) for step in STEPS if (runs := step_runs(step, root))]


def _pm(value: tuple[float, float]) -> str:
    return f"{value[0]:.2f} ± {value[1]:.2f}"


def _reached(epochs: list[int | None]) -> str:
    reached = sorted(e for e in epochs if e is not None)
    return f"{len(reached)} of {len(epochs)}" + (f" (epoch {', '.join(map(str, reached))})" if reached else "")


HEADER = ["step", "parameters", "train %", "validation %", "test %", "train - validation", "99.4% test reached",
          "s per run"]


def journey_table(steps: list[StepResult]) -> str:
    """Markdown: one row per step, accuracies at the last epoch as mean ± std over the seeds."""
    rows = [[s.step.name, f"{s.parameters:,}", _pm(s.train), _pm(s.validation), _pm(s.test), f"{s.gap:+.2f}",
             _reached(s.epochs_to_target), f"{s.seconds:.0f}"] for s in steps]
    return markdown_table(HEADER, rows)


def difference_error(before: StepResult, after: StepResult) -> float:
    """Standard error of the difference between the two steps' mean validation accuracies (each mean over its
    seeds, so each seed-to-seed spread shrinks by the square root of its number of seeds)."""
    return math.sqrt(before.validation[1] ** 2 / before.seeds + after.validation[1] ** 2 / after.seeds)


def change_kind(before: StepResult, after: StepResult) -> str:
    """"gain" or "loss" where validation accuracy moved by more than two standard errors of the difference,
    else "none"."""
    change = after.validation[0] - before.validation[0]
    error = difference_error(before, after)
    return "gain" if change > 2 * error else "loss" if change < -2 * error else "none"


def verdict(before: StepResult, after: StepResult) -> str:
    """How validation accuracy moved from one step to the next, against the noise of the seeds."""
    change = after.validation[0] - before.validation[0]
    size = {"gain": "a clear gain", "loss": "a clear loss",
            "none": "within the noise of the seeds: no measurable change at this budget"}[change_kind(before, after)]
    return (f"validation accuracy {before.validation[0]:.2f}% -> {after.validation[0]:.2f}% ({change:+.2f} points; "
            f"standard error of the difference {difference_error(before, after):.2f}): {size}")


def settings_line(step: Step) -> str:
    """The step's settings that differ from TrainConfig's defaults."""
    return ", ".join(f"{k}={v!r}" for k, v in changed_settings(step.config()).items())


def write_summary(steps: list[StepResult], folder: Path, footer: str) -> str:
    """results.md (the table and how it was made) and results.csv in `folder`; returns the markdown."""
    text = (f"{journey_table(steps)}\n\nAccuracies at the last of {steps[0].epochs} epochs, mean ± standard "
            f"deviation over seeds {', '.join(map(str, SEEDS))}; validation on {VALIDATION:,} held-out training "
            f"images; {TARGET_ACCURACY}% is the course target on the test set. {footer}")
    (folder / "results.md").write_text(text + "\n")
    with open(folder / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "parameters", "seeds", "train_mean", "train_std", "validation_mean",
                         "validation_std", "test_mean", "test_std", "seconds"])
        for s in steps:
            writer.writerow([s.step.name, s.parameters, s.seeds, *s.train, *s.validation, *s.test, s.seconds])
    return text


def step_named(name: str) -> Step:
    return next(s for s in STEPS if s.name == name)


def change_from_previous(name: str) -> MarkdownText:
    """What a step changes, as code: the network's printout (the first step) or its diff from the previous step's,
    and the training settings that differ."""
    step = step_named(name)
    index = STEPS.index(step)
    network = repr(build_model(step.model))
    if index == 0:
        return MarkdownText(f"```\n{network}\n```\n\nSettings: {settings_line(step)}")
    before = STEPS[index - 1]
    lines = []
    if before.model != step.model:
        def layers(model: str) -> list[str]:  # the printout without its first and last line (the class name)
            return repr(build_model(model)).splitlines()[1:-1]

        diff = difflib.unified_diff(layers(before.model), layers(step.model), before.model, step.model, n=1,
                                    lineterm="")
        lines.append("```diff\n" + "\n".join(diff) + "\n```")
    old, new = before.config().to_dict(), step.config().to_dict()
    settings = [f"{k}: {old[k]!r} -> {new[k]!r}" for k in new if k != "model" and old[k] != new[k]]
    lines.append("Settings changed: " + ("; ".join(settings) if settings else "none"))
    return MarkdownText("\n\n".join(lines))


def step_report(name: str, steps: list[StepResult]) -> MarkdownText:
    """A step's Result (its figures) and Analysis (against the previous step), all from the runs."""
    by_name = {s.step.name: s for s in steps}
    if name not in by_name:
        return MarkdownText(f"**Result:** no runs of {name} yet: `make journey` trains them.")
    now = by_name[name]
    seeds = f"{now.seeds} seed{'s' * (now.seeds > 1)}"
    result = (f"**Result** ({seeds}, {now.epochs} epochs): {now.parameters:,} parameters; validation "
              f"{_pm(now.validation)}%, test {_pm(now.test)}%, training {_pm(now.train)}% (as it trained); "
              f"99.4% on the test set reached by {_reached(now.epochs_to_target)}; {now.seconds:.0f} s per run.")
    index = STEPS.index(step_named(name))
    before = by_name.get(STEPS[index - 1].name) if index else None
    if before is None:
        return MarkdownText(result)
    analysis = (f"**Analysis:** {verdict(before, now)}. Training minus validation accuracy: {before.gap:+.2f} -> "
                f"{now.gap:+.2f} points; parameters {before.parameters:,} -> {now.parameters:,}.")
    return MarkdownText(result + "\n\n" + analysis)
