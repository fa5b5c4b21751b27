"""BatchNorm from sums (the fast_batchnorm setting): the same layer as nn.BatchNorm2d, to float32 rounding."""
import copy

import pytest
import torch
from torch import nn

from utils.batchnorm import FastBatchNorm2d, pixels_per_row, use_fast_batchnorm
from utils.config import TrainConfig
from utils.train import fit, load_trained_model, prepare


def twins(channels: int) -> tuple[nn.BatchNorm2d, nn.BatchNorm2d]:
    """torch's layer with random affine parameters, and a fast copy of it."""
    reference = nn.BatchNorm2d(channels)
    with torch.no_grad():
        reference.weight.uniform_(0.5, 1.5)
        reference.bias.normal_()
    fast = copy.deepcopy(reference)
    assert use_fast_batchnorm(nn.Sequential(fast)) == 1 and type(fast) is FastBatchNorm2d
    return reference, fast


def channels_last_batch(channels: int, side: int, batch: int = 16) -> torch.Tensor:
    return (torch.randn(batch, channels, side, side) * 2 + 1).contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("channels, side", [(8, 28), (10, 14), (12, 7), (14, 7), (10, 5), (3, 9)])
def test_training_matches_torch_output_gradients_and_running_statistics(channels, side):
    torch.manual_seed(0)
    reference, fast = twins(channels)
    for _ in range(3):  # running statistics accumulate over steps
        x = channels_last_batch(channels, side).requires_grad_()
        x_fast = x.detach().clone().requires_grad_()
        grad = torch.randn_like(x)
        y, y_fast = reference(x), fast(x_fast)
        y.backward(grad)
        y_fast.backward(grad)
        assert y_fast.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(y_fast, y, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(x_fast.grad, x.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fast.weight.grad, reference.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast.bias.grad, reference.bias.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast.running_mean, reference.running_mean)
    torch.testing.assert_close(fast.running_var, reference.running_var)
    assert fast.num_batches_tracked == reference.num_batches_tracked == 3


@pytest.mark.parametrize("case", ["eval", "16 channels", "NCHW", "bfloat16"])
def test_where_torch_is_as_fast_or_the_sums_do_not_apply_the_result_is_torchs_exactly(case):
    torch.manual_seed(0)
    channels = 16 if case == "16 channels" else 10
    reference, fast = twins(channels)
    x = channels_last_batch(channels, 14)
    if case == "eval":
        reference.eval(), fast.eval()
    elif case == "NCHW":
        x = x.contiguous()
    elif case == "bfloat16":
        x = x.bfloat16()
        reference, fast = reference.bfloat16(), fast.bfloat16()
    assert torch.equal(fast(x), reference(x))
    assert torch.equal(fast.running_var, reference.running_var)


def test_rows_are_a_multiple_of_16_values_where_the_pixels_allow():
    assert [pixels_per_row(c, 6272) for c in (8, 10, 12, 14, 16, 32)] == [2, 8, 4, 8, 1, 1]
    assert pixels_per_row(10, 7 * 7 * 3) == 1  # 147 pixels do not split into rows of 8


def test_the_setting_trains_like_torchs_layers_and_its_checkpoints_load_into_them(tmp_path):
    settings = dict(runs_dir=str(tmp_path), epochs=1, data_fraction=0.05, progress=False, device="cpu")
    cfg = TrainConfig.recipe("compact", run_name="fast", **settings)  # the compact recipe trains from sums
    layers = [m for m in prepare(cfg).model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert layers and all(type(m) is FastBatchNorm2d for m in layers)
    fast, torchs = fit(cfg), fit(TrainConfig.recipe("compact", run_name="torch", fast_batchnorm=False, **settings))
    assert fast.config["fast_batchnorm"] is True and torchs.config["fast_batchnorm"] is False
    # 24 steps from the same start: rounding differences have not grown into a different run yet. Losses, not
    # accuracies: this early, accuracy moves by points with the rounding
    assert fast.train_loss[0] == pytest.approx(torchs.train_loss[0], rel=1e-2)
    assert fast.test_loss[0] == pytest.approx(torchs.test_loss[0], rel=5e-2)
    plain = load_trained_model(tmp_path / "fast")  # a registry model, with torch's BatchNorm2d
    assert all(type(m) is nn.BatchNorm2d for m in plain.modules() if isinstance(m, nn.BatchNorm2d))
