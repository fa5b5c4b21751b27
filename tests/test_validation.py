"""The rule that chose the recipes: its pass mark as results/choosing-the-recipes.md states it, applied in order."""
import pytest

from utils.config import RESULTS
from utils.experiments import PASS_EACH, PASS_MEAN, VALIDATION, VALIDATION_SEEDS, chosen_candidate
from utils.results import RunRecord


def runs(*finals: float) -> list[RunRecord]:
    return [RunRecord("baseline", 16146, {"seed": 241 + i}, "cpu", "cpu", 1, "", validation_accuracy=[98.0, final])
            for i, final in enumerate(finals)]


def test_the_code_applies_the_pass_mark_the_rule_wrote_down():
    rule = (RESULTS / "choosing-the-recipes.md").read_text()
    assert f"end at {PASS_EACH}% or above" in rule and f"mean is {PASS_MEAN}% or" in rule
    assert ", ".join(map(str, VALIDATION_SEEDS[:-1])) + f" and {VALIDATION_SEEDS[-1]}" in rule
    assert all(e.settings["validation"] == 10_000 and e.seeds == VALIDATION_SEEDS for e in VALIDATION.values())


def test_the_first_candidate_that_passes_is_chosen_even_if_a_later_one_scores_higher():
    chosen, table = chosen_candidate({"a": runs(99.50, 99.44, 99.70), "b": runs(99.52, 99.53, 99.55),
                                      "c": runs(99.60, 99.61, 99.62), "d": []})
    assert chosen == "b"
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| a | 241, 242, 243 | 99.50, 99.44, 99.70 | 99.55 | 99.44 | no |")
    assert rows[1].endswith("| 99.53 | 99.52 | yes |") and rows[2].endswith("| yes |")
    assert "not run: an earlier candidate passed" in rows[3]


def test_with_no_candidate_passing_the_highest_mean_is_taken():
    assert chosen_candidate({"a": runs(99.50, 99.44), "b": runs(99.51, 99.50)})[0] == "b"
    with pytest.raises(ValueError, match="--table validation"):
        chosen_candidate({"a": []})
