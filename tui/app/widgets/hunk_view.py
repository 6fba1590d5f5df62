"""One hunk of a file change, shown with textual-diff-view and marked accepted or rejected."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static
from textual_diff_view import DiffView

from tui.core.changes import FileChange
from tui.core.hunks import CONTEXT, Hunk, change_opcodes
from tui.core.line_diff import grouped_opcodes


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", errors="replace")


class ChangeDiff(DiffView):
    """A :class:`DiffView` of a file change, its lines grouped as the review's hunks are (each added or
    removed block where it reads as a whole, see :mod:`tui.core.line_diff`); only ``hunk`` if given."""

    def __init__(self, change: FileChange, hunk: Hunk | None = None, *, split: bool, wrap: bool = True) -> None:
        old, new = _text(change.old), _text(change.new)
        super().__init__(change.path, change.path, old, new, split=split, annotations=True, wrap=wrap)
        same_lines = len(old.splitlines()) == len((change.old or b"").splitlines()) and len(new.splitlines()) == len(
            (change.new or b"").splitlines()
        )
        if same_lines:  # otherwise (odd line separators) the widget groups the whole file itself
            if hunk is not None:
                self._grouped_opcodes = [list(hunk.opcodes)]
            else:  # the whole file: its hunks without the context two of them share
                self._grouped_opcodes = grouped_opcodes(change_opcodes(change), CONTEXT)


class HunkDiff(ChangeDiff):
    """One hunk of a file change, with the file's line numbers."""

    def __init__(self, change: FileChange, hunk: Hunk, *, split: bool) -> None:
        super().__init__(change, hunk, split=split)

    def compose(self) -> ComposeResult:
        if self.split:
            yield from self.compose_split()
        else:
            yield from self.compose_unified()


class HunkBlock(Vertical, can_focus=True):
    """A hunk with its header; ``space`` on it toggles whether it is accepted."""

    DEFAULT_CSS = """
    HunkBlock {
        height: auto;
        margin: 0 0 1 0;
        border-left: wide $success 60%;
        padding: 0 0 0 1;
    }

    HunkBlock:focus {
        border-left: wide $accent;
        background: $boost;
    }

    HunkBlock.-rejected {
        border-left: wide $error 60%;
        opacity: 60%;
    }

    HunkBlock.-rejected:focus {
        border-left: wide $error;
        opacity: 80%;
    }
    """

    accepted: reactive[bool] = reactive(True)

    def __init__(
        self,
        change: FileChange,
        hunk: Hunk,
        number: int,
        total: int,
        *,
        accepted: bool,
        split: bool,
        machine: str | None = None,
    ) -> None:
        super().__init__(classes="hunk")
        self.change = change
        self.hunk = hunk
        self.number = number
        self.total = total
        self.split = split
        self.machine = machine  # the one machine the hunk's lines are for, if they are
        self.set_reactive(HunkBlock.accepted, accepted)

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="hunk-header")
        yield HunkDiff(self.change, self.hunk, split=self.split)

    def _header(self) -> Content:
        mark = "[$text-success]✓ accepted[/]" if self.accepted else "[$text-error]✗ rejected[/]"
        header = Content.from_markup(
            f"{mark}  hunk $number of $total  [dim]$header[/]  [$text-success]+$added[/] [$text-error]-$removed[/]",
            number=self.number,
            total=self.total,
            header=self.hunk.header(),
            added=self.hunk.added,
            removed=self.hunk.removed,
        )
        if self.machine is None:
            return header
        return header + Content.from_markup("  [b]for $machine[/]", machine=self.machine)

    def watch_accepted(self, accepted: bool) -> None:
        self.set_class(not accepted, "-rejected")
        if self.is_mounted:
            self.query_one(".hunk-header", Static).update(self._header())
