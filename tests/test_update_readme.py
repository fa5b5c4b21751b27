import importlib.util
from pathlib import Path

import pytest

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
