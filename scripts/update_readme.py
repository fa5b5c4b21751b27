"""Fill two files' blocks from results/, never by hand. README.md: the headline table, from each model's 20-seed
sweep and notebook run. results/speed.md: the benchmarks, the GPU check, and the previous recipes' sweeps, each
faster path compared with its reference sweep."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis import (  # noqa: E402
    SAME_ACCURACY,
    Runs,
    at_least,
    at_the_boundary,
    chance_below_target,
    sweep_runs,
    sweep_stats,
)
from utils.config import RESULTS, ROOT, TARGET_ACCURACY  # noqa: E402
from utils.models import build_model, layer_list  # noqa: E402
from utils.results import RunRecord, describe_device  # noqa: E402
from utils.tables import markdown_table  # noqa: E402

MODELS = ("baseline", "compact")  # the headline's rows: the course's recipes
SWEEP_SEEDS = range(1, 21)  # the seeds of a model's headline sweep, results/sweep-<model>
PREVIOUS = "previous-recipes"  # under results/: the sweeps made with the course's previous layers
SPEED = "speed.md"  # under results/


class Comparison(NamedTuple):
    """A path's sweeps against reference sweeps of the same model, each list of folders taken together."""

    model: str
    label: str
    reference: tuple[str, ...]
    path: tuple[str, ...]
    reference_label: str


# Each model's reference: a sweep with TrainConfig's defaults. The compact recipe computes BatchNorm from sums, so
# its reference is the sweep that kept torch's BatchNorm.
REFERENCES = {"baseline": ("sweep-baseline", "the default"),
              "compact": ("sweep-compact-torch-batchnorm", "the reference")}
FASTER_PATHS = {"bf16": "bfloat16", "bf16-fast-dropout": "bfloat16 + fast_dropout", "nchw": "NCHW",
                "compile": "torch.compile", "compile-bf16": "torch.compile + bfloat16"}  # sweep-<model>-<block>
# The compact model's other blocks: (label, the path's sweep, seed sets), a set's sweeps named <sweep><seed set>.
COMPACT_CHECKS = {"fast-batchnorm": ("fast_batchnorm", "sweep-compact", ("",)),
                  "fast-batchnorm-fresh-seeds": ("fast_batchnorm", "sweep-compact", ("-fresh-seeds",)),
                  "fast-batchnorm-all-seeds": ("fast_batchnorm", "sweep-compact", ("", "-fresh-seeds")),
                  "compile-bf16-fresh-seeds": ("torch.compile + bfloat16", "sweep-compact-compile-bf16",
                                               ("-fresh-seeds",))}


def comparisons() -> dict[str, list[Comparison]]:
    """speed.md block -> the comparisons it holds."""
    blocks = {path: [Comparison(model, label, (ref,), (f"sweep-{model}-{path}",), ref_label)
                     for model, (ref, ref_label) in REFERENCES.items()] for path, label in FASTER_PATHS.items()}
    ref, ref_label = REFERENCES["compact"]
    return blocks | {block: [Comparison("compact", label, tuple(ref + s for s in seeds), tuple(path + s for s in seeds),
                                        ref_label)] for block, (label, path, seeds) in COMPACT_CHECKS.items()}


def runs_of(folders: tuple[str, ...]) -> Runs:
    """The runs of sweeps in results/previous-recipes/, taken together; none until every one has runs."""
    runs = [sweep_runs(RESULTS / PREVIOUS / folder) for folder in folders]
    return [run for sweep in runs for run in sweep] if all(runs) else []


def compare_sweeps(reference: Runs, other: Runs, labels: tuple[str, str], tolerance: float = SAME_ACCURACY) -> str:
    """Markdown: does `other` keep `reference`'s accuracy (means within `tolerance` points, every final at the
    target)? Means, the difference per shared seed, the worst final, passes, and runs exactly at the target."""
    ref, new = sweep_stats(reference)["final"], sweep_stats(other)["final"]
    ref_by_seed = {run.seed: run.final_test_accuracy for _, run in reference}
    pairs = sorted((run.seed, run.final_test_accuracy - ref_by_seed[run.seed]) for _, run in other
                   if run.seed in ref_by_seed)
    diff, passes = new["mean"] - ref["mean"], sum(run.final_test_accuracy >= TARGET_ACCURACY for _, run in other)
    lines = [
        f"- mean final accuracy: {new['mean']:.2f}% with {labels[1]}, {ref['mean']:.2f}% with {labels[0]}: a "
        f"difference of {diff:+.2f} points, against a seed-to-seed standard deviation of {ref['std']:.2f} "
        f"({labels[0]}) and {new['std']:.2f} ({labels[1]});",
        f"- per seed ({labels[1]} minus {labels[0]}): " + ", ".join(f"seed {s} {d:+.2f}" for s, d in pairs) + ";",
        f"- worst final: {new['min']:.2f}% with {labels[1]}, {ref['min']:.2f}% with {labels[0]}; {passes} of "
        f"{len(other)} {labels[1]} runs at or above {TARGET_ACCURACY}%.",
        *(f"- {line}." for line in at_the_boundary(other) + at_the_boundary(reference))]
    below, misses = chance_below_target(ref["mean"], ref["std"]), len(other) - passes
    if 0 < below < 1:  # how strict "every run at the target" is, for a path exactly as good as the reference
        lines.append(f"- by chance alone: if finals follow a normal curve with {labels[0]}'s mean and spread, one "
                     f"run in {1 / below:.0f} ends below {TARGET_ACCURACY}%, and {len(other)} runs of a path exactly "
                     f"as good all reach it {(1 - below) ** len(other):.0%} of the time.")
    if misses and 0 < below < 1:
        odds = at_least(misses, len(other), below)
        lines.append(f"- {misses} of {len(other)} runs below {TARGET_ACCURACY}%: {misses} or more such runs happen "
                     f"{odds:.0%} of the time to a path exactly as good as {labels[0]} ({how_unusual(odds)}).")
    counts = f"{passes} of {len(other)} runs at the target"
    # each mean is over all of its sweep's runs: "these seeds" only where both sweeps ran the same ones
    same_seeds = sorted(run.seed for _, run in reference) == sorted(run.seed for _, run in other)
    over = (f"on these {len(other)} seeds" if same_seeds
            else f"over its {len(other)} runs and {labels[0]}'s {len(reference)}")
    if abs(diff) <= tolerance and not misses:
        verdict = (f"keeps the accuracy of {labels[0]} {over} (mean difference {abs(diff):.2f} points, within the "
                   f"{tolerance} allowed; {counts})")
    elif diff > tolerance and not misses:  # the bar asks for the same numbers: a higher mean is no loss, but not that
        verdict = (f"scores higher than {labels[0]} {over} (mean difference {diff:+.2f} points, beyond the "
                   f"{tolerance} within which two means count as the same; {counts}): no accuracy lost, but not the "
                   "same numbers")
    else:
        verdict = (f"does not clearly keep the accuracy of {labels[0]} {over} (mean difference {abs(diff):.2f} "
                   f"points, {'within' if abs(diff) <= tolerance else 'outside'} the {tolerance} allowed; {counts})")
    return "\n".join(lines) + f"\n\n**Verdict:** {labels[1]} {verdict}."


def pooled_misses(reference: Runs, paths: dict[str, Runs]) -> str:
    """Markdown: the runs of several faster paths below the target, together, against what the reference's mean
    and spread predict for paths exactly as good as it."""
    runs = [run for sweep in paths.values() for _, run in sweep]
    misses = sum(run.final_test_accuracy < TARGET_ACCURACY for run in runs)
    final = sweep_stats(reference)["final"]
    below = chance_below_target(final["mean"], final["std"])
    odds = at_least(misses, len(runs), below)
    return (f"Together, the {len(paths)} sweeps ({', '.join(paths)}) have {misses} of {len(runs)} runs below "
            f"{TARGET_ACCURACY}% ({misses / len(runs):.1%}); the reference's mean and spread predict one run in "
            f"{1 / below:.0f} ({below:.1%}), and {misses} or more of {len(runs)} runs of paths exactly as good happen "
            f"{odds:.0%} of the time ({how_unusual(odds)}).")


def how_unusual(odds: float, level: float = 0.05) -> str:
    return f"{'unusual' if odds < level else 'not unusual'} by a {level:.0%} test"


def comparison_blocks() -> dict[str, str]:
    """speed.md block -> each comparison whose sweeps exist, and the compact paths' misses pooled."""
    blocks, compact_reference, compact_paths = {}, [], {}
    for block, compared in comparisons().items():
        found = []
        for c in compared:
            reference, path = runs_of(c.reference), runs_of(c.path)
            if reference and path:
                found.append(f"{c.model}:\n\n" + compare_sweeps(reference, path, (c.reference_label, c.label)))
                if c.reference == (REFERENCES["compact"][0],):
                    compact_reference, compact_paths[c.label] = reference, path
        if found:
            blocks[block] = "\n\n".join(found)
    if compact_paths:
        blocks["compact-faster-paths"] = pooled_misses(compact_reference, compact_paths)
    return blocks


def speed_blocks() -> dict[str, str]:
    """speed.md block -> content, for each whose runs or reports exist: the previous recipes' sweeps, the
    comparisons, the benchmarks and the GPU check (scripts/gpu_check.sh's machine and summary)."""
    blocks = {sweep.parent.name: sweep.read_text().strip()
              for sweep in sorted((RESULTS / PREVIOUS).glob("sweep-*/results.md"))}
    blocks |= comparison_blocks()
    gpu = RESULTS / "gpu"
    if (gpu / "summary.txt").exists():
        blocks["gpu"] = ("```\n" + (gpu / "machine.txt").read_text().strip() + "\n"
                         + (gpu / "summary.txt").read_text().strip() + "\n```")
    for folder in sorted(RESULTS.glob("benchmarks*")):  # results/benchmarks-xeon/models.md: benchmark-xeon-models
        prefix = "benchmark" + folder.name.removeprefix("benchmarks")
        blocks |= {f"{prefix}-{report.stem}": report.read_text().strip() for report in sorted(folder.glob("*.md"))}
    return blocks


def fill(text: str, block: str, content: str, where: str = "README.md") -> str:
    """Replace what stands between <!-- block:start --> and <!-- block:end --> in the text of file `where`."""
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    if start not in text or end not in text:
        sys.exit(f"{where} has no {start} ... {end} block to fill.")
    return re.sub(f"{re.escape(start)}.*?{re.escape(end)}", lambda _: f"{start}\n{content}\n{end}", text, flags=re.S)


def sweep_command(model: str) -> str:
    """The command that makes, or finishes, a model's headline sweep."""
    return f"make sweep MODEL={model} SEEDS=\"$(seq -s ' ' {SWEEP_SEEDS[0]} {SWEEP_SEEDS[-1]})\" JOBS=2 RUNS=results"


def headline_sweep(model: str) -> Runs:
    """The runs of seeds 1 to 20 in results/sweep-<model> that trained every epoch they were set."""
    return [(name, run) for name, run in sweep_runs(RESULTS / f"sweep-{model}")
            if run.seed in SWEEP_SEEDS and run.complete]


def out_of_date(model: str, folder: str, run: RunRecord, remake: str) -> list[str]:
    """A note, with the command that remakes it, where `run` trained other layers than `model` has now."""
    return [] if run.layers == layer_list(build_model(model)) else [
        f"{model}: `results/{folder}` was trained with other layers than the {model} has now: a previous recipe's "
        f"run; `{remake}` remakes it."]


def headline_row(model: str) -> tuple[list[str], list[str]]:
    """A model's headline cells, and notes on what is missing or out of date; never a number it lacks."""
    runs, path = headline_sweep(model), RESULTS / model / "metrics.json"
    run = RunRecord.load(path) if path.exists() else None  # the notebook's run
    if len(runs) == len(SWEEP_SEEDS):
        final = sweep_stats(runs)["final"]
        accuracy = [f"{final['mean']:.2f}", f"{final['min']:.2f}"]
        notes = out_of_date(model, f"sweep-{model}", runs[0][1], f"{sweep_command(model)} CLEAR=1")
    else:
        state = f"sweep: {len(runs)} of {len(SWEEP_SEEDS)} runs finished" if runs else "sweep not yet made"
        accuracy = [state, "-"]
        notes = [f"{model}: {state}; `{sweep_command(model)}` {'finishes' if runs else 'makes'} it."]
    if run is None:
        timing = ["no run yet", "-", "-"]
        run_notes = [f"{model}: no notebook run in `results/{model}` yet; `make notebooks` makes it."]
    else:
        to_target = "not reached" if run.seconds_to_target is None else f"{run.seconds_to_target:.0f}"
        timing = [to_target, f"{run.run_seconds:.0f}", f"{describe_device(run)}, torch {run.torch_version}"]
        run_notes = out_of_date(model, model, run, "make notebooks")
    shown = runs[0][1] if len(runs) == len(SWEEP_SEEDS) else run  # the sweep's recipe once it is complete
    if run and shown is not run and (run.parameters, run.epochs) != (shown.parameters, shown.epochs):
        notes.append(f"{model}: `results/{model}` has {run.parameters:,} parameters and {run.epochs} epochs, its sweep "
                     f"{shown.parameters:,} and {shown.epochs}: another recipe; `make notebooks` remakes it.")
    size = [f"{shown.parameters:,}", str(shown.epochs)] if shown else ["-", "-"]
    return [model, *size, *accuracy, *timing], notes + run_notes


def headline_figure() -> str:
    """The baseline sweep's test error per epoch once the sweep is complete, else its notebook run's curves."""
    model = MODELS[0]
    if len(headline_sweep(model)) == len(SWEEP_SEEDS) and (RESULTS / f"sweep-{model}" / "accuracy.png").exists():
        return f"![Test error per epoch, {model}, all {len(SWEEP_SEEDS)} seeds](results/sweep-{model}/accuracy.png)"
    if (RESULTS / model / "history.png").exists():
        return f"![Training curves of the notebook's {model} run](results/{model}/history.png)"
    return ""


def headline() -> str:
    """The README's headline block: one row per model, notes on what is missing, and one figure."""
    rows, notes = zip(*(headline_row(model) for model in MODELS), strict=True)
    seeds = f"seeds {SWEEP_SEEDS[0]}-{SWEEP_SEEDS[-1]}"
    header = ["model", "parameters", "epochs", f"mean final % ({seeds})", "worst final %",
              f"seconds to {TARGET_ACCURACY}%", "whole run s", "machine (notebook run)"]
    parts = [markdown_table(header, rows), "\n".join(f"- {note}" for group in notes for note in group),
             headline_figure()]
    return "\n\n".join(part for part in parts if part)


def main() -> None:
    readme, speed = ROOT / "README.md", RESULTS / SPEED
    table = headline()
    readme.write_text(fill(readme.read_text(), "headline", table))
    text = speed.read_text()
    for block, content in speed_blocks().items():
        text = fill(text, block, content, f"results/{SPEED}")
    speed.write_text(text)
    print(table)


if __name__ == "__main__":
    main()
