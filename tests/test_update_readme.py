import importlib.util
import json
import re
from pathlib import Path

import pytest

from utils.analysis import at_least, chance_below_target, sweep_stats

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "update_readme.py"
ROOT = SCRIPT.parents[1]
spec = importlib.util.spec_from_file_location("update_readme", SCRIPT)
update_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_readme)
COMPACT_COMMAND = """make sweep MODEL=compact SEEDS="$(seq -s ' ' 1 20)" JOBS=2 RUNS=results"""


def save(folder: Path, run) -> None:
    """Write a run's record as folder/metrics.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(run.to_dict()))


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    """An empty results/ under a repository root in tmp_path, which the script reads and writes instead."""
    monkeypatch.setattr(update_readme, "ROOT", tmp_path)
    monkeypatch.setattr(update_readme, "RESULTS", tmp_path / "results")
    return tmp_path / "results"


def blocks_in(text: str) -> set[str]:
    """The names of the blocks a text marks with both a start and an end."""
    starts, ends = (set(re.findall(rf"<!-- ([\w-]+):{edge} -->", text)) for edge in ("start", "end"))
    return starts & ends


def test_fill_replaces_only_its_block():
    text = "a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n<!-- y:start -->\nkeep\n<!-- y:end -->"
    filled = update_readme.fill(text, "x", "new \\1 table")
    assert "old" not in filled and "new \\1 table" in filled and "keep" in filled
    assert update_readme.fill(filled, "x", "new \\1 table") == filled  # idempotent


def test_missing_block_is_reported_with_its_file():
    with pytest.raises(SystemExit, match="README.md has no <!-- z:start -->"):
        update_readme.fill("text", "z", "table")
    with pytest.raises(SystemExit, match="results/speed.md has no <!-- z:start -->"):
        update_readme.fill("<!-- z:start -->", "z", "table", "results/speed.md")  # a start without its end


def test_the_readme_is_a_front_door_of_at_most_250_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_the_readme_has_the_headline_block_and_links_to_the_speed_research():
    readme = (ROOT / "README.md").read_text()
    assert blocks_in(readme) == {"headline"}  # every other block lives in results/speed.md
    assert "](results/speed.md)" in readme


def test_speed_md_has_every_block_the_script_fills():
    speed = blocks_in((ROOT / "results" / "speed.md").read_text())
    filled = set(update_readme.speed_blocks())
    assert {"benchmark-models", "benchmark-xeon-models", "gpu", "sweep-baseline", "bf16"} <= filled  # found moved
    assert filled | set(update_readme.comparisons()) | {"compact-faster-paths"} <= speed


def full_sweep(folder: Path, finished_run, finals=None) -> None:
    """Seeds 1 to 20 of a one-epoch recipe in `folder`: finals 99.40 and 99.60 by turns unless given."""
    for seed in range(1, 21):
        final = finals[seed - 1] if finals else (99.40, 99.60)[seed % 2]
        save(folder / f"seed{seed}", finished_run([final], seed=seed))


def test_the_headline_is_computed_from_the_sweep_and_the_notebook_run(results, finished_run):
    full_sweep(results / "sweep-baseline", finished_run)
    save(results / "baseline", finished_run([99.30, 99.45, 99.50], seconds=20.0))
    (results / "sweep-baseline" / "accuracy.png").write_bytes(b"png")
    text = update_readme.headline()
    assert "| baseline | 16,146 | 1 | 99.50 | 99.40 | 40 | 60 | cpu" in text  # to 99.4% after 2 epochs of 20 s
    assert "![Test error per epoch, baseline, all 20 seeds](results/sweep-baseline/accuracy.png)" in text
    assert "epochs, its sweep 16,146 and 1: another recipe" in text  # 3 epochs in the run, 1 in the sweep


def test_a_model_without_its_sweep_or_run_says_so_instead_of_a_number(results, finished_run):
    text = update_readme.headline()
    assert "| compact | - | - | sweep not yet made | - | no run yet | - | - |" in text
    assert f"compact: sweep not yet made; `{COMPACT_COMMAND}` makes it." in text
    assert "compact: no notebook run in `results/compact` yet; `make notebooks` makes it." in text
    assert "![" not in text  # no figure to show
    save(results / "compact", finished_run([99.30, 99.45], model="compact"))
    (results / "baseline").mkdir()
    (results / "baseline" / "history.png").write_bytes(b"png")
    text = update_readme.headline()
    assert "| compact | 16,146 | 2 | sweep not yet made | - | 20 | 20 | cpu" in text  # the size of the run's recipe
    assert "![Training curves of the notebook's baseline run](results/baseline/history.png)" in text


def test_an_unfinished_sweep_counts_only_its_finished_runs(results, finished_run):
    full_sweep(results / "sweep-compact", finished_run)
    unfinished = finished_run([99.5], seed=20, epochs=3)  # one epoch of three: stopped
    save(results / "sweep-compact" / "seed20", unfinished)
    text = update_readme.headline()
    assert "| compact | - | - | sweep: 19 of 20 runs finished | - |" in text
    assert f"`{COMPACT_COMMAND}` finishes it." in text and "99.50" not in text


def test_a_run_of_other_layers_than_the_model_has_now_is_marked(results, finished_run):
    run = finished_run([99.5])
    save(results / "baseline", run)
    note = "baseline: `results/baseline` was trained with other layers than the baseline has now"
    assert note not in update_readme.headline()
    run.layers = [layer.replace("p=0.05", "p=0.1") for layer in run.layers]
    save(results / "baseline", run)
    assert note + ": a previous recipe's run; `make notebooks` remakes it." in update_readme.headline()


def test_make_readme_writes_the_headline_and_speed_md(results, finished_run):
    full_sweep(results / "previous-recipes" / "sweep-baseline", finished_run)
    full_sweep(results / "previous-recipes" / "sweep-baseline-bf16", finished_run, [99.52] * 20)
    (results / "previous-recipes" / "sweep-baseline" / "results.md").write_text("per-seed table\n")
    (results / "benchmarks").mkdir(parents=True)
    (results / "benchmarks" / "models.md").write_text("models report")
    blocks = ("sweep-baseline", "bf16", "benchmark-models")
    (results / "speed.md").write_text("\n".join(f"<!-- {b}:start -->\nold\n<!-- {b}:end -->" for b in blocks))
    (results.parent / "README.md").write_text("intro\n<!-- headline:start -->\nold\n<!-- headline:end -->\nend")
    update_readme.main()
    readme, speed = (results.parent / "README.md").read_text(), (results / "speed.md").read_text()
    assert "old" not in readme and "| baseline | - | - | sweep not yet made |" in readme and readme.endswith("end")
    assert "old" not in speed and "per-seed table" in speed and "models report" in speed
    assert "baseline:\n\n- mean final accuracy: 99.52% with bfloat16, 99.50% with the default" in speed


def test_sweeps_taken_together_need_every_one(results, finished_run):
    save(results / "previous-recipes" / "sweep-a" / "seed1", finished_run([99.5], seed=1))
    assert update_readme.runs_of(("sweep-a", "sweep-b")) == []  # b not made yet: no comparison, not half of one
    save(results / "previous-recipes" / "sweep-b" / "seed2", finished_run([99.5], seed=2))
    assert [name for name, _ in update_readme.runs_of(("sweep-a", "sweep-b"))] == ["seed1", "seed2"]


def test_each_faster_path_is_compared_with_the_reference_of_the_same_seeds():
    blocks = update_readme.comparisons()
    assert blocks["bf16"] == [("baseline", "bfloat16", ("sweep-baseline",), ("sweep-baseline-bf16",), "the default"),
                              ("compact", "bfloat16", ("sweep-compact-torch-batchnorm",), ("sweep-compact-bf16",),
                               "the reference")]
    # the compact recipe (BatchNorm from sums) against torch's BatchNorm, on the sweeps' seeds, fresh ones, and both
    assert blocks["fast-batchnorm"][0][2:4] == (("sweep-compact-torch-batchnorm",), ("sweep-compact",))
    (both,) = blocks["fast-batchnorm-all-seeds"]
    assert both.reference == ("sweep-compact-torch-batchnorm", "sweep-compact-torch-batchnorm-fresh-seeds")
    assert both.path == ("sweep-compact", "sweep-compact-fresh-seeds")
    for block in ("fast-batchnorm-fresh-seeds", "compile-bf16-fresh-seeds"):
        (fresh,) = blocks[block]
        assert fresh.reference == ("sweep-compact-torch-batchnorm-fresh-seeds",)
        assert fresh.path[0].endswith("-fresh-seeds")


def test_comparing_two_sweeps_pairs_seeds_and_calls_out_a_pass_at_the_boundary(finished_run):
    reference = [(f"seed{s}", finished_run([a], seed=s)) for s, a in ((1, 99.50), (2, 99.46), (3, 99.52))]
    other = [(f"seed{s}", finished_run([a], seed=s)) for s, a in ((1, 99.48), (2, 99.40), (3, 99.55))]
    text = update_readme.compare_sweeps(reference, other, ("float32", "bfloat16"))
    assert "seed 1 -0.02, seed 2 -0.06, seed 3 +0.03" in text
    assert "3 of 3 bfloat16 runs at or above 99.4%" in text
    assert "seed2 ended at exactly 99.40% (60 of 10,000 test images wrong" in text and "a pass, with no margin" in text
    assert "**Verdict:** bfloat16 keeps the accuracy of float32 on these 3 seeds" in text
    worse = [(f"seed{s}", finished_run([a], seed=s)) for s, a in ((1, 99.30), (2, 99.35), (3, 99.38))]
    text = update_readme.compare_sweeps(reference, worse, ("float32", "bfloat16"))
    assert "does not clearly keep" in text
    assert "3 of 3 runs below 99.4%: 3 or more such runs happen 0% of the time" in text and "(unusual by" in text
    one_miss = [(f"seed{s}", finished_run([a], seed=s)) for s, a in ((1, 99.50), (2, 99.39), (3, 99.52))]
    below = chance_below_target(*(sweep_stats(reference)["final"][k] for k in ("mean", "std")))
    assert (f"1 of 3 runs below 99.4%: 1 or more such runs happen {1 - (1 - below) ** 3:.0%} of the time"
            in update_readme.compare_sweeps(reference, one_miss, ("float32", "bfloat16")))


def test_a_higher_mean_beyond_the_tolerance_is_no_loss_but_not_the_same_numbers(finished_run):
    reference = [(f"seed{s}", finished_run([a], seed=s)) for s, a in ((1, 99.44), (2, 99.46), (3, 99.45))]
    better = [(f"seed{s}", finished_run([a], seed=s)) for s, a in ((1, 99.50), (2, 99.52), (3, 99.48))]
    text = update_readme.compare_sweeps(reference, better, ("float32", "bfloat16"))
    assert ("**Verdict:** bfloat16 scores higher than float32 on these 3 seeds (mean difference +0.05 points, beyond "
            "the 0.03 within which two means count as the same; 3 of 3 runs at the target): no accuracy lost, but not "
            "the same numbers.") in text
    worse = [(f"seed{s}", finished_run([a], seed=s)) for s, a in ((1, 99.40), (2, 99.41), (3, 99.40))]
    assert "does not clearly keep the accuracy of float32 on these 3 seeds (mean difference 0.05 points, outside" in \
        update_readme.compare_sweeps(reference, worse, ("float32", "bfloat16"))


def test_how_often_a_path_exactly_as_good_misses_the_target_by_chance(finished_run):
    reference = [(f"seed{s}", finished_run([a], seed=s)) for s, a in enumerate((99.43, 99.47, 99.51), start=1)]
    text = update_readme.compare_sweeps(reference, reference[:2], ("the default", "faster"))
    below = chance_below_target(99.47, 0.04)
    assert (f"one run in {1 / below:.0f} ends below 99.4%, and 2 runs of a path exactly as good all reach it "
            f"{(1 - below) ** 2:.0%} of the time") in text


def test_faster_paths_misses_pooled_against_the_reference(finished_run):
    reference = [(f"seed{s}", finished_run([a], seed=s)) for s, a in ((1, 99.50), (2, 99.46), (3, 99.52))]
    paths = {"a": [("seed1", finished_run([99.39], seed=1)), ("seed2", finished_run([99.45], seed=2))],
             "b": [("seed1", finished_run([99.48], seed=1))]}
    below = chance_below_target(*(sweep_stats(reference)["final"][k] for k in ("mean", "std")))
    text = update_readme.pooled_misses(reference, paths)
    assert text.startswith("Together, the 2 sweeps (a, b) have 1 of 3 runs below 99.4% (33.3%)")
    assert f"one run in {1 / below:.0f}" in text and f"happen {at_least(1, 3, below):.0%} of the time" in text


def test_the_mean_is_labelled_with_the_runs_it_is_taken_over(finished_run):
    reference = [(f"seed{s}", finished_run([a], seed=s)) for s, a in enumerate((99.50, 99.46, 99.52, 99.48, 99.50), 1)]
    other = [(f"seed{s}", finished_run([a], seed=s)) for s, a in enumerate((99.48, 99.47, 99.51), 1)]
    text = update_readme.compare_sweeps(reference, other, ("float32", "bfloat16"))
    assert "on these 3 seeds" not in text  # the means are over 3 and 5 runs, not over 3 paired seeds
    assert "keeps the accuracy of float32 over its 3 runs and float32's 5 (mean difference" in text
