import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from utils.config import RECIPES, TrainConfig
from utils.experiments import finished
from utils.machine import pick_device

pytest.importorskip("papermill")  # sweeps run the training notebook through papermill

REPO = Path(__file__).resolve().parents[1]


def sweep(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "scripts/sweep.py", *args], cwd=REPO, capture_output=True, text=True)
    assert (done.returncode == 0) == ok, done.stderr[-2000:]
    return done

TINY = ["--param", "epochs=1", "--param", "data_fraction=0.02"]


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweeps")
    sweep("--seeds", "3", "4", "--jobs", "2", "--root", str(root), *TINY)
    return root / "sweep-baseline"


def test_a_sweep_runs_the_notebook_per_seed_and_summarises_exactly_those_runs(tiny_sweep):
    assert sorted(p.name for p in tiny_sweep.glob("seed*")) == ["seed3", "seed4"]
    summary = (tiny_sweep / "results.md").read_text()
    assert "| seed3 | 3 | 1 |" in summary and "of 2 runs at or above 99.4%" in summary
    assert "Settings: epochs=1, data_fraction=0.02, threads=1;" in summary
    assert "Made by `python scripts/sweep.py --seeds 3 4 --jobs 2" in summary
    run = json.loads((tiny_sweep / "seed3" / "metrics.json").read_text())
    assert run["config"]["epochs"] == 1 and run["config"]["seed"] == 3 and run["threads"] == 1
    metadata = json.loads((tiny_sweep / "seed3" / "notebook.ipynb").read_text())["metadata"]["papermill"]
    assert not Path(metadata["input_path"]).is_absolute() and not Path(metadata["output_path"]).is_absolute()


def test_a_sweep_prints_each_finished_run_and_the_time_left(tmp_path):
    out = sweep("--seeds", "5", "--root", str(tmp_path), "--name", "one", *TINY).stdout
    assert "seed 5: final " in out and "1 of 1 done, about 0 min left" in out


def test_a_setting_equal_to_the_baselines_default_still_overrides_another_models_recipe(tmp_path):
    """lr=0.1 is TrainConfig's default and not the compact recipe's: the run must train lr=0.1 all the same."""
    assert RECIPES["compact"]["lr"] != TrainConfig().lr
    sweep("--model", "compact", "--seeds", "1", "--root", str(tmp_path), *TINY, "--param", f"lr={TrainConfig().lr}")
    config = json.loads((tmp_path / "sweep-compact" / "seed1" / "metrics.json").read_text())["config"]
    assert config["lr"] == TrainConfig().lr and config["model"] == "compact"


def test_a_sweep_started_again_keeps_its_finished_runs_and_only_those(tiny_sweep, tmp_path):
    shutil.copytree(tiny_sweep, tmp_path / "sweep-baseline")
    before = (tmp_path / "sweep-baseline" / "seed3" / "metrics.json").read_text()
    again = sweep("--seeds", "3", "4", "--jobs", "2", "--root", str(tmp_path), *TINY).stdout
    assert "kept, finished with these settings: seeds 3 4" in again
    assert "2 runs, all kept: finished earlier in this folder with these settings. Made by" in again
    assert (tmp_path / "sweep-baseline" / "seed3" / "metrics.json").read_text() == before  # not trained again
    other = sweep("--seeds", "3", "--root", str(tmp_path), *TINY, "--param", "lr=0.05", "--clear").stdout
    assert "kept" not in other
    assert json.loads((tmp_path / "sweep-baseline" / "seed3" / "metrics.json").read_text())["config"]["lr"] == 0.05


def test_a_folder_with_other_runs_is_refused(tiny_sweep):
    refused = sweep("--seeds", "3", "--root", str(tiny_sweep.parent), *TINY, ok=False)
    assert "holds runs that this sweep would not make (seed4)" in refused.stderr and "--clear" in refused.stderr


@pytest.mark.parametrize("argument, message", [
    ("momentun=0.9", "--param momentun: not a setting a sweep can change"),
    ("seed=3", "--param seed: not a setting a sweep can change"),
    ("epochs=0", "epochs=0 is not allowed"),
    ("bf16=1", "bf16=1 is not allowed"),
])
def test_a_wrong_parameter_is_refused_before_anything_runs(tmp_path, argument, message):
    refused = sweep("--seeds", "1", "--root", str(tmp_path), "--param", argument, ok=False)
    assert message in refused.stderr and not any(tmp_path.iterdir())


def test_clear_trains_the_named_seeds_again(tiny_sweep, tmp_path):
    shutil.copytree(tiny_sweep, tmp_path / "sweep-baseline")
    metrics = tmp_path / "sweep-baseline" / "seed3" / "metrics.json"
    before = json.loads(metrics.read_text())["epoch_seconds"]
    again = sweep("--seeds", "3", "4", "--jobs", "2", "--root", str(tmp_path), *TINY, "--clear").stdout
    assert "kept" not in again and "cleared" in again
    assert json.loads(metrics.read_text())["epoch_seconds"] != before  # trained again


def test_a_run_is_kept_only_if_it_trained_with_the_same_compile_and_device(finished_run, saved_runs):
    run = finished_run([99.0, 99.5], seed=1, threads=1, device="cpu")
    metrics = saved_runs({"seed1": run}) / "seed1" / "metrics.json"
    cfg = TrainConfig(epochs=2, seed=1, threads=1, device="cpu")
    assert finished(metrics, cfg)
    assert not finished(metrics, TrainConfig(**{**cfg.to_dict(), "compile": True}))
    assert not finished(metrics, TrainConfig(**{**cfg.to_dict(), "threads": 2}))
    run.device = "cuda" if pick_device("cpu").type != "cuda" else "cpu"  # a record of another device than cfg's
    metrics.write_text(json.dumps(run.to_dict()))
    assert not finished(metrics, cfg)


def test_a_run_of_other_layers_is_not_kept(finished_run, saved_runs):
    """Same settings, but the network changed since (a dropout class, an eps), or the record predates layer lists:
    the run is stale."""
    run = finished_run([99.0, 99.5], seed=1, threads=1, device="cpu")
    metrics = saved_runs({"seed1": run}) / "seed1" / "metrics.json"
    cfg = TrainConfig(epochs=2, seed=1, threads=1, device="cpu")
    assert finished(metrics, cfg)
    for layers in ([line.replace("torch.nn.modules.dropout.Dropout", "utils.models.Dropout") for line in run.layers],
                   [line.replace("eps=1e-05", "eps=0.001") for line in run.layers], []):
        metrics.write_text(json.dumps({**run.to_dict(), "layers": layers}))
        assert not finished(metrics, cfg)


def interrupt_once_a_checkpoint_appears(args: list[str], root: Path) -> None:
    """Start the runner and kill it, its kernels too, once a run under `root` has written its first checkpoint."""
    runner = subprocess.Popen([sys.executable, "scripts/sweep.py", *args, "--root", str(root)], cwd=REPO,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while not list(root.glob("**/checkpoint.pt")):
        assert runner.poll() is None and time.monotonic() < deadline, "the runner ended before it was interrupted"
        time.sleep(0.1)
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    time.sleep(5)  # a kernel exits within a second or two of seeing its parent gone


def read(metrics: Path, key: str) -> list[float]:
    return json.loads(metrics.read_text())[key] if metrics.exists() else []


@pytest.mark.parametrize("args, folder", [
    (["--seeds", "1", "2", "--jobs", "1", "--param", "epochs=3", "--param", "data_fraction=0.03"], "sweep-baseline"),
    (["--table", "journey", "--only", "6-one-cycle", "--param", "epochs=2", "--param", "data_fraction=0.03"],
     "journey/6-one-cycle"),
], ids=["sweep", "journey"])
def test_an_interrupted_run_goes_on_where_it_stopped(tmp_path, args, folder):
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    interrupt_once_a_checkpoint_appears(args, stopped)
    metrics = sorted((stopped / folder).glob("seed*/checkpoint.pt"))[0].parent / "metrics.json"
    before = read(metrics, "epoch_seconds")
    assert len(before) < int(args[-3].removeprefix("epochs="))  # stopped before its last epoch
    assert "interrupted, to go on from the checkpoint" in sweep(*args, "--root", str(stopped)).stdout
    assert read(metrics, "epoch_seconds")[:len(before)] == before  # those epochs were not trained again
    sweep(*args, "--root", str(whole))
    assert ({p.parent.name: read(p, "test_accuracy") for p in (stopped / folder).glob("seed*/metrics.json")}
            == {p.parent.name: read(p, "test_accuracy") for p in (whole / folder).glob("seed*/metrics.json")})
