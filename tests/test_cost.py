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


def test_activation_traffic_counts_every_materialised_layer_output():
    from utils.cost import activation_elements, training_bytes_per_image

    sizes = activation_elements(Baseline())
    assert "flatten" not in sizes  # a view: no memory of its own
    at_28, at_14, at_7 = 16 * 28 * 28, 16 * 14 * 14, 7 * 7
    # conv, bn, relu, conv, bn, relu, dropout at 28x28 (then pool), the same at 14x14, then conv5/bn5/relu5
    # at 32 channels, conv6/relu6 at 8, and 10 logits
    expected = 7 * at_28 + at_14 + 7 * at_14 + 16 * at_7 + 3 * 32 * at_7 + 2 * 8 * at_7 + 10
    assert sum(sizes.values()) == expected
    assert training_bytes_per_image(Baseline()) == 16 * expected  # 4 passes of 4-byte values
