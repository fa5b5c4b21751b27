import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import benchmark  # noqa: E402

from utils.config import RECIPES, TrainConfig  # noqa: E402
from utils.train import prepare  # noqa: E402


def test_models_section_names_both_floors_and_the_binding_one():
    cfg = TrainConfig(data_fraction=0.01, epochs=1, progress=False)
    lines = benchmark.models_section(cfg, prepare(cfg).train, torch.device("cpu"), 1, ["baseline", "compact"])
    rates = re.fullmatch(r"float32 matrix-product peak: (\d+) GFLOP/s; copy bandwidth: ([\d.]+) GB/s", lines[0])
    assert rates and float(rates[1]) > 0 and 0.1 < float(rates[2]) < 1e4
    rows = [line.split(" | ") for line in lines[2].splitlines()[2:]]
    assert [(r[0].strip("| "), r[3]) for r in rows] == [("baseline", "no"), ("baseline", "yes"), ("compact", "no"),
                                                       ("compact", "yes")]
    assert rows[0][2] == "1.91 MB" and rows[2][2] == "1.12 MB"  # utils.cost.training_bytes_per_image
    for r in rows:
        arithmetic, memory, binds = float(r[6]), float(r[7]), r[8]
        assert binds == ("memory" if memory > arithmetic else "arithmetic")
        assert float(r[9].strip(" |x")) > 0


def test_a_report_names_its_thread_count_and_is_written_where_asked(tmp_path, monkeypatch):
    threads = torch.get_num_threads()
    args = "--device cpu --sections augment --fraction 0.01 --repeats 1 --threads 1 --out".split()
    monkeypatch.setattr(sys, "argv", ["benchmark.py", *args, str(tmp_path)])
    try:
        benchmark.main()
    finally:
        torch.set_num_threads(threads)
    report = (tmp_path / "augment.md").read_text()
    assert report.startswith("`make benchmark` on cpu (") and "), 1 thread, torch " in report
    assert "\n```\nepoch without augmentation: " in report and "ratio: " in report and report.endswith("```\n")


def test_each_model_is_timed_with_its_own_recipe(monkeypatch):
    """The compact row times the compact recipe as it trains (batch size, layout...), not the baseline's settings."""
    monkeypatch.setitem(RECIPES, "compact", {**RECIPES["compact"], "batch_size": 64})
    timed_configs = []
    monkeypatch.setattr(benchmark, "timed", lambda run, device: 3.0)  # no start-up run, no epochs
    monkeypatch.setattr(benchmark, "best_epochs", lambda cases, repeats: timed_configs.extend(
        c for c, _ in cases.values()) or {label: [2.0] for label in cases})
    cfg = TrainConfig(data_fraction=0.01, epochs=1, progress=False)
    (text,) = benchmark.settings_section(cfg, None, torch.device("cpu"), 1, ["baseline", "compact"])
    sizes = {(c.model, c.batch_size) for c in timed_configs if c.batch_size != 256}  # 256: the "batch 256" row
    assert sizes == {("baseline", 128), ("compact", 64)} and all(c.epochs == 1 for c in timed_configs)
    compact_rows = text.split("\n\n")[1].splitlines()[2:]
    assert [row.split(" | ")[0].strip("| ") for row in compact_rows] == list(benchmark.SETTINGS)
