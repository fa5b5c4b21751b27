"""The course's notebooks as files, and what Colab needs: the repository's URL, and the notebooks' set-up cell,
Colab badge and parameters cell, which `make notebooks` writes into them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

from .config import ROOT, parameters_cell

REPO_URL = "https://github.com/mnist-course/mnist-under-20k"
REPO_URL_VARIABLE = "COURSE_REPO_URL"  # set it to clone a fork or a local copy instead
BRANCH = "main"
CLONE_FOLDER = "mnist-under-20k"  # where Colab's set-up clones the course, beside the notebook
COLAB_MARKER = "COLAB_RELEASE_TAG"  # set in every Colab runtime
COLAB_LACKS = ("torchsummary",)  # of requirements.txt, all that a Colab runtime does not already have


def colab_badge(notebook: str) -> str:
    """Markdown for the 'Open in Colab' badge of notebooks/<notebook>."""
    path = REPO_URL.removeprefix("https://github.com/")
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path}/blob/{BRANCH}/notebooks/{notebook})")


def colab_requirements() -> list[str]:
    """The lines of requirements.txt (pins included) for the packages Colab lacks."""
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line and line.split("=")[0].split(">")[0].strip() in COLAB_LACKS]


def install_colab_requirements() -> None:
    """pip-install what Colab lacks, and nothing else."""
    wanted = colab_requirements()
    print(f"installing what Colab lacks: {' '.join(wanted)}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *wanted], check=True)


SETUP_CELL = f'''\
# Set-up: make the course's `utils` importable, in Jupyter, papermill, nbval, or Colab (where the course is
# cloned first, once). Generated from utils/course.py; set {REPO_URL_VARIABLE} to clone another copy.
import os
import subprocess
import sys
from pathlib import Path

on_colab = "{COLAB_MARKER}" in os.environ
root = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "utils" / "course.py").exists()), None)
if root is None and on_colab:
    root = Path("{CLONE_FOLDER}").resolve()
    if not root.exists():
        url = os.environ.get("{REPO_URL_VARIABLE}", "{REPO_URL}")
        subprocess.run(["git", "clone", "--depth", "1", url, str(root)], check=True)
    sys.path.insert(0, str(root))
    from utils.course import install_colab_requirements
    install_colab_requirements()
if root is None:
    raise RuntimeError("Cannot find the course's utils/ package: open this notebook from a clone of the repository.")
os.chdir(root)
sys.path.insert(0, str(root))'''


NOTEBOOKS = ROOT / "notebooks"
BADGE_PREFIX = "[![Open In Colab]"

TRAINING_MODELS = {"04_training.ipynb": "baseline", "05_compact.ipynb": "compact"}  # their parameters generated


def course_notebooks() -> list[Path]:
    """The course's notebooks, in order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def generated_parts(nb, name: str) -> list[tuple[nbformat.NotebookNode, str, str]]:
    """(cell, the part of it generated, what the code generates now) for notebook `name`: its Colab badge line,
    its set-up cell and, where it has one generated, its parameters cell."""
    badge, setup = nb.cells[0], next(c for c in nb.cells if c.cell_type == "code")
    parts = [(badge, next(line for line in badge.source.splitlines() if line.startswith(BADGE_PREFIX)),
              colab_badge(name)), (setup, setup.source, SETUP_CELL)]
    if name in TRAINING_MODELS:
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        parts.append((cell, cell.source, parameters_cell(TRAINING_MODELS[name])))
    return parts


def stale_cells(path: Path) -> list[str]:
    """The first lines of the generated parts of `path` that differ from what the code generates now."""
    nb = nbformat.read(path, as_version=4)
    return [now.split("\n")[0] for _, now, wanted in generated_parts(nb, path.name) if now != wanted]


def write_generated_cells(path: Path) -> None:
    """Bring the generated parts of `path` up to date and drop any cell papermill injected; nothing else changes."""
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    for cell, now, wanted in generated_parts(nb, path.name):
        cell.source = wanted if now == cell.source else cell.source.replace(now, wanted)
    nbformat.write(nb, path)


def clean_executed(path: Path) -> None:
    """Drop what ties an executed notebook to the machine that ran it (papermill's absolute paths) and what a
    reader should not see: progress-bar residue and the empty output boxes it leaves."""
    nb = nbformat.read(path, as_version=4)
    papermill = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if papermill.get(key):
            papermill[key] = Path(papermill[key]).name
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if output.output_type == "stream":  # as a terminal leaves it: a progress bar's last state, or nothing
                output.text = "\n".join(line.rsplit("\r", 1)[-1] for line in output.text.split("\n"))
        cell.outputs = [o for o in cell.outputs if o.output_type != "stream" or o.text.strip()]
    nbformat.write(nb, path)
