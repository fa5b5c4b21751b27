"""The course's figures: digit grids, training curves, confusion matrix, receptive fields."""
import itertools
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .results import RunRecord


def _tight(fig: plt.Figure) -> plt.Figure:
    fig.tight_layout()
    return fig


def show_digits(images: torch.Tensor, titles: Sequence[str] | None = None, ncols: int = 10) -> plt.Figure:
    """A grid of images (N, 28, 28) or (N, 1, 28, 28), with an optional title under each."""
    images, nrows = images.detach().cpu().reshape(len(images), *images.shape[-2:]), -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.1, nrows * 1.1 * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap="gray_r")
            ax.set_title(titles[i] if titles is not None else "", fontsize=8)
    return _tight(fig)


def show_pairs(originals: torch.Tensor, changed: torch.Tensor, titles: Sequence[str]) -> plt.Figure:
    """Each original image above its changed version, both framed so that a shift shows; titles under the changed."""
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(n * 1.5, 4.35), squeeze=False)
    for ax, image in zip(axes.flat, [*originals, *changed[:n]], strict=True):
        ax.imshow(image.detach().cpu().reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
        ax.spines[:].set(edgecolor="C0", linewidth=1.5)
    for ax, title in zip(axes[1], titles, strict=False):
        ax.set_xlabel(title, fontsize=7)
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("augmented")
    return _tight(fig)


def plot_class_counts(train_labels: torch.Tensor, test_labels: torch.Tensor) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 3))
    for offset, labels, name in ((-0.2, train_labels, "train"), (0.2, test_labels, "test")):
        counts = torch.bincount(labels.cpu(), minlength=10)
        ax.bar(torch.arange(10) + offset, counts / counts.sum() * 100, width=0.4, label=f"{name} ({len(labels):,})")
    ax.set(xticks=range(10), xlabel="digit", ylabel="share of images (%)")
    ax.legend()
    return _tight(fig)


def plot_history(run: RunRecord, target: float) -> plt.Figure:
    """Loss and error per epoch, on log scales so that the first epochs and the last tenths of a percent both show."""
    epochs = range(1, run.epochs + 1)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    loss_ax.plot(epochs, run.train_loss, "o-", label="train (augmented, dropout on)")
    if run.validation_loss:  # a run with a validation set records both its loss and its accuracy
        loss_ax.plot(epochs, run.validation_loss, "o-", label="validation", color="C4")
        acc_ax.plot(epochs, [100 - a for a in run.validation_accuracy], "o-", color="C4", label="validation")
    loss_ax.plot(epochs, run.test_loss, "o-", label="test")
    acc_ax.plot(epochs, [100 - a for a in run.test_accuracy], "o-", color="C2", label="test")
    acc_ax.axhline(100 - target, color="gray", linestyle="--", label=f"target: {target}% accuracy")
    for ax, title, corner in ((loss_ax, "loss", "best"), (acc_ax, "error (%) = 100 - accuracy", "upper right")):
        ax.set(title=title, xlabel="epochs done")
        ax.legend(loc=corner)
        plain_log_scale(ax)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{run.model}, seed {run.seed}")
    return _tight(fig)


def plot_schedule(rates: Sequence[float], momenta: Sequence[float], steps_per_epoch: int) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    for ax, values, color, name in ((axes[0], rates, "C3", "learning rate"), (axes[1], momenta, "C4", "momentum")):
        ax.plot([i / steps_per_epoch for i in range(len(rates))], values, color=color)
        ax.set(xlabel="epochs done", ylabel=name, title=name)
        ax.grid(alpha=0.3)
    fig.suptitle("the one-cycle schedule")
    return _tight(fig)


def confusion_matrix(true: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """counts[i, j] = images of digit i predicted as j."""
    return torch.bincount(true.cpu() * 10 + predicted.cpu(), minlength=100).reshape(10, 10)


def plot_confusion(counts: torch.Tensor) -> plt.Figure:
    """The confusion matrix with counts; the diagonal is dimmed so that the errors stand out."""
    off_diagonal = counts.clone().fill_diagonal_(0)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(off_diagonal, cmap="Reds")
    for i, j in itertools.product(range(counts.shape[0]), range(counts.shape[1])):
        color = "gray" if i == j else "white" if off_diagonal[i, j] > off_diagonal.max().item() / 2 else "black"
        ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title=f"{int(off_diagonal.sum())} errors in {int(counts.sum()):,} test images")
    return _tight(fig)


def _field_square(centre: tuple[float, float], rf: int, color: str, **kwargs) -> plt.Rectangle:
    """The rf x rf square centred at `centre` (row, column) on imshow's axes, where pixel i spans [i - 0.5, i + 0.5]."""
    corner = (centre[1] - rf / 2 - 0.5, centre[0] - rf / 2 - 0.5)
    return plt.Rectangle(corner, rf, rf, fill=False, edgecolor=color, linewidth=2, **kwargs)


def plot_receptive_field(gradient: torch.Tensor, rf: int, start: float, jump: int, position: tuple[int, int],
                         image: torch.Tensor, title: str) -> plt.Figure:
    fig, (grad_ax, image_ax) = plt.subplots(1, 2, figsize=(7, 3.5))
    grad_ax.imshow(gradient > 0, cmap="Blues")
    image_ax.imshow(image, cmap="gray_r")
    for ax, name in ((grad_ax, "measured: non-zero gradient"), (image_ax, f"computed: {rf}x{rf}")):
        ax.add_patch(_field_square((start + position[0] * jump, start + position[1] * jump), rf, "C1"))
        ax.set(xticks=[], yticks=[], title=name)
    fig.suptitle(title)
    return _tight(fig)


def plot_whole_digit_share(share: torch.Tensor, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(3.8, 3.6))
    ax.imshow(share, cmap="Greens", vmin=0, vmax=1)
    for (i, j), v in zip(itertools.product(*map(range, share.shape)), share.flatten(), strict=True):
        ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=8, color="white" if v > 0.6 else "black")
    ax.set(xticks=range(share.shape[1]), yticks=range(share.shape[0]), xlabel="column", ylabel="row", title=title)
    return _tight(fig)


def plot_effective_field(heat: torch.Tensor, rf: int, centre: tuple[float, float], title: str) -> plt.Figure:
    """Mean gradient magnitude per input pixel (the effective receptive field) with the computed square."""
    fig, ax = plt.subplots(figsize=(4, 3.6))
    fig.colorbar(ax.imshow(heat / heat.max(), cmap="magma"), ax=ax, label="|gradient|, largest = 1")
    ax.add_patch(_field_square(centre, rf, "C2", label=f"computed {rf}x{rf}"))
    ax.legend(loc="lower left", fontsize=7)
    ax.set(xticks=[], yticks=[], title=title)
    return _tight(fig)


def plain_log_scale(ax: plt.Axes) -> None:
    """Log-scaled y axis labelled 0.02, 0.05, 0.1 rather than 2x10^-2."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())

