"""Execute the course notebooks in place, with their own defaults, through papermill: the run their committed
outputs come from. A training notebook's run is then copied from runs/ to results/, the course's own.

    python scripts/run_notebooks.py [notebooks/04_training.ipynb ...]
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import papermill as pm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.config import RESULTS, ROOT, TrainConfig  # noqa: E402
from utils.course import TRAINING_MODELS, clean_executed, course_notebooks, write_generated_cells  # noqa: E402

KEPT = ("metrics.json", "checkpoint.pt", "history.png")  # what results/<model>/ holds of a run


def main(paths: list[str]) -> None:
    # The training notebooks first, since notebook 2 reads the baseline's run; the others keep the course order.
    notebooks = sorted([Path(p).resolve() for p in paths] or course_notebooks(),
                       key=lambda path: path.name not in TRAINING_MODELS)
    for path in notebooks:
        model = TRAINING_MODELS.get(path.name)
        run_dir = ROOT / TrainConfig.recipe(model).run_dir if model else None
        if run_dir and run_dir.exists():  # the notebook would refuse or replace it
            aside = run_dir.with_name(f"{run_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}")
            run_dir.rename(aside)
            print(f"moved your earlier run {run_dir.relative_to(ROOT)} to {aside.relative_to(ROOT)}")
        print(f"executing {path.relative_to(ROOT)}", flush=True)
        write_generated_cells(path)
        pm.execute_notebook(str(path), str(path), kernel_name="python3", cwd=str(ROOT), progress_bar=False,
                            coalesce_streams=True)
        clean_executed(path)
        if run_dir:
            (RESULTS / run_dir.name).mkdir(exist_ok=True)
            for name in KEPT:
                shutil.copy2(run_dir / name, RESULTS / run_dir.name / name)


if __name__ == "__main__":
    main(sys.argv[1:])
