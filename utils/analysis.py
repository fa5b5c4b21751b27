"""The seed statistics of notebook 6: many runs of one recipe, read from their metrics.json files."""
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

Runs = list[tuple[str, RunRecord]]  # (run folder name, record), as load_runs gives them
COLUMNS = ("run", "seed", "epochs", "best", "final", "first_at_target", "seconds")
STATISTICS = ("mean", "min", "max", "std")
SAME_ACCURACY = 0.03  # points: the most a faster path's mean final accuracy may differ from its reference's


def sweep_runs(folder: str | Path) -> Runs:
    """The runs of a sweep folder (its seed*/metrics.json), by folder name; empty where there are none."""
    return load_runs(list(Path(folder).glob("seed*/metrics.json")))


def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def sweep_stats(runs: Runs) -> dict[str, dict[str, float]]:
    """mean / min / max / std (sample; 0 for one run) of each numeric column over the runs."""
    rows = [run_row(name, run) for name, run in runs]
    stats = {}
    for column in ("best", "final", "first_at_target", "seconds"):
        values = [r[column] for r in rows if r[column] is not None]
        if values:
            stats[column] = {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
                             "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return stats


def sweep_markdown(runs: Runs) -> str:
    """Per-run table, then mean / min / max / std, then how many runs met the target at the final epoch, on which
    model and machine."""
    stats = sweep_stats(runs)
    rows = [run_row(name, run) for name, run in runs]
    rows += [{"run": f"**{s}**", **{c: stats[c][s] for c in stats}} for s in STATISTICS]
    met = sum(run.final_test_accuracy >= TARGET_ACCURACY for _, run in runs)
    first = runs[0][1]
    devices = ", ".join(sorted({f"{describe_device(r)}, torch {r.torch_version}" for _, r in runs}))
    return (rows_table(rows, COLUMNS) + f"\n\n{met} of {len(runs)} runs at or above {TARGET_ACCURACY}% at the final "
            f"epoch ({first.model}, {first.parameters:,} parameters; trained on {devices}).")


def write_sweep_csv(runs: Runs, path: Path) -> None:
    """The per-run table plus mean / min / max / std rows, as CSV."""
    stats = sweep_stats(runs)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows([[run_row(name, run)[c] for c in COLUMNS] for name, run in runs])
        for stat in STATISTICS:
            writer.writerow([stat, "", ""] + [stats.get(c, {}).get(stat, "") for c in COLUMNS[3:]])


def plot_sweep(runs: Runs, title: str = "") -> Figure:
    """Test error per epoch, one line per run, with the target; a log scale shows the early epochs and the last
    tenths of a percent both."""
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


def at_the_boundary(runs: Runs) -> list[str]:
    """Runs whose final accuracy is exactly the target: a pass, with not one test image to spare."""
    allowed = mistakes(TARGET_ACCURACY)
    return [f"{name} ended at exactly {TARGET_ACCURACY:.2f}% ({allowed} of {TEST_IMAGES:,} test images wrong, the "
            "most the target allows): a pass, with no margin" for name, run in runs
            if mistakes(run.final_test_accuracy) == allowed]


def chance_below_target(mean: float, std: float, target: float = TARGET_ACCURACY, images: int = TEST_IMAGES) -> float:
    """Probability that a run ends below `target` if final accuracies follow a normal curve of this mean and std;
    below means at least one more wrong image than the target allows."""
    if std <= 0:
        return float(mean < target)
    half_an_image = 50 / images  # points
    return statistics.NormalDist(mean, std).cdf(target - half_an_image)


def at_least(k: int, n: int, p: float) -> float:
    """Probability of k or more successes in n independent tries that each succeed with probability p."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def standard_error(accuracy: float, images: int = TEST_IMAGES) -> float:
    """Standard error, in points, of an accuracy (percent) measured on `images` images: each is right or wrong
    like a coin that lands right with probability accuracy/100."""
    p = accuracy / 100
    return 100 * math.sqrt(p * (1 - p) / images)


def readings(runs: Runs) -> dict[int, list[int]]:
    """Every test digit some run misreads at its last epoch: index -> the digit each of those runs read it as."""
    read: dict[int, list[int]] = {}
    for _, run in runs:
        for index, predicted in run.misread:
            read.setdefault(index, []).append(predicted)
    return dict(sorted(read.items()))


def misread_by_every_run(runs: Runs) -> dict[int, list[int]]:
    """Test digits that every run misreads at its last epoch: index -> the digit each run read it as."""
    return {i: read for i, read in readings(runs).items() if len(read) == len(runs)}


def misread_counts(runs: Runs) -> list[int]:
    """For k = 1 .. len(runs): how many test digits exactly k runs misread."""
    times = [len(read) for read in readings(runs).values()]
    return [times.count(k) for k in range(1, len(runs) + 1)]


def majority_vote_accuracy(runs: Runs, labels: torch.Tensor) -> float:
    """Test accuracy (percent) of the runs voting: each test digit gets the label most runs give it (the true one
    unless a run's record lists the digit as misread); a tie counts as wrong."""
    votes = torch.zeros(len(labels), 10, dtype=torch.int64)
    votes[torch.arange(len(labels)), labels] = len(runs)
    for index, read in readings(runs).items():
        votes[index, labels[index]] -= len(read)
        for predicted in read:
            votes[index, predicted] += 1
    top = votes.max(1).values
    right = (votes[torch.arange(len(labels)), labels] == top) & ((votes == top[:, None]).sum(1) == 1)
    return 100.0 * right.sum().item() / len(labels)
