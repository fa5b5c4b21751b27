import pytest
import torch

from utils.config import TrainConfig
from utils.models import Baseline
from utils.plots import plot_history
from utils.train import new_metrics, record_epoch


def test_history_plots_loss_error_and_learning_rate():
    metrics = new_metrics(TrainConfig(epochs=3), Baseline(), torch.device("cpu"))
    for acc, lr in ((90.0, 0.05), (99.0, 0.1), (99.5, 0.01)):
        record_epoch(metrics, 0.3, 0.2, acc, 1.0, lr)
    loss_ax, error_ax, lr_ax = plot_history(metrics, target=99.4).axes
    assert loss_ax.get_yscale() == error_ax.get_yscale() == "log"
    assert list(error_ax.lines[0].get_ydata()) == pytest.approx([10.0, 1.0, 0.5])  # error = 100 - accuracy
    assert list(error_ax.lines[1].get_ydata()) == pytest.approx([0.6, 0.6])  # the target line
    assert list(lr_ax.lines[0].get_ydata()) == [0.05, 0.1, 0.01]
