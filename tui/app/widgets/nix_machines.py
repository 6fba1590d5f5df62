"""One line on asking Nix which machines exist: the seconds it has taken so far while it runs, then what its
answer changed (or that it could not answer, or was stopped)."""

from __future__ import annotations

import time

from textual.content import Content
from textual.widgets import Static

from tui.app.state import NIX_ANSWERED, NIX_ASKING, NIX_FAILED, NIX_OFF, NIX_STOPPED

NIX_LINE_WIDTH = 90  # of the last line Nix wrote, shown below while it runs


class NixMachinesLine(Static):
    """Where asking Nix which machines exist stands; hidden where Nix is not asked (``--no-nix``)."""

    DEFAULT_CSS = """
    NixMachinesLine {
        height: auto;
        max-height: 2;
        margin: 0 0 1 0;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    ticker = None  # counts the seconds; made on mount (the screen may ask it to show before that)

    def on_mount(self) -> None:
        self.ticker = self.set_interval(1, self.show, pause=True)
        self.show()

    def show(self) -> None:
        """Show the state's word on Nix; count the seconds while Nix runs."""
        state = self.app.state  # type: ignore[attr-defined]  # Textual types self.app as App; this widget runs only in LlamaflakeApp
        status = state.nix_status
        self.display = status != NIX_OFF
        if self.ticker is not None and status == NIX_ASKING:
            self.ticker.resume()
        elif self.ticker is not None:
            self.ticker.pause()
        if status == NIX_ASKING:
            seconds = int(time.monotonic() - state.nix_since)
            text = Content.from_markup(
                "[$text-accent]⋯[/] asking Nix which machines exist… $seconds s   [$text-muted]c: stop, keep "
                "llamaflake's own reading[/]",
                seconds=seconds,
            )
            if state.nix_line:
                line = (
                    state.nix_line
                    if len(state.nix_line) <= NIX_LINE_WIDTH
                    else state.nix_line[: NIX_LINE_WIDTH - 1] + "…"
                )
                text = Content("\n").join([text, Content.from_markup("  [$text-muted]$line[/]", line=line)])
        elif status == NIX_ANSWERED:
            text = Content.from_markup("[$text-success]✓[/] $note", note=state.nix_note)
        elif status in (NIX_FAILED, NIX_STOPPED):
            text = Content.from_markup("[$text-warning]⚠[/] $note", note=state.nix_note)
        else:
            text = Content("")
        # Nix's reasons can be long: the line keeps to the width of the screen, the whole of it is the tooltip.
        self.tooltip = state.nix_note if status in (NIX_ANSWERED, NIX_FAILED, NIX_STOPPED) else None
        self.update(text)
