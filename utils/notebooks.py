"""The course's notebooks as files: the cells generated from code, and clean executed copies."""
from __future__ import annotations

from pathlib import Path

import nbformat

from .config import TrainConfig, parameters_cell
from .course import SETUP_CELL, colab_badge

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BADGE_PREFIX = "[![Open In Colab]"

# Notebooks whose `parameters` cell lists every training setting, generated from these configs.
TRAINING_PARAMETERS = {
    "04_training.ipynb": TrainConfig(),
    # one CPU thread, as each run of a two-job sweep has, so that this run repeats the compact sweep's row
    "05_compact.ipynb": TrainConfig.recipe("compact", threads=1),
}


def course_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def generated_cells(path: Path) -> dict[str, str]:
    """What the generated cells of a notebook must hold: 'badge', 'setup' and, where it has one generated,
    'parameters'."""
    cells = {"badge": colab_badge(path.name), "setup": SETUP_CELL}
    if path.name in TRAINING_PARAMETERS:
        cells["parameters"] = parameters_cell(TRAINING_PARAMETERS[path.name])
    return cells


def _find(nb, role: str):
    """The cell that holds the badge, the set-up or the parameters."""
    if role == "badge":
        return nb.cells[0]
    if role == "setup":
        return next(c for c in nb.cells if c.cell_type == "code")
    return next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))


def _badge_line(cell) -> str:
    return next(line for line in cell.source.splitlines() if line.startswith(BADGE_PREFIX))


def stale_cells(path: Path) -> list[str]:
    """The generated cells of `path` that differ from what the code generates now."""
    nb = nbformat.read(path, as_version=4)
    stale = []
    for role, text in generated_cells(path).items():
        current = _badge_line(_find(nb, role)) if role == "badge" else _find(nb, role).source
        if current != text:
            stale.append(role)
    return stale


def write_generated_cells(path: Path) -> None:
    """Bring the generated cells of `path` up to date, leaving every other cell as it is."""
    nb = nbformat.read(path, as_version=4)
    for role, text in generated_cells(path).items():
        cell = _find(nb, role)
        cell.source = cell.source.replace(_badge_line(cell), text) if role == "badge" else text
    nbformat.write(nb, path)


def as_terminal_shows(text: str) -> str:
    """A stream's text as a terminal leaves it: each line ends as its last carriage return left it (progress
    bars that redraw themselves leave only their final state, or nothing if they erase themselves)."""
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return "\n".join(lines)


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
            if output.output_type == "stream":
                output.text = as_terminal_shows(output.text)
        cell.outputs = [o for o in cell.outputs if o.output_type != "stream" or o.text.strip()]
    nbformat.write(nb, path)
