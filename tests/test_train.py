import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from utils.checkpoint import CheckpointError, load_checkpoint
from utils.config import ConfigError, TrainConfig
from utils.models import build_model
from utils.train import TrainingDiverged, fit

REPO = Path(__file__).resolve().parents[1]
SHORT = dict(epochs=2, data_fraction=0.05, progress=False, threads=2)
PER_EPOCH = ("train_loss", "test_loss", "test_accuracy", "lr")


def same_results(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] for k in PER_EPOCH)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return fit(TrainConfig(run_name="short", runs_dir=str(runs), **SHORT)), runs / "short"


def test_a_short_run_learns(short_run):
    metrics, _ = short_run
    assert metrics["train_loss"][1] < metrics["train_loss"][0]
    assert metrics["test_accuracy"][-1] > 80  # 3,000 images, two epochs; chance is 10%


def test_metrics_file_holds_the_run(short_run):
    metrics, run_dir = short_run
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    for key in ("model", "parameters", "seed", "epochs", "device", "torch_version", "best_test_accuracy",
                "final_test_accuracy", "first_epoch_at_target", "epoch_seconds"):
        assert key in saved, key
    assert saved["parameters"] == 16146 and saved["epochs"] == 2 and len(saved["test_accuracy"]) == 2
    assert saved["best_test_accuracy"] == max(saved["test_accuracy"])
    assert saved["final_test_accuracy"] == saved["test_accuracy"][-1]
    assert (run_dir / "checkpoint.pt").exists()


def test_same_seed_same_numbers(short_run, tmp_path):
    again = fit(TrainConfig(run_name="short", runs_dir=str(tmp_path), **SHORT))
    assert same_results(short_run[0], again)
    other = fit(TrainConfig(run_name="other", runs_dir=str(tmp_path), seed=2, **SHORT))
    assert not same_results(short_run[0], other)


def test_divergence_stops_at_once_naming_epoch_and_batch(tmp_path, monkeypatch):
    """The third batch of epoch 2 yields NaN logits: the run stops there and keeps epoch 1's checkpoint."""
    from utils import train

    def poisoned(name):
        model, calls = build_model(name), []

        def hook(module, inputs, output):
            calls.append(module.training)
            return output * math.nan if sum(calls) == 24 + 3 else output  # 3,000 images = 24 batches

        model.register_forward_hook(hook)
        return model

    monkeypatch.setattr(train, "build_model", poisoned)
    with pytest.raises(TrainingDiverged, match="became nan at epoch 2, batch 3/24. Try a lower learning rate"):
        fit(TrainConfig(run_name="nan", runs_dir=str(tmp_path), **{**SHORT, "epochs": 3}))
    kept = load_checkpoint(tmp_path / "nan" / "checkpoint.pt", "baseline")
    assert kept["epoch"] == 1 and all(torch.isfinite(v).all() for v in kept["model_state"].values())


def test_unwritable_run_folder_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointError, match="is not writable"):
        fit(TrainConfig(runs_dir=str(blocker), **SHORT))


def test_checkpoint_of_another_model_or_corrupt_is_refused(short_run, tmp_path):
    _, run_dir = short_run
    with pytest.raises(CheckpointError, match="holds a 'baseline' model, not 'compact'"):
        load_checkpoint(run_dir / "checkpoint.pt", "compact")
    broken = tmp_path / "checkpoint.pt"
    broken.write_bytes((run_dir / "checkpoint.pt").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="is not a readable checkpoint"):
        load_checkpoint(broken, "baseline")


def train_command(runs: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "utils.train", "--epochs", "3", "--data-fraction", "0.1", "--threads", "2",
            "--progress", "false", "--runs-dir", str(runs), "--run-name", name, *extra]


def test_killed_run_resumes_to_the_same_result(tmp_path):
    """SIGKILL a real training process inside epoch 2, resume it, compare with an uninterrupted run."""
    runs = tmp_path / "runs"
    metrics_file = runs / "killed" / "metrics.json"
    proc = subprocess.Popen(train_command(runs, "killed"), cwd=REPO, stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not metrics_file.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside epoch 2
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(json.loads(metrics_file.read_text())["test_accuracy"]) == 1

    resumed = subprocess.run(train_command(runs, "killed", "--resume", "true"), cwd=REPO,
                             capture_output=True, text=True, check=True)
    assert "Resuming killed after epoch 1 of 3" in resumed.stdout
    subprocess.run(train_command(runs, "whole"), cwd=REPO, capture_output=True, check=True)
    killed = json.loads(metrics_file.read_text())
    whole = json.loads((runs / "whole" / "metrics.json").read_text())
    assert len(killed["test_accuracy"]) == 3 and same_results(killed, whole)


def test_failed_checkpoint_write_stops_the_run_and_keeps_the_previous_one(tmp_path, monkeypatch):
    """A full disk during epoch 2's checkpoint: clear error, epoch 1's checkpoint intact, no temp files."""
    from utils import checkpoint

    real_save, saves = torch.save, []

    def save_then_fail(obj, handle):
        saves.append(1)
        if len(saves) == 2:
            raise OSError(28, "No space left on device")
        real_save(obj, handle)

    monkeypatch.setattr(checkpoint.torch, "save", save_then_fail)
    with pytest.raises(CheckpointError, match="Could not write the checkpoint .* \\(No space left on device\\); "
                                              "the previous checkpoint, if any, is unchanged"):
        fit(TrainConfig(run_name="full", runs_dir=str(tmp_path), **{**SHORT, "epochs": 3}))
    assert load_checkpoint(tmp_path / "full" / "checkpoint.pt", "baseline")["epoch"] == 1
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["checkpoint.pt", "metrics.json"]


def test_an_interrupted_run_is_not_overwritten_by_a_fresh_start(tmp_path, monkeypatch):
    from utils import train

    def stop_in_epoch_2(*args):  # as Ctrl-C in a notebook would
        if args[7] == 2:  # train_epoch(model, data, optimizer, scheduler, cfg, generator, augment, epoch)
            raise KeyboardInterrupt
        return real_epoch(*args)

    real_epoch = train.train_epoch
    monkeypatch.setattr(train, "train_epoch", stop_in_epoch_2)
    cfg = dict(run_name="cut", runs_dir=str(tmp_path), **{**SHORT, "epochs": 3})
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(**cfg))
    monkeypatch.setattr(train, "train_epoch", real_epoch)
    with pytest.raises(ConfigError, match="holds an interrupted run \\(epoch 1 of 3\\); continue it with resume=True"):
        fit(TrainConfig(**cfg))
    assert len(fit(TrainConfig(**{**cfg, "resume": True}))["test_accuracy"]) == 3


def test_resuming_with_other_settings_is_refused(short_run, tmp_path):
    _, run_dir = short_run
    cfg = dict(run_name="short", runs_dir=str(run_dir.parent), resume=True, **{**SHORT, "epochs": 3})
    with pytest.raises(ConfigError, match="Cannot resume .* with other settings: epochs=3 \\(checkpoint: 2\\)"):
        fit(TrainConfig(**cfg))
