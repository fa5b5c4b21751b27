"""Fill the README's results table from results/*/metrics.json, its sweep blocks from
results/sweep-*/results.md, its journey block from results/journey/results.md and its benchmark blocks from
results/benchmarks*/*.md and its GPU block from results/gpu/ (never by hand).

    python scripts/update_readme.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from utils.results import results_table  # noqa: E402
from utils.sweep import compare_sweeps, pooled_misses, sweep_runs  # noqa: E402

RESULTS = ROOT / "results"  # the course's committed runs; users' own go to runs/


class Comparison(NamedTuple):
    """Sweeps of a path compared with reference sweeps of the same model and seeds: folders in results/, whose runs
    are taken together, and labels as the README says."""

    model: str
    label: str
    reference: tuple[str, ...]
    path: tuple[str, ...]
    reference_label: str


# What each model's faster paths are judged against: a sweep with TrainConfig's defaults (eager, float32,
# channels-last, torch's kernels), folder and label. For the compact model that is no longer its recipe, which has
# since taken fast_batchnorm, so its reference sweep is named after the kernel it keeps.
REFERENCES = {"baseline": ("sweep-baseline", "the default"),
              "compact": ("sweep-compact-torch-batchnorm", "the reference")}
# Faster settings whose sweeps results/sweep-<model>-<name> are compared with the model's reference, in the README
# block <name>
FASTER_PATHS = {"bf16": "bfloat16", "bf16-fast-dropout": "bfloat16 + fast_dropout", "nchw": "NCHW",
                "compile": "torch.compile", "compile-bf16": "torch.compile + bfloat16"}
# The compact model's other comparisons with its reference, README block -> (label, the path's sweep, seed sets):
# its recipe, whose BatchNorm is computed from sums, and a faster path, on the seeds of the sweeps ("") and on
# seeds that no other sweep used ("-fresh-seeds", the reference trained on them too), or on both together.
# A seed set's sweeps are named <sweep><seed set>.
COMPACT_CHECKS = {"fast-batchnorm": ("fast_batchnorm", "sweep-compact", ("",)),
                  "fast-batchnorm-fresh-seeds": ("fast_batchnorm", "sweep-compact", ("-fresh-seeds",)),
                  "fast-batchnorm-all-seeds": ("fast_batchnorm", "sweep-compact", ("", "-fresh-seeds")),
                  "compile-bf16-fresh-seeds": ("torch.compile + bfloat16", "sweep-compact-compile-bf16",
                                               ("-fresh-seeds",))}


def comparisons() -> dict[str, list[Comparison]]:
    """README block -> the sweeps it compares. A FASTER_PATHS sweep results/sweep-<model>-<path> is compared with
    the model's reference sweep (REFERENCES)."""
    blocks = {path: [Comparison(model, label, (REFERENCES[model][0],), (f"sweep-{model}-{path}",),
                                REFERENCES[model][1]) for model in REFERENCES]
              for path, label in FASTER_PATHS.items()}
    reference, reference_label = REFERENCES["compact"]
    return blocks | {block: [Comparison("compact", label, tuple(reference + s for s in seeds),
                                        tuple(path + s for s in seeds), reference_label)]
                     for block, (label, path, seeds) in COMPACT_CHECKS.items()}


def runs_of(folders: tuple[str, ...]) -> list:
    """The runs of sweeps in results/, taken together; none where one of them has no runs yet."""
    runs = [sweep_runs(RESULTS / folder) for folder in folders]
    return [run for sweep in runs for run in sweep] if all(runs) else []


def fill(text: str, block: str, content: str) -> str:
    """Replace what stands between <!-- block:start --> and <!-- block:end -->."""
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    if start not in text or end not in text:
        sys.exit(f"README.md has no {start} ... {end} block to fill.")
    return re.sub(f"{re.escape(start)}.*?{re.escape(end)}", lambda _: f"{start}\n{content}\n{end}", text, flags=re.S)


def benchmark_blocks() -> dict[str, Path]:
    """README block -> benchmark report: results/benchmarks/models.md fills benchmark-models, and another
    machine's run in results/benchmarks-xeon/models.md fills benchmark-xeon-models."""
    blocks = {}
    for folder in sorted(RESULTS.glob("benchmarks*")):
        prefix = "benchmark" + folder.name.removeprefix("benchmarks")
        blocks.update({f"{prefix}-{report.stem}": report for report in sorted(folder.glob("*.md"))})
    return blocks


def main() -> None:
    readme = ROOT / "README.md"
    files = sorted(RESULTS.glob("*/metrics.json"))  # single runs; sweeps sit one level deeper
    if not files:
        sys.exit("No results/*/metrics.json yet: run `make notebooks` first.")
    table = results_table(files)
    text = fill(readme.read_text(), "results", table)
    for sweep in sorted(RESULTS.glob("sweep-*/results.md")):  # <!-- sweep-baseline:start --> ...
        text = fill(text, sweep.parent.name, sweep.read_text().strip())
    if (RESULTS / "journey" / "results.md").exists():  # <!-- journey:start --> ...
        text = fill(text, "journey", (RESULTS / "journey" / "results.md").read_text().strip())
    compact_reference, compact_paths = [], {}  # the compact model's reference runs, and its paths' by label
    for block, compared in comparisons().items():  # <!-- bf16:start --> ...: each faster sweep against its reference
        found = []
        for c in compared:
            reference, path = runs_of(c.reference), runs_of(c.path)
            if reference and path:
                found.append(f"{c.model}:\n\n" + compare_sweeps(reference, path, (c.reference_label, c.label)))
                if c.reference == (REFERENCES["compact"][0],):
                    compact_reference, compact_paths[c.label] = reference, path
        if found:
            text = fill(text, block, "\n\n".join(found))
    if compact_paths:  # <!-- compact-faster-paths:start --> ...: their runs below the target, all together
        text = fill(text, "compact-faster-paths", pooled_misses(compact_reference, compact_paths))
    gpu = RESULTS / "gpu"  # <!-- gpu:start --> ...: scripts/gpu_check.sh's machine and summary, as it printed them
    if (gpu / "summary.txt").exists():
        text = fill(text, "gpu", "```\n" + (gpu / "machine.txt").read_text().strip() + "\n"
                    + (gpu / "summary.txt").read_text().strip() + "\n```")
    for block, report in benchmark_blocks().items():
        text = fill(text, block, report.read_text().strip())
    readme.write_text(text)
    print(table)


if __name__ == "__main__":
    main()
