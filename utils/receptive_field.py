"""Receptive field of every layer: computed from the modules, and measured by back-propagation."""
import copy
from collections import namedtuple

import torch
from torch import nn

from .tables import markdown_table

SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
GLOBAL = (nn.Linear, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
POINTWISE = (nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Identity, nn.Flatten)

# `start`: the input-pixel centre of the first output unit; `covers_all`: every output sees the whole input.
RFRow = namedtuple("RFRow", "layer kind input_size output_size rf jump_in jump_out start covers_all kernel stride")
MeasuredField = namedtuple("MeasuredField", "gradient height width position")


def trace(model: nn.Module, input_size: tuple[int, ...]) -> list[tuple[str, nn.Module, tuple, tuple]]:
    """(name, module, input shape, output shape) of each leaf module a blank image passes, on a CPU copy (eval mode)."""
    model, calls = copy.deepcopy(model).cpu().eval(), []
    for name, module in model.named_modules():
        if not list(module.children()):
            module.register_forward_hook(lambda mod, inp, out, name=name: calls.append(
                (name, mod, tuple(inp[0].shape[1:]), tuple(out.shape[1:]))))
    with torch.no_grad():
        model(torch.zeros(1, *input_size))
    return calls


def unit_gradient(model: nn.Module, layer: str, x: torch.Tensor, position: tuple[int, int]) -> torch.Tensor:
    """|gradient| with respect to `x` of the unit at `position` of `layer`'s output, on a CPU copy in eval mode."""
    model, x, captured = copy.deepcopy(model).cpu().eval(), x.detach().cpu().clone().requires_grad_(True), []
    with dict(model.named_modules())[layer].register_forward_hook(lambda mod, inp, out: captured.append(out)):
        model(x)
    captured[0][:, :, position[0], position[1]].sum().backward()
    return x.grad.abs()


def _square(value) -> int:
    height, width = value if isinstance(value, (tuple, list)) else (value, value)
    if height != width:
        raise ValueError(f"only square settings are supported, got {value}")
    return int(height)


def receptive_field_table(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28),
                          include_pointwise: bool = False) -> list[RFRow]:
    """Field, jump and start of each layer of a chain, in call order, from kernel, stride, padding and dilation."""
    rf, jump, start = 1, 1, 0.5  # one input pixel; its centre sits at 0.5 in pixel coordinates
    side, rows = input_size[-1], []  # side of the latest spatial map, for a linear layer after a flatten
    for name, module, shape_in, shape_out in trace(model, input_size):
        covers_all, k, s, jump_in = False, None, None, jump
        side = shape_in[-1] if len(shape_in) == 3 else side
        if isinstance(module, SPATIAL):
            k, s, p = (_square(v) for v in (module.kernel_size, module.stride or module.kernel_size, module.padding))
            span = _square(getattr(module, "dilation", 1)) * (k - 1)  # extent of the dilated kernel, minus one
            rf, jump, start = rf + span * jump, jump * s, start + (span / 2 - p) * jump
        elif isinstance(module, GLOBAL):  # every output unit sees every input unit of this layer
            rf, start, covers_all = rf + (side - 1) * jump, start + (side - 1) * jump / 2, True
        elif not isinstance(module, POINTWISE):
            raise ValueError(f"layer {name} ({type(module).__name__}) is not a convolution, pooling or pointwise "
                             "layer; the receptive-field table does not know how it maps space.")
        elif not include_pointwise:
            continue
        rows.append(RFRow(name, type(module).__name__, shape_in, shape_out, rf, jump_in, jump, start, covers_all, k, s))
    return rows


def format_table(rows: list[RFRow]) -> str:
    return markdown_table(
        ["layer", "type", "kernel", "stride", "input", "output", "receptive field", "jump in", "jump out"],
        [[r.layer, r.kind, "-" if r.kernel is None else f"{r.kernel}x{r.kernel}", "-" if r.stride is None else r.stride,
          shape_text(r.input_size), shape_text(r.output_size),
          f"{r.rf} (whole input)" if r.covers_all else r.rf, r.jump_in, r.jump_out] for r in rows])


def shape_text(shape: tuple[int, ...]) -> str:
    """(C, H, W) as 'HxWxC'; any other shape as its sizes joined by 'x'."""
    return f"{shape[1]}x{shape[2]}x{shape[0]}" if len(shape) == 3 else "x".join(map(str, shape))


def empirical_receptive_field(model: nn.Module, layer: str, input_size: tuple[int, ...] = (1, 28, 28),
                              position: tuple[int, int] | None = None) -> MeasuredField:
    """The gradient (H, W) of one unit of `layer` (by default the central one) and the extent of its non-zero part."""
    if position is None:
        row = next(r for r in receptive_field_table(model, input_size) if r.layer == layer)
        i = min(max(round((input_size[-1] / 2 - row.start) / row.jump_out), 0), row.output_size[-1] - 1)
        position = (i, i)
    # Max pooling and signed weights would stop or cancel the gradients of some pixels of the field: measure a copy
    # with average pooling, all-ones weights, zero biases and identity BatchNorm, from an all-ones input.
    probe = copy.deepcopy(model)
    for name, value in probe.state_dict().items():  # tensors that share the copy's storage
        value.fill_(name.endswith(("weight", "running_var")))  # 1 there; 0 for biases, running means and counts
    for name, module in probe.named_modules():
        if isinstance(module, nn.MaxPool2d):
            probe.set_submodule(name, nn.AvgPool2d(module.kernel_size, module.stride, module.padding))
    grad = unit_gradient(probe, layer, torch.ones(1, *input_size), position)[0].sum(0)
    rows, cols = torch.nonzero(grad, as_tuple=True)
    return MeasuredField(grad, int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1), position)
