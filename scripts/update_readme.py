"""Fill the README's results table from results/*/metrics.json, its sweep blocks from
results/sweep-*/results.md, its journey block from results/journey/results.md and its benchmark blocks from
results/benchmarks*/*.md and its GPU block from results/gpu/ (never by hand).

    python scripts/update_readme.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from utils.results import results_table  # noqa: E402
from utils.sweep import compare_sweeps, pooled_misses, sweep_runs  # noqa: E402

RESULTS = ROOT / "results"  # the course's committed runs; users' own go to runs/
# Faster settings whose sweeps results/sweep-<model>-<name> are compared with the default recipe's, in the
# README block <name>
FASTER_PATHS = {"bf16": "bfloat16", "bf16-fast-dropout": "bfloat16 + fast_dropout", "fast-batchnorm": "fast_batchnorm",
                "nchw": "NCHW", "compile": "torch.compile", "compile-bf16": "torch.compile + bfloat16"}
# A faster path checked again on seeds that no other sweep uses, against the default trained on the same seeds:
# README block -> (model, the path's label, the default's sweep, the path's sweep), folders in results/
FRESH_SEED_CHECKS = {"compile-bf16-fresh-seeds": ("compact", "torch.compile + bfloat16", "sweep-compact-fresh-seeds",
                                                  "sweep-compact-compile-bf16-fresh-seeds")}


def comparisons() -> dict[str, list[tuple[str, str, str, str]]]:
    """README block -> the sweeps it compares: (model, the faster path's label, the reference's folder, the path's
    folder). A FASTER_PATHS sweep results/sweep-<model>-<path> is compared with results/sweep-<model>."""
    blocks = {path: [(model, label, f"sweep-{model}", f"sweep-{model}-{path}") for model in ("baseline", "compact")]
              for path, label in FASTER_PATHS.items()}
    return blocks | {block: [check] for block, check in FRESH_SEED_CHECKS.items()}


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
    compact_paths = {}  # the compact model's faster paths compared with its default sweep, by label
    for block, compared in comparisons().items():  # <!-- bf16:start --> ...: each faster sweep against its reference
        found = []
        for model, label, reference, faster in compared:
            default, fast = sweep_runs(RESULTS / reference), sweep_runs(RESULTS / faster)
            if default and fast:
                found.append(f"{model}:\n\n" + compare_sweeps(default, fast, ("the default", label)))
                if reference == "sweep-compact":
                    compact_paths[label] = fast
        if found:
            text = fill(text, block, "\n\n".join(found))
    if compact_paths:  # <!-- compact-faster-paths:start --> ...: their runs below the target, all together
        text = fill(text, "compact-faster-paths", pooled_misses(sweep_runs(RESULTS / "sweep-compact"), compact_paths))
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
