"""Execute the course notebooks in place through papermill: the run their committed outputs come from.

    python scripts/run_notebooks.py [notebooks/04_training.ipynb ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

import papermill as pm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.config import RESULTS, ROOT  # noqa: E402
from utils.notebooks import TRAINING_PARAMETERS, clean_executed, course_notebooks, write_generated_cells  # noqa: E402


def main(paths: list[str]) -> None:
    # The training notebooks first, since notebook 2 reads the baseline's run; the others keep the course order.
    notebooks = sorted([Path(p).resolve() for p in paths] or course_notebooks(),
                       key=lambda path: path.name not in TRAINING_PARAMETERS)
    for path in notebooks:
        print(f"executing {path.relative_to(ROOT)}", flush=True)
        write_generated_cells(path)
        parameters = {"runs_dir": RESULTS.name} if path.name in TRAINING_PARAMETERS else {}
        pm.execute_notebook(str(path), str(path), parameters=parameters, kernel_name="python3", cwd=str(ROOT),
                            progress_bar=False, coalesce_streams=True)
        clean_executed(path)


if __name__ == "__main__":
    main(sys.argv[1:])
