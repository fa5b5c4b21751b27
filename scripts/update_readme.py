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
    for path, label in FASTER_PATHS.items():  # <!-- bf16:start --> ...: each such sweep against the default's
        comparisons = []
        for model in ("baseline", "compact"):
            default, faster = sweep_runs(RESULTS / f"sweep-{model}"), sweep_runs(RESULTS / f"sweep-{model}-{path}")
            if default and faster:
                comparisons.append(f"{model}:\n\n" + compare_sweeps(default, faster, ("the default", label)))
        if comparisons:
            text = fill(text, path, "\n\n".join(comparisons))
    compact_paths = {label: sweep_runs(RESULTS / f"sweep-compact-{path}") for path, label in FASTER_PATHS.items()}
    compact_paths = {label: runs for label, runs in compact_paths.items() if runs}
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
