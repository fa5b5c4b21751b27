"""Where the course lives and what Colab needs: the one home of the repository's URL, and of the notebooks'
set-up cell and Colab badge, which `make notebooks` writes into them (utils/notebooks.py)."""
from __future__ import annotations

import subprocess
import sys

from .config import ROOT

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
