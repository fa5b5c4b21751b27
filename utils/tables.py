"""Markdown tables: the one helper every table of the course goes through."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with `header` and one line per row; cells are written with str()."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def cell(value, digits: int = 2) -> str:
    """A number with `digits` decimals, an int as it is, None as '-'."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


class MarkdownText(str):
    """A string that Jupyter shows as rendered Markdown when it is a cell's result."""

    def _repr_markdown_(self) -> str:
        return str(self)


def details(summary: str, body: str) -> str:
    """A collapsed Markdown block (HTML <details>): `summary` shows, `body` opens on a click."""
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def answers(items: dict[str, str]) -> MarkdownText:
    """One collapsed answer per exercise, in order."""
    return MarkdownText("\n\n".join(details(f"Answer {key}", body) for key, body in items.items()))
