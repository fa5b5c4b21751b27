import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
