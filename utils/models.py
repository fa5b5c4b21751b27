"""The course's models, looked up by name."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn


class Baseline(nn.Sequential):
    """The reference network: two 3x3 conv blocks at 28x28 and at 14x14, one at 7x7, a 1x1
    transition to 8 channels and one linear layer; 16,146 parameters. Notebook 2 builds it layer by layer."""

    def __init__(self, dropout: float = 0.05):
        super().__init__(OrderedDict(
            # Block 1, 28x28
            conv1=nn.Conv2d(1, 16, 3, padding=1), bn1=nn.BatchNorm2d(16), relu1=nn.ReLU(),
            conv2=nn.Conv2d(16, 16, 3, padding=1), bn2=nn.BatchNorm2d(16), relu2=nn.ReLU(),
            drop1=nn.Dropout(dropout), pool1=nn.MaxPool2d(2),
            # Block 2, 14x14
            conv3=nn.Conv2d(16, 16, 3, padding=1), bn3=nn.BatchNorm2d(16), relu3=nn.ReLU(),
            conv4=nn.Conv2d(16, 16, 3, padding=1), bn4=nn.BatchNorm2d(16), relu4=nn.ReLU(),
            drop2=nn.Dropout(dropout), pool2=nn.MaxPool2d(2),
            # Block 3, 7x7, then the 1x1 transition and the classifier (logits; the loss applies log-softmax)
            conv5=nn.Conv2d(16, 32, 3, padding=1), bn5=nn.BatchNorm2d(32), relu5=nn.ReLU(),
            conv6=nn.Conv2d(32, 8, 1), relu6=nn.ReLU(),
            flatten=nn.Flatten(), fc=nn.Linear(8 * 7 * 7, 10),
        ))


class StagedNet(nn.Module):
    """Stages of 3x3 convolutions at 28x28, 14x14 and 7x7 with 2x2 max pooling between them, then a head:
    "linear" (1x1 transition, flatten, linear, as in the baseline) or "gap" (1x1 convolution to one map
    per digit, global average pooling). The baseline's layout and the compact model are settings of it."""

    def __init__(self, stages=((16, 16), (16, 16), (32,)), transition: int = 8, head: str = "linear",
                 bias: bool = True):
        super().__init__()
        if head not in ("linear", "gap"):
            raise ValueError(f"head={head!r} is not allowed: head must be one of ['linear', 'gap'].")
        layers, c_in = [], 1
        for i, widths in enumerate(stages):
            if i:
                layers.append(nn.MaxPool2d(2))
            for width in widths:
                layers += [nn.Conv2d(c_in, width, 3, padding=1, bias=bias), nn.BatchNorm2d(width), nn.ReLU()]
                c_in = width
        if head == "linear":
            side = 28 // 2 ** (len(stages) - 1)
            layers += [nn.Conv2d(c_in, transition, 1), nn.ReLU(), nn.Flatten(), nn.Linear(transition * side**2, 10)]
        else:
            layers += [nn.Conv2d(c_in, 10, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


COMPACT_STAGES = ((8, 10), (10, 12, 12), (14, 16))


def compact() -> StagedNet:
    """Under 8,000 parameters, no fully connected layer: narrow, bias-free convolutions, two more of
    them than the baseline, and global average pooling over one map per digit (see notebook 5)."""
    return StagedNet(stages=COMPACT_STAGES, head="gap", bias=False)


MODELS: dict[str, Callable[[], nn.Module]] = {
    "baseline": Baseline,
    "compact": compact,
}


def build_model(name: str) -> nn.Module:
    """A fresh, randomly initialised model from MODELS."""
    if name not in MODELS:
        raise ValueError(f"model={name!r} is not a known model; choose one of {sorted(MODELS)}.")
    return MODELS[name]()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
