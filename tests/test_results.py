import os
import re
import subprocess
from pathlib import Path

import pytest
import torch

from utils.config import TrainConfig
from utils.machine import device_name
from utils.results import RunRecord, TargetNotMet, describe_device, final_figures, target_verdict


def test_target_met(finished_run):
    assert target_verdict(finished_run([99.0] * 7 + [99.45])).startswith("Target met: 99.45%")


def test_target_missed_fails_loudly_on_a_full_run(finished_run):
    with pytest.raises(TargetNotMet, match="final test accuracy 99.39% < 99.4%"):
        target_verdict(finished_run([99.5] * (TrainConfig().epochs - 1) + [99.39]))


def test_target_missed_on_a_short_run_is_reported_unless_enforced(finished_run):
    short = finished_run([98.0])
    assert "NOT met" in target_verdict(short) and "not enforced" in target_verdict(short)
    with pytest.raises(TargetNotMet):
        target_verdict(short, enforce=True)
    assert "not enforced" in target_verdict(finished_run([98.0] * 8), enforce=False)


@pytest.mark.parametrize("enforce", [1, 0, "yes", None, "True"])
def test_check_target_takes_only_true_false_or_auto(finished_run, enforce):
    """1 == True in Python, but check_target=1 used to be accepted and then not enforced."""
    from utils.config import ConfigError

    with pytest.raises(ConfigError, match=f"check_target={enforce!r} is not allowed"):
        target_verdict(finished_run([98.0] * 8), enforce=enforce)


def test_figures_come_from_the_record(finished_run):
    run = finished_run([99.2, 99.5, 99.45])
    run.setup_seconds = 4.0
    assert (run.seconds_to_target, run.run_seconds) == (24.0, 34.0)  # 10 s per epoch
    text = final_figures(run)
    assert "| best test accuracy | 99.50% |" in text and "| first epoch at >= 99.4% | 2 |" in text
    assert "| time to 99.4% | 24 s |" in text and "| whole run | 34 s: 4 s start-up, 10.0 s per epoch |" in text
    assert finished_run([99.0]).seconds_to_target is None


def test_the_record_survives_json(finished_run, saved_runs):
    run = finished_run([99.2, 99.5])
    loaded = RunRecord.load(saved_runs({"r": run}) / "r" / "metrics.json")
    assert loaded == run and loaded.best_test_accuracy == 99.5 and loaded.first_epoch_at_target == 2


def test_runs_say_where_they_trained(finished_run):
    run = finished_run([99.5])
    assert run.device == "cpu" and f"{os.cpu_count()} cores" in run.device_name
    assert describe_device(run) == f"cpu ({run.device_name}), 2 threads"
    run.device, run.device_name = "cuda", "Tesla T4"
    assert describe_device(run) == "cuda (Tesla T4)"


def test_a_cpu_pinned_to_some_cores_says_how_many_it_may_use(monkeypatch):
    """A big host pinned to two cores (taskset) stands in for a 2-core machine: its reports must say so."""
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert device_name(torch.device("cpu")).endswith(", 16 cores, 2 of them usable here")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert device_name(torch.device("cpu")).endswith(", 16 cores")


def test_side_by_side_computes_mistakes_and_multiply_adds(finished_run):
    from utils.results import side_by_side

    table = side_by_side({"a": finished_run([99.0, 99.45]), "b": finished_run([99.5], model="compact")})
    assert "| a | 16,146 | 3,064,656 | 99.45% | 55 | 2 | 20 |" in table
    assert "| b | 16,146 | 1,443,736 | 99.50% | 50 | 1 | 10 |" in table  # MACs of the model the run names


def test_the_committed_results_are_what_the_notebooks_and_readme_read_and_stay_light():
    repo = Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files", "results"], cwd=repo, capture_output=True, text=True,
                           check=True).stdout.split()
    assert not [f for f in files if re.search(r"/seed\d+/.+\.(ipynb|png)$", f)], "a sweep's per-run files are tracked"
    assert sum((repo / f).stat().st_size for f in files if (repo / f).exists()) <= 8 * 2**20
