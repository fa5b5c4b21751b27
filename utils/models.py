"""The course's models, looked up by name."""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from functools import partial

import torch
from torch import nn


def dense(x: torch.Tensor) -> torch.Tensor:
    """`x` itself where its values fill its memory in a standard layout (contiguous or channels-last), else a
    contiguous copy: the dropouts below index that memory directly."""
    if x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last):
        return x
    return x.contiguous()


def retype(model: nn.Module, old: type, new: type) -> int:
    """Give every module of exactly type `old` in `model` the class `new`, in place: the same parameters and
    buffers, so checkpoints are unchanged. Returns how many."""
    layers = [m for m in model.modules() if type(m) is old]
    for layer in layers:
        layer.__class__ = new
    return len(layers)


class Dropout(nn.Dropout):
    """nn.Dropout with the same effect at a third of its cost on a CPU: the keep-or-drop draw of each value
    uses 16 random bits, taken four at a time from 64-bit draws, where torch's own draws a float per value.
    The drop probability is rounded to a multiple of 1/65,536 (0.05 becomes 3,277/65,536 = 0.050003). On a
    GPU, torch's own fused dropout is used."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return super().forward(x)
        threshold = round(self.p * 2**16)  # of the 65,536 equally likely 16-bit values, this many drop
        x = dense(x)
        draws = torch.empty((x.numel() + 3) // 4, dtype=torch.int64, device=x.device).random_(-2**63, None)
        bits = draws.view(torch.int16)[: x.numel()].as_strided(x.shape, x.stride())  # x's own memory layout
        # the mask in x's own type (bfloat16 under autocast): no float32 mask to convert
        scale, zero = (torch.tensor(v, dtype=x.dtype) for v in (2**16 / (2**16 - threshold), 0.0))
        return x * torch.where(bits >= threshold - 2**15, scale, zero)


class _DropAt(torch.autograd.Function):
    """x scaled by `scale`, with the values at `positions` (indices into x's memory) set to 0; the gradient
    likewise. Saves only the positions, not a mask."""

    @staticmethod
    def forward(ctx, x, positions, scale: float):
        y = x * scale  # in x's memory layout, so `positions` index y's memory as they index x's
        y.as_strided((y.numel(),), (1,)).index_fill_(0, positions, 0)
        ctx.save_for_backward(positions)
        ctx.scale, ctx.stride = scale, y.stride()
        return y

    @staticmethod
    def backward(ctx, grad):
        (positions,) = ctx.saved_tensors
        grad = grad * ctx.scale
        if grad.stride() != ctx.stride:
            grad = torch.empty_strided(grad.shape, ctx.stride, dtype=grad.dtype, device=grad.device).copy_(grad)
        grad.as_strided((grad.numel(),), (1,)).index_fill_(0, positions, 0)
        return grad, None, None


class PositionDropout(Dropout):
    """Dropout that draws where values drop rather than a number per value (the `fast_dropout` setting): a
    Poisson count of positions, each uniform over the tensor. A value drawn k >= 1 times drops once; with the
    count's mean at -n*log(1 - p), each value then drops independently with probability exactly p. One random
    number per position (about one per twenty values at p = 0.05, where Dropout takes 16 bits per value) and
    one pass over the values each way. The draws differ from Dropout's, so a run's numbers do too. On a GPU,
    torch's own fused dropout is used."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        x = dense(x)
        n = x.numel()
        count = int(torch.poisson(torch.tensor(-n * math.log1p(-self.p), dtype=torch.float64)))
        return _DropAt.apply(x, torch.randint(n, (count,)), 1 / (1 - self.p))


def use_fast_dropout(model: nn.Module) -> int:
    """Make every Dropout in `model` a PositionDropout in place; returns how many."""
    return retype(model, Dropout, PositionDropout)


HEADS = ("linear", "transition", "gap")


def baseline_layers(batchnorm: bool = True, dropout: float = 0.05, head: str = "transition") -> OrderedDict:
    """The baseline's named layers (its defaults), or with parts left out or swapped as the design journey
    (notebook 7) builds it up. `head`: "linear" (flatten the 32 maps of 7x7, one linear layer), "transition" (a
    1x1 convolution to 8 maps first, as the baseline) or "gap" (a 1x1 convolution to one map per digit, then
    global average pooling). Every head ends in the 10 logits; the loss applies log-softmax."""
    if head not in HEADS:
        raise ValueError(f"head={head!r} is not allowed: head must be one of {list(HEADS)}.")
    layers = OrderedDict()

    def conv(i: int, c_in: int, c_out: int) -> None:
        layers[f"conv{i}"] = nn.Conv2d(c_in, c_out, 3, padding=1)
        if batchnorm:
            layers[f"bn{i}"] = nn.BatchNorm2d(c_out)
        layers[f"relu{i}"] = nn.ReLU()

    def end_of_block(j: int) -> None:
        if dropout:
            layers[f"drop{j}"] = Dropout(dropout)
        layers[f"pool{j}"] = nn.MaxPool2d(2)

    conv(1, 1, 16), conv(2, 16, 16), end_of_block(1)  # 28x28
    conv(3, 16, 16), conv(4, 16, 16), end_of_block(2)  # 14x14
    conv(5, 16, 32)  # 7x7
    if head == "linear":
        layers.update(flatten=nn.Flatten(), fc=nn.Linear(32 * 7 * 7, 10))
    elif head == "transition":
        layers.update(conv6=nn.Conv2d(32, 8, 1), relu6=nn.ReLU(), flatten=nn.Flatten(), fc=nn.Linear(8 * 7 * 7, 10))
    else:
        layers.update(conv6=nn.Conv2d(32, 10, 1), gap=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten())
    return layers


class Baseline(nn.Sequential):
    """The reference network: two 3x3 conv blocks at 28x28 and at 14x14, one at 7x7, a 1x1 transition to 8
    channels and one linear layer; 16,146 parameters. Its layers are listed once, in `baseline_layers`; notebook 2
    builds it layer by layer."""

    def __init__(self, dropout: float = 0.05):
        super().__init__(baseline_layers(dropout=dropout))


def baseline_layout(**parts) -> nn.Sequential:
    """The baseline with the parts of `baseline_layers` changed: the design journey's step networks."""
    return nn.Sequential(baseline_layers(**parts))


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
    # the design journey's other steps (utils/journey.py)
    "plain": partial(baseline_layout, batchnorm=False, dropout=0.0, head="linear"),
    "plain-bn": partial(baseline_layout, dropout=0.0, head="linear"),
    "bn-transition": partial(baseline_layout, dropout=0.0),
    "baseline-gap": partial(baseline_layout, head="gap"),
}


def build_model(name: str) -> nn.Module:
    """A fresh, randomly initialised model from MODELS."""
    if name not in MODELS:
        raise ValueError(f"model={name!r} is not a known model; choose one of {sorted(MODELS)}.")
    return MODELS[name]()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
