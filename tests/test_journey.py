import csv
import subprocess
import sys
from pathlib import Path

import pytest

from utils.experiments import JOURNEY, JOURNEY_SEEDS
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


def test_one_journey_step_runs_end_to_end_and_is_summarised(tmp_path):
    pytest.importorskip("papermill")  # the journey runs the training notebook through papermill
    done = subprocess.run([sys.executable, "scripts/sweep.py", "--table", "journey", "--only", "6-one-cycle",
                           "--root", str(tmp_path), "--param", "epochs=1", "--param", "data_fraction=0.02"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = sorted((tmp_path / "journey" / "6-one-cycle").glob("seed*/metrics.json"))
    assert [p.parent.name for p in runs] == [f"seed{s}" for s in JOURNEY_SEEDS]
    [row] = csv.DictReader((tmp_path / "journey" / "results.csv").read_text().splitlines())
    assert (row["step"], row["seeds"], row["parameters"]) == ("6-one-cycle", str(len(JOURNEY_SEEDS)), "16146")
    assert 10 < float(row["validation_mean"]) < 100 and 10 < float(row["train_mean"]) < 100
    summary = (tmp_path / "journey" / "results.md").read_text()
    assert "| 6-one-cycle | 16,146 |" in summary
    assert "Made by `python scripts/sweep.py --table journey --only 6-one-cycle" in summary

