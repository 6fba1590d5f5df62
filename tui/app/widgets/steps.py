"""The row of steps at the top: where the user is in the wizard."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tui.app.steps import STEPS


class StepIndicator(Static):
    """``1 Repository › 2 Flake input › ...`` with the current step highlighted."""

    def __init__(self, current: int) -> None:
        # Made here, not on mount: an update after mounting costs the first screen another refresh.
        parts = []
        for index, title in enumerate((s.title for s in STEPS), 1):
            if index == current:
                parts.append(Content.from_markup("[reverse $accent] $n $title [/]", n=index, title=title))
            elif index < current:
                parts.append(Content.from_markup("[$text-success]✓ $title[/]", title=title))
            else:
                parts.append(Content.from_markup("[$text-muted]$n $title[/]", n=index, title=title))
        self.full = Content(" › ").join(parts)
        self.narrow = Content(" ").join(parts)  # where the arrows do not fit (80 columns): the marks part the steps
        super().__init__(self.full, classes="steps")
        self.current = current

    def render(self) -> Content:
        return self.full if self.full.cell_length <= self.content_region.width else self.narrow
