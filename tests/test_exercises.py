import pytest

from utils.config import ROOT
from utils.experiments import EXERCISE_SEEDS, VARIANTS, compare_to_default, variant_runs


def test_variants_change_settings_that_exist():
    from utils.config import TrainConfig

    for name, variant in VARIANTS.items():
        cfg = variant.config()  # refused if a name or value is wrong
        assert any(getattr(cfg, k) != getattr(TrainConfig.recipe(variant.model), k) for k in variant.settings), name


def test_missing_runs_say_which_command_makes_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make exercises`"):
        variant_runs("no-augment", tmp_path)
    # the training notebook answers with the command instead of failing: sweeps run it where no runs exist yet
    assert compare_to_default("no-augment", tmp_path).startswith("Not measured here yet: ")
    assert "run `make exercises`" in compare_to_default("no-augment", tmp_path)


def test_a_missing_run_in_the_repository_is_named_by_its_relative_path():
    """Notebooks print these messages, and committed notebooks hold no absolute paths."""
    root = ROOT / "build" / "no-runs-here"
    message = compare_to_default("no-augment", root)
    assert "build/no-runs-here/exercise-no-augment/seed1/metrics.json" in message and str(ROOT) not in message


def test_stale_variant_runs_are_not_read(tmp_path, finished_run, saved_runs):
    stale = finished_run([99.2, 99.5], seed=1)
    stale.layers = []  # a record from before layers were listed: which network trained is unknown
    root = saved_runs({f"exercise-no-augment/seed{s}": finished_run([99.2, 99.5], seed=s) for s in EXERCISE_SEEDS})
    saved_runs({"exercise-no-augment/seed1": stale})
    with pytest.raises(FileNotFoundError, match="exercise-no-augment/seed1/metrics.json not found, or made with"):
        variant_runs("no-augment", root)


def test_the_answer_compares_with_the_default_sweep(tmp_path, finished_run, saved_runs):
    root = saved_runs({
        **{f"exercise-no-augment/seed{s}": finished_run([99.2, a], seed=s)
           for s, a in zip(EXERCISE_SEEDS, (99.38, 99.47), strict=True)},
        **{f"sweep-baseline/seed{s}": finished_run([99.5], seed=s) for s in (1, 2, 3)},
    })
    assert (root / VARIANTS["no-augment"].name).exists()
    text = compare_to_default("no-augment", root)
    assert text.startswith("With augment=False, the baseline ended at 99.38%, 99.47% on seeds 1, 2 (1 of 2 at or above")
    assert text.endswith("its default recipe ended at 99.50% (99.50-99.50) over 3 seeds.")
