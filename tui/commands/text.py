"""Text from outside llamaflake (the user, the repository, a report, an SSH scan, Nix) as the command line shows it."""

from __future__ import annotations

from rich.text import Text

from tui.core.errors import printable


def shown(value: object, style: str = "") -> Text:
    """``value`` as written: never read as markup (``lab[/]1``) or an emoji code (``:fire:``), control characters
    shown as escapes."""
    return Text(printable(str(value)), style=style)
