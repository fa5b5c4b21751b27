import csv

import pytest
import torch

from utils.analysis import (
    at_least,
    chance_below_target,
    majority_vote_accuracy,
    mean_spread,
    misread_by_every_run,
    misread_counts,
    plot_sweep,
    standard_error,
    sweep_markdown,
    sweep_stats,
    write_sweep_csv,
)
from utils.results import RunRecord, load_runs


@pytest.fixture
def sweep(finished_run, saved_runs):
    folder = saved_runs({f"seed{seed}": finished_run(accuracies, seconds=10.0 + seed, seed=seed)
                         for seed, accuracies in ((1, [99.0, 99.5]), (2, [99.2, 99.3]), (3, [99.45, 99.6]))})
    return load_runs(sorted(folder.glob("*/metrics.json")))


def test_rows_and_statistics(sweep):
    assert [run.seed for _, run in sweep] == [1, 2, 3]
    assert [run.first_epoch_at_target for _, run in sweep] == [2, None, 1]
    stats = sweep_stats(sweep)
    assert stats["final"]["min"] == 99.3 and stats["final"]["max"] == 99.6
    assert stats["final"]["mean"] == pytest.approx((99.5 + 99.3 + 99.6) / 3)
    assert stats["first_at_target"]["mean"] == 1.5  # over the runs that reached it
    assert stats["seconds"]["std"] == pytest.approx(2.0)


def test_markdown_csv_and_plot(sweep, tmp_path):
    text = sweep_markdown(sweep)
    assert "| seed2 | 2 | 2 | 99.30 | 99.30 | - | 24 |" in text
    assert "| **mean** | - | - | 99.47 | 99.47 | 1.5 | 24 |" in text
    assert "2 of 3 runs at or above 99.4% at the final epoch" in text
    write_sweep_csv(sweep, tmp_path / "r.csv")
    table = list(csv.reader(open(tmp_path / "r.csv")))
    assert table[0][0] == "run" and [r[0] for r in table[-4:]] == ["mean", "min", "max", "std"]
    ax = plot_sweep(sweep).axes[0]
    assert len(ax.lines) == 4 and ax.get_yscale() == "log"  # three runs and the target line
    assert list(ax.lines[0].get_ydata()) == pytest.approx([1.0, 0.5])  # error = 100 - accuracy


def test_the_chance_of_k_or_more_in_n_tries():
    assert at_least(0, 10, 0.3) == pytest.approx(1.0)
    assert at_least(1, 10, 1 / 24) == pytest.approx(1 - (23 / 24) ** 10)
    assert at_least(2, 10, 1 / 24) == pytest.approx(1 - (23 / 24) ** 10 - 10 * (1 / 24) * (23 / 24) ** 9)
    assert at_least(3, 3, 0.5) == pytest.approx(0.125)


def test_the_standard_error_of_a_test_accuracy():
    assert standard_error(99.45) == pytest.approx(100 * (0.9945 * 0.0055 / 10_000) ** 0.5)
    assert 0.07 < standard_error(99.45) < 0.08 and standard_error(100.0) == 0


def test_digits_misread_by_every_run_and_how_often_digits_are_misread():
    runs = []
    for seed, misread in ((1, [[5, 3], [9, 4], [20, 1]]), (2, [[5, 8], [20, 7]]), (3, [[5, 3], [7, 0], [20, 7]])):
        run = RunRecord("baseline", 1, {"seed": seed}, "cpu", "", 1, "")
        run.misread = misread
        runs.append((f"seed{seed}", run))
    assert misread_by_every_run(runs) == {5: [3, 8, 3], 20: [1, 7, 7]}
    assert misread_counts(runs) == [2, 0, 2]  # 9 and 7 once; none twice; 5 and 20 by all three


def test_a_majority_vote_fixes_what_most_runs_read_right():
    labels = torch.tensor([3, 4, 1, 7, 0])

    def runs_misreading(*misread):
        runs = []
        for seed, wrong in enumerate(misread, start=1):
            run = RunRecord("baseline", 1, {"seed": seed}, "cpu", "", 1, "")
            run.misread = wrong
            runs.append((f"seed{seed}", run))
        return runs

    # image 0 misread by one run of three: the vote is right; image 2 read as 7 by all: wrong
    assert majority_vote_accuracy(runs_misreading([[0, 5], [2, 7]], [[2, 7]], [[1, 9], [2, 7]]), labels) == 80.0
    # image 0 read as 5 by two runs: wrong
    assert majority_vote_accuracy(runs_misreading([[0, 5], [2, 7]], [[0, 5], [2, 7]], [[2, 7]]), labels) == 60.0
    # image 0 read as 5 and as 8: a three-way tie, counted as wrong
    assert majority_vote_accuracy(runs_misreading([[0, 5], [2, 7]], [[0, 8], [2, 7]], [[2, 7]]), labels) == 60.0


def test_how_often_a_run_misses_the_target_by_chance():
    # 99.47 +- 0.04: below 99.4% means 61 or more mistakes, i.e. below 99.395 on a continuous scale
    assert chance_below_target(99.47, 0.04) == pytest.approx(0.0304, abs=1e-4)
    assert chance_below_target(99.5, 0.0) == 0 and chance_below_target(99.3, 0.0) == 1
    assert chance_below_target(99.50, 0.05, 99.455) == pytest.approx(0.1587, abs=1e-4)  # below 99.45: one std


def test_mean_and_spread():
    assert mean_spread([99.0, 99.5]) == (99.25, pytest.approx(0.3536, abs=1e-4))
    assert mean_spread([99.0]) == (99.0, 0.0)


def test_a_sweep_lists_its_seeds_in_numeric_order(finished_run, saved_runs):
    from utils.analysis import sweep_runs

    folder = saved_runs({f"seed{seed}": finished_run([99.5], seed=seed) for seed in (10, 2, 1, 11)})
    assert [name for name, _ in sweep_runs(folder)] == ["seed1", "seed2", "seed10", "seed11"]
    table = sweep_markdown(sweep_runs(folder))
    assert table.index("| seed2 |") < table.index("| seed10 |")
