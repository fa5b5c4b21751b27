"""Markdown tables and collapsed answers: the helpers every table of the course goes through."""
from collections.abc import Sequence
from typing import Any


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    line = lambda cells: "| " + " | ".join(map(str, cells)) + " |"
    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def cell(value, digits: int = 2) -> str:
    """A number with `digits` decimals, an int as it is, None as '-'."""
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


class MarkdownText(str):
    """A string that Jupyter shows as rendered Markdown when it is a cell's result."""
    _repr_markdown_ = str.__str__


def answers(items: dict[str, str]) -> MarkdownText:
    """One collapsed block (HTML <details>) per exercise, in order: "Answer <key>" shows, the body opens on a click."""
    return MarkdownText("\n\n".join(f"<details><summary>Answer {key}</summary>\n\n{body}\n\n</details>"
                                    for key, body in items.items()))
