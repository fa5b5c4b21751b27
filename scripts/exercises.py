"""Train the exercise variants of utils/exercises.py (two seeds each, two at a time) into results/.

    python scripts/exercises.py [--only no-augment 4-epochs] [--root results]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import sweep  # noqa: E402

from utils.exercises import SEEDS, VARIANTS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--root", default="results", help="relative to the repository root")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    for name in args.only:
        variant = VARIANTS[name]
        params = [f"--param={k}={v!r}" for k, v in variant.changes.items()]
        sweep.main(["--model", variant.model, "--seeds", *map(str, SEEDS), "--jobs", str(args.jobs),
                    "--root", args.root, "--name", f"exercise-{name}", "--clear", *params])


if __name__ == "__main__":
    main()
