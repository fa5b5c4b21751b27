"""Run the training notebook once per seed through papermill and summarise the runs.

    python scripts/sweep.py --model baseline --seeds 1 2 3 4 5 [--jobs 2] [--epochs 7] [--param NAME=VALUE ...]
                            [--name sweep-baseline-bf16]

Each run is its own kernel process; its executed notebook, metrics.json and curves stay in
runs/<name>/seed<N>/ (the name defaults to sweep-<model>). The summary goes to runs/<name>/: results.md,
results.csv and accuracy.png. With --jobs 2 two runs share the machine, each with half of the CPU threads.
"""
from __future__ import annotations

import argparse
import ast
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


def summarise(out: Path, footer: str = "") -> str:
    """Write results.md, results.csv and accuracy.png for the runs in `out`; return the markdown."""
    rows = sweep_rows(sorted(out.glob("seed*/metrics.json")))
    if not rows:
        raise SystemExit(f"No runs in {out}.")
    table = sweep_markdown(rows) + footer
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
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="any other parameter of the training notebook, e.g. --param batch_size=64")
    parser.add_argument("--name", help="folder under runs/; default: sweep-<model>")
    parser.add_argument("--out", type=Path, help="any folder instead of runs/<name>")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    out = (args.out or ROOT / "runs" / (args.name or f"sweep-{args.model}")).resolve()
    parameters = {"model": args.model}
    if args.epochs is not None:
        parameters["epochs"] = args.epochs
    if args.data_fraction is not None:
        parameters["data_fraction"] = args.data_fraction
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param {item!r} is not NAME=VALUE")
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parameters[name] = value  # a plain string
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    began = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, initializer=_limit_threads, initargs=(threads,)) as pool:
        for path in pool.map(run_one, args.seeds, [out] * len(args.seeds), [parameters] * len(args.seeds)):
            print(f"done: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)
    settings = ", ".join(f"{k}={v!r}" for k, v in parameters.items())
    footer = (f" Settings: {settings}, the notebook's defaults otherwise. {len(args.seeds)} runs, {args.jobs} at a "
              f"time with {threads} CPU thread{'s' * (threads > 1)} each: {time.perf_counter() - began:.0f} s wall "
              "time in all.")
    print(summarise(out, footer))
    print(f"Results in {out}.")


if __name__ == "__main__":
    main()
