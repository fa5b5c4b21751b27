import torch

from utils.augment import RandomAffine
from utils.data import load_mnist


def digits(n=16):
    return load_mnist().train_images[:n].unsqueeze(1).float() / 255


def test_shapes_dtype_and_range_are_kept():
    x = digits()
    y = RandomAffine()(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.min() >= 0 and y.max() <= 1 + 1e-6


def test_each_sample_gets_its_own_transform():
    x = digits(1).repeat(32, 1, 1, 1)  # the same digit 32 times
    y = RandomAffine()(x, torch.Generator().manual_seed(0))
    distinct = {tuple(img.flatten().round(decimals=4).tolist()) for img in y}
    assert len(distinct) == 32


def test_zero_ranges_give_back_the_input():
    x = digits()
    y = RandomAffine(degrees=0, translate=0, scale=(1, 1), shear=0)(x)
    assert torch.allclose(x, y, atol=1e-5)


def test_same_generator_seed_same_result():
    x, aug = digits(), RandomAffine()
    a = aug(x, torch.Generator().manual_seed(3))
    b = aug(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, aug(x, torch.Generator().manual_seed(4)))


def test_transforms_stay_within_their_ranges():
    aug = RandomAffine(degrees=10, translate=0.1, scale=(0.9, 1.1), shear=0)
    theta = aug.matrices(10_000, torch.Generator().manual_seed(0))
    linear, shift = theta[:, :, :2], theta[:, :, 2]
    zoom = 1 / torch.linalg.det(linear).sqrt()  # rotation has determinant 1
    angle = torch.atan2(linear[:, 1, 0], linear[:, 0, 0]).rad2deg()
    assert zoom.min() >= 0.9 - 1e-4 and zoom.max() <= 1.1 + 1e-4
    assert angle.abs().max() <= 10 + 1e-3 and angle.abs().max() > 9.5
    assert shift.abs().max() <= 0.2 + 1e-6  # 10% of a side is 0.2 in affine_grid units


def test_translation_moves_each_digit_by_at_most_its_range():
    x = digits(1).repeat(200, 1, 1, 1)
    y = RandomAffine(degrees=0, translate=0.1, scale=(1, 1), shear=0)(x, torch.Generator().manual_seed(0))
    cols = torch.arange(28.0)

    def centre(images):
        return (images[:, 0].sum(1) @ cols) / images.sum((1, 2, 3))

    moved = centre(y) - centre(x)
    assert moved.abs().max() <= 2.8 + 0.3  # 10% of 28 pixels, plus interpolation blur
    assert moved.abs().max() > 2.0 and moved.std() > 1.0  # and they do move, differently


def test_strength_scales_every_range():
    half = RandomAffine().scaled(0.5)
    assert (half.degrees, half.translate, half.shear) == (5.0, 0.05, 2.5)
    assert half.scale == (0.95, 1.05)
    none = RandomAffine().scaled(0)
    x = digits()
    assert torch.allclose(none(x, torch.Generator().manual_seed(0)), x, atol=1e-5)
