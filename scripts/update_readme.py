"""Fill two files' blocks from results/, never by hand. README.md: the headline table, each model's 20-seed sweep and
notebook run. results/speed.md: the benchmarks, the GPU check, and the previous recipes' sweeps
(results/previous-recipes/), each faster path compared with its reference sweep."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis import Runs, at_least, at_the_boundary, chance_below_target, sweep_runs, sweep_stats  # noqa: E402
from utils.config import RESULTS, ROOT, TARGET_ACCURACY  # noqa: E402
from utils.models import build_model, layer_list  # noqa: E402
from utils.results import RunRecord, describe_device  # noqa: E402
from utils.tables import markdown_table  # noqa: E402

SAME_ACCURACY = 0.03  # points: the most a faster path's mean final accuracy may differ from the reference's
MODELS = ("baseline", "compact")  # the headline's rows: the course's recipes
SWEEP_SEEDS = range(1, 21)  # the seeds of a model's headline sweep, results/sweep-<model>
PREVIOUS = "previous-recipes"  # under results/: the sweeps and tuning runs made with the course's previous layers
SPEED = "speed.md"  # under results/: the speed research, its blocks filled from the previous recipes' runs


class Comparison(NamedTuple):
    """Sweeps of a path compared with reference sweeps of the same model: folders in results/previous-recipes/, whose
    runs are taken together, and labels as results/speed.md says."""

    model: str
    label: str
    reference: tuple[str, ...]
    path: tuple[str, ...]
    reference_label: str


# What each model's faster paths are judged against, folder and label: a sweep with TrainConfig's defaults (eager,
# float32, channels-last, torch's kernels). The compact recipe computes BatchNorm from sums, so its reference is
# a sweep named after the torch BatchNorm it keeps.
REFERENCES = {"baseline": ("sweep-baseline", "the default"),
              "compact": ("sweep-compact-torch-batchnorm", "the reference")}
# Faster settings: speed.md block and the sweep sweep-<model>-<block> -> label
FASTER_PATHS = {"bf16": "bfloat16", "bf16-fast-dropout": "bfloat16 + fast_dropout", "nchw": "NCHW",
                "compile": "torch.compile", "compile-bf16": "torch.compile + bfloat16"}
# The compact model's other comparisons, speed.md block -> (label, the path's sweep, seed sets): its recipe and a
# faster path, on the sweeps' seeds ("") and on seeds no other sweep used ("-fresh-seeds", the reference's too),
# or on both. A seed set's sweeps are named <sweep><seed set>.
COMPACT_CHECKS = {"fast-batchnorm": ("fast_batchnorm", "sweep-compact", ("",)),
                  "fast-batchnorm-fresh-seeds": ("fast_batchnorm", "sweep-compact", ("-fresh-seeds",)),
                  "fast-batchnorm-all-seeds": ("fast_batchnorm", "sweep-compact", ("", "-fresh-seeds")),
                  "compile-bf16-fresh-seeds": ("torch.compile + bfloat16", "sweep-compact-compile-bf16",
                                               ("-fresh-seeds",))}


def comparisons() -> dict[str, list[Comparison]]:
    """speed.md block -> the sweeps it compares. A FASTER_PATHS sweep sweep-<model>-<path> is compared with the
    model's reference sweep (REFERENCES)."""
    blocks = {path: [Comparison(model, label, (REFERENCES[model][0],), (f"sweep-{model}-{path}",),
                                REFERENCES[model][1]) for model in REFERENCES]
              for path, label in FASTER_PATHS.items()}
    reference, reference_label = REFERENCES["compact"]
    return blocks | {block: [Comparison("compact", label, tuple(reference + s for s in seeds),
                                        tuple(path + s for s in seeds), reference_label)]
                     for block, (label, path, seeds) in COMPACT_CHECKS.items()}


def runs_of(folders: tuple[str, ...]) -> Runs:
    """The runs of sweeps in results/previous-recipes/, taken together; none where one of them has no runs yet."""
    runs = [sweep_runs(RESULTS / PREVIOUS / folder) for folder in folders]
    return [run for sweep in runs for run in sweep] if all(runs) else []


def compare_sweeps(reference: Runs, other: Runs, labels: tuple[str, str], tolerance: float = SAME_ACCURACY) -> str:
    """Markdown: does `other` keep `reference`'s accuracy (means within `tolerance` points, every final at the
    target)? Means, the difference per shared seed, the worst final, passes, and runs exactly at the target."""
    ref_stats, other_stats = sweep_stats(reference), sweep_stats(other)
    ref_by_seed = {run.seed: run.final_test_accuracy for _, run in reference}
    pairs = sorted((run.seed, run.final_test_accuracy - ref_by_seed[run.seed]) for _, run in other
                   if run.seed in ref_by_seed)
    diff = other_stats["final"]["mean"] - ref_stats["final"]["mean"]
    passes = sum(run.final_test_accuracy >= TARGET_ACCURACY for _, run in other)
    lines = [
        f"- mean final accuracy: {other_stats['final']['mean']:.2f}% with {labels[1]}, "
        f"{ref_stats['final']['mean']:.2f}% with {labels[0]}: a difference of {diff:+.2f} points, against a "
        f"seed-to-seed standard deviation of {ref_stats['final']['std']:.2f} ({labels[0]}) and "
        f"{other_stats['final']['std']:.2f} ({labels[1]});",
        "- per seed (" + labels[1] + " minus " + labels[0] + "): "
        + ", ".join(f"seed {seed} {d:+.2f}" for seed, d in pairs) + ";",
        f"- worst final: {other_stats['final']['min']:.2f}% with {labels[1]}, {ref_stats['final']['min']:.2f}% "
        f"with {labels[0]}; {passes} of {len(other)} {labels[1]} runs at or above {TARGET_ACCURACY}%.",
    ]
    lines += [f"- {line}." for line in at_the_boundary(other) + at_the_boundary(reference)]
    below = chance_below_target(ref_stats["final"]["mean"], ref_stats["final"]["std"])
    if 0 < below < 1:  # how strict "every run at the target" is, for a path exactly as good as the reference
        lines.append(f"- by chance alone: if finals follow a normal curve with {labels[0]}'s mean and spread, one "
                     f"run in {1 / below:.0f} ends below {TARGET_ACCURACY}%, and {len(other)} runs of a path exactly "
                     f"as good all reach it {(1 - below) ** len(other):.0%} of the time.")
    misses = len(other) - passes
    if misses and 0 < below < 1:  # is that many misses unusual for a path exactly as good?
        odds = at_least(misses, len(other), below)
        lines.append(f"- {misses} of {len(other)} runs below {TARGET_ACCURACY}%: {misses} or more such runs happen "
                     f"{odds:.0%} of the time to a path exactly as good as {labels[0]} ({how_unusual(odds)}).")
    all_pass, counts = passes == len(other), f"{passes} of {len(other)} runs at the target"
    # both means are over all of each sweep's runs, which are paired seed by seed only where the seeds are the same
    same_seeds = sorted(run.seed for _, run in reference) == sorted(run.seed for _, run in other)
    over = (f"on these {len(other)} seeds" if same_seeds
            else f"over its {len(other)} runs and {labels[0]}'s {len(reference)}")
    if abs(diff) <= tolerance and all_pass:
        verdict = (f"keeps the accuracy of {labels[0]} {over} (mean difference {abs(diff):.2f} points, within the "
                   f"{tolerance} allowed; {counts})")
    elif diff > tolerance and all_pass:  # the bar asks for the same numbers: a higher mean is no loss, but not that
        verdict = (f"scores higher than {labels[0]} {over} (mean difference {diff:+.2f} points, beyond the "
                   f"{tolerance} within which two means count as the same; {counts}): no accuracy lost, but not the "
                   "same numbers")
    else:
        verdict = (f"does not clearly keep the accuracy of {labels[0]} {over} (mean difference {abs(diff):.2f} "
                   f"points, {'within' if abs(diff) <= tolerance else 'outside'} the {tolerance} allowed; {counts})")
    lines.append(f"\n**Verdict:** {labels[1]} {verdict}.")
    return "\n".join(lines)


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
    """Whether an outcome with these odds under "exactly as good" is unusual by a test at `level`."""
    return f"{'unusual' if odds < level else 'not unusual'} by a {level:.0%} test"


def fill(text: str, block: str, content: str, where: str = "README.md") -> str:
    """Replace what stands between <!-- block:start --> and <!-- block:end --> in the text of file `where`."""
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    if start not in text or end not in text:
        sys.exit(f"{where} has no {start} ... {end} block to fill.")
    return re.sub(f"{re.escape(start)}.*?{re.escape(end)}", lambda _: f"{start}\n{content}\n{end}", text, flags=re.S)


def benchmark_blocks() -> dict[str, Path]:
    """speed.md block -> benchmark report: results/benchmarks/models.md fills benchmark-models, and another
    machine's run in results/benchmarks-xeon/models.md fills benchmark-xeon-models."""
    blocks = {}
    for folder in sorted(RESULTS.glob("benchmarks*")):
        prefix = "benchmark" + folder.name.removeprefix("benchmarks")
        blocks.update({f"{prefix}-{report.stem}": report for report in sorted(folder.glob("*.md"))})
    return blocks




def sweep_command(model: str) -> str:
    """The command that makes, or finishes, a model's headline sweep."""
    return f"make sweep MODEL={model} SEEDS=\"$(seq -s ' ' {SWEEP_SEEDS[0]} {SWEEP_SEEDS[-1]})\" JOBS=2 RUNS=results"


def headline_sweep(model: str) -> Runs:
    """The finished runs of seeds 1 to 20 in results/sweep-<model>: those that trained every epoch they were set."""
    return [(name, run) for name, run in sweep_runs(RESULTS / f"sweep-{model}")
            if run.seed in SWEEP_SEEDS and run.epochs == run.config["epochs"]]


def notebook_run(model: str) -> RunRecord | None:
    """The notebook's single run of a model, results/<model>/metrics.json; None before it is made."""
    path = RESULTS / model / "metrics.json"
    return RunRecord.load(path) if path.exists() else None


def out_of_date(model: str, folder: str, run: RunRecord, remake: str) -> list[str]:
    """A note, with the command that remakes it, where `run` trained other layers than `model` has now (or predates
    the records that list them): a previous recipe's run; none otherwise."""
    return [] if run.layers == layer_list(build_model(model)) else [
        f"{model}: `results/{folder}` was trained with other layers than the {model} has now: a previous recipe's "
        f"run; `{remake}` remakes it."]


def accuracy_cells(model: str, runs: Runs) -> tuple[list[str], list[str]]:
    """Mean and worst final accuracy of the headline sweep, or what it lacks; and notes on what to run."""
    if len(runs) == len(SWEEP_SEEDS):
        final = sweep_stats(runs)["final"]
        notes = out_of_date(model, f"sweep-{model}", runs[0][1], f"{sweep_command(model)} CLEAR=1")
        return [f"{final['mean']:.2f}", f"{final['min']:.2f}"], notes
    state = f"sweep: {len(runs)} of {len(SWEEP_SEEDS)} runs finished" if runs else "sweep not yet made"
    return [state, "-"], [f"{model}: {state}; `{sweep_command(model)}` {'finishes' if runs else 'makes'} it."]


def timing_cells(model: str, run: RunRecord | None) -> tuple[list[str], list[str]]:
    """Seconds to the target and for the whole run, and the machine, of the notebook's run; notes on its state."""
    if run is None:
        return ["no run yet", "-", "-"], [f"{model}: no notebook run in `results/{model}` yet; `make notebooks` "
                                          "makes it."]
    to_target = "not reached" if run.seconds_to_target is None else f"{run.seconds_to_target:.0f}"
    notes = out_of_date(model, model, run, "make notebooks")
    return [to_target, f"{run.run_seconds:.0f}", f"{describe_device(run)}, torch {run.torch_version}"], notes


def headline_row(model: str) -> tuple[list[str], list[str]]:
    """A model's headline cells, and notes on what is missing or out of date; never a number it lacks."""
    runs, run = headline_sweep(model), notebook_run(model)
    accuracy, notes = accuracy_cells(model, runs)
    timing, run_notes = timing_cells(model, run)
    shown = runs[0][1] if len(runs) == len(SWEEP_SEEDS) else run  # the sweep's recipe once it is complete
    if run and shown is not run and (run.parameters, run.epochs) != (shown.parameters, shown.epochs):
        notes.append(f"{model}: `results/{model}` has {run.parameters:,} parameters and {run.epochs} epochs, its sweep "
                     f"{shown.parameters:,} and {shown.epochs}: another recipe; `make notebooks` remakes it.")
    size = [f"{shown.parameters:,}", str(shown.epochs)] if shown else ["-", "-"]
    return [model, *size, *accuracy, *timing], notes + run_notes


def headline_figure() -> str:
    """One figure: the baseline sweep's test error per epoch once the sweep is complete, else its notebook run's
    curves; none where neither exists."""
    model = MODELS[0]
    sweep_figure = RESULTS / f"sweep-{model}" / "accuracy.png"
    if len(headline_sweep(model)) == len(SWEEP_SEEDS) and sweep_figure.exists():
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


def comparison_blocks() -> dict[str, str]:
    """speed.md block -> each faster path's comparison with its reference, and their misses pooled
    (compact-faster-paths), where both sweeps exist."""
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
    """speed.md block -> content, for each block whose runs or reports exist: the previous recipes' sweeps, the
    comparisons, the benchmarks and the GPU check (scripts/gpu_check.sh's machine and summary, as printed)."""
    blocks = {sweep.parent.name: sweep.read_text().strip()
              for sweep in sorted((RESULTS / PREVIOUS).glob("sweep-*/results.md"))}
    blocks |= comparison_blocks()
    gpu = RESULTS / "gpu"
    if (gpu / "summary.txt").exists():
        blocks["gpu"] = ("```\n" + (gpu / "machine.txt").read_text().strip() + "\n"
                         + (gpu / "summary.txt").read_text().strip() + "\n```")
    return blocks | {block: report.read_text().strip() for block, report in benchmark_blocks().items()}


def fill_all(text: str, blocks: dict[str, str], where: str) -> str:
    """`text` with every block filled."""
    for block, content in blocks.items():
        text = fill(text, block, content, where)
    return text


def main() -> None:
    readme, speed = ROOT / "README.md", RESULTS / SPEED
    table = headline()
    readme.write_text(fill(readme.read_text(), "headline", table))
    speed.write_text(fill_all(speed.read_text(), speed_blocks(), f"results/{SPEED}"))
    print(table)


if __name__ == "__main__":
    main()
