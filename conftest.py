"""Repository-wide pytest set-up: the notebooks run under nbval with parameters the tests give them.

Each course notebook is run from a copy in build/nbval/ into which papermill has written the parameters
below (as `papermill -p` would), so that the training notebooks train briefly into a scratch folder and
the notebooks themselves hold no test plumbing. Outputs are compared only in cells tagged
`nbval-check-output` (nbval's --nbval-lax behaviour).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

try:
    import papermill as pm
    import py
    from nbval.plugin import IPyNbFile
except ImportError:  # a machine without the notebook tools (a bare GPU box): the unit tests still run
    pm = IPyNbFile = None

ROOT = Path(__file__).resolve().parent
PREPARED = ROOT / "build" / "nbval"
SCRATCH = Path(tempfile.mkdtemp(prefix="mnist-test-runs-"))
BRIEF_TRAINING = dict(epochs=1, data_fraction=0.02, progress=False, runs_dir=str(SCRATCH))
NOTEBOOK_PARAMETERS = {  # by notebook file name; notebooks not named here run with their defaults
    "02_architecture.ipynb": dict(data_fraction=0.02, runs_dir=str(SCRATCH)),
    "04_training.ipynb": BRIEF_TRAINING,
    "05_compact.ipynb": BRIEF_TRAINING,
    "08_speed.ipynb": dict(images=256, repeats=1, models=["baseline"]),  # a short live measurement
}


class PreparedNotebook(IPyNbFile or object):
    """nbval's notebook collector for a course notebook, run from its prepared copy and checking outputs
    only where a cell asks for it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.compare_outputs = False
        self.prepared = prepared_copy(self.path)

    @property
    def fspath(self):  # nbval reads the notebook from here and starts its kernel in this folder
        return py.path.local(self.prepared)


def prepared_copy(path: Path) -> Path:
    """`path` with its test parameters injected, in build/nbval/, where its set-up still finds utils/."""
    PREPARED.mkdir(parents=True, exist_ok=True)
    copy = PREPARED / path.name
    pm.execute_notebook(str(path), str(copy), parameters=NOTEBOOK_PARAMETERS.get(path.name, {}),
                        prepare_only=True, progress_bar=False)
    return copy


def pytest_collect_file(file_path: Path, parent):
    if pm and file_path.suffix == ".ipynb" and file_path.parent == ROOT / "notebooks":
        return PreparedNotebook.from_parent(parent, path=file_path)
    return None


def pytest_unconfigure(config):
    shutil.rmtree(SCRATCH, ignore_errors=True)

