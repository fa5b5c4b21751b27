from torch import nn

from utils.cost import count_macs, training_flops_per_image
from utils.models import Baseline


def test_a_convolution_costs_output_size_times_kernel():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 3, stride=2, padding=1))
    macs = count_macs(model, (3, 10, 10))
    assert macs == {"0": 8 * 10 * 10 * 3 * 9, "1": 4 * 5 * 5 * 8 * 9}


def test_baseline_multiply_adds_by_layer():
    macs = count_macs(Baseline())
    assert macs["conv1"] == 16 * 28 * 28 * 9 and macs["conv2"] == 16 * 28 * 28 * 16 * 9
    assert macs["conv5"] == 32 * 7 * 7 * 16 * 9 and macs["fc"] == 392 * 10
    assert training_flops_per_image(Baseline()) == 6 * sum(macs.values())
