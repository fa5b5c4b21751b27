"""Train a course model from the command line: one flag per setting of utils.config.TrainConfig.

    python scripts/train.py --model compact --seed 2 [--resume true]
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.config import ConfigError, TrainConfig  # noqa: E402
from utils.data import MNISTDataError  # noqa: E402
from utils.results import TargetNotMet, target_verdict  # noqa: E402
from utils.train import CheckpointError, TrainingDiverged, fit  # noqa: E402

WORDS = {"true": True, "false": False}


def _bool(text: str) -> bool:
    if text.lower() not in WORDS:
        raise argparse.ArgumentTypeError(f"{text!r} is not true or false")
    return WORDS[text.lower()]


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """A TrainConfig from `--name value` flags; settings not given come from the model's recipe."""
    parser = argparse.ArgumentParser(description="Train a course model on MNIST.")
    for f in fields(TrainConfig):
        kind = _bool if type(f.default) is bool else type(f.default)
        if f.name == "check_target":  # True, False or 'auto'
            kind = lambda text: WORDS.get(text.lower(), text)  # noqa: E731
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, metavar=type(f.default).__name__,
                            help=f"{f.metadata['doc']} (default: {f.default!r})")
    given = {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}
    return TrainConfig.recipe(given.pop("model", "baseline"), **given)


def main(argv: list[str] | None = None) -> None:
    try:
        cfg = parse_args(argv)
        print(target_verdict(fit(cfg), cfg.check_target))
    except (ConfigError, TrainingDiverged, CheckpointError, MNISTDataError, TargetNotMet) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
