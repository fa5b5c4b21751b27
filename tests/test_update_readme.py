import importlib.util
from pathlib import Path

import pytest

from utils.analysis import at_least, chance_below_target, sweep_stats

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "update_readme.py"
spec = importlib.util.spec_from_file_location("update_readme", SCRIPT)
update_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_readme)


def test_fill_replaces_only_its_block():
    text = "a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n<!-- y:start -->\nkeep\n<!-- y:end -->"
    filled = update_readme.fill(text, "x", "new \\1 table")
    assert "old" not in filled and "new \\1 table" in filled and "keep" in filled
    assert update_readme.fill(filled, "x", "new \\1 table") == filled  # idempotent


def test_missing_block_is_reported():
    with pytest.raises(SystemExit, match="no <!-- z:start -->"):
        update_readme.fill("text", "z", "table")


def test_the_readme_has_every_block_the_script_fills():
    root = SCRIPT.parents[1]
    readme = (root / "README.md").read_text()
    blocks = ["results"] + [p.parent.name for p in (root / "results").glob("sweep-*/results.md")]
    blocks += list(update_readme.benchmark_blocks()) + list(update_readme.comparisons()) + ["compact-faster-paths"]
    assert {"benchmark-models", "benchmark-xeon-models"} <= set(blocks)  # this machine kind's run and another's
    for block in blocks:
        assert f"<!-- {block}:start -->" in readme and f"<!-- {block}:end -->" in readme, block


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


def test_sweeps_taken_together_need_every_one(tmp_path, monkeypatch):
    monkeypatch.setattr(update_readme, "RESULTS", tmp_path)
    assert update_readme.runs_of(("sweep-a", "sweep-b")) == []  # neither made yet: no comparison, not half of one


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
