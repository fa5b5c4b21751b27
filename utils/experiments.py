"""The runs tables: an experiment is a model's recipe with some settings changed, trained once per seed by
scripts/sweep.py into <root>/<name>/seed<N>/; and what the notebooks read from those runs."""
from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .analysis import mean_spread, sweep_runs
from .config import RESULTS, TARGET_ACCURACY, TrainConfig, resume_differences, shown
from .machine import pick_device
from .models import build_model, layer_list
from .results import RunRecord
from .tables import MarkdownText, markdown_table
from .train import CheckpointError, load_checkpoint


@dataclass(frozen=True)
class Experiment:
    """The recipe of `model` with `settings`, trained once per seed; a journey step also says what it changes and
    what its designer expects."""

    name: str  # its folder under the root
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    change: str = ""
    target: str = ""

    def config(self, seed: int = 1, **overrides) -> TrainConfig:
        """The settings of the run of `seed`, with `overrides` on top."""
        return TrainConfig.recipe(self.model, **{**self.settings, "seed": seed, **overrides})


def sweep_name(model: str) -> str:
    return f"sweep-{model}"


def same_layers(metrics: Path, cfg: TrainConfig) -> bool:
    """Whether the run recorded in `metrics` trained the layers `cfg.model` has now (an older record lists none)."""
    return metrics.exists() and RunRecord.load(metrics).layers == layer_list(build_model(cfg.model))


def trained_as(config: dict, device: str | None, cfg: TrainConfig) -> bool:
    """Whether a run with `config` on `device` trained as `cfg` asks: the settings a resume keeps, the threads, and
    the device `cfg` would train on here."""
    return (not resume_differences(config, cfg.to_dict()) and config.get("threads", 0) == cfg.threads
            and device == pick_device(cfg.device).type)


def finished(metrics: Path, cfg: TrainConfig) -> bool:
    """Whether `metrics` records every epoch of a run trained as `cfg` asks."""
    if not same_layers(metrics, cfg):
        return False
    run = RunRecord.load(metrics)
    return run.epochs == cfg.epochs and trained_as(run.config, run.device, cfg)


def to_run(run_dir: Path, cfg: TrainConfig) -> TrainConfig | None:
    """What to train in `run_dir`: nothing where a run finished as `cfg` asks, a resume where an interrupted one can
    continue exactly, else `cfg` in an emptied folder."""
    if finished(run_dir / "metrics.json", cfg):
        return None
    try:
        state = load_checkpoint(run_dir / "checkpoint.pt")
    except CheckpointError:  # none, cut short, or not this course's: the run starts afresh
        state = None
    if (state and state["epoch"] < cfg.epochs and same_layers(run_dir / "metrics.json", cfg)
            and trained_as(state["config"], state.get("machine", {}).get("device"), cfg)):
        return replace(cfg, resume=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    return cfg


# The design journey (notebook 7): from a plain stack of 3x3 convolutions to the course's network, one change per
# step, each trained with the same budget over the same seeds and judged on validation accuracy.
JOURNEY_EPOCHS, JOURNEY_SEEDS, JOURNEY_VALIDATION = 5, (1, 2, 3), 5000
JOURNEY_DIR = RESULTS / "journey"  # the steps' folders are below it


def journey_step(name: str, change: str, target: str, model: str, **settings) -> Experiment:
    """A journey step: its budget, validation images and seeds, with `settings`."""
    budget = dict(epochs=JOURNEY_EPOCHS, validation=JOURNEY_VALIDATION)
    return Experiment(name, model, {**budget, **settings}, JOURNEY_SEEDS, change, target)


CONSTANT_RATE = dict(schedule="constant", lr=0.01)  # a rate a network without BatchNorm trains with
JOURNEY: tuple[Experiment, ...] = (
    journey_step(
        "1-plain", "five 3x3 convolutions with ReLU, max pooling after the 28x28 and 14x14 blocks, one linear layer "
        "on the 32 maps of 7x7; a constant learning rate, no augmentation",
        "a working network to improve on: well above chance, short of 99.4%, and over the 20,000-parameter budget "
        "(most of it in the linear layer)", "plain", **CONSTANT_RATE, augment=False),
    journey_step(
        "2-batchnorm", "+ BatchNorm after every 3x3 convolution",
        "faster, steadier training: each layer's inputs keep a fixed scale", "plain-bn", **CONSTANT_RATE,
        augment=False),
    journey_step(
        "3-transition", "+ a 1x1 convolution from 32 maps to 8 before the linear layer",
        "inside the budget at little or no cost in accuracy", "bn-transition", **CONSTANT_RATE, augment=False),
    journey_step(
        "4-dropout", "+ dropout (5%) after the 28x28 and the 14x14 blocks",
        "higher validation accuracy and lower validation loss: less memorising of the training images", "baseline",
        **CONSTANT_RATE, augment=False),
    journey_step(
        "5-augmentation", "+ random rotation, shift, zoom and shear of the training images",
        "better validation accuracy: the test digits are written at other angles and places", "baseline",
        **CONSTANT_RATE),
    journey_step(
        "6-one-cycle", "a one-cycle schedule (warm up to 0.1, anneal to almost 0, momentum cycled) instead of the "
        "constant rate of 0.01: the course's recipe, on this budget",
        "higher accuracy at the last epoch: large steps early, fine ones at the end", "baseline"),
    journey_step(
        "7-gap", "global average pooling over one 1x1-convolution map per digit instead of the transition and "
        "linear layer: the compact model's road", "fewer parameters for about the same accuracy", "baseline-gap"),
)


def write_journey_summary(root: Path, footer: str) -> str:
    """Write results.md and results.csv of the journey's steps in `root`: accuracies at the last epoch, mean and
    standard deviation over the seeds. Returns the markdown; notebook 7 computes the same in view."""
    rows, csv_rows = [], [["step", "parameters", "seeds", "train_mean", "train_std", "validation_mean",
                           "validation_std", "test_mean", "test_std", "seconds"]]
    for step in JOURNEY:
        if not (runs := [run for _, run in sweep_runs(root / step.name)]):
            continue
        train, validation, test = (mean_spread([getattr(r, f"{k}_accuracy")[-1] for r in runs])
                                   for k in ("train", "validation", "test"))
        seconds, epochs = mean_spread([r.total_seconds for r in runs])[0], max(r.epochs for r in runs)
        at = sorted(r.first_epoch_at_target for r in runs if r.first_epoch_at_target is not None)
        reached = f"{len(at)} of {len(runs)}" + (f" (epoch {', '.join(map(str, at))})" if at else "")
        figures = (f"{m:.2f} ± {s:.2f}" for m, s in (train, validation, test))
        rows.append([step.name, f"{runs[0].parameters:,}", *figures,
                     f"{train[0] - validation[0]:+.2f}", reached, f"{seconds:.0f}"])
        csv_rows.append([step.name, runs[0].parameters, len(runs), *train, *validation, *test, seconds])
    header = ["step", "parameters", "train %", "validation %", "test %", "train - validation",
              f"{TARGET_ACCURACY}% test reached", "s per run"]
    text = (f"{markdown_table(header, rows)}\n\nAccuracies at the last of {epochs} epochs, mean ± standard deviation "
            f"over seeds {', '.join(map(str, JOURNEY_SEEDS))}; validation on {JOURNEY_VALIDATION:,} held-out training "
            f"images; {TARGET_ACCURACY}% is the course target on the test set. {footer}")
    (root / "results.md").write_text(text + "\n")
    with open(root / "results.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(csv_rows)
    return text


# The short variants behind the notebooks' exercise answers: one setting changed, read next to the default
# recipe's sweep of the same model.
EXERCISE_SEEDS = (1, 2)
VARIANTS = {name: Experiment(f"exercise-{name}", model, settings, EXERCISE_SEEDS) for name, model, settings in (
    ("no-augment", "baseline", dict(augment=False)),
    ("4-epochs", "baseline", dict(epochs=4)),
    ("no-weight-decay", "baseline", dict(weight_decay=0.0)),
    ("compact-7-epochs", "compact", dict(epochs=7, lr=0.1)),
)}
# The candidates for each recipe, judged on held-out training images by the rule of
# results/choosing-the-recipes.md, written before their runs; on seeds no sweep uses.
VALIDATION_SEEDS = (241, 242, 243, 244, 245)
COMPACT_ROUND_2_SEEDS = (246, 247, 248, 249, 250)  # the compact model's second round: results/choosing-the-recipes.md
BASELINE_ROUND_2_SEEDS = (251, 252, 253, 254, 255)  # the baseline's second round
VALIDATION = {e.name: e for e in (
    Experiment("validation-baseline", "baseline", dict(validation=10_000, epochs=12, lr=0.1, augment_strength=1.0),
               VALIDATION_SEEDS),
    Experiment("validation-baseline-lr-0.2", "baseline", dict(validation=10_000, epochs=12, lr=0.2,
                                                              augment_strength=1.0), VALIDATION_SEEDS),
    Experiment("validation-baseline-augment-0.5", "baseline", dict(validation=10_000, epochs=12, lr=0.1,
                                                                   augment_strength=0.5), VALIDATION_SEEDS),
    # the first and third ran under the name "compact", the second as "compact-previous-layout", and their records
    # keep those names
    Experiment("validation-compact", "compact-narrow-start", dict(validation=10_000, epochs=20, lr=0.2,
                                                                  augment_strength=1.0), VALIDATION_SEEDS),
    Experiment("validation-compact-previous-layout", "compact", dict(validation=10_000, epochs=20, lr=0.2,
                                                                     augment_strength=1.0), VALIDATION_SEEDS),
    Experiment("validation-compact-lr-0.1", "compact-narrow-start", dict(validation=10_000, epochs=20, lr=0.1,
                                                                         augment_strength=1.0), VALIDATION_SEEDS),
    *(Experiment(f"validation-compact-round-2-{name}", model, dict(validation=10_000, epochs=20, lr=0.2,
                                                                   augment_strength=strength), COMPACT_ROUND_2_SEEDS)
      for name, model, strength in (("augment-0.5", "compact", 0.5), ("augment-0.75", "compact", 0.75),
                                    ("wider-augment-0.5", "compact-wider", 0.5))),
    Experiment("validation-baseline-round-2-10-epochs", "baseline",
               dict(validation=10_000, epochs=10, lr=0.1, augment_strength=0.5), BASELINE_ROUND_2_SEEDS))}
# The pass mark of results/choosing-the-recipes.md: every validation run, and their mean, at or above these (%).
PASS_EACH, PASS_MEAN = 99.45, 99.52


def candidates_of(model: str) -> list[Experiment]:
    """`model`'s validation candidates in the order the rule reads them: the latest round first."""
    named = [e for e in VALIDATION.values() if f"{e.name}-".startswith(f"validation-{model}-")]
    return sorted(named, key=lambda e: "-round-2-" not in e.name)


def chosen_candidate(candidates: dict[str, list[RunRecord]], seeds: int = len(VALIDATION_SEEDS)) -> tuple[
        str, MarkdownText]:
    """By the rule: the first candidate, in order, whose validation finals over `seeds` runs pass; else the highest
    mean. Returns its name and a table of every candidate; one without runs is listed as such."""
    rows, means, chosen = [], {}, None
    for name, runs in candidates.items():
        runs = [run for run in runs if run.complete]
        finals = [run.validation_accuracy[-1] for run in runs]
        if not finals:
            rows.append([name, "-", "no runs here: not needed, or not yet made", "-", "-", "-"])
            continue
        if len(finals) != seeds:
            raise ValueError(f"{name} has {len(finals)} finished runs, not {seeds}: `make validation` finishes it.")
        means[name] = sum(finals) / len(finals)
        passed = min(finals) >= PASS_EACH and means[name] >= PASS_MEAN
        chosen = chosen or (name if passed else None)
        rows.append([name, ", ".join(str(run.seed) for run in runs), ", ".join(f"{f:.2f}" for f in finals),
                     f"{means[name]:.2f}", f"{min(finals):.2f}", "yes" if passed else "no"])
    if not means:
        raise ValueError("No candidate has validation runs yet: run `python scripts/sweep.py --table validation`.")
    header = ["candidate", "seeds", "validation accuracy at the last epoch, %", "mean %", "worst %",
              f"passes (each >= {PASS_EACH}, mean >= {PASS_MEAN})"]
    return chosen or max(means, key=means.get), MarkdownText(markdown_table(header, rows))


TABLES = {"journey": {s.name: s for s in JOURNEY}, "exercises": VARIANTS, "validation": VALIDATION}


def variant_runs(name: str, root: Path = RESULTS) -> list[RunRecord]:
    """The runs of one exercise variant, by seed; a clear error where `make exercises` has not made them."""
    variant = VARIANTS[name]
    files = [root / variant.name / f"seed{s}" / "metrics.json" for s in EXERCISE_SEEDS]
    missing = [shown(f) for f in files if not same_layers(f, variant.config())]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not found, or made with other layers than the model has now: "
                                "run `make exercises` to train the variants.")
    return [RunRecord.load(f) for f in files]


def default_runs(model: str, root: Path = RESULTS) -> list[RunRecord]:
    """The default recipe's committed sweep of `model`, where its runs trained the model's layers as they are now."""
    folder, cfg = root / sweep_name(model), TrainConfig(model=model)
    runs = [run for name, run in sweep_runs(folder) if same_layers(folder / name / "metrics.json", cfg)]
    if not runs:
        raise FileNotFoundError(f"{shown(folder)} holds no run of the {model}'s current layers: run `make sweep "
                                f"MODEL={model}`.")
    return runs


def compare_to_default(name: str, root: Path = RESULTS) -> str:
    """One sentence: the variant's final accuracies against the default recipe's sweep, or the command that makes
    the missing runs, so that the training notebook still runs to the end."""
    variant = VARIANTS[name]
    try:
        finals = [r.final_test_accuracy for r in variant_runs(name, root)]
        default = [r.final_test_accuracy for r in default_runs(variant.model, root)]
    except FileNotFoundError as missing:
        return f"Not measured here yet: {missing}"
    changes = ", ".join(f"{k}={v!r}" for k, v in variant.settings.items())
    reached = sum(a >= TARGET_ACCURACY for a in finals)
    return (f"With {changes}, the {variant.model} ended at {', '.join(f'{a:.2f}%' for a in finals)} on seeds "
            f"{', '.join(map(str, EXERCISE_SEEDS))} ({reached} of {len(finals)} at or above {TARGET_ACCURACY}%); its "
            f"default recipe ended at {sum(default) / len(default):.2f}% ({min(default):.2f}-{max(default):.2f}) "
            f"over {len(default)} seeds.")
