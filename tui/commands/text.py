"""Text from outside llamaflake (the user, the repository, a report, an SSH scan, Nix) as the command line shows it."""

from __future__ import annotations

from rich.text import Text

from tui.core.errors import printable


def shown(value: object, style: str = "", *, newlines: bool = True) -> Text:
    """``value`` as written: never read as markup (``lab[/]1``) or an emoji code (``:fire:``), control characters
    shown as escapes (line breaks too, with ``newlines`` False: a table cell is one line)."""
    return Text(printable(str(value), newlines=newlines), style=style)
