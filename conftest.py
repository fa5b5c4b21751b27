"""Repository-wide pytest set-up, also seen by the notebooks nbval runs (their kernels inherit it)."""
import os
import tempfile

# Notebook runs under test write to a scratch folder, never over the committed runs/.
os.environ.setdefault("MNIST_RUNS_DIR", tempfile.mkdtemp(prefix="mnist-runs-"))
os.environ.setdefault("MPLBACKEND", "Agg")
