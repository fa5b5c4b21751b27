import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from utils.config import LEARNER_SETTINGS, TrainConfig
from utils.course import (
    CLONE_FOLDER,
    COLAB_MARKER,
    REPO_URL_VARIABLE,
    SETUP_CELL,
    TRAINING_MODELS,
    colab_requirements,
    course_notebooks,
    stale_cells,
)

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = course_notebooks()
TRAINING = REPO / "notebooks" / "04_training.ipynb"
TINY = dict(epochs=1, data_fraction=0.02, run_name="tiny", progress=False)


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
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells), "papermill's -p cell"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not run top to bottom in one go"
    assert all(o.output_type != "error" for c in code for o in c.outputs)
    assert sum(len(c.outputs) for c in code) >= 3, "committed without outputs"
    streams = [(c.source[:40], o) for c in code for o in c.outputs if o.output_type == "stream"]
    assert not [cell for cell, o in streams if not o.text.strip()], "empty output boxes"
    assert not [cell for cell, o in streams if "\r" in o.text], "progress-bar residue (carriage returns)"
    assert not [cell for cell, o in streams if any(line.startswith("Note:") for line in o.text.splitlines())], \
        "a library's stray 'Note:' line"
    assert not [cell for cell, o in streams if o.name == "stderr"], "warnings or logs on stderr in the committed run"
    papermill = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        assert not Path(papermill.get(key) or "x").is_absolute(), f"{key} is an absolute path"
    assert str(REPO) not in json.dumps(nb), "the notebook names a folder of the machine that ran it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_ends_with_what_was_learned_and_exercises_with_measured_answers(path):
    cells = nbformat.read(path, as_version=4).cells
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    learned = text.split("## What we learned", 1)[1].split("##", 1)[0]
    assert 3 <= sum(line.startswith("- ") for line in learned.splitlines()) <= 5
    exercises = text.split("## Exercises", 1)[1]
    count = sum(line[:2] in {f"{i}." for i in range(1, 10)} for line in exercises.splitlines())
    assert 2 <= count <= 4
    last = cells[-1]
    assert last.cell_type == "code", "the answers are computed in the last cell"
    shown = "".join(o.get("data", {}).get("text/markdown", "") for o in last.outputs)
    assert shown.count("<details><summary>Answer") == count


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_generated_cells_are_current(path):
    """The badge, the set-up cell and the training parameters come from utils/; `make notebooks` writes them."""
    assert stale_cells(path) == [], "run `make notebooks` (or utils.course.write_generated_cells)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_hold_no_test_plumbing(path):
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    for word in ("MNIST_RUNS_DIR", "PYTEST", "smoke", "os.environ.get"):
        assert word not in source.replace(f'os.environ.get("{REPO_URL_VARIABLE}"', ""), word


def test_training_notebooks_list_the_learners_settings_and_train_their_models_recipe():
    for name, model in TRAINING_MODELS.items():
        params = pm.inspect_notebook(str(REPO / "notebooks" / name))
        assert set(params) == set(LEARNER_SETTINGS) and len(params) <= 14
        assert TrainConfig.from_parameters({k: eval(p["default"]) for k, p in params.items()}) == \
            TrainConfig.recipe(model)


def test_a_users_run_never_touches_tracked_files():
    """The notebooks' and `make train`'s default run folder is git-ignored; the course's runs are in results/."""
    for model in TRAINING_MODELS.values():
        metrics = TrainConfig.recipe(model).metrics_file
        ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", str(metrics)], cwd=REPO)
        assert ignored.returncode == 0, f"{metrics} would be a tracked file"
    assert TrainConfig().runs_dir == "runs"


def test_one_recipe_however_a_run_starts(tmp_path):
    """`-p model compact` through papermill records the settings that `--model compact` does on the command line."""
    short = dict(epochs=1, data_fraction=0.02, progress=False)
    (tmp_path / "notebook").mkdir()
    run_training(tmp_path / "notebook", model="compact", run_name="c", **short)
    subprocess.run([sys.executable, "scripts/train.py", "--model", "compact", "--epochs", "1", "--data-fraction",
                    "0.02", "--progress", "false", "--run-name", "c", "--runs-dir", str(tmp_path / "cli" / "runs")],
                   cwd=REPO, check=True, capture_output=True)
    notebook, cli = (json.loads((tmp_path / where / "runs" / "c" / "metrics.json").read_text())["config"]
                     for where in ("notebook", "cli"))
    assert notebook["lr"] == cli["lr"] == TrainConfig.recipe("compact").lr
    assert {k: v for k, v in notebook.items() if k != "runs_dir"} == {k: v for k, v in cli.items() if k != "runs_dir"}


def test_running_any_notebook_with_its_defaults_leaves_the_repository_as_it_was(tmp_path):
    """As a learner would in Jupyter: only shorter training through the parameters, the output folders untouched."""
    repo = snapshot_repository(tmp_path / "repo")
    brief = dict(epochs=1, data_fraction=0.02)
    short = {"04_training.ipynb": brief, "05_compact.ipynb": brief, "02_architecture.ipynb": dict(data_fraction=0.02),
             "08_speed.ipynb": dict(images=256, repeats=1, models=["baseline"])}  # a short live measurement
    for path in NOTEBOOKS:
        pm.execute_notebook(str(repo / "notebooks" / path.name), str(tmp_path / path.name), kernel_name="python3",
                            parameters=short.get(path.name, {}), progress_bar=False, cwd=str(repo / "notebooks"))
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert status == "", status


def test_papermill_run_with_tiny_parameters_writes_its_metrics(tmp_path):
    run_training(tmp_path, seed=7, **TINY)
    metrics = json.loads((tmp_path / "runs" / "tiny" / "metrics.json").read_text())
    assert (metrics["config"]["epochs"], metrics["seed"], metrics["model"]) == (1, 7, "baseline")
    assert len(metrics["test_accuracy"]) == 1 and metrics["test_accuracy"][-1] > 20  # chance is 10%
    assert (tmp_path / "runs" / "tiny" / "history.png").stat().st_size > 10_000
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    verdict = next(c for c in out.cells if "print(target_verdict(run" in c.source)
    assert "not enforced" in "".join(o.get("text", "") for o in verdict.outputs)


@pytest.mark.parametrize("setting, value, message", [
    ("model", "resnet", "model='resnet' is not allowed: model must be one of ['baseline'"),
    ("epochs", 0, "epochs=0 is not allowed: epochs must be an integer >= 1"),
    ("check_target", 1, "check_target=1 is not allowed"),
])
def test_a_wrong_parameter_fails_in_the_first_cells(tmp_path, setting, value, message):
    with pytest.raises(pm.PapermillExecutionError) as failure:
        run_training(tmp_path, **{**TINY, setting: value})
    assert failure.value.ename == "ConfigError" and message in failure.value.evalue
    assert failure.value.exec_count <= 4  # set-up, parameters, injected parameters, the config
    assert not (tmp_path / "runs").exists()


def snapshot_repository(target: Path) -> Path:
    """A git repository holding the working tree's files as they are now (committed or not)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], cwd=target, check=True)
    return target


def test_colab_set_up_clones_once_installs_only_what_colab_lacks_and_the_notebook_runs(tmp_path, monkeypatch):
    """Play Colab: the notebook alone in an empty folder, Colab's marker set, the URL pointing at a local copy."""
    source = snapshot_repository(tmp_path / "source")
    colab = tmp_path / "content"
    colab.mkdir()
    nb = nbformat.read(REPO / "notebooks" / "01_data.ipynb", as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(SETUP_CELL))  # the student runs the set-up again
    nbformat.write(nb, colab / "01_data.ipynb")
    monkeypatch.setenv(COLAB_MARKER, "release-for-the-test")
    monkeypatch.setenv(REPO_URL_VARIABLE, str(source))
    out = pm.execute_notebook(str(colab / "01_data.ipynb"), str(colab / "out.ipynb"), kernel_name="python3",
                              cwd=str(colab), progress_bar=False)
    code = [c for c in out.cells if c.cell_type == "code"]
    first, second = ("".join(o.get("text", "") for o in cell.outputs) for cell in code[:2])
    assert f"installing what Colab lacks: {' '.join(colab_requirements())}" in first
    assert colab_requirements() == ["torchsummary==1.5.1"]
    assert "installing" not in second
    clone = colab / CLONE_FOLDER
    assert (clone / "utils").is_dir() and not (clone / CLONE_FOLDER).exists()
    assert all(o.output_type != "error" for c in code for o in c.outputs)
