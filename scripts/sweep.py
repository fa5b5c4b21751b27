"""Run experiments: the training notebook once per (experiment, seed) through papermill, then their summaries.

    python scripts/sweep.py --model compact --seeds 1 2 3 4 5 [--jobs 2] [--param NAME=VALUE ...]
                            [--name sweep-compact] [--root runs] [--clear]
    python scripts/sweep.py --table journey [--only 1-plain ...] [--jobs 2] [--root results] [--param ...]
    python scripts/sweep.py --table exercises [--only no-augment ...]

A sweep trains the model's recipe with --param on top into <root>/<name>/seed<N>/. A run finished with the same
settings is kept and an interrupted one resumes, so a stopped sweep goes on where it stopped; --clear starts afresh.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import matplotlib.pyplot as plt
import papermill as pm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis import plot_sweep, sweep_markdown, write_sweep_csv  # noqa: E402
from utils.config import RESULTS, ROOT, ConfigError, TrainConfig, changed_settings, field_names, shown  # noqa: E402
from utils.course import NOTEBOOKS, clean_executed  # noqa: E402
from utils.experiments import (  # noqa: E402
    JOURNEY_DIR,
    TABLES,
    Experiment,
    finished,
    sweep_name,
    to_run,
    write_journey_summary,
)
from utils.machine import pick_device  # noqa: E402
from utils.results import RunRecord, load_runs  # noqa: E402

TRAINING = NOTEBOOKS / "04_training.ipynb"
SET_BY_THE_RUNNER = ("seed", "run_name", "runs_dir", "metrics_path", "threads", "check_target", "progress", "resume")
WHY_KEPT = "finished earlier in this folder with these settings"
Job = tuple[str, int]  # (experiment name, seed)


def limit_threads(threads: int) -> None:
    """Runs in each worker, whose kernels inherit the limit."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)


def run_one(run_dir: Path, cfg: TrainConfig) -> Path:
    """Execute the training notebook with `cfg` into `run_dir` and check that it trained `cfg`; returns metrics.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    # every setting, not only those off TrainConfig's defaults: the notebook's None takes the model's recipe
    params = {**cfg.to_dict(), "run_name": run_dir.name, "runs_dir": shown(run_dir.parent)}
    notebook = run_dir / "notebook.ipynb"
    pm.execute_notebook(str(TRAINING), str(notebook), parameters=params, kernel_name="python3", cwd=str(ROOT),
                        progress_bar=False)
    clean_executed(notebook)
    if not finished(run_dir / "metrics.json", cfg):
        raise RuntimeError(f"{run_dir} did not train the settings it was given; see {notebook}.")
    return run_dir / "metrics.json"


def parse_parameters(items: list[str], parser: argparse.ArgumentParser) -> dict:
    """NAME=VALUE pairs as Python values; only training settings the runner does not set itself."""
    parameters = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param {item!r} is not NAME=VALUE")
        if name not in field_names() or name in SET_BY_THE_RUNNER:
            allowed = [n for n in field_names() if n not in SET_BY_THE_RUNNER]
            parser.error(f"--param {name}: not a setting a sweep can change; those are {', '.join(allowed)}")
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parameters[name] = value  # a plain string
    return parameters


def chosen_experiments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Experiment]:
    """The experiments the command line names: some of a table's, or one sweep."""
    if not args.table:
        seeds, model = args.seeds or [1, 2, 3, 4, 5], args.model or "baseline"
        if args.only:
            parser.error("--only picks experiments of a --table")
        if len(set(seeds)) != len(seeds):
            parser.error("--seeds lists a seed twice")
        return [Experiment(args.name or sweep_name(model), model, seeds=tuple(seeds))]
    if args.model or args.seeds or args.name:
        parser.error(f"--model, --seeds and --name make a sweep; the {args.table} table has its own")
    table = TABLES[args.table]
    unknown = [name for name in args.only or [] if name not in table]
    if unknown:
        parser.error(f"--only {' '.join(unknown)}: not in the {args.table} table; it has {', '.join(table)}")
    return [table[name] for name in args.only or table]


def checked_configs(chosen: list[Experiment], overrides: dict, parser: argparse.ArgumentParser
                    ) -> dict[Job, TrainConfig]:
    """Every run's settings, each checked (its device too) before anything runs."""
    try:
        configs = {(e.name, seed): e.config(seed, **overrides) for e in chosen for seed in e.seeds}
        for cfg in configs.values():
            pick_device(cfg.device)
    except ConfigError as err:
        parser.error(str(err))
    return configs


def clear_or_refuse(chosen: list[Experiment], root: Path, clear: bool, parser: argparse.ArgumentParser) -> None:
    """With `clear`, delete the experiments' folders; else refuse a folder that holds runs of other seeds."""
    for e in chosen:
        out, ours = root / e.name, {f"seed{s}" for s in e.seeds}
        others = sorted(p.parent.name for p in out.glob("*/metrics.json") if p.parent.name not in ours)
        if others and not clear:
            parser.error(f"{shown(out)} holds runs that this sweep would not make ({', '.join(others)}); its summary "
                         "would mix them in. Choose another --name, or add --clear to delete them.")
        if clear and out.exists():
            shutil.rmtree(out)
            print(f"cleared {shown(out)}")


def plan(chosen: list[Experiment], configs: dict[Job, TrainConfig], root: Path, labelled: bool
         ) -> dict[Job, TrainConfig]:
    """The runs to train, each fresh or resumed; says which seeds are kept and which go on from a checkpoint."""
    work = {}
    for e in chosen:
        todo = {seed: to_run(root / e.name / f"seed{seed}", configs[e.name, seed]) for seed in e.seeds}
        work.update({(e.name, seed): cfg for seed, cfg in todo.items() if cfg})
        for what, seeds in (("kept, finished with these settings", [s for s, cfg in todo.items() if cfg is None]),
                            ("interrupted, to go on from the checkpoint",
                             [s for s, cfg in todo.items() if cfg and cfg.resume])):
            if seeds:
                print(f"{what}: {e.name + ' ' if labelled else ''}seed{'s' * (len(seeds) > 1)} "
                      f"{' '.join(map(str, seeds))}")
    return work


def train(work: dict[Job, TrainConfig], root: Path, jobs: int, threads: int, labelled: bool) -> dict[str, float]:
    """Run `work` through one pool of `jobs` workers; returns, per experiment, the seconds until its last run."""
    began, ended = time.perf_counter(), {}
    with ProcessPoolExecutor(jobs, initializer=limit_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(run_one, root / name / f"seed{seed}", cfg): (name, seed)
                   for (name, seed), cfg in work.items()}
        for done, future in enumerate(as_completed(futures), start=1):
            (name, seed), run = futures[future], RunRecord.load(future.result())
            ended[name] = elapsed = time.perf_counter() - began
            eta = elapsed / done * (len(work) - done)  # runs finish at a steady rate once every job is busy
            validation = f", validation {run.validation_accuracy[-1]:.2f}%" if run.validation_accuracy else ""
            label = f"{name} " if labelled else ""
            print(f"{label}seed {seed}: final {run.final_test_accuracy:.2f}% (best "
                  f"{run.best_test_accuracy:.2f}%){validation}, {run.total_seconds:.0f} s of training; {done} of "
                  f"{len(work)} done, about {eta / 60:.0f} min left", flush=True)
    return ended


def summarise(out: Path, seeds: tuple[int, ...], kept: int, jobs: int, seconds: float, command: str) -> str:
    """Write results.md, results.csv and accuracy.png for the runs of `seeds` in `out`; return the markdown."""
    runs = load_runs([out / f"seed{s}" / "metrics.json" for s in seeds])
    config = {k: v for k, v in runs[0][1].config.items() if k in field_names()}
    settings = ", ".join(f"{k}={v!r}" for k, v in changed_settings(TrainConfig(**config)).items()
                         if k not in SET_BY_THE_RUNNER or k == "threads")
    if kept == len(seeds):  # a summary of earlier runs (a renamed folder, a changed command): no wall time to report
        made = f"{len(seeds)} runs, all kept: {WHY_KEPT}"
    else:
        kept_text = f" ({kept} of them kept: {WHY_KEPT})" if kept else ""
        made = f"{len(seeds)} runs{kept_text}, {jobs} at a time: {seconds:.0f} s wall time in all"
    table = (f"{sweep_markdown(runs)} Settings: {settings}; TrainConfig's defaults otherwise. {made}. "
             f"Made by `{command}`.")
    (out / "results.md").write_text(table + "\n")
    write_sweep_csv(runs, out / "results.csv")
    figure = plot_sweep(runs)
    figure.savefig(out / "accuracy.png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", choices=sorted(TABLES), help="run a table of utils/experiments.py")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="with --table: only these of its experiments")
    parser.add_argument("--model", help="the sweep's model; default: baseline")
    parser.add_argument("--seeds", type=int, nargs="+", help="the sweep's seeds; default: 1 2 3 4 5")
    parser.add_argument("--jobs", type=int, help="runs at once (each gets cores / jobs threads); default: 1, 2 for "
                        "a table")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a training setting, e.g. --param epochs=3 --param bf16=True")
    parser.add_argument("--name", help="the sweep's folder under the root; default: sweep-<model>")
    parser.add_argument("--root", type=Path, help="default: runs/ (ignored by git), results/ for a table")
    parser.add_argument("--clear", action="store_true", help="delete the experiments' folders first")
    args = parser.parse_args(argv)
    jobs = args.jobs if args.jobs is not None else 2 if args.table else 1
    if jobs < 1:
        parser.error("--jobs must be at least 1")
    chosen = chosen_experiments(args, parser)
    root = (args.root or (RESULTS if args.table else ROOT / "runs")).resolve()
    root = root / JOURNEY_DIR.name if args.table == "journey" else root
    threads = max(1, (os.cpu_count() or 1) // jobs)  # the cores shared out
    overrides = dict(parse_parameters(args.param, parser), threads=threads, check_target=False, progress=False)
    configs = checked_configs(chosen, overrides, parser)
    clear_or_refuse(chosen, root, args.clear, parser)
    began, each = time.perf_counter(), f"{threads} thread{'s' * (threads > 1)} each"
    where = root if args.table else root / chosen[0].name
    print(f"{len(configs)} runs of {args.table or chosen[0].model} into {shown(where)}, {jobs} at a time with {each}",
          flush=True)
    work = plan(chosen, configs, root, bool(args.table))
    ended = train(work, root, jobs, threads, bool(args.table))
    command = f"python scripts/sweep.py {' '.join(argv if argv is not None else sys.argv[1:])}"
    if args.table == "journey":
        kept = len(configs) - len(work)
        made = f"{len(work)} runs made" + (f" ({kept} kept from earlier)" if kept else "")
        minutes = (time.perf_counter() - began) / 60
        print(write_journey_summary(root, f"{made}, {jobs} at a time with {each}: {minutes:.0f} min wall time in all. "
                                          f"Made by `{command}`."))
        return
    for e in chosen:
        kept = sum((e.name, s) not in work for s in e.seeds)
        print(summarise(root / e.name, e.seeds, kept, jobs, ended.get(e.name, 0.0), command))
        print(f"Results in {shown(root / e.name)}.")


if __name__ == "__main__":
    main()
