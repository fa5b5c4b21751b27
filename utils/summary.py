"""torchsummary's layer table, on whatever device the model lives."""
from __future__ import annotations

import contextlib
import copy
import io
import re

from torch import nn

ROW = re.compile(r"^\s*(\w+-\d+)\s+(\[.*?\])\s+([\d,]+)\s*$")


def summary_table(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> str:
    """torchsummary's text table for `model`, computed on a CPU copy.

    torchsummary defaults to device="cuda" and runs a forward pass in the model's current mode;
    a CPU copy works on every machine and leaves the caller's model (and BatchNorm statistics)
    untouched.
    """
    from torchsummary import summary  # here, so that the rest of utils imports where it is not installed

    cpu_copy = copy.deepcopy(model).cpu()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        summary(cpu_copy, input_size, device="cpu")
    return out.getvalue()


def parse_summary_rows(table: str) -> list[tuple[str, str, int]]:
    """(layer, output shape, parameters) for each layer row of a torchsummary table."""
    rows = []
    for line in table.splitlines():
        match = ROW.match(line)
        if match:
            name, shape, params = match.groups()
            rows.append((name, shape, int(params.replace(",", ""))))
    return rows
