"""The course's notebooks as files: the cells generated from code, and clean executed copies."""
from __future__ import annotations

from pathlib import Path

import nbformat

from .config import ROOT, parameters_cell
from .course import SETUP_CELL, colab_badge

NOTEBOOKS = ROOT / "notebooks"
BADGE_PREFIX = "[![Open In Colab]"

TRAINING_MODELS = {"04_training.ipynb": "baseline", "05_compact.ipynb": "compact"}  # their parameters generated


def course_notebooks() -> list[Path]:
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
