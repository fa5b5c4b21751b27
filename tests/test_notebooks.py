import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from utils.config import config_defaults

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
TRAINING = next(p for p in NOTEBOOKS if "training" in p.name)
TINY = dict(epochs=2, data_fraction=0.05, run_name="tiny")


def run_training(tmp_path, **parameters):
    return pm.execute_notebook(str(TRAINING), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               parameters={"runs_dir": str(tmp_path / "runs"), **parameters}, progress_bar=False)


def test_the_course_has_its_notebooks_in_order():
    assert [p.name[:3] for p in NOTEBOOKS] == [f"{i:02d}_" for i in range(1, len(NOTEBOOKS) + 1)]
    assert len(NOTEBOOKS) >= 6  # data, architecture, augmentation, training, compact model, sweeps


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_a_clean_in_order_run(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "colab.research.google.com" in nb.cells[0].source
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not run top to bottom in one go"
    assert all(o.output_type != "error" for c in code for o in c.outputs)
    assert sum(len(c.outputs) for c in code) >= 3, "committed without outputs"


def test_training_notebook_defaults_are_the_training_defaults():
    params = pm.inspect_notebook(str(TRAINING))
    defaults = config_defaults()
    for name in ("model", "epochs", "batch_size", "lr", "seed", "device", "bf16", "data_fraction", "augment", "augment_strength",
                 "run_name", "metrics_path", "resume"):
        assert eval(params[name]["default"]) == defaults[name], name


def test_papermill_run_with_tiny_parameters_writes_its_metrics(tmp_path):
    run_training(tmp_path, seed=7, **TINY)
    metrics = json.loads((tmp_path / "runs" / "tiny" / "metrics.json").read_text())
    assert (metrics["epochs"], metrics["seed"], metrics["model"]) == (2, 7, "baseline")
    assert len(metrics["test_accuracy"]) == 2 and metrics["test_accuracy"][-1] > 80
    assert (tmp_path / "runs" / "tiny" / "history.png").stat().st_size > 10_000
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert "not enforced" in "".join(o.get("text", "") for o in out.cells[-1].outputs)


@pytest.mark.parametrize("setting, value, message", [
    ("model", "resnet", "model='resnet' is not allowed: model must be one of ['baseline'"),
    ("epochs", 0, "epochs=0 is not allowed: epochs must be an integer >= 1"),
    ("batch_size", 12.5, "batch_size=12.5 is not allowed: batch_size must be an integer >= 1"),
])
def test_a_wrong_parameter_fails_in_the_first_cells(tmp_path, setting, value, message):
    with pytest.raises(pm.PapermillExecutionError) as failure:
        run_training(tmp_path, **{**TINY, setting: value})
    assert failure.value.ename == "ConfigError" and message in failure.value.evalue
    assert failure.value.exec_count <= 4  # set-up, parameters, injected parameters, validation
    assert not (tmp_path / "runs").exists()
