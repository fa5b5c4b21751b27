import csv
import json

import pytest
import torch

from utils.config import TrainConfig
from utils.models import Baseline
from utils.sweep import plot_sweep, sweep_markdown, sweep_rows, sweep_stats, write_sweep_csv
from utils.train import new_metrics, record_epoch


@pytest.fixture
def sweep_dir(tmp_path):
    for seed, accuracies in ((1, [99.0, 99.5]), (2, [99.2, 99.3]), (3, [99.45, 99.6])):
        metrics = new_metrics(TrainConfig(seed=seed, epochs=2), Baseline(), torch.device("cpu"))
        for acc in accuracies:
            record_epoch(metrics, 0.1, 0.05, acc, 10.0 + seed, 0.01)
        (tmp_path / f"seed{seed}").mkdir()
        (tmp_path / f"seed{seed}" / "metrics.json").write_text(json.dumps(metrics))
    return tmp_path


def test_rows_and_statistics(sweep_dir):
    rows = sweep_rows(list(sweep_dir.glob("*/metrics.json")))
    assert [r["seed"] for r in rows] == [1, 2, 3] and [r["first_at_target"] for r in rows] == [2, None, 1]
    stats = sweep_stats(rows)
    assert stats["final"]["min"] == 99.3 and stats["final"]["max"] == 99.6
    assert stats["final"]["mean"] == pytest.approx((99.5 + 99.3 + 99.6) / 3)
    assert stats["first_at_target"]["mean"] == 1.5  # over the runs that reached it
    assert stats["seconds"]["std"] == pytest.approx(2.0)


def test_markdown_csv_and_plot(sweep_dir, tmp_path):
    rows = sweep_rows(list(sweep_dir.glob("*/metrics.json")))
    text = sweep_markdown(rows)
    assert "| seed2 | 2 | 2 | 99.30 | 99.30 | - | 24 |" in text
    assert "2 of 3 runs at or above 99.4% at the final epoch" in text
    write_sweep_csv(rows, tmp_path / "r.csv")
    table = list(csv.reader(open(tmp_path / "r.csv")))
    assert table[0][0] == "run" and [r[0] for r in table[-4:]] == ["mean", "min", "max", "std"]
    ax = plot_sweep(rows).axes[0]
    assert len(ax.lines) == 4 and ax.get_yscale() == "log"  # three runs and the target line
    assert list(ax.lines[0].get_ydata()) == pytest.approx([1.0, 0.5])  # error = 100 - accuracy
