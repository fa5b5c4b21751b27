"""The short variant runs behind the notebooks' exercise answers: one setting changed, two seeds each.

`make exercises` trains them (through the training notebook, as sweeps do) into results/exercise-<name>/;
the notebooks read the answers from there, next to the default recipe's sweep of the same model."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .config import TARGET_ACCURACY
from .data import REPO_ROOT
from .results import RunRecord, load_runs
from .sweep import sweep_runs

RESULTS = REPO_ROOT / "results"
SEEDS = (1, 2)


@dataclass(frozen=True)
class Variant:
    """The default recipe of `model` with `changes`."""

    model: str
    changes: dict = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.changes.items())


VARIANTS = {
    "no-augment": Variant("baseline", dict(augment=False)),
    "4-epochs": Variant("baseline", dict(epochs=4)),
    "no-weight-decay": Variant("baseline", dict(weight_decay=0.0)),
    "compact-7-epochs": Variant("compact", dict(epochs=7, lr=0.1)),
}


def variant_folder(name: str, root: Path = RESULTS) -> Path:
    return root / f"exercise-{name}"


def variant_runs(name: str, root: Path = RESULTS) -> list[RunRecord]:
    """The runs of one variant, by seed; a clear error where `make exercises` has not made them."""
    folder = variant_folder(name, root)
    files = [folder / f"seed{s}" / "metrics.json" for s in SEEDS]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not found: run `make exercises` to train the variants.")
    return [run for _, run in load_runs(files)]


def default_runs(model: str, root: Path = RESULTS) -> list[RunRecord]:
    """The default recipe's committed sweep of `model`."""
    return [run for _, run in sweep_runs(root / f"sweep-{model}")]


def spread(values: list[float]) -> str:
    """'mean (min-max)' of accuracies in percent."""
    return f"{sum(values) / len(values):.2f}% ({min(values):.2f}-{max(values):.2f})"


def compare_to_default(name: str, root: Path = RESULTS) -> str:
    """One sentence: the variant's final accuracies against the default recipe's sweep, both measured; where
    the variant's runs are missing, the command that makes them (the training notebook still runs to the end,
    so that the sweeps and `make exercises`, which run it, work in a folder without them)."""
    variant = VARIANTS[name]
    try:
        runs = variant_runs(name, root)
    except FileNotFoundError as missing:
        return f"Not measured here yet: {missing}"
    default = default_runs(variant.model, root)
    finals = [r.final_test_accuracy for r in runs]
    reached = sum(r.final_test_accuracy >= TARGET_ACCURACY for r in runs)
    return (f"With {variant.describe()}, the {variant.model} ended at "
            f"{', '.join(f'{a:.2f}%' for a in finals)} on seeds {', '.join(map(str, SEEDS))} "
            f"({reached} of {len(runs)} at or above {TARGET_ACCURACY}%); its default recipe ended at "
            f"{spread([r.final_test_accuracy for r in default])} over {len(default)} seeds.")
