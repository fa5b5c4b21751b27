import pytest

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
