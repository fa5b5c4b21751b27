"""Execute the course notebooks in place with their default parameters, through papermill.

    python scripts/run_notebooks.py [notebooks/04_training.ipynb ...]

Streams are coalesced (as in a live Jupyter display), so a progress bar that erases itself leaves
only the per-epoch lines in the saved notebook instead of hundreds of partial bars.
"""
from __future__ import annotations

import sys
from pathlib import Path

import papermill as pm

ROOT = Path(__file__).resolve().parents[1]


def main(paths: list[str]) -> None:
    notebooks = [Path(p).resolve() for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        print(f"executing {path.relative_to(ROOT)}", flush=True)
        pm.execute_notebook(str(path), str(path), kernel_name="python3", cwd=str(path.parent),
                            coalesce_streams=True, progress_bar=False)


if __name__ == "__main__":
    main(sys.argv[1:])
