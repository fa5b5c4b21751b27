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

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data" / "mnist"

# SHA-256 of each UNCOMPRESSED file, i.e. of the content; any copy with these bytes is MNIST.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
RESTORE_HINT = (
    "Restore the shipped copy with `git checkout -- data/mnist` (or clone the repository again); "
    "on a machine with internet you may instead delete the whole data/mnist folder and the files "
    "are downloaded with torchvision."
)


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
            data = gzip.decompress(gz.read_bytes())
        except (OSError, EOFError, zlib.error) as err:
            raise MNISTDataError(f"{gz} is not a readable gzip file ({err}). {RESTORE_HINT}") from None
        source = gz
    elif plain.exists():
        data, source = plain.read_bytes(), plain
    else:
        raise MNISTDataError(f"{gz} is missing (expected {name}.gz or {name} in {folder}). {RESTORE_HINT}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[name]:
        raise MNISTDataError(
            f"{source} does not hold the expected MNIST content: SHA-256 of the uncompressed bytes is "
            f"{digest}, expected {SHA256[name]} ({len(data):,} bytes read; the file may be truncated "
            f"or altered). {RESTORE_HINT}"
        )
    return data


def _parse_idx(data: bytes) -> torch.Tensor:
    """An IDX file (magic 0x0000 08 ndim, big-endian sizes, uint8 payload) as a uint8 tensor."""
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    payload = bytearray(data[4 + 4 * ndim:])
    return torch.frombuffer(payload, dtype=torch.uint8).reshape(shape)


def _download(folder: Path) -> Path:
    """Fetch MNIST with torchvision into `folder`; returns the folder holding the raw files."""
    from torchvision.datasets import MNIST as TorchvisionMNIST

    try:
        TorchvisionMNIST(str(folder), train=True, download=True)
        TorchvisionMNIST(str(folder), train=False, download=True)
    except Exception as err:  # any network failure: say what to do instead
        raise MNISTDataError(
            f"The MNIST files are not in {folder} and downloading them failed ({err}). {RESTORE_HINT}"
        ) from None
    return folder / "MNIST" / "raw"


def _any_present(folder: Path) -> bool:
    return any((folder / n).exists() or (folder / f"{n}.gz").exists() for n in SHA256)


@lru_cache(maxsize=2)
def load_mnist(folder: str | Path = DATA_DIR, download: bool = True) -> MNIST:
    """Load and verify the four MNIST files; download only when none of them is present."""
    folder = Path(folder)
    if not _any_present(folder):
        downloaded = folder / "MNIST" / "raw"
        if _any_present(downloaded):
            folder = downloaded
        elif download:
            folder = _download(folder)
    tensors = {name: _parse_idx(_read_raw(folder, name)) for name in SHA256}
    return MNIST(
        train_images=tensors["train-images-idx3-ubyte"],
        train_labels=tensors["train-labels-idx1-ubyte"].long(),
        test_images=tensors["t10k-images-idx3-ubyte"],
        test_labels=tensors["t10k-labels-idx1-ubyte"].long(),
    )


def pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation (sample) of uint8 images scaled to [0, 1], exact in float64.

    Counting the 256 pixel values needs no float copy of the images (60,000 images in float64 would take
    376 MB, twice over with the scaling)."""
    counts = torch.bincount(images.reshape(-1), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    n = counts.sum()
    mean = (counts * values).sum() / n
    variance = (counts * (values - mean) ** 2).sum() / (n - 1)
    return mean.item(), variance.sqrt().item()


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
            x = augment(x, generator)  # in [0, 1], where the padding value 0 is background
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x


# The held-out validation images are drawn with this seed, not the run's: every run validates on the same images.
VALIDATION_SEED = 2024


def held_out(n_images: int, validation: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (kept for training, held out for validation) of `n_images`; the kept ones in their order."""
    order = torch.randperm(n_images, generator=torch.Generator().manual_seed(VALIDATION_SEED))
    return order[validation:].sort().values, order[:validation].sort().values


def training_validation_and_test(device: torch.device, data_fraction: float = 1.0, seed: int = 0,
                                 validation: int = 0) -> tuple[Batches, Batches | None, Batches]:
    """Training, validation (None without it) and test sets on `device`, normalised with the statistics of the
    training images. `validation` images are held out first; a `data_fraction` < 1 then keeps a random share of
    the rest, drawn with `seed`."""
    mnist = load_mnist()
    kept, held = held_out(len(mnist.train_labels), validation)
    images, labels = mnist.train_images[kept], mnist.train_labels[kept]
    mean, std = pixel_stats(images)
    if data_fraction < 1:
        keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
        keep = keep[: max(1, round(data_fraction * len(labels)))]
        images, labels = images[keep], labels[keep]
    train = Batches(images.to(device), labels.to(device), mean, std)
    held_set = (Batches(mnist.train_images[held].to(device), mnist.train_labels[held].to(device), mean, std)
                if validation else None)
    test = Batches(mnist.test_images.to(device), mnist.test_labels.to(device), mean, std)
    return train, held_set, test


def training_and_test(device: torch.device, data_fraction: float = 1.0, seed: int = 0) -> tuple[Batches, Batches]:
    """Training and test sets on `device`, normalised with the training statistics; a `data_fraction` < 1
    keeps a random subset of the training images, drawn with `seed`."""
    train, _, test = training_validation_and_test(device, data_fraction, seed)
    return train, test
