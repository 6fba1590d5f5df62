"""Messages between the wizard's parts: workers post what a slow step found, screens post requests.

Written as plain :class:`~textual.message.Message` subclasses, as Textual writes its own: this module is
imported before the first screen is drawn, and generating dataclasses here costs more than the screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from pathlib import Path

    from tui.core.caches import Cache
    from tui.core.errors import LlamaflakeError
    from tui.core.hardware.model import HardwareReport, Recommendation
    from tui.core.judge import MachineListChange
    from tui.core.nix.flake import Flake
    from tui.core.plan import Plan
    from tui.core.proof import Proof
    from tui.core.repo_status import RepoStatus


# What the workers found.


class RepositoryLoaded(Message):
    """The flake was read, with what the first step shows about it."""

    def __init__(
        self,
        flake: Flake,
        repo: RepoStatus,
        settings: dict[str, dict],
        preliminary: Plan | None,
        existing_caches: list[Cache] | None,
        left_alone: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.flake = flake
        self.repo = repo
        self.settings = settings
        self.preliminary = preliminary
        self.existing_caches = existing_caches
        self.left_alone = left_alone or []  # the machines the module remembers as left alone


class LlamaSetupFound(Message):
    """The llama.cpp set-up the repository already has, looked for after the flake is shown: ``(file:line,
    what it is)`` pairs (:func:`tui.core.report.setup_entries`)."""

    def __init__(self, entries: list[tuple[str, str]]) -> None:
        super().__init__()
        self.entries = entries


class NixMachinesListed(Message):
    """Nix answered which machines exist: the flake read afresh with Nix's answer merged in (None, with
    ``change.answered`` False, where Nix could not answer)."""

    def __init__(
        self,
        flake: Flake | None,
        change: MachineListChange,
        notes: list[str],
        settings: dict[str, dict],
        preliminary: Plan | None,
    ) -> None:
        super().__init__()
        self.flake = flake
        self.change = change
        self.notes = notes  # where Nix and the static reading disagree, one sentence each
        self.settings = settings
        self.preliminary = preliminary


class NixProgress(Message):
    """A line Nix wrote while it is asked which machines exist."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class RepositoryFailed(Message):
    def __init__(self, error: LlamaflakeError) -> None:
        super().__init__()
        self.error = error


class HardwareFound(Message):
    """A machine's hardware and the recommendation made from it."""

    def __init__(
        self,
        host: str,
        report: HardwareReport,
        recommendation: Recommendation,
        source: str,
        chosen_by_user: bool = False,
        this_machine: bool = False,
        mismatches: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.host = host
        self.report = report
        self.recommendation = recommendation
        self.source = source
        self.chosen_by_user = chosen_by_user
        self.this_machine = this_machine
        self.mismatches = mismatches or []  # where the report disagrees with the machine's own configuration


class HardwareFailed(Message):
    def __init__(self, host: str | None, error: LlamaflakeError) -> None:
        super().__init__()
        self.host = host
        self.error = error


class ProofProgress(Message):
    """A line of what Nix is doing while the review step's change is evaluated."""

    def __init__(self, generation: int, line: str) -> None:
        super().__init__()
        self.generation = generation
        self.line = line


class ProofFinished(Message):
    """What Nix said about the change with the review step's accepted hunks (``generation`` tells stale ones)."""

    def __init__(self, generation: int, proof: Proof, key: tuple | None = None) -> None:
        super().__init__()
        self.generation = generation
        self.proof = proof
        self.key = key  # the accepted changes the proof is about


class PlanApplied(Message):
    def __init__(
        self,
        paths: list[str],
        commit: str | None,
        after_commit: list[str] | None = None,
        unchecked: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.commit = commit
        self.after_commit = after_commit or []  # what the commit was found to hold besides what was written
        self.unchecked = unchecked or []  # what Nix did not check: flake.lock not updated, machines not verified


class ApplyFailed(Message):
    def __init__(self, error: LlamaflakeError) -> None:
        super().__init__()
        self.error = error


# Requests a screen posts; the app owns navigation and the workers.


class NextStep(Message):
    """The screen is done: show the step after it."""


class PreviousStep(Message):
    """Go back to the step before."""


class StateChanged(Message):
    """Something in the wizard's state changed; screens refresh what they show."""


class StopAskingNix(Message):
    """Stop asking Nix which machines exist; the static reading stands."""


class DetectHardware(Message):
    """Detect this machine's hardware and give it to ``host``."""

    def __init__(self, host: str) -> None:
        super().__init__()
        self.host = host


class ImportReport(Message):
    """Read a hardware report from ``path`` for ``host``."""

    def __init__(self, host: str, path: Path) -> None:
        super().__init__()
        self.host = host
        self.path = path


class ScanSsh(Message):
    """Scan ``target`` over SSH for ``host``."""

    def __init__(self, host: str, target: str) -> None:
        super().__init__()
        self.host = host
        self.target = target
