"""Helpers for building networks in front of the student: a report after each layer added, a check that two
networks are the same, and what the receptive field of a unit actually covers."""
from __future__ import annotations

import copy

import torch
from torch import nn

from .models import COMPACT_STAGES, StagedNet, count_parameters
from .receptive_field import receptive_field_table, shape_text
from .summary import parse_summary_rows, summary_table
from .tables import MarkdownText, markdown_table


def layer_report(network: nn.Module, names: list[str], input_size: tuple[int, ...] = (1, 28, 28)) -> str:
    """Markdown rows for the layers `names` of `network`: output size, parameters (own and in total so far),
    receptive field and jump, all computed from the live modules."""
    rows_by_name = {r.layer: r for r in receptive_field_table(network, input_size, include_pointwise=True)}
    total, rows = 0, []
    for name, module in network.named_modules():
        if list(module.children()) or name not in rows_by_name:
            continue
        own = count_parameters(module)
        total += own
        if name in names:
            r = rows_by_name[name]
            field = f"{r.rf} (whole input)" if r.covers_all else f"{r.rf}x{r.rf}"
            rows.append([name, r.kind, shape_text(r.output_size), f"{own:,}", f"{total:,}", field, r.jump_out])
    return markdown_table(["layer", "type", "output", "parameters", "total so far", "receptive field",
                           "jump"], rows)


def add_layers(network: nn.Sequential, **layers: nn.Module) -> MarkdownText:
    """Append `layers` to `network` under their keyword names; returns the report of the new rows."""
    for name, layer in layers.items():
        network.add_module(name, layer)
    added = sum(count_parameters(layer) for layer in layers.values())
    return MarkdownText(layer_report(network, list(layers))
                        + f"\n\nThis block: {added:,} parameters; the network so far: {count_parameters(network):,}.")


def same_network(mine: nn.Module, reference: nn.Module) -> str:
    """Check, row by row of torchsummary's table, that two networks have the same layers, output shapes and
    parameter counts; raises AssertionError at the first difference."""
    a, b = parse_summary_rows(summary_table(mine)), parse_summary_rows(summary_table(reference))
    for i, (row_a, row_b) in enumerate(zip(a, b, strict=False), start=1):  # lengths compared below
        assert row_a == row_b, f"row {i} differs: {row_a} here, {row_b} in {type(reference).__name__}"
    assert len(a) == len(b), f"{len(a)} rows here, {len(b)} in {type(reference).__name__}"
    n = count_parameters(mine)
    assert n == count_parameters(reference), f"{n:,} parameters here, {count_parameters(reference):,} there"
    name = type(reference).__name__
    return f"the same {len(a)} rows (layer, output shape, parameters) and {n:,} parameters as {name}"


def ink_boxes(images: torch.Tensor) -> torch.Tensor:
    """(N, 4) first row, last row, first column, last column holding ink (a non-zero pixel) in each image."""
    def first_last(any_ink: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.arange(any_ink.shape[1]).expand_as(any_ink)
        first = torch.where(any_ink, index, any_ink.shape[1]).min(1).values
        last = torch.where(any_ink, index, -1).max(1).values
        return first, last

    ink = images > 0
    top, bottom = first_last(ink.any(2))
    left, right = first_last(ink.any(1))
    return torch.stack([top, bottom, left, right], 1)


def whole_digit_share(model: nn.Module, layer: str, images: torch.Tensor,
                      input_size: tuple[int, ...] = (1, 28, 28)) -> torch.Tensor:
    """For every position of `layer`'s output map: the share of `images` whose ink lies wholly inside that
    position's receptive field (a square of side rf centred at start + position * jump)."""
    row = next(r for r in receptive_field_table(model, input_size) if r.layer == layer)
    side = row.output_size[-1]
    centres = row.start + row.jump_out * torch.arange(side, dtype=torch.float64)
    low, high = centres - row.rf / 2, centres + row.rf / 2  # in pixel-edge coordinates
    boxes = ink_boxes(images).double()
    # pixel i spans [i, i + 1): the field holds it if low <= i and i + 1 <= high
    rows_ok = (low[None, :] <= boxes[:, 0:1]) & (boxes[:, 1:2] + 1 <= high[None, :])  # (N, side)
    cols_ok = (low[None, :] <= boxes[:, 2:3]) & (boxes[:, 3:4] + 1 <= high[None, :])
    return (rows_ok[:, :, None] & cols_ok[:, None, :]).double().mean(0)


def effective_field(model: nn.Module, layer: str, inputs: torch.Tensor, position: tuple[int, int]) -> torch.Tensor:
    """Mean absolute gradient of one unit of `layer` (channels summed) with respect to each input pixel, over
    `inputs` (N, 1, 28, 28): how much each pixel actually moves that unit, in the model as it is."""
    model = copy.deepcopy(model).cpu().eval()
    captured = {}
    hook = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, out: captured.setdefault("out", out))
    x = inputs.detach().cpu().clone().requires_grad_(True)
    try:
        model(x)
    finally:
        hook.remove()
    captured["out"][:, :, position[0], position[1]].sum().backward()
    return x.grad.abs().mean(0).sum(0)


def central_square_holding(heat: torch.Tensor, share: float, centre: tuple[float, float]) -> int:
    """Side of the smallest square centred at `centre` (pixel-edge coordinates: pixel i spans [i, i + 1)) whose
    whole pixels hold `share` of `heat`."""
    rows = torch.arange(heat.shape[0], dtype=torch.float64)[:, None] + 0.5
    cols = torch.arange(heat.shape[1], dtype=torch.float64)[None, :] + 0.5
    distance = torch.maximum((rows - centre[0]).abs(), (cols - centre[1]).abs())  # Chebyshev, to pixel centres
    total = heat.sum()
    for side in range(1, 2 * max(heat.shape) + 1):
        if heat[distance <= (side - 1) / 2].sum() >= share * total:
            return side
    return 2 * max(heat.shape)


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
