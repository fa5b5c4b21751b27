import json
import math
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from utils.config import TEST_IMAGES, ConfigError, TrainConfig
from utils.data import training_and_test
from utils.models import build_model
from utils.plots import plot_history
from utils.results import RunRecord
from utils.train import (
    CheckpointError,
    TrainingDiverged,
    evaluate,
    fit,
    load_checkpoint,
    load_trained_model,
    prepare,
    rates_and_momenta,
)

REPO = Path(__file__).resolve().parents[1]
SHORT = dict(epochs=2, data_fraction=0.05, progress=False, threads=2, device="cpu")
PER_EPOCH = ("train_loss", "test_loss", "test_accuracy", "lr", "momentum")


def same_results(a: RunRecord, b: RunRecord) -> bool:
    return all(getattr(a, k) == getattr(b, k) for k in PER_EPOCH)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return fit(TrainConfig(run_name="short", runs_dir=str(runs), **SHORT)), runs / "short"


def test_a_short_run_learns(short_run):
    run, _ = short_run
    assert run.train_loss[1] < run.train_loss[0]
    assert run.test_accuracy[-1] > 80  # 3,000 images, two epochs; chance is 10%


def test_metrics_file_holds_the_run(short_run):
    run, run_dir = short_run
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(run.to_dict()))
    assert RunRecord.from_dict(saved) == run
    assert saved["parameters"] == 16146 and saved["config"]["epochs"] == 2 and len(saved["test_accuracy"]) == 2
    assert saved["best_test_accuracy"] == max(saved["test_accuracy"])
    assert saved["final_test_accuracy"] == saved["test_accuracy"][-1]
    assert 0 < saved["setup_seconds"] < saved["run_seconds"]
    assert saved["run_seconds"] == pytest.approx(saved["setup_seconds"] + sum(saved["epoch_seconds"]))
    assert (run_dir / "checkpoint.pt").exists()


def test_the_record_names_the_test_digits_misread_at_the_last_epoch(short_run):
    run, run_dir = short_run
    model = load_trained_model(run_dir)
    test = training_and_test(torch.device("cpu"), SHORT["data_fraction"], seed=1)[1]
    _, accuracy, predicted = evaluate(model, test)
    wrong = (predicted != test.labels).nonzero().flatten().tolist()
    assert run.misread == [[i, predicted[i].item()] for i in wrong] and 0 < len(wrong) < 2000
    assert accuracy == pytest.approx(run.final_test_accuracy)
    assert len(wrong) == round(TEST_IMAGES * (100 - run.final_test_accuracy) / 100)


def test_evaluation_does_not_depend_on_its_batch_size(short_run):
    """The batch size is chosen for speed (EVAL_BATCH): every image's prediction is its own."""
    model = load_trained_model(short_run[1])
    test = training_and_test(torch.device("cpu"), SHORT["data_fraction"], seed=1)[1]
    (loss, accuracy, predicted), (loss_1000, accuracy_1000, predicted_1000) = (
        evaluate(model, test), evaluate(model, test, batch_size=1000))
    assert torch.equal(predicted, predicted_1000) and accuracy == accuracy_1000
    assert loss == pytest.approx(loss_1000, rel=1e-6)


def test_the_record_holds_the_training_accuracy_of_each_epoch(short_run):
    run, _ = short_run
    assert len(run.train_accuracy) == 2 and 10 < run.train_accuracy[0] < run.train_accuracy[1] < 100


def test_a_constant_schedule_keeps_rate_and_momentum():
    rates, momenta = rates_and_momenta(TrainConfig(schedule="constant", lr=0.02, epochs=2, data_fraction=0.05))
    assert set(rates) == {0.02} and set(momenta) == {0.95} and len(rates) == 48
    rates, _ = rates_and_momenta(TrainConfig(epochs=2, data_fraction=0.05))
    assert max(rates) == pytest.approx(0.1, abs=1e-3) and rates[-1] < 1e-5


def test_files_are_readable_by_others_and_no_temporary_file_is_left(short_run):
    _, run_dir = short_run
    for name in ("checkpoint.pt", "metrics.json"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o644, name  # under CI's umask 022
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint.pt", "metrics.json"]


def test_same_seed_same_numbers(short_run, tmp_path):
    again = fit(TrainConfig(run_name="short", runs_dir=str(tmp_path), **SHORT))
    assert same_results(short_run[0], again)
    other = fit(TrainConfig(run_name="other", runs_dir=str(tmp_path), seed=2, **SHORT))
    assert not same_results(short_run[0], other)


def test_the_recorded_momentum_is_the_momentum_that_trained(short_run, tmp_path):
    """The one-cycle schedule drives momentum: the record holds its values, and changing it changes training."""
    run, _ = short_run
    cfg = TrainConfig(**SHORT)
    rates, momenta = rates_and_momenta(cfg)
    peak = rates.index(max(rates))
    assert momenta[0] == cfg.momentum == 0.95 and momenta.index(min(momenta)) == peak
    assert min(momenta) == pytest.approx(cfg.min_momentum, abs=1e-3)
    assert run.momentum[0] == 0.95 and run.momentum[1] == pytest.approx(momenta[len(momenta) // 2])
    assert run.config["momentum"] == 0.95 and run.config["min_momentum"] == 0.85
    constant = fit(TrainConfig(run_name="constant", runs_dir=str(tmp_path), min_momentum=0.95, **SHORT))
    assert constant.momentum == [0.95, 0.95] and constant.train_loss != run.train_loss


def test_plain_sgd_without_momentum_trains(tmp_path):
    run = fit(TrainConfig(run_name="plain", runs_dir=str(tmp_path), momentum=0, min_momentum=0,
                          **{**SHORT, "epochs": 1}))
    assert run.momentum == [0] and run.test_accuracy[0] > 20


def test_a_model_built_in_a_notebook_trains_with_the_same_call(tmp_path):
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                                     nn.Linear(64, 10))

        def forward(self, x):
            return self.net(x)

    cfg = TrainConfig(runs_dir=str(tmp_path), **{**SHORT, "epochs": 1})
    run = fit(cfg, Tiny())
    assert run.model == "Tiny" and run.parameters == 690 and run.config["model"] == "Tiny"
    assert (tmp_path / "tiny" / "metrics.json").exists() and not (tmp_path / "baseline").exists()
    with pytest.raises(CheckpointError, match="holds a 'Tiny' network, whose layers differ"):
        fit(replace(cfg, run_name="tiny", resume=True, epochs=2))  # the baseline cannot continue it
    dropped = lambda p: nn.Sequential(nn.Conv2d(1, 4, 3), nn.Dropout(p), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                                      nn.Linear(64, 10))
    fit(replace(cfg, run_name="dropped"), dropped(0.1))
    with pytest.raises(CheckpointError, match="holds a 'Sequential' network, whose layers differ"):
        fit(replace(cfg, run_name="dropped", resume=True, epochs=2), dropped(0.2))  # same tensors, another p


def test_prepare_builds_a_run_without_writing(tmp_path):
    run = prepare(TrainConfig(runs_dir=str(tmp_path), **SHORT))
    assert len(run.train.labels) == 3000 and run.optimizer.param_groups[0]["nesterov"]
    assert not any(tmp_path.iterdir())


def test_divergence_stops_at_once_naming_epoch_and_batch(tmp_path, monkeypatch):
    """The third batch of epoch 2 yields NaN logits: the run stops within that epoch, naming the batches read
    since the last check (the loss is read from the device a few times an epoch), and keeps epoch 1's checkpoint."""
    from utils import train

    def poisoned(name):
        model, calls = build_model(name), []

        def hook(module, inputs, output):
            calls.append(module.training)
            return output * math.nan if sum(calls) == 24 + 3 else output  # 3,000 images = 24 batches

        model.register_forward_hook(hook)
        return model

    monkeypatch.setattr(train, "build_model", poisoned)
    with pytest.raises(TrainingDiverged, match="became nan at epoch 2, in batches 1-3 of 24. Try a lower learning"):
        fit(TrainConfig(run_name="nan", runs_dir=str(tmp_path), **{**SHORT, "epochs": 3}))
    kept = load_checkpoint(tmp_path / "nan" / "checkpoint.pt")
    assert kept["epoch"] == 1 and all(torch.isfinite(v).all() for v in kept["model_state"].values())


def test_unwritable_run_folder_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointError, match="is not writable"):
        fit(TrainConfig(runs_dir=str(blocker), **SHORT))


def train_command(runs: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, "scripts/train.py", "--epochs", "3", "--data-fraction", "0.1", "--threads", "2",
            "--device", "cpu", "--progress", "false", "--runs-dir", str(runs), "--run-name", name, *extra]


def test_killed_run_resumes_to_the_same_result(tmp_path):
    """SIGKILL a real training process as soon as epoch 1 is saved, resume it, compare with an uninterrupted run."""
    runs = tmp_path / "runs"
    metrics_file = runs / "killed" / "metrics.json"
    proc = subprocess.Popen(train_command(runs, "killed"), cwd=REPO, stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not metrics_file.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)  # the checkpoint is written just before metrics.json
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.kill()
    proc.wait()
    assert load_checkpoint(runs / "killed" / "checkpoint.pt")["epoch"] == 1, "killed after epoch 2 had finished"

    resumed = subprocess.run(train_command(runs, "killed", "--resume", "true"), cwd=REPO,
                             capture_output=True, text=True, check=True)
    assert "Resuming killed after epoch 1 of 3" in resumed.stdout
    subprocess.run(train_command(runs, "whole"), cwd=REPO, capture_output=True, check=True)
    killed, whole = RunRecord.load(metrics_file), RunRecord.load(runs / "whole" / "metrics.json")
    assert killed.epochs == 3 and same_results(killed, whole)


def test_a_killed_write_leaves_nothing_behind(tmp_path):
    """A write killed half-way leaves a temporary file; git ignores it and the next run removes it."""
    run_dir = tmp_path / "stale"
    run_dir.mkdir()
    leftover = run_dir / ".checkpoint.pt.x1y2.partial"
    leftover.write_bytes(b"half a checkpoint")
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", "results/baseline/.metrics.json.abc.partial"],
                             cwd=REPO)
    assert ignored.returncode == 0, "git would show a killed write's temporary file"
    fit(TrainConfig(run_name="stale", runs_dir=str(tmp_path), **{**SHORT, "epochs": 1}))
    assert not leftover.exists()


def test_failed_checkpoint_write_stops_the_run_and_keeps_the_previous_one(tmp_path, monkeypatch):
    """A full disk during epoch 2's checkpoint: clear error, epoch 1's checkpoint intact, no temp files."""
    from utils import train

    real_save, saves = torch.save, []

    def save_then_fail(obj, handle):
        saves.append(1)
        if len(saves) == 2:
            raise OSError(28, "No space left on device")
        real_save(obj, handle)

    monkeypatch.setattr(train.torch, "save", save_then_fail)
    with pytest.raises(CheckpointError, match="Could not write the checkpoint .* \\(No space left on device\\); "
                                              "the previous one is unchanged"):
        fit(TrainConfig(run_name="full", runs_dir=str(tmp_path), **{**SHORT, "epochs": 3}))
    assert load_checkpoint(tmp_path / "full" / "checkpoint.pt")["epoch"] == 1
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
    with pytest.raises(ConfigError, match="holds an interrupted run \\(epoch 1 of 3\\). Continue it with resume=True"):
        fit(TrainConfig(**cfg))
    assert fit(TrainConfig(**{**cfg, "resume": True})).epochs == 3


def test_resuming_with_other_settings_is_refused(short_run):
    _, run_dir = short_run
    cfg = dict(run_name="short", runs_dir=str(run_dir.parent), resume=True, **{**SHORT, "epochs": 3})
    with pytest.raises(ConfigError, match="Cannot resume .* with other settings: epochs=3 \\(checkpoint: 2\\)"):
        fit(TrainConfig(**cfg))
    with pytest.raises(ConfigError, match="min_momentum=0.9 \\(checkpoint: 0.85\\)"):
        fit(TrainConfig(**{**cfg, "epochs": 2, "min_momentum": 0.9}))


def test_the_loss_is_read_from_the_device_a_few_times_an_epoch(monkeypatch):
    """Reading a value waits for the device; a GPU epoch must not wait once per batch."""
    from utils import train

    run = prepare(TrainConfig(**SHORT))
    reads, real_item = [], torch.Tensor.item

    def counted_item(self):
        reads.append(1)
        return real_item(self)

    monkeypatch.setattr(torch.Tensor, "item", counted_item)
    loss, accuracy = train.train_epoch(run.model, run.train, run.optimizer, run.scheduler, run.cfg, run.generator,
                                       run.augment, 1)
    assert len(reads) == train.LOSS_CHECKS_PER_EPOCH + 2  # 24 batches; the last two reads are the epoch's figures
    assert math.isfinite(loss) and 10 < accuracy < 100


def test_a_late_divergence_names_the_batches_since_the_last_check(tmp_path, monkeypatch):
    from utils import train

    def poisoned(name):
        model, calls = build_model(name), []

        def hook(module, inputs, output):
            calls.append(module.training)
            return output * math.inf if sum(calls) == 17 else output

        model.register_forward_hook(hook)
        return model

    monkeypatch.setattr(train, "build_model", poisoned)
    with pytest.raises(TrainingDiverged, match="at epoch 1, in batches 16-18 of 24"):
        fit(TrainConfig(run_name="late", runs_dir=str(tmp_path), **SHORT))


def test_a_run_with_a_validation_set_records_it_each_epoch(tmp_path):
    cfg = TrainConfig(run_name="checked", runs_dir=str(tmp_path), validation=1000, **SHORT)
    run = fit(cfg)
    assert len(run.validation_accuracy) == len(run.validation_loss) == run.epochs == len(run.test_accuracy)
    assert 50 < run.validation_accuracy[-1] <= 100 and run.validation_accuracy != run.test_accuracy
    saved = json.loads((tmp_path / "checked" / "metrics.json").read_text())
    assert saved["validation_accuracy"] == run.validation_accuracy
    plot_history(run, target=99.4)  # draws the validation curves beside the test ones
    with pytest.raises(ConfigError, match="validation=30001 is not allowed"):
        TrainConfig(validation=30_001)


def test_where_torch_compile_fails_the_run_trains_eagerly_with_the_same_numbers(tmp_path, monkeypatch):
    """CI machines may have no C compiler: a failing compile warns, leaves no trace and falls back to eager."""
    class Broken(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            self.model(x)  # runs part of a step (BatchNorm statistics, dropout draws), then fails
            raise RuntimeError("Compiler: cc is not found")

    monkeypatch.setattr(torch, "compile", lambda model, **kw: Broken(model))
    with pytest.warns(UserWarning, match="torch.compile does not work here .RuntimeError: Compiler: cc is not found"):
        failed = fit(TrainConfig(run_name="broken", runs_dir=str(tmp_path), compile=True, **SHORT))
    eager = fit(TrainConfig(run_name="eager", runs_dir=str(tmp_path), **SHORT))
    assert same_results(failed, eager)


def test_the_compile_trial_leaves_no_trace():
    from utils.train import compiled_or_eager

    torch.manual_seed(0)
    model = build_model("baseline")
    batch = torch.randn(8, 1, 28, 28)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    compiled_or_eager(model, batch)  # compiled, or eager with a warning where no compiler works here
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())
    assert all(p.grad is None for p in model.parameters())


def test_a_compiled_run_learns_where_a_compiler_works(tmp_path):
    """The real compiler on this machine (or its fallback): the run trains, its checkpoint loads into an eager
    model, and it scores what the run recorded."""
    cfg = TrainConfig(run_name="compiled", runs_dir=str(tmp_path), compile=True, **SHORT)
    run = fit(cfg)
    assert run.test_accuracy[-1] > 80  # as the eager short run
    model = load_trained_model(tmp_path / "compiled")
    _, accuracy, _ = evaluate(model, training_and_test(torch.device("cpu"), cfg.data_fraction, cfg.seed)[1])
    assert accuracy == run.test_accuracy[-1]


def test_the_schedule_counts_the_steps_of_the_images_left_after_the_validation_hold_out():
    cfg = TrainConfig(epochs=2, batch_size=1000, validation=10_000)
    rates, _ = rates_and_momenta(cfg)
    assert len(rates) == 2 * 50  # 50,000 training images: 50 batches an epoch, not 60
    assert len(rates) == prepare(cfg).scheduler.total_steps
