import pickle
from dataclasses import replace

import pytest
import torch

from utils.config import ConfigError, TrainConfig
from utils.train import CheckpointError, fit, load_checkpoint, machine_differences, save_checkpoint

SHORT = dict(epochs=1, data_fraction=0.02, progress=False, threads=2, device="cpu")


class RunsCode:
    """Unpickling this calls open(marker, "w"): any code a pickle names runs when it is loaded unsafely."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run of two epochs interrupted after the first (as Ctrl-C would)."""
    from utils import train

    cfg = TrainConfig(run_name="one", runs_dir=str(tmp_path_factory.mktemp("runs")), **{**SHORT, "epochs": 2})
    real_epoch = train.train_epoch

    def stop_in_epoch_2(*args):
        if args[-1] == 2:
            raise KeyboardInterrupt
        return real_epoch(*args)

    train.train_epoch = stop_in_epoch_2
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(cfg)
    finally:
        train.train_epoch = real_epoch
    return cfg


@pytest.fixture
def copy_of(trained, tmp_path):
    """The interrupted run, copied where a test may change it."""
    import shutil

    cfg = replace(trained, runs_dir=str(tmp_path))
    shutil.copytree(trained.run_dir, cfg.run_dir)
    return cfg


def test_a_crafted_checkpoint_is_refused_without_running_anything(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "checkpoint.pt"
    torch.save({"model_state": {}, "payload": RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match=r"was refused: it names Python code \(_?io.open\) besides tensors"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_fresh_start_over_a_crafted_checkpoint_runs_nothing(tmp_path):
    """The loader runs whenever a run folder holds a checkpoint, also when not resuming."""
    marker = tmp_path / "code-ran"
    (tmp_path / "baseline").mkdir()
    torch.save({"model_state": {}, "payload": RunsCode(marker)}, tmp_path / "baseline" / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="was refused"):
        fit(TrainConfig(runs_dir=str(tmp_path), **SHORT))
    assert not marker.exists() and (tmp_path / "baseline" / "checkpoint.pt").exists()


def test_an_unreadable_checkpoint_is_described_not_condemned(trained, tmp_path):
    broken = tmp_path / "checkpoint.pt"
    broken.write_bytes((trained.run_dir / "checkpoint.pt").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="could not be read by torch .* cut short by a crash, or written by "
                                              "another version of torch. It was left as it is") as failure:
        load_checkpoint(broken)
    assert "corrupt" not in str(failure.value) and "Delete" not in str(failure.value) and broken.exists()


def test_an_unrelated_pickle_error_is_not_called_unsafe(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps([1, 2], protocol=2) + b"garbage")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(path)


def test_a_course_checkpoint_loads_with_weights_only(trained):
    state = load_checkpoint(trained.run_dir / "checkpoint.pt")
    assert state["epoch"] == 1 and isinstance(state["torch_version"], str)
    assert state["machine"] == {"device": "cpu", "threads": 2}


def rewrite(cfg: TrainConfig, **changes) -> None:
    path = cfg.run_dir / "checkpoint.pt"
    state = load_checkpoint(path)
    state.update(changes)
    save_checkpoint(path, state)


def test_a_checkpoint_from_a_gpu_is_refused_on_the_cpu(copy_of):
    """A CUDA generator's state (seed and offset, 16 bytes) cannot continue a CPU generator's stream."""
    cfg = copy_of
    rewrite(cfg, machine={"device": "cuda", "threads": None}, generator_state=torch.zeros(16, dtype=torch.uint8),
            cuda_rng_state=[torch.zeros(16, dtype=torch.uint8)])
    with pytest.raises(ConfigError, match="it was trained on cuda, this run is on cpu: resume with device='cuda'"):
        fit(replace(cfg, resume=True))


def test_a_checkpoint_from_another_thread_count_is_refused(copy_of):
    cfg = copy_of
    with pytest.raises(ConfigError, match="trained with 2 CPU threads, this run has 1: resume with threads=2"):
        fit(replace(cfg, resume=True, threads=1))
    assert fit(replace(cfg, resume=True)).epochs == 2


def test_machine_differences_both_ways():
    cpu, gpu = {"device": "cpu", "threads": 2}, {"device": "cuda", "threads": None}
    assert machine_differences(cpu, cpu) == [] and machine_differences(gpu, gpu) == []
    assert "trained on cpu, this run is on cuda: resume with device='cpu'" in machine_differences(cpu, gpu)[0]
    assert "trained on cuda, this run is on cpu" in machine_differences(gpu, cpu)[0]
    assert "resume with threads=2" in machine_differences(cpu, {"device": "cpu", "threads": 16})[0]
