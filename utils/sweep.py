"""Summaries of a seed sweep: many runs of one configuration, read from their metrics.json files."""
from __future__ import annotations

import csv
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .config import TARGET_ACCURACY
from .plots import plain_log_scale
from .results import describe_device, load_metrics

COLUMNS = ("run", "seed", "epochs", "best", "final", "first_at_target", "seconds")


def sweep_rows(metrics_files: list[Path]) -> list[dict]:
    """One row per run: seed, epochs, best and final accuracy, first epoch at target, seconds."""
    rows = []
    for path in sorted(metrics_files):
        m = load_metrics(path)
        rows.append({"run": path.parent.name, "seed": m["seed"], "epochs": len(m["test_accuracy"]),
                     "best": m["best_test_accuracy"], "final": m["final_test_accuracy"],
                     "first_at_target": m["first_epoch_at_target"], "seconds": m["total_seconds"],
                     "model": m["model"], "parameters": m["parameters"], "accuracy": m["test_accuracy"],
                     "device": describe_device(m), "torch": m["torch_version"]})
    return rows


def sweep_stats(rows: list[dict]) -> dict[str, dict[str, float]]:
    """mean / min / max / std (sample; 0 for one run) of each numeric column over the runs."""
    stats = {}
    for column in ("best", "final", "first_at_target", "seconds"):
        values = [r[column] for r in rows if r[column] is not None]
        if values:
            stats[column] = {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
                             "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return stats


def _cell(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def sweep_markdown(rows: list[dict]) -> str:
    """Per-run table, then mean / min / max / std, then how many runs met the target at the final epoch."""
    lines = [f"| run | seed | epochs | best % | final % | first epoch at {TARGET_ACCURACY}% | seconds |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['seed']} | {r['epochs']} | {_cell(r['best'])} | {_cell(r['final'])} "
              f"| {_cell(r['first_at_target'])} | {_cell(r['seconds'], 0)} |" for r in rows]
    stats = sweep_stats(rows)
    for stat in ("mean", "min", "max", "std"):
        values = [stats.get(c, {}).get(stat) for c in ("best", "final", "first_at_target")]
        lines.append(f"| **{stat}** | | | {_cell(values[0])} | {_cell(values[1])} | {_cell(values[2], 1)} "
                     f"| {_cell(stats['seconds'][stat], 0)} |")
    met = sum(r["final"] >= TARGET_ACCURACY for r in rows)
    devices = ", ".join(sorted({f"{r['device']}, torch {r['torch']}" for r in rows}))
    lines.append(f"\n{met} of {len(rows)} runs at or above {TARGET_ACCURACY}% at the final epoch "
                 f"({rows[0]['model']}, {rows[0]['parameters']:,} parameters; trained on {devices}).")
    return "\n".join(lines)


def write_sweep_csv(rows: list[dict], path: Path) -> None:
    """The per-run table plus mean / min / max / std rows, as CSV."""
    stats = sweep_stats(rows)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows([[r[c] for c in COLUMNS] for r in rows])
        for stat in ("mean", "min", "max", "std"):
            writer.writerow([stat, "", ""] + [stats.get(c, {}).get(stat, "") for c in COLUMNS[3:]])


def plot_sweep(rows: list[dict]) -> Figure:
    """Test error per epoch (log scale, so early epochs and the last tenths of a percent both show),
    one line per run, with the target."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in rows:
        errors = [100 - acc for acc in r["accuracy"]]
        ax.plot(range(1, len(errors) + 1), errors, "o-", markersize=3, label=f"seed {r['seed']}")
    ax.axhline(100 - TARGET_ACCURACY, color="gray", linestyle="--", label=f"target: {TARGET_ACCURACY}% accuracy")
    ax.set(xlabel="epoch", ylabel="test error (%)", title=f"{rows[0]['model']}: {len(rows)} seeds")
    plain_log_scale(ax)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig
