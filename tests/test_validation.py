"""The rule that chose the recipes: its pass mark as results/choosing-the-recipes.md states it, applied in order."""
import nbformat
import pytest

from utils.analysis import sweep_runs
from utils.config import RESULTS, ROOT, TrainConfig
from utils.experiments import (
    BASELINE_ROUND_2_SEEDS,
    COMPACT_ROUND_2_SEEDS,
    PASS_EACH,
    PASS_MEAN,
    VALIDATION,
    VALIDATION_SEEDS,
    candidates_of,
    chosen_candidate,
)
from utils.models import build_model, layer_list
from utils.results import RunRecord


def runs(*finals: float) -> list[RunRecord]:
    return [RunRecord("baseline", 16146, {"seed": 241 + i, "epochs": 2}, "cpu", "cpu", 1, "", test_accuracy=[98, 99],
                      validation_accuracy=[98.0, final]) for i, final in enumerate(finals)]


def test_the_code_applies_the_pass_mark_the_rule_wrote_down():
    rule = (RESULTS / "choosing-the-recipes.md").read_text()
    assert f"end at {PASS_EACH}% or above" in rule and f"mean is {PASS_MEAN}% or" in rule
    rounds = {"validation-compact-round-2-": COMPACT_ROUND_2_SEEDS,
              "validation-baseline-round-2-": BASELINE_ROUND_2_SEEDS}
    for seeds in (VALIDATION_SEEDS, *rounds.values()):
        assert ", ".join(map(str, seeds[:-1])) + f" and {seeds[-1]}" in rule
    assert len({*VALIDATION_SEEDS, *COMPACT_ROUND_2_SEEDS, *BASELINE_ROUND_2_SEEDS}) == 15, "a seed used twice"
    for e in VALIDATION.values():
        round_2 = [seeds for prefix, seeds in rounds.items() if e.name.startswith(prefix)]
        assert e.settings["validation"] == 10_000 and e.seeds == (round_2[0] if round_2 else VALIDATION_SEEDS)


def test_the_latest_round_is_read_first():
    assert [e.name for e in candidates_of("baseline")] == [
        "validation-baseline-round-2-10-epochs", "validation-baseline", "validation-baseline-lr-0.2",
        "validation-baseline-augment-0.5"]
    assert [e.name for e in candidates_of("compact")][:3] == [
        f"validation-compact-round-2-{name}" for name in ("augment-0.5", "augment-0.75", "wider-augment-0.5")]


def test_the_first_candidate_that_passes_is_chosen_even_if_a_later_one_scores_higher():
    chosen, table = chosen_candidate({"a": runs(99.50, 99.44, 99.70), "b": runs(99.52, 99.53, 99.55),
                                      "c": runs(99.60, 99.61, 99.62), "d": []}, seeds=3)
    assert chosen == "b"
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| a | 241, 242, 243 | 99.50, 99.44, 99.70 | 99.55 | 99.44 | no |")
    assert rows[1].endswith("| 99.53 | 99.52 | yes |") and rows[2].endswith("| yes |")
    assert "no runs here: not needed, or not yet made" in rows[3]


def test_with_no_candidate_passing_the_highest_mean_is_taken():
    assert chosen_candidate({"a": runs(99.50, 99.44), "b": runs(99.51, 99.50)}, seeds=2)[0] == "b"
    with pytest.raises(ValueError, match="--table validation"):
        chosen_candidate({"a": []})


def test_a_candidate_is_judged_only_on_all_its_seeds_finished():
    unfinished = runs(99.60)
    unfinished[0].test_accuracy.pop()  # stopped after its first epoch of two
    with pytest.raises(ValueError, match="b has 1 finished runs, not 2: `make validation` finishes it"):
        chosen_candidate({"a": runs(99.50, 99.44), "b": runs(99.60) + unfinished}, seeds=2)


@pytest.mark.parametrize("model", ["baseline", "compact"])
def test_each_recipe_trains_the_candidate_its_rule_chose(model):
    """RECIPES and MODELS say what the committed validation runs chose, so the two cannot drift apart."""
    runs = {e.name: [run for _, run in sweep_runs(RESULTS / e.name)] for e in candidates_of(model)}
    chosen, _ = chosen_candidate(runs)
    experiment, recipe = VALIDATION[chosen], TrainConfig.recipe(model)
    judged = {**experiment.config().to_dict(), "model": model, "validation": 0}
    assert judged == {**recipe.to_dict(), "seed": experiment.config().seed}
    assert layer_list(build_model(experiment.model)) == layer_list(build_model(model))


def test_notebook_6_reads_every_candidate_in_the_rules_order():
    cell = next(c for c in nbformat.read(ROOT / "notebooks" / "06_sweeps.ipynb", as_version=4).cells
                if "parameters" in c.metadata.get("tags", []))
    given = {}
    exec(cell.source, given)
    for model in ("baseline", "compact"):
        assert given[f"{model}_candidates"] == [f"results/{e.name}" for e in candidates_of(model)]
