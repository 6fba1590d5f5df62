"""Messages the wizard's workers post back: each carries what a slow step found."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from tui.core.caches import Cache
    from tui.core.errors import LlamaflakeError
    from tui.core.hardware.model import HardwareReport, Recommendation
    from tui.core.nix.flake import Flake
    from tui.core.plan import Plan
    from tui.core.proof import Proof
    from tui.core.repo_status import RepoStatus


@dataclass
class RepositoryLoaded(Message):
    """The flake was read, with what the first step shows about it."""

    flake: Flake
    repo: RepoStatus
    settings: dict[str, dict]
    preliminary: Plan | None
    existing_caches: list[Cache] | None
    notes: list[str] | None = None  # where Nix and the static reading disagree


@dataclass
class RepositoryFailed(Message):
    error: LlamaflakeError


@dataclass
class HardwareFound(Message):
    """A machine's hardware and the recommendation made from it."""

    host: str
    report: HardwareReport
    recommendation: Recommendation
    source: str
    chosen_by_user: bool = False
    this_machine: bool = False


@dataclass
class HardwareFailed(Message):
    host: str | None
    error: LlamaflakeError


@dataclass
class ProofProgress(Message):
    """A line of what Nix is doing while the review step's change is evaluated."""

    generation: int
    line: str


@dataclass
class ProofFinished(Message):
    """What Nix said about the change with the review step's accepted hunks (``generation`` tells stale ones)."""

    generation: int
    proof: Proof
    key: tuple | None = None  # the accepted changes the proof is about


# Requests a screen posts; the app owns navigation and the workers.


@dataclass
class NextStep(Message):
    """The screen is done: show the step after it."""


@dataclass
class PreviousStep(Message):
    """Go back to the step before."""


@dataclass
class DetectHardware(Message):
    """Detect this machine's hardware and give it to ``host``."""

    host: str


@dataclass
class ImportReport(Message):
    """Read a hardware report from ``path`` for ``host``."""

    host: str
    path: Path


@dataclass
class ScanSsh(Message):
    """Scan ``target`` over SSH for ``host``."""

    host: str
    target: str


@dataclass
class StateChanged(Message):
    """Something in the wizard's state changed; screens refresh what they show."""


@dataclass
class PlanApplied(Message):
    paths: list[str]
    commit: str | None


@dataclass
class ApplyFailed(Message):
    error: LlamaflakeError
