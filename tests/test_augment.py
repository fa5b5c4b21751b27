import torch

from utils.augment import Draw, RandomAffine
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
    theta = aug.draw(10_000, torch.Generator().manual_seed(0)).matrices()
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


def test_a_draw_is_what_the_transform_applies():
    x = digits()
    draw = RandomAffine().draw(len(x), torch.Generator().manual_seed(5))
    assert torch.equal(draw.apply(x), RandomAffine()(x, torch.Generator().manual_seed(5)))


def test_the_described_turn_and_shift_are_what_one_sees():
    """A positive angle turns the digit anticlockwise on screen; the described shift is where the ink moved."""
    dot = torch.zeros(1, 1, 28, 28)
    dot[0, 0, 14, 22] = 1  # right of the centre
    turn = Draw(torch.tensor([90.0]), torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([[0.0, 0.0]]))
    row, col = divmod(int(turn.apply(dot).flatten().argmax()), 28)
    assert row < 14 and abs(col - 14) <= 1  # now above the centre: anticlockwise
    assert turn.describe(0).startswith("+90° turn")
    shift = Draw(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([[0.1, -0.05]]))
    row, col = divmod(int(shift.apply(dot).flatten().argmax()), 28)
    assert "moved -2.8,+1.4 px" in shift.describe(0)
    assert abs(col - (22 - 2.8)) <= 1 and abs(row - (14 + 1.4)) <= 1
