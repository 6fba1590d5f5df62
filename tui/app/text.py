"""Text from outside the wizard (the user, the repository, a report, an SSH scan, Nix) is shown as it is."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content


def plain(text: object) -> Content:
    """``text`` as it reads: a ``[/]`` in a machine's name or a cache's key is never taken for markup."""
    return Content(str(text))


def cell(text: object) -> Text:
    """A table cell of ``text`` as it reads, drawn as the table draws a string cell."""
    return Text(str(text), end="")
