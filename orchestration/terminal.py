"""Tables and progress for a person at a terminal, through rich: one look for every command.

`table` makes a rich Table in the house style (a header rule, no borders, numbers right-aligned); `text` renders
tables and lines to plain text (no colour), for the reports whose `render()` a command prints and a test reads;
`console` prints to the terminal, wide enough in a pipe or a log that a row is never folded.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table

PLAIN_WIDTH = 200  # the width of text written to a pipe, a file or a test: wide rows stay on one line


def console(stderr: bool = False) -> Console:
    terminal = Console(stderr=stderr, highlight=False)
    return terminal if terminal.is_terminal else Console(stderr=stderr, highlight=False, width=PLAIN_WIDTH)


def table(*columns: str, right: Iterable[int] = (), title: str | None = None) -> Table:
    """A table with these column headings; the columns at the positions in `right` are right-aligned."""
    aligned = set(right)
    made = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=title, title_justify="left")
    for index, heading in enumerate(columns):
        made.add_column(heading, justify="right" if index in aligned else "left", no_wrap=True)
    return made


def text(*parts: RenderableType, indent: int = 0) -> str:
    """`parts` (tables or strings) as plain text, each on its own lines, indented by `indent` spaces."""
    buffer = io.StringIO()
    plain = Console(file=buffer, width=PLAIN_WIDTH, color_system=None, highlight=False, emoji=False)
    for part in parts:
        plain.print(part, markup=False) if isinstance(part, str) else plain.print(part)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(" " * indent + line if line else line for line in lines)
