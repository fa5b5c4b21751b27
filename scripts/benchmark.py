"""Speed of a training epoch on this machine: augmentation's cost, each model against its floors, faster settings."""
import argparse
import sys
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils import cost, machine, tables  # noqa: E402
from utils.config import ROOT, TRAINING_IMAGES, TrainConfig  # noqa: E402
from utils.models import build_model  # noqa: E402
from utils.speed import best_epochs, timed  # noqa: E402
from utils.train import prepare  # noqa: E402

SETTINGS = {"eager, float32, channels-last (default)": {}, "NCHW (contiguous) layout": dict(channels_last=False),
            "batch 256": dict(batch_size=256), "torch.compile": dict(compile=True),  # changes to TrainConfig
            "bfloat16 autocast": dict(bf16=True), "torch.compile + bfloat16 autocast": dict(compile=True, bf16=True)}
# the first is the reference


def as_trained(cfg: TrainConfig, model: str, **changes) -> TrainConfig:
    """`model`'s recipe (its batch size, layout...) for one timed epoch on `cfg`'s data, device and threads."""
    timing = {k: getattr(cfg, k) for k in ("data_fraction", "device", "threads", "progress")}
    return TrainConfig.recipe(model, **{**timing, "epochs": 1, **changes})


def augment_section(cfg, train, device, repeats, models, budget=1.15) -> list[str]:
    """Epochs with and without augmentation, whose ratio should stay within `budget`."""
    times = best_epochs({"plain": (cfg, False), "augmented": (cfg, True)}, repeats)
    plain, slowest, aug, n = times["plain"][0], times["plain"][-1], times["augmented"][0], TRAINING_IMAGES
    ratio = aug / plain
    return ["```", f"epoch without augmentation: {plain:6.1f} s  ({n / plain:,.0f} images/s)",
            f"epoch with augmentation:    {aug:6.1f} s  ({n / aug:,.0f} images/s)",
            f"ratio: {ratio:.3f}  (budget {budget}: {'within' if ratio <= budget else 'OVER'})",
            f"(for scale: epochs without augmentation took {plain:.1f} to {slowest:.1f} s over the {repeats} repeats)",
            "```"]


def models_section(cfg, train, device, repeats, models) -> list[str]:
    """Each model's epoch against its floors: FLOPs at a matrix product's peak, bytes at a big copy's bandwidth."""
    best = lambda run: min(timed(run, device) for _ in range(10))
    a, (x, y) = torch.randn(2048, 2048, device=device), torch.ones(2, 2**26, device=device)
    peak, bandwidth = 2 * 2048**3 / best(lambda: a @ a), 2 * x.nbytes / best(lambda: y.copy_(x))
    cases = {(name, augment): (as_trained(cfg, name), augment) for name in models for augment in (False, True)}
    rows = []
    for (label, augment), (seconds, *_) in best_epochs(cases, repeats).items():
        model = build_model(cases[label, augment][0].model)
        flops, traffic = cost.training_flops_per_image(model), cost.training_bytes_per_image(model)
        arithmetic, memory = TRAINING_IMAGES * flops / peak, TRAINING_IMAGES * traffic / bandwidth
        rows.append([label, f"{flops / 1e6:.1f} M", f"{traffic / 1e6:.2f} MB", "yes" if augment else "no",
                     f"{TRAINING_IMAGES / seconds:,.0f}", f"{seconds:.1f}", f"{arithmetic:.2f}", f"{memory:.2f}",
                     "memory" if memory > arithmetic else "arithmetic", f"{seconds / max(arithmetic, memory):.1f}x"])
    header = ["model", "FLOPs per training image", "bytes moved per training image", "augmentation", "images/s",
              "s per epoch", "arithmetic floor s", "memory floor s", "binds", "measured / binding floor"]
    return [f"float32 matrix-product peak: {peak / 1e9:.0f} GFLOP/s; copy bandwidth: {bandwidth / 1e9:.1f} GB/s",
            "", tables.markdown_table(header, rows)]


def settings_section(cfg, train, device, repeats, models) -> list[str]:
    """Per model, each setting's epoch against the default's, and its start-up (torch.compile's compiling included)."""
    blocks = []
    for name in models:
        cases = {label: as_trained(cfg, name, **changes) for label, changes in SETTINGS.items()}
        setup = {label: timed(partial(prepare, case), device) for label, case in cases.items()}
        times = best_epochs({label: (case, True) for label, case in cases.items()}, repeats)
        rows = [[label, f"{seconds:.1f}", f"{times[next(iter(SETTINGS))][0] / seconds:.2f}x", f"{setup[label]:.0f}"]
                for label, (seconds, *_) in times.items()]
        header = [f"{name}, with augmentation", "s per epoch", "speed relative to the default", "start-up s"]
        blocks.append(tables.markdown_table(header, rows))
    return ["\n\n".join(blocks)]


SECTIONS = {"augment": augment_section, "models": models_section, "settings": settings_section}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--models", nargs="+", default=["baseline", "compact"])
    parser.add_argument("--fraction", type=float, default=0.25, help="share of the training set per timed epoch")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per case (the fastest counts)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default, one per core)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmarks", help="folder for <section>.md")
    args = parser.parse_args()
    cfg = TrainConfig(data_fraction=args.fraction, device=args.device, epochs=1, progress=False, threads=args.threads)
    device, train = machine.pick_device(cfg.device), prepare(cfg).train
    best_epochs({"warm-up": (cfg, True)}, 1)  # allocator, kernels, caches
    header = (f"`make benchmark` on {device} ({machine.device_name(device)}), "
              f"{machine.thread_count(torch.get_num_threads())}, torch {torch.__version__}; fastest of {args.repeats} "
              f"epochs of {len(train.labels):,} images each, the cases taking turns, scaled to {TRAINING_IMAGES:,}:")
    args.out.mkdir(parents=True, exist_ok=True)
    for section in args.sections:
        text = "\n".join([header, "", *SECTIONS[section](cfg, train, device, args.repeats, args.models)]) + "\n"
        print(text, flush=True)
        (args.out / f"{section}.md").write_text(text)
    print(f"written to {args.out}/; `make readme` puts those in results/benchmarks*/ in the README")


if __name__ == "__main__":
    main()
