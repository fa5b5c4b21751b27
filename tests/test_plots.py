import pytest

from utils.plots import plot_history, plot_schedule


def test_history_plots_loss_and_error(finished_run):
    loss_ax, error_ax = plot_history(finished_run([90.0, 99.0, 99.5]), target=99.4).axes
    assert loss_ax.get_yscale() == error_ax.get_yscale() == "log"
    assert list(error_ax.lines[0].get_ydata()) == pytest.approx([10.0, 1.0, 0.5])  # error = 100 - accuracy
    assert list(error_ax.lines[1].get_ydata()) == pytest.approx([0.6, 0.6])  # the target line


def test_schedule_plots_rate_and_momentum_against_epochs_done():
    lr_ax, momentum_ax = plot_schedule([0.1, 0.2, 0.3, 0.4], [0.95, 0.9, 0.85, 0.9], steps_per_epoch=2).axes
    assert list(lr_ax.lines[0].get_xdata()) == [0, 0.5, 1.0, 1.5]
    assert list(momentum_ax.lines[0].get_ydata()) == [0.95, 0.9, 0.85, 0.9]

