"""The baseline grown one block at a time, for the architecture notebook."""
from __future__ import annotations

import torch
from torch import nn

from .models import COMPACT_STAGES, Baseline, StagedNet, count_parameters
from .receptive_field import receptive_field_table
from .tables import markdown_table


def growth_steps(model: Baseline) -> list[tuple[str, nn.Sequential]]:
    """(what this step adds, the network so far), sharing `model`'s layers; the last step is the
    whole baseline, with the ReLUs of its forward pass written out as modules."""
    m = model
    additions = [
        ("one 3x3 convolution, 16 channels", [m.conv1, m.bn1, nn.ReLU()]),
        ("a second 3x3 convolution", [m.conv2, m.bn2, nn.ReLU(), m.drop1]),
        ("2x2 max pooling", [m.pool1]),
        ("two 3x3 convolutions at 14x14", [m.conv3, m.bn3, nn.ReLU(), m.conv4, m.bn4, nn.ReLU(), m.drop2]),
        ("2x2 max pooling", [m.pool2]),
        ("a 3x3 convolution to 32 channels", [m.conv5, m.bn5, nn.ReLU()]),
        ("a 1x1 transition to 8 channels", [m.conv6, nn.ReLU()]),
        ("flatten and a linear classifier", [nn.Flatten(), m.fc]),
    ]
    steps, layers = [], []
    for description, added in additions:
        layers += added
        steps.append((description, nn.Sequential(*layers)))
    return steps


def describe_steps(model: Baseline, input_size: tuple[int, ...] = (1, 28, 28)) -> str:
    """Markdown table: after each step, the output size, parameters so far and receptive field."""
    rows = []
    for i, (description, net) in enumerate(growth_steps(model), start=1):
        with torch.no_grad():
            shape = tuple(net.eval()(torch.zeros(1, *input_size)).shape[1:])
        last = receptive_field_table(net, input_size)[-1]
        field = f"{last.rf} (whole image)" if last.covers_all else f"{last.rf}x{last.rf}"
        size = "x".join(map(str, shape[1:] + shape[:1])) if len(shape) == 3 else f"{shape[0]} logits"
        rows.append([i, description, size, f"{count_parameters(net):,}", field])
    return markdown_table(["step", "adds", "output", "parameters", "receptive field"], rows)


# From the baseline to the compact model, one saving at a time: (what changes, the settings after it).
COMPACT_STEPS = [
    ("the baseline's layout", dict()),
    ("1x1 convolution to 10 maps + global average pooling instead of the linear layer", dict(head="gap")),
    ("no convolution biases: BatchNorm's shift does their job", dict(head="gap", bias=False)),
    ("8 and 10 channels at 28x28 instead of 16", dict(head="gap", bias=False, stages=((8, 10), (16, 16), (32,)))),
    ("10-12 channels at 14x14, 14 at 7x7", dict(head="gap", bias=False, stages=((8, 10), (10, 12), (14,)))),
    ("one more convolution at 14x14 and at 7x7, the last one 16 wide",
     dict(head="gap", bias=False, stages=COMPACT_STAGES)),
]


def describe_compact_steps(input_size: tuple[int, ...] = (1, 28, 28)) -> str:
    """Markdown table: after each saving, parameters, multiply-adds per image and receptive field."""
    from .cost import count_macs

    rows = []
    for i, (change, settings) in enumerate(COMPACT_STEPS, start=1):
        net = StagedNet(**settings)
        field = max(r.rf for r in receptive_field_table(net, input_size) if not r.covers_all)
        rows.append([i, change, f"{count_parameters(net):,}", f"{sum(count_macs(net, input_size).values()):,}", field])
    return markdown_table(["step", "change", "parameters", "multiply-adds per image",
                           "receptive field before the head"], rows)
