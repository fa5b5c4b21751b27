"""Fill the README's blocks from results/, never by hand: the runs table, the summaries of the sweeps, the journey,
the benchmarks and the GPU check, and each faster path's comparison with its reference sweep."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis import Runs, at_least, at_the_boundary, chance_below_target, sweep_runs, sweep_stats  # noqa: E402
from utils.config import RESULTS, ROOT, TARGET_ACCURACY  # noqa: E402
from utils.results import results_table  # noqa: E402

SAME_ACCURACY = 0.03  # points: the most a faster path's mean final accuracy may differ from the reference's


class Comparison(NamedTuple):
    """Sweeps of a path compared with reference sweeps of the same model: folders in results/, whose runs are taken
    together, and labels as the README says."""

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
# Faster settings: README block and the sweep results/sweep-<model>-<block> -> label
FASTER_PATHS = {"bf16": "bfloat16", "bf16-fast-dropout": "bfloat16 + fast_dropout", "nchw": "NCHW",
                "compile": "torch.compile", "compile-bf16": "torch.compile + bfloat16"}
# The compact model's other comparisons, README block -> (label, the path's sweep, seed sets): its recipe and a
# faster path, on the sweeps' seeds ("") and on seeds no other sweep used ("-fresh-seeds", the reference's too),
# or on both. A seed set's sweeps are named <sweep><seed set>.
COMPACT_CHECKS = {"fast-batchnorm": ("fast_batchnorm", "sweep-compact", ("",)),
                  "fast-batchnorm-fresh-seeds": ("fast_batchnorm", "sweep-compact", ("-fresh-seeds",)),
                  "fast-batchnorm-all-seeds": ("fast_batchnorm", "sweep-compact", ("", "-fresh-seeds")),
                  "compile-bf16-fresh-seeds": ("torch.compile + bfloat16", "sweep-compact-compile-bf16",
                                               ("-fresh-seeds",))}


def comparisons() -> dict[str, list[Comparison]]:
    """README block -> the sweeps it compares. A FASTER_PATHS sweep results/sweep-<model>-<path> is compared with
    the model's reference sweep (REFERENCES)."""
    blocks = {path: [Comparison(model, label, (REFERENCES[model][0],), (f"sweep-{model}-{path}",),
                                REFERENCES[model][1]) for model in REFERENCES]
              for path, label in FASTER_PATHS.items()}
    reference, reference_label = REFERENCES["compact"]
    return blocks | {block: [Comparison("compact", label, tuple(reference + s for s in seeds),
                                        tuple(path + s for s in seeds), reference_label)]
                     for block, (label, path, seeds) in COMPACT_CHECKS.items()}


def runs_of(folders: tuple[str, ...]) -> Runs:
    """The runs of sweeps in results/, taken together; none where one of them has no runs yet."""
    runs = [sweep_runs(RESULTS / folder) for folder in folders]
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


def fill(text: str, block: str, content: str) -> str:
    """Replace what stands between <!-- block:start --> and <!-- block:end -->."""
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    if start not in text or end not in text:
        sys.exit(f"README.md has no {start} ... {end} block to fill.")
    return re.sub(f"{re.escape(start)}.*?{re.escape(end)}", lambda _: f"{start}\n{content}\n{end}", text, flags=re.S)


def benchmark_blocks() -> dict[str, Path]:
    """README block -> benchmark report: results/benchmarks/models.md fills benchmark-models, and another
    machine's run in results/benchmarks-xeon/models.md fills benchmark-xeon-models."""
    blocks = {}
    for folder in sorted(RESULTS.glob("benchmarks*")):
        prefix = "benchmark" + folder.name.removeprefix("benchmarks")
        blocks.update({f"{prefix}-{report.stem}": report for report in sorted(folder.glob("*.md"))})
    return blocks


def main() -> None:
    readme = ROOT / "README.md"
    files = sorted(RESULTS.glob("*/metrics.json"))  # single runs; sweeps sit one level deeper
    if not files:
        sys.exit("No results/*/metrics.json yet: run `make notebooks` first.")
    table = results_table(files)
    text = fill(readme.read_text(), "results", table)
    for sweep in sorted(RESULTS.glob("sweep-*/results.md")):  # <!-- sweep-baseline:start --> ...
        text = fill(text, sweep.parent.name, sweep.read_text().strip())
    if (RESULTS / "journey" / "results.md").exists():  # <!-- journey:start --> ...
        text = fill(text, "journey", (RESULTS / "journey" / "results.md").read_text().strip())
    compact_reference, compact_paths = [], {}  # the compact model's reference runs, and its paths' by label
    for block, compared in comparisons().items():  # <!-- bf16:start --> ...: each faster sweep against its reference
        found = []
        for c in compared:
            reference, path = runs_of(c.reference), runs_of(c.path)
            if reference and path:
                found.append(f"{c.model}:\n\n" + compare_sweeps(reference, path, (c.reference_label, c.label)))
                if c.reference == (REFERENCES["compact"][0],):
                    compact_reference, compact_paths[c.label] = reference, path
        if found:
            text = fill(text, block, "\n\n".join(found))
    if compact_paths:  # <!-- compact-faster-paths:start --> ...: their runs below the target, all together
        text = fill(text, "compact-faster-paths", pooled_misses(compact_reference, compact_paths))
    gpu = RESULTS / "gpu"  # <!-- gpu:start --> ...: scripts/gpu_check.sh's machine and summary, as it printed them
    if (gpu / "summary.txt").exists():
        text = fill(text, "gpu", "```\n" + (gpu / "machine.txt").read_text().strip() + "\n"
                    + (gpu / "summary.txt").read_text().strip() + "\n```")
    for block, report in benchmark_blocks().items():
        text = fill(text, block, report.read_text().strip())
    readme.write_text(text)
    print(table)


if __name__ == "__main__":
    main()
