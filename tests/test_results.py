import json
import os

import pytest
import torch

from utils.config import TrainConfig
from utils.results import TargetNotMet, check_target, describe_device, final_figures, results_table
from utils.train import new_metrics, record_epoch
from utils.models import Baseline


def finished(accuracies, **config):
    metrics = new_metrics(TrainConfig(**config), Baseline(), torch.device("cpu"))
    for acc in accuracies:
        record_epoch(metrics, 0.1, 0.05, acc, 10.0, 0.01)
    return metrics


def test_target_met():
    assert check_target(finished([99.0, 99.45], epochs=8)).startswith("Target met: 99.45%")


def test_target_missed_fails_loudly_on_a_full_run():
    with pytest.raises(TargetNotMet, match="final test accuracy 99.39% < 99.4%"):
        check_target(finished([99.5] * 7 + [99.39], epochs=8))


def test_target_missed_on_a_short_run_is_reported_unless_enforced():
    short = finished([98.0], epochs=1)
    assert "NOT met" in check_target(short) and "not enforced" in check_target(short)
    with pytest.raises(TargetNotMet):
        check_target(short, enforce=True)
    assert "not enforced" in check_target(finished([98.0] * 8, epochs=8), enforce=False)


def test_figures_and_table_come_from_the_metrics(tmp_path):
    metrics = finished([99.2, 99.5, 99.45], epochs=3)
    text = final_figures(metrics)
    assert "| best test accuracy | 99.50% |" in text and "| first epoch at >= 99.4% | 2 |" in text
    (tmp_path / "run-a").mkdir()
    (tmp_path / "run-a" / "metrics.json").write_text(json.dumps(metrics))
    assert "| run-a | baseline | 16,146 | 3 | 99.50% | 99.45% | 2 | 30 |" in results_table([tmp_path / "run-a" / "metrics.json"])


def test_runs_say_where_they_trained():
    metrics = finished([99.5], epochs=1)
    assert metrics["device"] == "cpu" and metrics["device_name"].endswith(f"{os.cpu_count()} cores")
    assert describe_device(metrics) == f"cpu ({metrics['device_name']}), {metrics['threads']} thread" + "s" * (metrics["threads"] > 1)
    assert describe_device({"device": "cuda", "device_name": "Tesla T4", "threads": 2}) == "cuda (Tesla T4)"
    assert describe_device({"device": "cpu", "threads": 1}) == "cpu, 1 thread"  # metrics from before device_name
