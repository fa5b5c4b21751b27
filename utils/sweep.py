"""Summaries of a seed sweep: many runs of one configuration, read from their metrics.json files."""
from __future__ import annotations

import csv
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .config import TARGET_ACCURACY
from .plots import plain_log_scale
from .results import RunRecord, describe_device, rows_table, run_row

COLUMNS = ("run", "seed", "epochs", "best", "final", "first_at_target", "seconds")
STATISTICS = ("mean", "min", "max", "std")


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
