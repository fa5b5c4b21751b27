import subprocess
import sys
from pathlib import Path

import pytest

from utils.experiments import (
    JOURNEY,
    JOURNEY_SEEDS,
    StepResult,
    change_from_previous,
    journey_results,
    step_report,
    verdict,
)
from utils.models import MODELS

REPO = Path(__file__).resolve().parents[1]


def test_each_step_changes_the_network_or_the_settings_not_both():
    assert len(JOURNEY) >= 5 and len({s.name for s in JOURNEY}) == len(JOURNEY)
    for before, after in zip(JOURNEY, JOURNEY[1:], strict=False):
        model_changed = before.model != after.model
        settings_changed = before.config().to_dict() | {"model": ""} != after.config().to_dict() | {"model": ""}
        assert model_changed != settings_changed, f"{before.name} -> {after.name}"
    assert all(s.model in MODELS for s in JOURNEY)
    assert JOURNEY[-2].config().schedule == "one-cycle" and JOURNEY[0].config().schedule == "constant"


def test_the_verdict_weighs_a_change_against_the_standard_error_of_the_difference():
    def result(validation_mean: float, spread: float) -> StepResult:
        return StepResult(JOURNEY[0], 1, 3, (99.0, 0.1), (validation_mean, spread), (99.0, 0.1), [None] * 3, 1.0)

    assert "+0.50 points" in verdict(result(98.9, 0.05), result(99.4, 0.1)) and "a clear gain" in verdict(
        result(98.9, 0.05), result(99.4, 0.1))
    assert "no measurable change" in verdict(result(99.40, 0.05), result(99.45, 0.05))  # error 0.041: 1.2 of them
    assert "a clear gain" in verdict(result(99.40, 0.05), result(99.50, 0.05))  # 2.4 standard errors
    assert "a clear loss" in verdict(result(99.4, 0.05), result(99.0, 0.05))
    assert "standard error of the difference 0.04" in verdict(result(99.4, 0.05), result(99.0, 0.05))


def test_one_journey_step_runs_end_to_end_and_is_summarised(tmp_path):
    pytest.importorskip("papermill")  # the journey runs the training notebook through papermill
    done = subprocess.run([sys.executable, "scripts/sweep.py", "--table", "journey", "--only", "6-one-cycle",
                           "--root", str(tmp_path), "--param", "epochs=1", "--param", "data_fraction=0.02"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = sorted((tmp_path / "journey" / "6-one-cycle").glob("seed*/metrics.json"))
    assert [p.parent.name for p in runs] == [f"seed{s}" for s in JOURNEY_SEEDS]
    [step] = journey_results(tmp_path / "journey")
    assert step.step.name == "6-one-cycle" and step.seeds == len(JOURNEY_SEEDS) and step.parameters == 16_146
    assert 10 < step.validation[0] < 100 and 10 < step.train[0] < 100
    summary = (tmp_path / "journey" / "results.md").read_text()
    assert "| 6-one-cycle | 16,146 |" in summary
    assert "Made by `python scripts/sweep.py --table journey --only 6-one-cycle" in summary


def test_each_step_shows_its_change_as_code():
    assert "(fc): Linear(in_features=1568" in change_from_previous("1-plain")
    batchnorm = change_from_previous("2-batchnorm")
    assert batchnorm.count("\n+  (bn") == 5 and "Settings changed: none" in batchnorm
    assert "+  (conv6): Conv2d(32, 8" in change_from_previous("3-transition")
    assert "Baseline(" not in change_from_previous("4-dropout")  # only the layers, not the class names
    expected = "Settings changed: lr: 0.01 -> 0.1; schedule: 'constant' -> 'one-cycle'"
    assert change_from_previous("6-one-cycle") == expected


def test_a_step_report_states_its_figures_and_its_change():
    def result(step: int, validation: float) -> StepResult:
        return StepResult(JOURNEY[step], 16_146, 3, (99.0, 0.1), (validation, 0.05), (99.1, 0.04), [None, 5, 4], 100.0)

    report = step_report("2-batchnorm", [result(0, 98.5), result(1, 99.0)])
    assert "validation 99.00 ± 0.05%" in report and "2 of 3 (epoch 4, 5)" in report
    assert "+0.50 points" in report and "a clear gain" in report
    assert "Analysis" not in step_report("1-plain", [result(0, 98.5)])
