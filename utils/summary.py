"""torchsummary's layer table, on whatever device the model lives."""
import contextlib
import copy
import io
import re

from torch import nn


def summary_table(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> str:
    """torchsummary's text table for `model`, made on a CPU copy: that runs anywhere and leaves the model untouched."""
    from torchsummary import summary  # here, so that the rest of utils imports where it is not installed
    with contextlib.redirect_stdout(io.StringIO()) as out:
        summary(copy.deepcopy(model).cpu(), input_size, device="cpu")
    return out.getvalue()


def parse_summary_rows(table: str) -> list[tuple[str, str, int]]:
    """(layer, output shape, parameters) for each layer row of a torchsummary table."""
    matches = (re.match(r"^\s*(\w+-\d+)\s+(\[.*?\])\s+([\d,]+)\s*$", line) for line in table.splitlines())
    return [(m[1], m[2], int(m[3].replace(",", ""))) for m in matches if m]
