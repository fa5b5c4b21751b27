"""The course's figures: digit grids, training curves, confusion matrix, receptive fields."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .config import TARGET_ACCURACY
from .results import RunRecord


def show_digits(images: torch.Tensor, titles: Sequence[str] | None = None, ncols: int = 10,
                size: float = 1.1) -> Figure:
    """A grid of images (N, 28, 28) or (N, 1, 28, 28), with an optional title under each."""
    images = images.detach().cpu().reshape(len(images), *images.shape[-2:])
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap="gray_r")
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def show_pairs(originals: torch.Tensor, changed: torch.Tensor, titles: Sequence[str], size: float = 1.5) -> Figure:
    """Each original image above its changed version, both framed so that a shift shows; titles go under the
    changed ones."""
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(n * size, 2 * size * 1.45), squeeze=False)
    for i in range(n):
        for row, images in enumerate((originals, changed)):
            ax = axes[row, i]
            ax.imshow(images[i].detach().cpu().reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[])
            for spine in ax.spines.values():
                spine.set(edgecolor="C0", linewidth=1.5)
        axes[1, i].set_xlabel(titles[i], fontsize=7)
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("augmented")
    fig.tight_layout()
    return fig


def plot_class_counts(train_labels: torch.Tensor, test_labels: torch.Tensor) -> Figure:
    """Bar chart of images per digit in the training and test sets."""
    fig, ax = plt.subplots(figsize=(7, 3))
    digits = torch.arange(10)
    for offset, labels, name in ((-0.2, train_labels, "train"), (0.2, test_labels, "test")):
        counts = torch.bincount(labels.cpu(), minlength=10)
        ax.bar(digits + offset, counts / counts.sum() * 100, width=0.4, label=f"{name} ({len(labels):,})")
    ax.set(xticks=digits.tolist(), xlabel="digit", ylabel="share of images (%)")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_history(run: RunRecord, target: float | None = None) -> Figure:
    """Loss and test error after each epoch of one run; x counts the epochs done, as in `plot_schedule`."""
    epochs = range(1, run.epochs + 1)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    loss_ax.plot(epochs, run.train_loss, "o-", label="train (augmented, dropout on)")
    if run.validation_loss:
        loss_ax.plot(epochs, run.validation_loss, "o-", label="validation", color="C4")
    loss_ax.plot(epochs, run.test_loss, "o-", label="test")
    loss_ax.set(title="loss", xlabel="epochs done")
    plain_log_scale(loss_ax)
    loss_ax.legend()
    # Error on a log scale shows both the first epochs and the last tenths of a percent.
    if run.validation_accuracy:
        acc_ax.plot(epochs, [100 - a for a in run.validation_accuracy], "o-", color="C4", label="validation")
    acc_ax.plot(epochs, [100 - a for a in run.test_accuracy], "o-", color="C2", label="test")
    if target is not None:
        acc_ax.axhline(100 - target, color="gray", linestyle="--", label=f"target: {target}% accuracy")
    if target is not None or run.validation_accuracy:
        acc_ax.legend(loc="upper right")
    acc_ax.set(title="error (%) = 100 - accuracy", xlabel="epochs done")
    plain_log_scale(acc_ax)
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
    fig.suptitle(f"{run.model}, seed {run.seed}")
    fig.tight_layout()
    return fig


def plot_schedule(rates: Sequence[float], momenta: Sequence[float], steps_per_epoch: int) -> Figure:
    """Learning rate and momentum at every optimiser step; x is the number of epochs done."""
    fig, (lr_ax, momentum_ax) = plt.subplots(1, 2, figsize=(10, 3))
    x = [i / steps_per_epoch for i in range(len(rates))]
    lr_ax.plot(x, rates, color="C3")
    lr_ax.set(xlabel="epochs done", ylabel="learning rate", title="learning rate")
    momentum_ax.plot(x, momenta, color="C4")
    momentum_ax.set(xlabel="epochs done", ylabel="momentum", title="momentum")
    for ax in (lr_ax, momentum_ax):
        ax.grid(alpha=0.3)
    fig.suptitle("the one-cycle schedule")
    fig.tight_layout()
    return fig


def confusion_matrix(true: torch.Tensor, predicted: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """counts[i, j] = images of class i predicted as j."""
    return torch.bincount(true.cpu() * classes + predicted.cpu(), minlength=classes * classes).reshape(classes, classes)


def plot_confusion(counts: torch.Tensor) -> Figure:
    """The confusion matrix with counts; the diagonal is dimmed so that the errors stand out."""
    off_diagonal = counts.clone().fill_diagonal_(0)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(off_diagonal, cmap="Reds")
    dark = off_diagonal.max().item() / 2
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            color = "gray" if i == j else "white" if off_diagonal[i, j] > dark else "black"
            ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title=f"{int(off_diagonal.sum())} errors in {int(counts.sum()):,} test images")
    fig.tight_layout()
    return fig


def plot_receptive_field(gradient: torch.Tensor, rf: int, start: float, jump: int, position: tuple[int, int],
                         image: torch.Tensor | None = None, title: str = "") -> Figure:
    """The measured field (gradient of one output unit) beside the computed square on an image."""
    centre_row, centre_col = (start + position[0] * jump, start + position[1] * jump)
    fig, (grad_ax, image_ax) = plt.subplots(1, 2, figsize=(7, 3.5))
    grad_ax.imshow(gradient > 0, cmap="Blues")
    grad_ax.set_title("measured: non-zero gradient")
    image_ax.imshow(image if image is not None else torch.zeros_like(gradient), cmap="gray_r")
    image_ax.set_title(f"computed: {rf}x{rf}")
    for ax in (grad_ax, image_ax):
        # pixel i spans [i - 0.5, i + 0.5] in imshow's coordinates, so subtract 0.5
        corner = (centre_col - rf / 2 - 0.5, centre_row - rf / 2 - 0.5)
        ax.add_patch(Rectangle(corner, rf, rf, fill=False, edgecolor="C1", linewidth=2))
        ax.set(xticks=[], yticks=[])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_whole_digit_share(share: torch.Tensor, title: str) -> Figure:
    """The share of test digits each position of a feature map sees whole, in percent, on the map's grid."""
    fig, ax = plt.subplots(figsize=(3.8, 3.6))
    ax.imshow(share, cmap="Greens", vmin=0, vmax=1)
    for (i, j), value in zip(torch.cartesian_prod(*map(torch.arange, share.shape)).tolist(), share.flatten(),
                             strict=True):
        ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=8,
                color="white" if value > 0.6 else "black")
    ax.set(xticks=range(share.shape[1]), yticks=range(share.shape[0]), xlabel="column", ylabel="row", title=title)
    fig.tight_layout()
    return fig


def plot_effective_field(heat: torch.Tensor, rf: int, centre: tuple[float, float], title: str) -> Figure:
    """Mean gradient magnitude per input pixel (the effective receptive field) with the computed square."""
    fig, ax = plt.subplots(figsize=(4, 3.6))
    shown = ax.imshow(heat / heat.max(), cmap="magma")
    fig.colorbar(shown, ax=ax, label="|gradient|, largest = 1")
    corner = (centre[1] - rf / 2 - 0.5, centre[0] - rf / 2 - 0.5)  # pixel i spans [i - 0.5, i + 0.5] here
    ax.add_patch(Rectangle(corner, rf, rf, fill=False, edgecolor="C2", linewidth=2, label=f"computed {rf}x{rf}"))
    ax.legend(loc="lower left", fontsize=7)
    ax.set(xticks=[], yticks=[], title=title)
    fig.tight_layout()
    return fig


def plain_log_scale(ax: Axes) -> None:
    """Log-scaled y axis labelled 0.02, 0.05, 0.1 rather than 2x10^-2."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_journey(steps: Sequence) -> Figure:
    """The design journey (utils.journey.StepResult per step): validation and test error per step, mean and
    standard deviation over the seeds (log scale), and the gap between training and validation accuracy."""
    names = [s.step.name for s in steps]
    x = range(len(steps))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for offset, label, key in ((-0.1, "validation", "validation"), (0.1, "test", "test")):
        means, stds = zip(*(getattr(s, key) for s in steps), strict=True)
        left.errorbar([i + offset for i in x], [100 - m for m in means], yerr=stds, fmt="o", capsize=3, label=label)
    left.axhline(100 - TARGET_ACCURACY, color="gray", linestyle="--", label=f"{TARGET_ACCURACY}% accuracy")
    left.set(ylabel="error (%), mean ± std over seeds", title="error after the last epoch")
    plain_log_scale(left)
    right.bar(x, [s.gap for s in steps], color=["tab:red" if s.gap > 0 else "tab:blue" for s in steps])
    right.axhline(0, color="black", linewidth=0.8)
    right.set(ylabel="training minus validation accuracy (points)", title="fitting the training images better?")
    for ax in (left, right):
        ax.set_xticks(list(x), names, rotation=30, ha="right")
        ax.grid(alpha=0.3, axis="y", which="both")
    left.legend(fontsize=8)
    fig.tight_layout()
    return fig
