"""Receptive field of every layer: computed from the modules, and measured by back-propagation."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .tables import markdown_table

SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
GLOBAL = (nn.Linear, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
POINTWISE = (
    nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU,
    nn.Identity, nn.Flatten, nn.GroupNorm, nn.LayerNorm, nn.LogSoftmax, nn.Softmax,
)


@dataclass(frozen=True)
class RFRow:
    """One layer of the table. `start` is the input-pixel centre of the layer's first output unit."""

    layer: str
    kind: str
    input_size: tuple[int, ...]
    output_size: tuple[int, ...]
    rf: int
    jump_in: int
    jump_out: int
    start: float
    covers_all: bool = False  # a global layer: every output sees the whole input
    kernel: int | None = None  # of a convolution or pooling layer
    stride: int | None = None


def _square(value) -> int:
    """Kernel/stride/padding/dilation as one int; rectangular settings are not supported."""
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise ValueError(f"only square settings are supported, got {value}")
        value = value[0]
    return int(value)


def _trace(model: nn.Module, input_size: tuple[int, ...]) -> list[tuple[str, nn.Module, tuple, tuple]]:
    """Leaf modules in the order the forward pass calls them, with input and output shapes."""
    calls = []
    hooks = [
        module.register_forward_hook(
            lambda mod, inp, out, name=name: calls.append((name, mod, tuple(inp[0].shape[1:]), tuple(out.shape[1:])))
        )
        for name, module in model.named_modules()
        if not list(module.children())
    ]
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=device))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return calls


def receptive_field_table(
    model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28), include_pointwise: bool = False
) -> list[RFRow]:
    """The receptive field, jump and start of every layer, from kernel size, stride, padding
    and dilation of the modules, in the order the forward pass calls them.

    Assumes a chain: each layer reads the previous layer's output (true of the course's models).
    """
    rf, jump, start = 1, 1, 0.5  # one input pixel; its centre sits at 0.5 in pixel coordinates
    side = input_size[-1]  # side of the latest spatial map, for a linear layer after a flatten
    rows = []
    for name, module, shape_in, shape_out in _trace(model, input_size):
        covers_all, k, s = False, None, None
        if len(shape_in) == 3:
            side = shape_in[-1]
        if isinstance(module, SPATIAL):
            k, s = _square(module.kernel_size), _square(module.stride or module.kernel_size)
            p = _square(module.padding)
            d = _square(getattr(module, "dilation", 1))
            span = d * (k - 1)  # extent of the dilated kernel, minus one
            jump_in = jump
            rf, jump, start = rf + span * jump, jump * s, start + (span / 2 - p) * jump
        elif isinstance(module, GLOBAL):
            # every output unit sees every input unit of this layer
            jump_in = jump
            rf, start, covers_all = rf + (side - 1) * jump, start + (side - 1) * jump / 2, True
        elif isinstance(module, POINTWISE):
            if not include_pointwise:
                continue
            jump_in = jump
        else:
            raise ValueError(
                f"layer {name} ({type(module).__name__}) is not a convolution, pooling or pointwise "
                "layer; the receptive-field table does not know how it maps space."
            )
        rows.append(RFRow(name, type(module).__name__, shape_in, shape_out, rf, jump_in, jump, start, covers_all, k, s))
    return rows


def format_table(rows: list[RFRow]) -> str:
    """The table as Markdown: layer, kernel, stride, input and output size, receptive field, jump in and out."""
    return markdown_table(
        ["layer", "type", "kernel", "stride", "input", "output", "receptive field", "jump in", "jump out"],
        [[r.layer, r.kind, "-" if r.kernel is None else f"{r.kernel}x{r.kernel}", "-" if r.stride is None else r.stride,
          shape_text(r.input_size), shape_text(r.output_size),
          f"{r.rf} (whole input)" if r.covers_all else r.rf, r.jump_in, r.jump_out] for r in rows])


def shape_text(shape: tuple[int, ...]) -> str:
    """(C, H, W) as 'HxWxC'; any other shape as its sizes joined by 'x'."""
    return f"{shape[1]}x{shape[2]}x{shape[0]}" if len(shape) == 3 else "x".join(map(str, shape))


@dataclass(frozen=True)
class MeasuredField:
    """Gradient of one output unit w.r.t. the input, and the extent of its non-zero part."""

    gradient: torch.Tensor  # (H, W), summed over input channels
    height: int
    width: int
    position: tuple[int, int]  # the output unit (row, column) that was measured


def _measurable_copy(model: nn.Module) -> nn.Module:
    """A copy whose gradients reach every pixel of the receptive field.

    Max pooling sends gradient to one input per window and signed weights can cancel, so the
    copy uses average pooling of the same geometry, all-ones weights, zero biases and identity
    BatchNorm; with a positive input every ReLU then passes its gradient.
    """
    probe = copy.deepcopy(model).cpu().eval()
    for parent in probe.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.MaxPool2d):
                setattr(parent, child_name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding))
    with torch.no_grad():
        for module in probe.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.fill_(1.0)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()  # mean 0, var 1, weight 1, bias 0
    return probe


def empirical_receptive_field(
    model: nn.Module, layer: str, input_size: tuple[int, ...] = (1, 28, 28), position: tuple[int, int] | None = None
) -> MeasuredField:
    """Back-propagate from one output unit of `layer` (all channels summed) to the input and
    measure the height and width of the region with non-zero gradient.

    `position` defaults to the unit whose computed receptive field is centred nearest the image centre.
    """
    probe = _measurable_copy(model)
    target = dict(probe.named_modules())[layer]
    captured = {}
    hook = target.register_forward_hook(lambda mod, inp, out: captured.setdefault("out", out))
    x = torch.ones(1, *input_size, requires_grad=True)
    try:
        probe(x)
    finally:
        hook.remove()
    out = captured["out"]
    if position is None:
        row = next(r for r in receptive_field_table(model, input_size) if r.layer == layer)
        side = out.shape[-1]
        centre = (input_size[-1] / 2 - row.start) / row.jump_out
        i = min(max(round(centre), 0), side - 1)
        position = (i, i)
    out[0, :, position[0], position[1]].sum().backward()
    grad = x.grad[0].abs().sum(0)
    rows, cols = torch.nonzero(grad, as_tuple=True)
    return MeasuredField(grad, int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1), position)
