"""The record of a run (what metrics.json holds), its figures, its table row, and the course target's verdict."""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .config import MAX_EPOCHS, MAX_PARAMETERS, TARGET_ACCURACY, TEST_IMAGES, TrainConfig, check_setting
from .cost import count_macs
from .machine import thread_count
from .models import build_model
from .tables import cell, markdown_table

# Figures a reader of metrics.json gets without recomputing them from the per-epoch lists.
SUMMARY_KEYS = ("seed", "best_test_accuracy", "final_test_accuracy", "first_epoch_at_target", "total_seconds",
                "seconds_to_target", "run_seconds", "target_accuracy")


class TargetNotMet(AssertionError):
    """A run misses the course target."""


@dataclass
class RunRecord:
    """A run's settings, machine and figures per epoch; saved as metrics.json after every epoch."""

    model: str
    parameters: int
    config: dict[str, Any]  # TrainConfig.to_dict() of the run: the settings that trained
    device: str  # "cpu", "cuda", "mps"
    device_name: str
    threads: int
    torch_version: str
    train_loss: list[float] = field(default_factory=list)  # mean over the epoch, augmentation and dropout on
    train_accuracy: list[float] = field(default_factory=list)  # percent right during the epoch, likewise
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)  # percent
    epoch_seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)  # at the start of each epoch
    momentum: list[float] = field(default_factory=list)  # at the start of each epoch
    validation_loss: list[float] = field(default_factory=list)  # empty for a run without a validation set
    validation_accuracy: list[float] = field(default_factory=list)  # percent
    setup_seconds: float = 0.0  # before the first epoch: loading the data, building the model (each resume adds)
    misread: list[list[int]] = field(default_factory=list)  # [test index, predicted digit] at the last epoch
    layers: list[str] = field(default_factory=list)  # models.layer_list of the network that trained

    def add_epoch(self, misread: list[list[int]] | None = None, **figures: float) -> None:
        """Append one epoch's figures, each named as its list; `misread` replaces the previous epoch's."""
        for name, value in figures.items():
            getattr(self, name).append(value)
        self.misread = self.misread if misread is None else misread

    seed = property(lambda self: self.config["seed"])
    epochs = property(lambda self: len(self.test_accuracy), doc="Epochs trained so far.")
    complete = property(lambda self: self.epochs == self.config["epochs"], doc="Every epoch it was set trained.")
    best_test_accuracy = property(lambda self: max(self.test_accuracy, default=None))
    final_test_accuracy = property(lambda self: self.test_accuracy[-1] if self.test_accuracy else None)
    total_seconds = property(lambda self: sum(self.epoch_seconds), doc="Training and evaluating, all epochs.")
    run_seconds = property(lambda self: self.setup_seconds + self.total_seconds, doc="Start-up included.")

    @property
    def first_epoch_at_target(self) -> int | None:
        """1-based epoch at which the target was first reached, or None."""
        return next((i + 1 for i, acc in enumerate(self.test_accuracy) if acc >= TARGET_ACCURACY), None)

    @property
    def seconds_to_target(self) -> float | None:
        """From the start of the run to the end of the first epoch at the target, or None."""
        first = self.first_epoch_at_target
        return None if first is None else self.setup_seconds + sum(self.epoch_seconds[:first])

    target_accuracy = property(lambda self: TARGET_ACCURACY)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), **{key: getattr(self, key) for key in SUMMARY_KEYS}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        return cls.from_dict(json.loads(Path(path).read_text()))


def load_runs(paths: Sequence[str | Path]) -> list[tuple[str, RunRecord]]:
    """(run folder name, record) for each metrics.json, numbers in paths in numeric order (seed2 before seed10)."""
    def key(path: Path) -> list:
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]

    return [(Path(p).parent.name, RunRecord.load(p)) for p in sorted(map(Path, paths), key=key)]


def describe_device(run: RunRecord) -> str:
    """Where a run trained, e.g. "cpu (AMD EPYC, 2 cores), 2 threads"."""
    name = f" ({run.device_name})" if run.device_name else ""
    threads = f", {thread_count(run.threads)}" if run.device == "cpu" else ""
    return f"{run.device}{name}{threads}"


COLUMNS = {"run": "run", "model": "model", "parameters": "parameters", "seed": "seed", "epochs": "epochs",  # headers
           "best": "best %", "final": "final %", "first_at_target": f"first epoch at {TARGET_ACCURACY}%",
           "seconds": "seconds", "to_target": f"seconds to {TARGET_ACCURACY}%", "run_seconds": "whole run s",
           "device": "device"}


def run_row(name: str, run: RunRecord) -> dict[str, Any]:
    """Every column of COLUMNS for one run, as raw values."""
    return {"run": name, "model": run.model, "parameters": run.parameters, "seed": run.seed, "epochs": run.epochs,
            "best": run.best_test_accuracy, "final": run.final_test_accuracy,
            "first_at_target": run.first_epoch_at_target, "seconds": run.total_seconds,
            "to_target": run.seconds_to_target, "run_seconds": run.run_seconds, "device": describe_device(run)}


def format_cell(key: str, value) -> str:
    """Thousands separators for parameters, whole seconds, two decimals for accuracies."""
    if key == "parameters":
        return f"{value:,}"
    if key in ("seconds", "to_target", "run_seconds"):
        return cell(value, 0)
    return cell(value, 1 if key == "first_at_target" and isinstance(value, float) else 2)


def rows_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Markdown table of `rows` (from run_row, or statistics) in the given COLUMNS."""
    return markdown_table([COLUMNS[c] for c in columns], [[format_cell(c, r.get(c)) for c in columns] for r in rows])


def final_figures(run: RunRecord) -> str:
    """Markdown table of one run's headline figures, all read from its record."""
    first, per_epoch = run.first_epoch_at_target, run.total_seconds / max(run.epochs, 1)
    return markdown_table(["", ""], [
        ("model", run.model), ("trainable parameters", f"{run.parameters:,}"), ("epochs", run.epochs),
        ("best test accuracy", f"{run.best_test_accuracy:.2f}%"),
        ("final test accuracy", f"{run.final_test_accuracy:.2f}%"),
        (f"first epoch at >= {TARGET_ACCURACY}%", first if first else "not reached"),
        (f"time to {TARGET_ACCURACY}%", f"{run.seconds_to_target:.0f} s" if first else "not reached"),
        ("whole run", f"{run.run_seconds:.0f} s: {run.setup_seconds:.0f} s start-up, {per_epoch:.1f} s per epoch"),
        ("device", f"{describe_device(run)}, torch {run.torch_version}")])


def summary_line(run: RunRecord) -> str:
    """One line: parameters, best and final accuracy, first epoch at target, time."""
    first = run.first_epoch_at_target
    reached = f"epoch {first}, {run.seconds_to_target:.0f} s into the run" if first else "never"
    return (f"{run.model}: {run.parameters:,} parameters, best {run.best_test_accuracy:.2f}%, "
            f"final {run.final_test_accuracy:.2f}%, first >= {TARGET_ACCURACY}% at {reached}; "
            f"{run.run_seconds:.0f} s in all on {run.device}")


def target_verdict(run: RunRecord, enforce: bool | str = "auto") -> str:
    """Verdict on the course target; raises TargetNotMet if it is missed and `enforce` is True ("auto": a full run)."""
    check_setting("check_target", enforce)
    final, params = run.final_test_accuracy, run.parameters
    failures = []
    if final < TARGET_ACCURACY:
        failures.append(f"final test accuracy {final:.2f}% < {TARGET_ACCURACY}%")
    if params >= MAX_PARAMETERS:
        failures.append(f"{params:,} parameters >= {MAX_PARAMETERS:,}")
    if run.epochs > MAX_EPOCHS:
        failures.append(f"{run.epochs} epochs > {MAX_EPOCHS}")
    if failures:
        verdict = "Course target NOT met: " + "; ".join(failures)
        full_run = run.config["data_fraction"] == 1 and run.config["epochs"] >= TrainConfig().epochs
        if enforce is True or (enforce == "auto" and full_run):
            raise TargetNotMet(verdict)
        return verdict + " (not enforced: a shortened run, or check_target=False)."
    return (f"Target met: {final:.2f}% >= {TARGET_ACCURACY}% at the final epoch, {params:,} < {MAX_PARAMETERS:,} "
            f"parameters, {run.epochs} <= {MAX_EPOCHS} epochs.")


def mistakes(accuracy: float, test_images: int = TEST_IMAGES) -> int:
    """Test images wrong at this accuracy (percent)."""
    return round(test_images * (100 - accuracy) / 100)


def side_by_side(runs: dict[str, RunRecord]) -> str:
    """Markdown: parameters, multiply-adds per image, final accuracy, mistakes, epochs and seconds of each run."""
    rows = [[label, f"{run.parameters:,}", f"{sum(count_macs(build_model(run.model)).values()):,}",
             f"{run.final_test_accuracy:.2f}%", mistakes(run.final_test_accuracy),
             run.epochs, f"{run.total_seconds:.0f}", describe_device(run)] for label, run in runs.items()]
    return markdown_table(["run", "parameters", "multiply-adds per image", "final accuracy", "test mistakes",
                           "epochs", "training seconds", "device"], rows)
