"""Run the training notebook once per seed through papermill and summarise exactly those runs.

    python scripts/sweep.py --model compact --seeds 1 2 3 4 5 [--jobs 2] [--param NAME=VALUE ...]
                            [--name sweep-compact] [--root runs] [--clear]

The model's course recipe (utils.config.RECIPES) gives the settings that --param does not. Each run is its
own kernel process; its executed notebook, metrics.json and curves stay in <root>/<name>/seed<N>/ (the name
defaults to sweep-<model>, the root to runs/, which git ignores; the course's own sweeps are in results/).
The summary goes beside them: results.md, results.csv and accuracy.png. With --jobs 2 two runs share the
machine, each with half of the CPU threads. A seed whose run in the folder is finished, with the same settings
and thread count, is kept, not trained again: an interrupted sweep, started again, goes on where it stopped.
(Only settings are compared: after changing the code, use --clear or a new --name to train afresh.)
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

import papermill as pm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from utils.config import ConfigError, TrainConfig, changed_settings, field_names, resume_fields  # noqa: E402
from utils.notebooks import NOTEBOOKS, clean_executed  # noqa: E402
from utils.results import RunRecord, load_runs  # noqa: E402
from utils.sweep import plot_sweep, sweep_markdown, write_sweep_csv  # noqa: E402

TRAINING = NOTEBOOKS / "04_training.ipynb"
SET_BY_THE_SWEEP = ("seed", "run_name", "runs_dir", "metrics_path", "threads", "check_target", "progress", "resume")


def shown(path: Path) -> str:
    """`path` relative to the repository where it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _limit_threads(threads: int) -> None:
    """Runs in each worker; the kernels it starts inherit the limit."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)


def finished(metrics: Path, cfg: TrainConfig) -> bool:
    """Whether `metrics` records a complete run of `cfg`: every epoch, the same settings and thread count."""
    if not metrics.exists():
        return False
    run = RunRecord.load(metrics)
    done = TrainConfig(**{k: v for k, v in run.config.items() if k in field_names()}).to_dict()
    wanted = cfg.to_dict()
    return run.epochs == cfg.epochs and all(done[k] == wanted[k] for k in [*resume_fields(), "threads"])


def threads_per_job(jobs: int) -> int:
    """CPU threads for each of `jobs` runs at once: the cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // jobs)


def run_one(seed: int, out: Path, parameters: dict) -> Path:
    """Execute the training notebook for one seed; returns its metrics.json."""
    run_dir = out / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    params = {**parameters, "seed": seed, "run_name": run_dir.name, "runs_dir": shown(out)}
    notebook = run_dir / "notebook.ipynb"
    pm.execute_notebook(str(TRAINING), str(notebook), parameters=params, kernel_name="python3", cwd=str(ROOT),
                        progress_bar=False)
    clean_executed(notebook)
    return run_dir / "metrics.json"


def parse_parameters(items: list[str], parser: argparse.ArgumentParser) -> dict:
    """NAME=VALUE pairs as Python values; only training settings the sweep does not set itself."""
    parameters = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param {item!r} is not NAME=VALUE")
        if name not in field_names() or name in SET_BY_THE_SWEEP:
            allowed = [n for n in field_names() if n not in SET_BY_THE_SWEEP]
            parser.error(f"--param {name}: not a setting a sweep can change; those are {', '.join(allowed)}")
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parameters[name] = value  # a plain string
    return parameters


def other_runs(out: Path, seeds: list[int]) -> list[str]:
    """Run folders in `out` that this sweep would not write."""
    ours = {f"seed{s}" for s in seeds}
    return sorted(p.parent.name for p in out.glob("*/metrics.json") if p.parent.name not in ours)


def summarise(out: Path, seeds: list[int], footer: str = "") -> str:
    """Write results.md, results.csv and accuracy.png for this sweep's runs in `out`; return the markdown."""
    runs = load_runs([out / f"seed{s}" / "metrics.json" for s in seeds])
    table = sweep_markdown(runs) + footer
    (out / "results.md").write_text(table + "\n")
    write_sweep_csv(runs, out / "results.csv")
    plot_sweep(runs).savefig(out / "accuracy.png", dpi=100, bbox_inches="tight")
    return table


def settings_text(record: RunRecord) -> str:
    """The settings a run trained with, where they differ from TrainConfig's defaults, read from its record."""
    config = {k: v for k, v in record.config.items() if k in field_names()}
    changed = changed_settings(TrainConfig(**config))
    return ", ".join(f"{k}={v!r}" for k, v in changed.items() if k not in SET_BY_THE_SWEEP or k == "threads")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="baseline")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each gets cores / jobs threads)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a training setting, e.g. --param epochs=3 --param bf16=True")
    parser.add_argument("--name", help="folder under the root; default: sweep-<model>")
    parser.add_argument("--root", type=Path, default=ROOT / "runs", help="default: runs/ (ignored by git)")
    parser.add_argument("--clear", action="store_true", help="delete runs of other seeds in the folder first")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds lists a seed twice")

    threads = threads_per_job(args.jobs)
    try:  # every setting is checked before anything runs
        cfg = TrainConfig.recipe(args.model, **parse_parameters(args.param, parser), threads=threads,
                                 check_target=False, progress=False)
        for seed in args.seeds:
            TrainConfig(**{**cfg.to_dict(), "seed": seed})
    except ConfigError as err:
        parser.error(str(err))
    out = (args.root / (args.name or f"sweep-{args.model}")).resolve()
    others = other_runs(out, args.seeds)
    if others and not args.clear:
        parser.error(f"{shown(out)} holds runs that this sweep would not make ({', '.join(others)}); its summary "
                     "would mix them in. Choose another --name, or add --clear to delete them.")
    if others:
        shutil.rmtree(out)
        print(f"cleared {shown(out)} ({', '.join(others)})")

    parameters = changed_settings(cfg)  # the training notebook's defaults are TrainConfig's
    began = time.perf_counter()
    print(f"{len(args.seeds)} runs of {args.model} into {shown(out)}, {args.jobs} at a time with {threads} "
          f"thread{'s' * (threads > 1)} each", flush=True)
    kept = [s for s in args.seeds if finished(out / f"seed{s}" / "metrics.json", replace(cfg, seed=s))]
    if kept:
        print(f"kept, finished with these settings: seed{'s' * (len(kept) > 1)} {' '.join(map(str, kept))}")
    todo = [s for s in args.seeds if s not in kept]
    with ProcessPoolExecutor(args.jobs, initializer=_limit_threads, initargs=(threads,)) as pool:
        seeds = {pool.submit(run_one, seed, out, parameters): seed for seed in todo}
        for done, future in enumerate(as_completed(seeds), start=1):
            seed = seeds[future]
            run = RunRecord.load(future.result())
            elapsed = time.perf_counter() - began
            left = len(todo) - done
            eta = elapsed / done * left if left else 0  # runs finish at a steady rate once every job is busy
            print(f"seed {seed}: final {run.final_test_accuracy:.2f}% (best {run.best_test_accuracy:.2f}%), "
                  f"{run.total_seconds:.0f} s of training; {done} of {len(todo)} done, "
                  f"about {eta / 60:.0f} min left", flush=True)
    run = RunRecord.load(out / f"seed{args.seeds[0]}" / "metrics.json")
    command = f"python scripts/sweep.py {' '.join(argv if argv is not None else sys.argv[1:])}"
    why_kept = "finished earlier in this folder with these settings"
    if not todo:  # a summary of earlier runs (a renamed folder, a changed command): no wall time to report
        made = f"{len(args.seeds)} runs, all kept: {why_kept}"
    else:
        kept_text = f" ({len(kept)} of them kept: {why_kept})" if kept else ""
        made = (f"{len(args.seeds)} runs{kept_text}, {args.jobs} at a time: {time.perf_counter() - began:.0f} s wall "
                "time in all")
    footer = (f" Settings: {settings_text(run)}; TrainConfig's defaults otherwise. {made}. Made by `{command}`.")
    print(summarise(out, args.seeds, footer))
    print(f"Results in {shown(out)}.")


if __name__ == "__main__":
    main()
