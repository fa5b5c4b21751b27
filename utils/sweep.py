"""Summaries of a seed sweep: many runs of one configuration, read from their metrics.json files."""
from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .config import TARGET_ACCURACY, TEST_IMAGES
from .plots import plain_log_scale
from .results import RunRecord, describe_device, load_runs, mistakes, rows_table, run_row

COLUMNS = ("run", "seed", "epochs", "best", "final", "first_at_target", "seconds")
STATISTICS = ("mean", "min", "max", "std")


def sweep_runs(folder: str | Path) -> list[tuple[str, RunRecord]]:
    """The runs of a sweep folder (its seed*/metrics.json), by folder name; empty where there are none."""
    return load_runs(sorted(Path(folder).glob("seed*/metrics.json")))


def sweep_stats(runs: list[tuple[str, RunRecord]]) -> dict[str, dict[str, float]]:
    """mean / min / max / std (sample; 0 for one run) of each numeric column over the runs."""
    rows = [run_row(name, run) for name, run in runs]
    stats = {}
    for column in ("best", "final", "first_at_target", "seconds"):
        values = [r[column] for r in rows if r[column] is not None]
        if values:
            stats[column] = {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
                             "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return stats


def passes_line(runs: list[tuple[str, RunRecord]]) -> str:
    """How many runs met the target at the final epoch, on which model and machine."""
    met = sum(run.final_test_accuracy >= TARGET_ACCURACY for _, run in runs)
    first = runs[0][1]
    devices = ", ".join(sorted({f"{describe_device(r)}, torch {r.torch_version}" for _, r in runs}))
    return (f"{met} of {len(runs)} runs at or above {TARGET_ACCURACY}% at the final epoch "
            f"({first.model}, {first.parameters:,} parameters; trained on {devices}).")


def sweep_markdown(runs: list[tuple[str, RunRecord]]) -> str:
    """Per-run table, then mean / min / max / std, then how many runs met the target at the final epoch."""
    stats = sweep_stats(runs)
    rows = [run_row(name, run) for name, run in runs]
    rows += [{"run": f"**{s}**", **{c: stats[c][s] for c in stats}} for s in STATISTICS]
    return rows_table(rows, COLUMNS) + "\n\n" + passes_line(runs)


def write_sweep_csv(runs: list[tuple[str, RunRecord]], path: Path) -> None:
    """The per-run table plus mean / min / max / std rows, as CSV."""
    stats = sweep_stats(runs)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows([[run_row(name, run)[c] for c in COLUMNS] for name, run in runs])
        for stat in STATISTICS:
            writer.writerow([stat, "", ""] + [stats.get(c, {}).get(stat, "") for c in COLUMNS[3:]])


def plot_sweep(runs: list[tuple[str, RunRecord]], title: str = "") -> Figure:
    """Test error per epoch (log scale, so early epochs and the last tenths of a percent both show),
    one line per run, with the target."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for _, run in runs:
        errors = [100 - acc for acc in run.test_accuracy]
        ax.plot(range(1, len(errors) + 1), errors, "o-", markersize=3, label=f"seed {run.seed}")
    ax.axhline(100 - TARGET_ACCURACY, color="gray", linestyle="--", label=f"target: {TARGET_ACCURACY}% accuracy")
    ax.set(xlabel="epoch", ylabel="test error (%)", title=title or f"{runs[0][1].model}: {len(runs)} seeds")
    plain_log_scale(ax)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def at_the_boundary(runs: list[tuple[str, RunRecord]]) -> list[str]:
    """Runs whose final accuracy is exactly the target: a pass, with not one test image to spare."""
    allowed = mistakes(TARGET_ACCURACY)
    return [f"{name} ended at exactly {TARGET_ACCURACY:.2f}% ({allowed} of {TEST_IMAGES:,} test images wrong, the "
            "most the target allows): a pass, with no margin" for name, run in runs
            if mistakes(run.final_test_accuracy) == allowed]


SAME_ACCURACY = 0.03  # points: the most a faster path's mean final accuracy may differ from the reference's


def chance_below_target(mean: float, std: float) -> float:
    """Probability that a run ends below the target if final accuracies follow a normal curve of this mean and
    std (the target counted in whole test images: below means at least one more mistake than it allows)."""
    if std <= 0:
        return float(mean < TARGET_ACCURACY)
    half_an_image = 50 / TEST_IMAGES  # points
    return statistics.NormalDist(mean, std).cdf(TARGET_ACCURACY - half_an_image)


def compare_sweeps(reference: list[tuple[str, RunRecord]], other: list[tuple[str, RunRecord]],
                   labels: tuple[str, str], tolerance: float = SAME_ACCURACY) -> str:
    """Markdown: does `other` keep `reference`'s accuracy (means within `tolerance` points, every final at the
    target)? Means, the paired difference per shared seed, the worst final, passes, and runs exactly at the
    target, all from the records."""
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
    if abs(diff) <= tolerance and all_pass:
        verdict = (f"keeps the accuracy of {labels[0]} on these {len(pairs)} seeds (mean difference {abs(diff):.2f} "
                   f"points, within the {tolerance} allowed; {counts})")
    elif diff > tolerance and all_pass:  # the bar asks for the same numbers: a higher mean is no loss, but not that
        verdict = (f"scores higher than {labels[0]} on these {len(pairs)} seeds (mean difference {diff:+.2f} points, "
                   f"beyond the {tolerance} within which two means count as the same; {counts}): no accuracy lost, "
                   "but not the same numbers")
    else:
        verdict = (f"does not clearly keep the accuracy of {labels[0]} on these {len(pairs)} seeds (mean difference "
                   f"{abs(diff):.2f} points, {'within' if abs(diff) <= tolerance else 'outside'} the {tolerance} "
                   f"allowed; {counts})")
    lines.append(f"\n**Verdict:** {labels[1]} {verdict}.")
    return "\n".join(lines)


def pooled_misses(reference: list[tuple[str, RunRecord]], paths: dict[str, list[tuple[str, RunRecord]]]) -> str:
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


def at_least(k: int, n: int, p: float) -> float:
    """Probability of k or more successes in n independent tries that each succeed with probability p."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def standard_error(accuracy: float, images: int = TEST_IMAGES) -> float:
    """Standard error, in points, of an accuracy (percent) measured on `images` images: each is right or wrong
    like a coin that lands right with probability accuracy/100."""
    p = accuracy / 100
    return 100 * math.sqrt(p * (1 - p) / images)


def validation_changes(first: list[tuple[str, RunRecord]], second: list[tuple[str, RunRecord]]) -> dict[str, dict]:
    """Per shared seed, the change of the final validation accuracy and loss from `first`'s run to `second`'s."""
    changes = {}
    for key in ("validation_accuracy", "validation_loss"):
        before, after = ({run.seed: getattr(run, key)[-1] for _, run in runs} for runs in (first, second))
        changes[key] = {seed: after[seed] - before[seed] for seed in sorted(before.keys() & after.keys())}
    return changes


def validation_comparison(first: list[tuple[str, RunRecord]], second: list[tuple[str, RunRecord]],
                          labels: tuple[str, str]) -> list[str]:
    """How two recipes tried on held-out validation images compare on their shared seeds: each seed's change
    (`labels[1]` minus `labels[0]`), the largest accuracy change in standard errors of the measurement, and
    on how many seeds the loss fell."""
    change = validation_changes(first, second)
    lines = [f"{key.replace('_', ' ')}, {labels[1]} minus {labels[0]}: "
             + ", ".join(f"seed {s} {c:+.{2 if 'accuracy' in key else 4}f}" for s, c in values.items())
             for key, values in change.items()]
    images = first[0][1].config["validation"]
    error = standard_error(statistics.fmean(run.validation_accuracy[-1] for _, run in first), images)
    largest = max(map(abs, change["validation_accuracy"].values()))
    lines.append(f"largest accuracy change {largest:.2f} points: {largest / error:.1f} times the standard error of an "
                 f"accuracy on {images:,} images ({error:.3f} points)")
    losses = change["validation_loss"].values()
    lines.append(f"validation loss lower with {labels[1]} on {sum(c < 0 for c in losses)} of {len(losses)} shared "
                 "seeds")
    return lines


def readings(runs: list[tuple[str, RunRecord]]) -> dict[int, list[int]]:
    """Every test digit some run misreads at its last epoch: index -> the digit each of those runs read it as."""
    read: dict[int, list[int]] = {}
    for _, run in runs:
        for index, predicted in run.misread:
            read.setdefault(index, []).append(predicted)
    return dict(sorted(read.items()))


def misread_by_every_run(runs: list[tuple[str, RunRecord]]) -> dict[int, list[int]]:
    """Test digits that every run misreads at its last epoch: index -> the digit each run read it as."""
    return {i: read for i, read in readings(runs).items() if len(read) == len(runs)}


def misread_counts(runs: list[tuple[str, RunRecord]]) -> list[int]:
    """For k = 1 .. len(runs): how many test digits exactly k runs misread."""
    times = [len(read) for read in readings(runs).values()]
    return [times.count(k) for k in range(1, len(runs) + 1)]


def majority_vote_accuracy(runs: list[tuple[str, RunRecord]], labels: torch.Tensor) -> float:
    """Test accuracy (percent) of the runs voting together: each test digit gets the label most runs give it
    (a run gives the true label unless its record lists the digit as misread); a tie counts as wrong."""
    votes = torch.zeros(len(labels), 10, dtype=torch.int64)
    votes[torch.arange(len(labels)), labels] = len(runs)
    for index, read in readings(runs).items():
        votes[index, labels[index]] -= len(read)
        for predicted in read:
            votes[index, predicted] += 1
    top = votes.max(1).values
    right = (votes[torch.arange(len(labels)), labels] == top) & ((votes == top[:, None]).sum(1) == 1)
    return 100.0 * right.sum().item() / len(labels)
