"""Figures of finished runs: one run's summary, the course target, and the README's table."""
from __future__ import annotations

import json
from pathlib import Path

from .config import MAX_EPOCHS, MAX_PARAMETERS, TARGET_ACCURACY, TrainConfig


class TargetNotMet(AssertionError):
    """A run misses the course target."""


def load_metrics(path: str | Path) -> dict:
    """A run's metrics.json."""
    return json.loads(Path(path).read_text())


def describe_device(metrics: dict) -> str:
    """Where a run trained, e.g. "cpu (AMD EPYC, 2 cores), 2 threads"."""
    name = f" ({metrics['device_name']})" if metrics.get("device_name") else ""
    threads = f", {metrics['threads']} thread{'s' * (metrics['threads'] > 1)}" if metrics["device"] == "cpu" else ""
    return f"{metrics['device']}{name}{threads}"


def final_figures(metrics: dict) -> str:
    """Markdown table of one run's headline figures, all read from its metrics."""
    first = metrics["first_epoch_at_target"]
    rows = [
        ("model", metrics["model"]),
        ("trainable parameters", f"{metrics['parameters']:,}"),
        ("epochs", len(metrics["test_accuracy"])),
        ("best test accuracy", f"{metrics['best_test_accuracy']:.2f}%"),
        ("final test accuracy", f"{metrics['final_test_accuracy']:.2f}%"),
        (f"first epoch at >= {TARGET_ACCURACY}%", first if first else "not reached"),
        ("training time", f"{metrics['total_seconds']:.0f} s ({metrics['total_seconds'] / len(metrics['epoch_seconds']):.1f} s per epoch)"),
        ("device", f"{describe_device(metrics)}, torch {metrics['torch_version']}"),
    ]
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def is_full_run(config: dict) -> bool:
    """A run on all training images for at least the default number of epochs, the one the target is for."""
    return config["data_fraction"] == 1 and config["epochs"] >= TrainConfig().epochs


def check_target(metrics: dict, enforce: bool | str = "auto") -> str:
    """Verdict on the course target; raise TargetNotMet if it is missed and `enforce` is True
    ("auto": only for a full run, since a shortened run is not expected to reach it)."""
    epochs, final, params = len(metrics["test_accuracy"]), metrics["final_test_accuracy"], metrics["parameters"]
    failures = []
    if final < TARGET_ACCURACY:
        failures.append(f"final test accuracy {final:.2f}% < {TARGET_ACCURACY}%")
    if params >= MAX_PARAMETERS:
        failures.append(f"{params:,} parameters >= {MAX_PARAMETERS:,}")
    if epochs > MAX_EPOCHS:
        failures.append(f"{epochs} epochs > {MAX_EPOCHS}")
    if enforce not in (True, False, "auto"):
        raise ValueError(f"check_target={enforce!r} is not allowed: check_target must be one of [True, False, 'auto'].")
    if failures:
        verdict = "Course target NOT met: " + "; ".join(failures)
        if enforce is True or (enforce == "auto" and is_full_run(metrics["config"])):
            raise TargetNotMet(verdict)
        return verdict + " (not enforced: a shortened run, or check_target=False)."
    return (f"Target met: {final:.2f}% >= {TARGET_ACCURACY}% at the final epoch, {params:,} < {MAX_PARAMETERS:,} "
            f"parameters, {epochs} <= {MAX_EPOCHS} epochs.")


def results_table(metrics_files: list[Path]) -> str:
    """Markdown table with one row per run, read from metrics.json files."""
    lines = ["| run | model | parameters | epochs | best | final | first at 99.4% | seconds | device |",
             "|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(metrics_files):
        m = load_metrics(path)
        lines.append(
            f"| {path.parent.name} | {m['model']} | {m['parameters']:,} | {len(m['test_accuracy'])} "
            f"| {m['best_test_accuracy']:.2f}% | {m['final_test_accuracy']:.2f}% "
            f"| {m['first_epoch_at_target'] or '-'} | {m['total_seconds']:.0f} | {describe_device(m)} |"
        )
    return "\n".join(lines)
