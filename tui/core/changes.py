"""What a plan is made of, shared by the plan and the clean-up finder: one file's change and a clean-up offer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ChangeKind = Literal["create", "delete", "modify"]


@dataclass
class FileChange:
    """One file's change: ``old`` is None for a new file, ``new`` is None for a removal.

    ``parts`` says whom each edit of ``new`` is for, as ``(start, end, part)`` byte ranges of ``new``: a
    machine's name, or the reason of an edit that is for no one machine (the review keeps parts in
    separate hunks). Empty where the change was not made of such edits."""

    path: str
    old: bytes | None
    new: bytes | None
    reason: str
    optional: bool = False
    parts: tuple[tuple[int, int, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def kind(self) -> ChangeKind:
        if self.old is None:
            return "create"
        if self.new is None:
            return "delete"
        return "modify"


@dataclass
class Offer:
    """A clean-up the wizard proposes and applies only when accepted."""

    title: str
    paths: list[str]
