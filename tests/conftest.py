"""Fixtures shared by the tests of utils/ and scripts/."""
from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from utils.config import TrainConfig
from utils.machine import device_name
from utils.models import build_model, layer_list
from utils.results import RunRecord


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `torchsummary` compare its tables: a machine without it (a bare GPU box) skips them."""
    if importlib.util.find_spec("torchsummary") is None:
        skip = pytest.mark.skip(reason="torchsummary is not installed")
        for item in items:
            if "torchsummary" in item.keywords:
                item.add_marker(skip)


def make_run(accuracies: list[float], seconds: float = 10.0, **settings) -> RunRecord:
    """A finished run of the baseline with these test accuracies per epoch (other figures made up)."""
    cfg = TrainConfig(**{"epochs": len(accuracies), **settings})
    run = RunRecord(model=cfg.model, parameters=16_146, config=cfg.to_dict(), device="cpu",
                    device_name=device_name(torch.device("cpu")), threads=2, torch_version=str(torch.__version__),
                    layers=layer_list(build_model(cfg.model)))
    for acc in accuracies:
        run.add_epoch(train_loss=0.1, test_loss=0.05, test_accuracy=acc, epoch_seconds=seconds, lr=0.01, momentum=0.9)
    return run


@pytest.fixture
def finished_run() -> Callable[..., RunRecord]:
    """make_run: a finished run with given accuracies per epoch and settings."""
    return make_run


@pytest.fixture
def saved_runs(tmp_path) -> Callable[..., Path]:
    """Write runs as <folder>/<name>/metrics.json and return the folder."""
    def save(runs: dict[str, RunRecord]) -> Path:
        for name, run in runs.items():
            (tmp_path / name).mkdir(parents=True, exist_ok=True)
            (tmp_path / name / "metrics.json").write_text(json.dumps(run.to_dict()))
        return tmp_path
    return save
