"""Train every step of the design journey (utils/journey.py) over its seeds, through the training notebook as
sweeps do, two runs at a time, and write the summary that notebook 7 and the README read.

    python scripts/journey.py [--only 1-plain 2-batchnorm] [--root results] [--jobs 2] [--param epochs=1 ...]

Runs go to <root>/journey/<step>/seed<N>/; a run finished with the same settings is kept, so a stopped
journey goes on where it stopped. --param changes every step's settings (for quick trials).
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import sweep  # noqa: E402

from utils.config import ConfigError, changed_settings  # noqa: E402
from utils.journey import SEEDS, STEPS, results, write_summary  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[s.name for s in STEPS], default=[s.name for s in STEPS])
    parser.add_argument("--root", type=Path, default=ROOT / "results", help="the journey goes to <root>/journey")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    overrides = sweep.parse_parameters(args.param, parser)
    threads = sweep.threads_per_job(args.jobs)
    steps = [s for s in STEPS if s.name in args.only]
    try:  # every step's settings are checked before anything runs
        configs = {s.name: s.config(**overrides, threads=threads, check_target=False, progress=False) for s in steps}
    except ConfigError as err:
        parser.error(str(err))
    out = (args.root / "journey").resolve()
    work = [(s.name, seed) for s in steps for seed in SEEDS
            if not sweep.finished(out / s.name / f"seed{seed}" / "metrics.json", replace(configs[s.name], seed=seed))]
    began = time.perf_counter()
    print(f"{len(work)} runs to make ({len(steps)} steps x {len(SEEDS)} seeds, less those finished with the same "
          f"settings) into {sweep.shown(out)}, {args.jobs} at a time with {threads} thread{'s' * (threads > 1)} each",
          flush=True)
    with ProcessPoolExecutor(args.jobs, initializer=sweep._limit_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(sweep.run_one, seed, out / name, changed_settings(configs[name])): (name, seed)
                   for name, seed in work}
        for done, future in enumerate(as_completed(futures), start=1):
            name, seed = futures[future]
            run = sweep.RunRecord.load(future.result())
            print(f"{name} seed {seed}: validation {run.validation_accuracy[-1]:.2f}%, test "
                  f"{run.final_test_accuracy:.2f}%, {run.total_seconds:.0f} s; {done} of {len(work)} done, "
                  f"{(time.perf_counter() - began) / 60:.0f} min so far", flush=True)
    command = f"python scripts/journey.py {' '.join(argv if argv is not None else sys.argv[1:])}".strip()
    kept = len(steps) * len(SEEDS) - len(work)
    made = f"{len(work)} runs made" + (f" ({kept} kept from earlier)" if kept else "")
    footer = (f"{made}, {args.jobs} at a time with {threads} thread{'s' * (threads > 1)} each: "
              f"{(time.perf_counter() - began) / 60:.0f} min wall time in all. Made by `{command}`.")
    print(write_summary(results(out), out, footer))


if __name__ == "__main__":
    main()
