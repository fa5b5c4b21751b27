"""Building networks in front of the student: a report per layer added, a check, what a unit's field covers."""
import torch
from torch import nn

from .cost import count_macs
from .models import COMPACT_STAGES, computing_layers, convnet, count_parameters, described
from .receptive_field import receptive_field_table, shape_text, unit_gradient
from .summary import parse_summary_rows, summary_table
from .tables import MarkdownText, markdown_table


def add_layers(network: nn.Sequential, **layers: nn.Module) -> MarkdownText:
    """Append `layers` to `network` under their keyword names; report their rows, computed from the live modules."""
    for name, layer in layers.items():
        network.add_module(name, layer)
    total, rows = 0, []
    for r in receptive_field_table(network, include_pointwise=True):  # the leaf modules, in call order
        total += (own := count_parameters(network.get_submodule(r.layer)))
        if r.layer in layers:
            field = f"{r.rf} (whole input)" if r.covers_all else f"{r.rf}x{r.rf}"
            rows.append([r.layer, r.kind, shape_text(r.output_size), f"{own:,}", f"{total:,}", field, r.jump_out])
    added = sum(count_parameters(layer) for layer in layers.values())
    header = ["layer", "type", "output", "parameters", "total so far", "receptive field", "jump"]
    return MarkdownText(markdown_table(header, rows)
                        + f"\n\nThis block: {added:,} parameters; the network so far: {count_parameters(network):,}.")


def same_network(mine: nn.Module, reference: nn.Module) -> str:
    """Assert that the two have the same layers in order, class and settings (p, eps, momentum...) included, and
    that torchsummary lists the same output shapes and parameter counts."""
    name = type(reference).__name__
    a, b = computing_layers(mine), computing_layers(reference)
    for i, (layer_a, layer_b) in enumerate(zip(a, b, strict=False), start=1):  # lengths compared below
        assert type(layer_a) is type(layer_b) and layer_a.extra_repr() == layer_b.extra_repr(), (
            f"layer {i} differs: {described(layer_a)} here, {described(layer_b)} in {name}")
    assert len(a) == len(b), f"{len(a)} layers here, {len(b)} in {name}"
    rows_a, rows_b = parse_summary_rows(summary_table(mine)), parse_summary_rows(summary_table(reference))
    for i, (row_a, row_b) in enumerate(zip(rows_a, rows_b, strict=True), start=1):
        assert row_a == row_b, f"row {i} differs: {row_a} here, {row_b} in {name}"
    n = count_parameters(mine)
    assert n == count_parameters(reference), f"{n:,} parameters here, {count_parameters(reference):,} there"
    return f"the same {len(a)} layers (class, settings, output shape, parameters) and {n:,} parameters as {name}"


def ink_boxes(images: torch.Tensor) -> torch.Tensor:
    """(N, 4) first row, last row, first column, last column holding ink (a non-zero pixel) in each image."""
    ink, boxes = images > 0, []
    for lines in (ink.any(2), ink.any(1)):  # which rows hold ink, then which columns
        index = torch.arange(lines.shape[1]).expand_as(lines)
        boxes += [torch.where(lines, index, lines.shape[1]).min(1).values, torch.where(lines, index, -1).max(1).values]
    return torch.stack(boxes, 1)


def whole_digit_share(model: nn.Module, layer: str, images: torch.Tensor) -> torch.Tensor:
    """Per position of `layer`'s output map, the share of `images` whose ink lies wholly inside its receptive field."""
    row = next(r for r in receptive_field_table(model) if r.layer == layer)
    centres = row.start + row.jump_out * torch.arange(row.output_size[-1], dtype=torch.float64)
    low, high = centres - row.rf / 2, centres + row.rf / 2  # pixel-edge coordinates: pixel i spans [i, i + 1)
    boxes = ink_boxes(images).double()
    rows_ok = (low <= boxes[:, 0:1]) & (boxes[:, 1:2] + 1 <= high)  # (N, side)
    cols_ok = (low <= boxes[:, 2:3]) & (boxes[:, 3:4] + 1 <= high)
    return (rows_ok[:, :, None] & cols_ok[:, None, :]).double().mean(0)


def effective_field(model: nn.Module, layer: str, inputs: torch.Tensor, position: tuple[int, int]) -> torch.Tensor:
    """How much each input pixel moves one unit of `layer` (channels summed): mean absolute gradient over `inputs`."""
    return unit_gradient(model, layer, inputs, position).mean(0).sum(0)


def central_square_holding(heat: torch.Tensor, share: float, centre: tuple[float, float]) -> int:
    """Side of the smallest square centred at `centre` (pixel i spans [i, i + 1)) that holds `share` of `heat`."""
    rows, cols = (torch.arange(n, dtype=torch.float64) + 0.5 for n in heat.shape)  # the pixel centres
    distance = torch.maximum((rows[:, None] - centre[0]).abs(), (cols[None, :] - centre[1]).abs())
    sides = range(1, 2 * max(heat.shape) + 1)
    return next((s for s in sides if heat[distance <= (s - 1) / 2].sum() >= share * heat.sum()), sides[-1])


# From the baseline to the compact model, one saving at a time: (what changes, convnet's settings after it).
GAP = dict(head="gap", dropout=0.0)
COMPACT_STEPS = [
    ("the baseline's layout", dict(head="transition", dropout=0.0)),
    ("1x1 convolution to 10 maps + global average pooling instead of the linear layer", GAP),
    ("no convolution biases: BatchNorm's shift does their job", dict(GAP, bias=False)),
    ("8 and 10 channels at 28x28 instead of 16", dict(GAP, bias=False, stages=((8, 10), (16, 16), (32,)))),
    ("10-12 channels at 14x14, 14 at 7x7", dict(GAP, bias=False, stages=((8, 10), (10, 12), (14,)))),
    ("one more convolution at 14x14 and at 7x7, the last one 16 wide", dict(GAP, bias=False, stages=COMPACT_STAGES)),
]


def describe_compact_steps() -> str:
    rows = []
    for i, (change, settings) in enumerate(COMPACT_STEPS, start=1):
        net = convnet(**settings)
        field = max(r.rf for r in receptive_field_table(net) if not r.covers_all)
        rows.append([i, change, f"{count_parameters(net):,}", f"{sum(count_macs(net).values()):,}", field])
    header = ["step", "change", "parameters", "multiply-adds per image", "receptive field before the head"]
    return markdown_table(header, rows)
