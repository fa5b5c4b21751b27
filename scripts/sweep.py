"""Run the training notebook once per seed through papermill and summarise the runs.

    python scripts/sweep.py --model baseline --seeds 1 2 3 4 5 [--jobs 2] [--epochs 7]

Each run is its own kernel process; its executed notebook, metrics.json and curves stay in
runs/sweep-<model>/seed<N>/. The summary goes to runs/sweep-<model>/: results.md, results.csv and
accuracy.png. With --jobs 2 two runs share the machine, each with half of the CPU threads.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import papermill as pm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from utils.sweep import plot_sweep, sweep_markdown, sweep_rows, write_sweep_csv  # noqa: E402

TRAINING = ROOT / "notebooks" / "04_training.ipynb"


def _limit_threads(threads: int) -> None:
    """Runs in each worker; the kernels it starts inherit the limit."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)


def run_one(seed: int, out: Path, parameters: dict) -> Path:
    """Execute the training notebook for one seed; returns its metrics.json."""
    run_dir = out / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    params = {**parameters, "seed": seed, "run_name": f"seed{seed}", "runs_dir": str(out), "check_target": False}
    pm.execute_notebook(str(TRAINING), str(run_dir / "notebook.ipynb"), parameters=params, kernel_name="python3",
                        cwd=str(TRAINING.parent), coalesce_streams=True, progress_bar=False)
    return run_dir / "metrics.json"


def summarise(out: Path) -> str:
    """Write results.md, results.csv and accuracy.png for the runs in `out`; return the markdown."""
    rows = sweep_rows(sorted(out.glob("seed*/metrics.json")))
    if not rows:
        raise SystemExit(f"No runs in {out}.")
    table = sweep_markdown(rows)
    (out / "results.md").write_text(table + "\n")
    write_sweep_csv(rows, out / "results.csv")
    plot_sweep(rows).savefig(out / "accuracy.png", dpi=100, bbox_inches="tight")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="baseline")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each gets cores / jobs threads)")
    parser.add_argument("--epochs", type=int, help="default: the notebook's")
    parser.add_argument("--data-fraction", type=float, help="default: the notebook's (all training images)")
    parser.add_argument("--out", type=Path, help="default: runs/sweep-<model>")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    out = (args.out or ROOT / "runs" / f"sweep-{args.model}").resolve()
    parameters = {"model": args.model}
    if args.epochs is not None:
        parameters["epochs"] = args.epochs
    if args.data_fraction is not None:
        parameters["data_fraction"] = args.data_fraction
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    began = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, initializer=_limit_threads, initargs=(threads,)) as pool:
        for path in pool.map(run_one, args.seeds, [out] * len(args.seeds), [parameters] * len(args.seeds)):
            print(f"done: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)
    print(summarise(out))
    print(f"\n{len(args.seeds)} runs, {args.jobs} at a time with {threads} threads each: "
          f"{time.perf_counter() - began:.0f} s wall time. Results in {out}.")


if __name__ == "__main__":
    main()
