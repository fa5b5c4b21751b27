"""Speed of a training epoch on this machine, in one run:

1. the cost of augmentation: epochs with and without it (the course's budget is 1.15x), and the
   augmentation alone;
2. per model: training images per second and seconds per epoch with and without augmentation, against two
   floors: arithmetic (FLOPs per training image, counted from the layers, times 60,000, at the measured
   float32 peak of a large matrix product) and memory traffic (bytes a layer-by-layer training step moves
   per image, utils.cost.training_bytes_per_image, times 60,000, at the measured bandwidth of a large
   copy); the higher of the two binds. A model with BatchNorm layers of a width that is not a multiple of
   16 is also timed with fast_batchnorm (utils.batchnorm), as its recipe trains (the compact model's);
3. per model, settings tried to make its epoch faster than the default (eager, float32, channels-last),
   with each one's start-up time (torch.compile compiles there); a setting that changes none of a model's
   layers (fast_dropout for a model without dropout) is left out of its table.

    python scripts/benchmark.py [--sections augment models settings] [--fraction 0.25] [--repeats 3] [--threads 1]

Epochs run on a share of the training set (--fraction) and are scaled to 60,000 images. The cases of a
section take turns, --repeats rounds, and each reports its fastest epoch: a busy machine only ever adds
time, so the minimum is the steadiest figure. The report is
also written to <out>/<section>.md (runs/benchmarks by default; `make benchmark RUNS=results` writes the
course's own, from which `make readme` fills the README).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from utils.augment import RandomAffine  # noqa: E402
from utils.batchnorm import narrow_batchnorms  # noqa: E402
from utils.config import TrainConfig  # noqa: E402
from utils.cost import training_bytes_per_image, training_flops_per_image  # noqa: E402
from utils.machine import device_name, pick_device, thread_count  # noqa: E402
from utils.models import Dropout, build_model  # noqa: E402
from utils.speed import best_epochs, time_epoch, timed  # noqa: E402
from utils.tables import markdown_table  # noqa: E402
from utils.train import prepare  # noqa: E402

AUGMENT_BUDGET = 1.15


def peak_flops(device: torch.device, size: int = 2048, repeats: int = 10) -> float:
    """Best float32 FLOP/s of a (size x size) @ (size x size) product."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    return 2 * size**3 / min(timed(lambda: a @ b, device) for _ in range(repeats))


def copy_bandwidth(device: torch.device, megabytes: int = 256, repeats: int = 10) -> float:
    """Best bytes per second of copying one large float32 buffer into another (read + write), far larger than
    any cache: the main memory's speed."""
    a = torch.ones(megabytes * 2**20 // 4, device=device)
    b = torch.empty_like(a)
    return 2 * a.numel() * 4 / min(timed(lambda: b.copy_(a), device) for _ in range(repeats))


def time_augmentation(cfg: TrainConfig, train, device: torch.device, repeats: int) -> float:
    """Best seconds to augment all training images batch by batch, without any model: the cost on its own."""
    augment, generator = RandomAffine(), torch.Generator(device).manual_seed(cfg.seed)
    batches = torch.arange(len(train.labels), device=device).split(cfg.batch_size)

    def augment_all() -> None:
        for idx in batches:
            train.inputs(idx, augment, generator, cfg.channels_last)

    return min(timed(augment_all, device) for _ in range(repeats)) * 60_000 / len(train.labels)


def augment_section(cfg, train, device, repeats) -> list[str]:
    times = best_epochs({"plain": (cfg, False), "augmented": (cfg, True)}, repeats)
    t_plain, t_aug = times["plain"][0], times["augmented"][0]
    ratio, alone = t_aug / t_plain, time_augmentation(cfg, train, device, repeats)
    return [f"epoch without augmentation: {t_plain:6.1f} s  ({60_000 / t_plain:,.0f} images/s)",
            f"epoch with augmentation:    {t_aug:6.1f} s  ({60_000 / t_aug:,.0f} images/s)",
            f"ratio: {ratio:.3f}  (budget {AUGMENT_BUDGET}: {'within' if ratio <= AUGMENT_BUDGET else 'OVER'})",
            f"augmenting 60,000 images alone, no model: {alone:.2f} s, {alone / t_plain:.1%} of an epoch without it",
            f"(for scale: epochs without augmentation took {t_plain:.1f} to {times['plain'][-1]:.1f} s over the "
            f"{repeats} repeats)"]


def models_section(cfg, train, device, repeats, models) -> list[str]:
    peak, bandwidth = peak_flops(device), copy_bandwidth(device)
    cases = {(name, augment): (replace(cfg, model=name), augment) for name in models for augment in (False, True)}
    # and, where it changes a layer, the model with BatchNorm from sums: the same model, only faster kernels (the
    # compact recipe's); the plain rows are TrainConfig's defaults, torch's own kernels
    cases.update({(f"{name} (fast_batchnorm)", True): (replace(cfg, model=name, fast_batchnorm=True), True)
                  for name in models if narrow_batchnorms(build_model(name))})
    rows = []
    for (label, augment), (seconds, *_) in best_epochs(cases, repeats).items():
        name = cases[label, augment][0].model
        flops, traffic = training_flops_per_image(build_model(name)), training_bytes_per_image(build_model(name))
        arithmetic, memory = 60_000 * flops / peak, 60_000 * traffic / bandwidth
        binds = "memory" if memory > arithmetic else "arithmetic"
        rows.append([label, f"{flops / 1e6:.1f} M", f"{traffic / 1e6:.2f} MB", "yes" if augment else "no",
                     f"{60_000 / seconds:,.0f}", f"{seconds:.1f}", f"{arithmetic:.2f}", f"{memory:.2f}", binds,
                     f"{seconds / max(arithmetic, memory):.1f}x"])
    header = ["model", "FLOPs per training image", "bytes moved per training image", "augmentation", "images/s",
              "s per epoch", "arithmetic floor s", "memory floor s", "binds", "measured / binding floor"]
    return [f"float32 matrix-product peak: {peak / 1e9:.0f} GFLOP/s; copy bandwidth: {bandwidth / 1e9:.1f} GB/s",
            "", markdown_table(header, rows)]


SETTINGS = {  # label: changes to the default TrainConfig; the first is the reference
    "eager, float32, channels-last (default)": dict(),
    "NCHW (contiguous) layout": dict(channels_last=False),
    "batch 256": dict(batch_size=256),
    "torch.compile": dict(compile=True),
    "bfloat16 autocast": dict(bf16=True),
    "torch.compile + bfloat16 autocast": dict(compile=True, bf16=True),
    "BatchNorm from sums (fast_batchnorm)": dict(fast_batchnorm=True),
    "dropout from drawn positions (fast_dropout)": dict(fast_dropout=True),
    "bfloat16 autocast + fast_dropout": dict(bf16=True, fast_dropout=True),
}


def changes_the_model(name: str, changes: dict) -> bool:
    """Whether a setting's changes reach a layer of `name`: fast_batchnorm only changes BatchNorm layers of a
    width that is not a multiple of 16, fast_dropout only dropout layers; a row for a setting that changes
    nothing would time the default twice."""
    model = build_model(name)
    if changes.get("fast_batchnorm") and not narrow_batchnorms(model):
        return False
    return not (changes.get("fast_dropout") and not any(isinstance(m, Dropout) for m in model.modules()))


def start_up(cfg: TrainConfig) -> float:
    """Seconds to prepare a run (data, model, and for compile=True the compiler's trial step), the first time in
    this process: what a run pays once before its first epoch."""
    began = time.perf_counter()
    prepare(cfg)
    return time.perf_counter() - began


def settings_section(cfg, train, device, repeats, models) -> list[str]:
    lines = []
    for name in models:
        base = replace(cfg, model=name)
        cases = {label: replace(base, **changes) for label, changes in SETTINGS.items()
                 if changes_the_model(name, changes)}
        setup = {label: start_up(case) for label, case in cases.items()}
        times = best_epochs({label: (case, True) for label, case in cases.items()}, repeats)
        reference = times[next(iter(SETTINGS))][0]
        rows = [[label, f"{seconds:.1f}", f"{reference / seconds:.2f}x", f"{setup[label]:.0f}"]
                for label, (seconds, *_) in times.items()]
        lines += [markdown_table([f"{name}, with augmentation", "s per epoch", "speed relative to the default",
                                  "start-up s"], rows), ""]
    return lines[:-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["augment", "models", "settings"],
                        choices=["augment", "models", "settings"])
    parser.add_argument("--models", nargs="+", default=["baseline", "compact"])
    parser.add_argument("--fraction", type=float, default=0.25, help="share of the training set per timed epoch")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per case (the fastest is reported)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default, one per core)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmarks",
                        help="folder for the reports (the course's own are in results/benchmarks)")
    args = parser.parse_args()

    cfg = TrainConfig(data_fraction=args.fraction, device=args.device, epochs=1, progress=False, threads=args.threads)
    device = pick_device(cfg.device)
    train = prepare(cfg).train
    time_epoch(cfg, True)  # warm-up: allocator, kernels, caches
    header = (f"{device} ({device_name(device)}), {thread_count(torch.get_num_threads())}, torch {torch.__version__}; "
              f"fastest of {args.repeats} epochs of {len(train.labels):,} images each, the cases taking turns, "
              "scaled to 60,000")
    args.out.mkdir(parents=True, exist_ok=True)
    for section in args.sections:
        if section == "augment":
            lines = augment_section(cfg, train, device, args.repeats)
        elif section == "models":
            lines = models_section(cfg, train, device, args.repeats, args.models)
        else:
            lines = settings_section(cfg, train, device, args.repeats, args.models)
        body = ["```", *lines, "```"] if section == "augment" else lines
        text = "\n".join([f"`make benchmark` on {header}:", "", *body])
        print(text + "\n", flush=True)
        (args.out / f"{section}.md").write_text(text + "\n")
    print(f"written to {args.out}/; `make readme` puts those in results/benchmarks*/ in the README")


if __name__ == "__main__":
    main()
