import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from utils import data
from utils.data import DATA_DIR, MNISTDataError, load_mnist, pixel_stats

REPO = Path(__file__).resolve().parents[1]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def data_copy(tmp_path):
    """A private copy of the shipped files that a test may damage."""
    folder = tmp_path / "mnist"
    shutil.copytree(DATA_DIR, folder)
    return folder


def test_shapes_types_and_official_label_counts():
    mnist = load_mnist()
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == torch.uint8
    assert mnist.test_images.shape == (10000, 28, 28)
    assert torch.bincount(mnist.train_labels).tolist() == TRAIN_COUNTS
    assert torch.bincount(mnist.test_labels).tolist() == TEST_COUNTS


def test_pixel_statistics_are_computed_from_the_data():
    mnist = load_mnist()
    mean, std = pixel_stats(mnist.train_images)
    assert (round(mean, 4), round(std, 4)) == (0.1307, 0.3081)
    assert round(pixel_stats(mnist.test_images)[0], 4) == 0.1325
    small = mnist.test_images[:500].double() / 255
    assert pixel_stats(mnist.test_images[:500]) == pytest.approx((small.mean().item(), small.std().item()), rel=1e-12)


def test_pixel_statistics_need_no_float_copy_of_the_images():
    """A float64 copy of the 60,000 training images is 376 MB; the statistics must not need one."""
    code = ("import resource, torch; from utils.data import load_mnist, pixel_stats; "
            "images = load_mnist().train_images; "
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; pixel_stats(images); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    grown_kib = int(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                                   check=True).stdout)
    assert grown_kib < 50_000, f"the peak memory grew by {grown_kib / 1024:.0f} MiB"


def test_batches_are_normalised_to_zero_mean_unit_std():
    from utils.data import Batches

    mnist = load_mnist()
    mean, std = pixel_stats(mnist.train_images)
    x = Batches(mnist.train_images, mnist.train_labels, mean, std).inputs(torch.arange(5000))
    assert x.shape == (5000, 1, 28, 28) and x.dtype == torch.float32
    assert abs(x.mean().item()) < 0.01 and abs(x.std().item() - 1) < 0.01


def test_uncompressed_files_are_accepted(data_copy):
    name = "t10k-labels-idx1-ubyte"
    gz = data_copy / f"{name}.gz"
    (data_copy / name).write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    assert load_mnist(data_copy, download=False).test_labels.shape == (10000,)


def test_missing_file_is_named(data_copy):
    (data_copy / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MNISTDataError, match="train-labels-idx1-ubyte.gz is missing.*git checkout"):
        load_mnist(data_copy)


def test_truncated_file_is_named(data_copy):
    path = data_copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(MNISTDataError, match="t10k-images-idx3-ubyte.gz is not a readable gzip"):
        load_mnist(data_copy)


def test_altered_content_fails_the_checksum(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[500] = (content[500] + 1) % 10  # one wrong label
    path.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(MNISTDataError, match="does not hold the expected MNIST content.*expected ff7bcfd4"):
        load_mnist(data_copy)


def test_empty_folder_without_download_says_how_to_restore(tmp_path):
    with pytest.raises(MNISTDataError, match="is missing"):
        load_mnist(tmp_path, download=False)


def test_failed_download_gives_a_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets

    class Offline:
        def __init__(self, *args, **kwargs):
            raise OSError("no network")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    with pytest.raises(MNISTDataError, match="downloading them failed \\(no network\\)"):
        load_mnist(tmp_path)


def test_downloaded_files_are_found_and_verified(tmp_path, monkeypatch):
    """torchvision's layout (MNIST/raw, uncompressed) is used once present."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.SHA256:
        (raw / name).write_bytes(gzip.decompress((DATA_DIR / f"{name}.gz").read_bytes()))
    assert load_mnist(tmp_path, download=False).train_labels.shape == (60000,)


def test_validation_images_are_held_out_the_same_for_every_run():
    from utils.data import training_and_test, training_validation_and_test

    cpu = torch.device("cpu")
    train, validation, test = training_validation_and_test(cpu, seed=1, validation=5000)
    _, again, _ = training_validation_and_test(cpu, data_fraction=0.5, seed=7, validation=5000)
    assert len(train.labels) == 55_000 and len(validation.labels) == 5000 and len(test.labels) == 10_000
    assert torch.equal(validation.images, again.images)  # not drawn with the run's seed, nor changed by the fraction
    full = load_mnist().train_images
    seen = {bytes(img.numpy()) for img in train.images}
    assert not any(bytes(img.numpy()) in seen for img in validation.images[:500] if img.any())  # disjoint
    assert validation.labels.bincount().min() > 400  # a random draw: every digit is there
    plain_train, plain_test = training_and_test(cpu)
    assert torch.equal(plain_train.images, full) and training_validation_and_test(cpu)[1] is None
    assert (plain_train.mean, plain_test.mean) != (train.mean, None)
