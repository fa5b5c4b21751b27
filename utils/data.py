"""MNIST as uint8 tensors: offline from the copy shipped in `data/mnist/`, verified by SHA-256."""
from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from .config import ROOT, TRAINING_IMAGES

DATA_DIR = ROOT / "data" / "mnist"
SHA256 = {  # of each uncompressed file: any copy with these bytes is MNIST
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
RESTORE_HINT = ("Restore the shipped copy with `git checkout -- data/mnist`, or delete the folder on a machine with "
                "internet to download it.")
VALIDATION_SEED = 2024  # not the run's seed: every run validates on the same images


class MNISTDataError(RuntimeError):
    """A data file is missing, unreadable or not the MNIST content it should be."""


@dataclass(frozen=True)
class MNIST:
    """The official split as uint8 images (N, 28, 28) and int64 labels (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def _read_raw(folder: Path, name: str) -> bytes:
    """Bytes of `name`, from `name.gz` or the uncompressed `name`, checked against SHA256."""
    gz, plain = folder / f"{name}.gz", folder / name
    if gz.exists():
        try:
            data, source = gzip.decompress(gz.read_bytes()), gz
        except (OSError, EOFError, zlib.error) as err:
            raise MNISTDataError(f"{gz} is not a readable gzip file ({err}). {RESTORE_HINT}") from None
    elif plain.exists():
        data, source = plain.read_bytes(), plain
    else:
        raise MNISTDataError(f"{gz} is missing (nor is {name} in {folder}). {RESTORE_HINT}")
    if (digest := hashlib.sha256(data).hexdigest()) != SHA256[name]:
        raise MNISTDataError(f"{source} does not hold the expected MNIST content (SHA-256 {digest[:12]}..., expected "
                             f"{SHA256[name][:12]}...; truncated or altered?). {RESTORE_HINT}")
    return data


def _parse_idx(data: bytes) -> torch.Tensor:
    """An IDX file (magic 0x0000 08 ndim, big-endian sizes, uint8 payload) as a uint8 tensor."""
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape)


def _any_present(folder: Path) -> bool:
    return any((folder / n).exists() or (folder / f"{n}.gz").exists() for n in SHA256)


@lru_cache(maxsize=2)
def load_mnist(folder: str | Path = DATA_DIR, download: bool = True) -> MNIST:
    """Load and verify the four MNIST files; download with torchvision only when none of them is present."""
    folder = Path(folder)
    if not _any_present(folder) and (_any_present(folder / "MNIST" / "raw") or download):
        if not _any_present(folder / "MNIST" / "raw"):
            from torchvision.datasets import MNIST as TorchvisionMNIST

            try:
                for train in (True, False):
                    TorchvisionMNIST(str(folder), train=train, download=True)
            except Exception as err:  # noqa: BLE001 - any network failure: say what to do instead
                raise MNISTDataError(f"The MNIST files are not in {folder} and downloading them failed ({err}). "
                                     f"{RESTORE_HINT}") from None
        folder = folder / "MNIST" / "raw"
    t = {name: _parse_idx(_read_raw(folder, name)) for name in SHA256}
    return MNIST(t["train-images-idx3-ubyte"], t["train-labels-idx1-ubyte"].long(), t["t10k-images-idx3-ubyte"],
                 t["t10k-labels-idx1-ubyte"].long())


def pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    """Mean and sample standard deviation of uint8 images scaled to [0, 1], exact in float64, from a count of the
    256 pixel values rather than a float copy of the images."""
    counts = torch.bincount(images.reshape(-1), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    mean = (counts * values).sum() / counts.sum()
    return mean.item(), ((counts * (values - mean) ** 2).sum() / (counts.sum() - 1)).sqrt().item()


@dataclass
class Batches:
    """uint8 images and labels on the training device, with the normalisation to apply."""

    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64
    mean: float
    std: float

    def inputs(self, idx: torch.Tensor, augment: Callable | None = None, generator: torch.Generator | None = None,
               channels_last: bool = True) -> torch.Tensor:
        """Normalised float batch (B, 1, 28, 28), augmented first where `augment` is given."""
        x = self.images[idx].unsqueeze(1).float().div_(255)
        if augment is not None:
            x = augment(x, generator)  # before normalising, so that the padding value 0 is background
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def training_size(data_fraction: float = 1.0, validation: int = 0) -> int:
    """Training images a run learns from: those not held out, or a share of them."""
    kept = TRAINING_IMAGES - validation
    return kept if data_fraction >= 1 else max(1, round(data_fraction * kept))


def training_validation_and_test(device: torch.device, data_fraction: float = 1.0, seed: int = 0,
                                 validation: int = 0) -> tuple[Batches, Batches | None, Batches]:
    """Training, validation (None without it) and test sets on `device`, normalised with the statistics of the
    training images: `validation` images held out first, then a share of the rest drawn with `seed`."""
    mnist = load_mnist()
    order = torch.randperm(TRAINING_IMAGES, generator=torch.Generator().manual_seed(VALIDATION_SEED))
    kept, held = order[validation:].sort().values, order[:validation].sort().values
    images, labels = mnist.train_images[kept], mnist.train_labels[kept]
    mean, std = pixel_stats(images)
    if data_fraction < 1:
        keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
        keep = keep[: training_size(data_fraction, validation)]
        images, labels = images[keep], labels[keep]

    def on_device(images: torch.Tensor, labels: torch.Tensor) -> Batches:
        return Batches(images.to(device), labels.to(device), mean, std)

    held_set = on_device(mnist.train_images[held], mnist.train_labels[held]) if validation else None
    return on_device(images, labels), held_set, on_device(mnist.test_images, mnist.test_labels)


def training_and_test(device: torch.device, data_fraction: float = 1.0, seed: int = 0) -> tuple[Batches, Batches]:
    """Training and test sets on `device`, without a validation hold-out."""
    train, _, test = training_validation_and_test(device, data_fraction, seed)
    return train, test
