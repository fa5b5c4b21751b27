"""The course's networks: one builder of 3x3-convolution stages, and the models it makes, looked up by name."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import partial

from torch import nn

BASELINE_STAGES = ((16, 16), (16, 16), (32,))  # widths of the 3x3 convolutions at 28x28, 14x14 and 7x7
COMPACT_STAGES = ((8, 10), (10, 12, 12), (14, 16))
NARROW_START_STAGES = ((8,), (12, 12, 12), (16, 16))  # a candidate for the compact model that validation turned down
WIDER_STAGES = ((8, 10), (12, 14, 14), (16, 16))  # round 2's candidate over 8,000 parameters
HEADS = ("transition", "linear", "gap")


def layers(stages=BASELINE_STAGES, head: str = "transition", batchnorm: bool = True, dropout: float = 0.05,
           bias: bool = True) -> OrderedDict:
    """Named layers: each stage's 3x3 convolutions (+ BatchNorm) + ReLU, dropout and 2x2 max pooling between stages,
    then a head: "transition" (1x1 to 8 maps, linear), "linear" (linear only) or "gap" (1x1 to 10 maps, averaged)."""
    if head not in HEADS:
        raise ValueError(f"head={head!r} is not allowed: head must be one of {list(HEADS)}.")
    named, c_in, i = OrderedDict(), 1, 0
    for stage, widths in enumerate(stages, start=1):
        for width in widths:
            i += 1
            named[f"conv{i}"] = nn.Conv2d(c_in, width, 3, padding=1, bias=bias)
            if batchnorm:
                named[f"bn{i}"] = nn.BatchNorm2d(width)
            named[f"relu{i}"], c_in = nn.ReLU(), width
        if stage < len(stages):
            if dropout:
                named[f"drop{stage}"] = nn.Dropout(dropout)
            named[f"pool{stage}"] = nn.MaxPool2d(2)
    side = 28 // 2 ** (len(stages) - 1)
    if head == "transition":
        named.update({f"conv{i + 1}": nn.Conv2d(c_in, 8, 1), f"relu{i + 1}": nn.ReLU(), "flatten": nn.Flatten(),
                      "fc": nn.Linear(8 * side**2, 10)})
    elif head == "linear":
        named.update(flatten=nn.Flatten(), fc=nn.Linear(c_in * side**2, 10))
    else:
        named.update({f"conv{i + 1}": nn.Conv2d(c_in, 10, 1), "gap": nn.AdaptiveAvgPool2d(1), "flatten": nn.Flatten()})
    return named


def convnet(stages=BASELINE_STAGES, head: str = "transition", batchnorm: bool = True, dropout: float = 0.05,
            bias: bool = True) -> nn.Sequential:
    """A network of `layers`; with the defaults, the baseline's layers."""
    return nn.Sequential(layers(stages, head, batchnorm, dropout, bias))


class Baseline(nn.Sequential):
    """The reference network: 16,146 parameters; notebook 2 builds it layer by layer."""

    def __init__(self):
        super().__init__(layers())


MODELS: dict[str, Callable[[], nn.Module]] = {
    "baseline": Baseline,
    # under 8,000 parameters: narrow bias-free convolutions (BatchNorm's shift does their job), no linear layer
    "compact": partial(convnet, COMPACT_STAGES, head="gap", dropout=0.0, bias=False),
    "compact-narrow-start": partial(convnet, NARROW_START_STAGES, head="gap", dropout=0.0, bias=False),
    "compact-wider": partial(convnet, WIDER_STAGES, head="gap", dropout=0.0, bias=False),
    # the design journey's other steps (notebook 7)
    "plain": partial(convnet, head="linear", batchnorm=False, dropout=0.0),
    "plain-bn": partial(convnet, head="linear", dropout=0.0),
    "bn-transition": partial(convnet, dropout=0.0),
    "baseline-gap": partial(convnet, head="gap"),
}


def build_model(name: str) -> nn.Module:
    """A fresh, randomly initialised model from MODELS."""
    if name not in MODELS:
        raise ValueError(f"model={name!r} is not a known model; choose one of {sorted(MODELS)}.")
    return MODELS[name]()


def computing_layers(model: nn.Module) -> list[nn.Module]:
    """The modules that hold no others, in order: the layers that compute."""
    return [m for m in model.modules() if not any(m.children())]


def described(layer: nn.Module) -> str:
    """A layer as `torch.nn.modules.dropout.Dropout(p=0.05, inplace=False)`: where its class lives, and its settings."""
    return f"{type(layer).__module__}.{type(layer).__qualname__}({layer.extra_repr()})"


def layer_list(model: nn.Module) -> list[str]:
    """Every computing layer of `model`, described: what a run record keeps of the network that trained."""
    return [described(m) for m in computing_layers(model)]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
