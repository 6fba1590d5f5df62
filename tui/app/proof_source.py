"""Where the review step's proof comes from: Nix on a scratch copy of the change, or nothing when Nix is off.

Like the hardware source, one object the tests can replace with a fixed one (the snapshots must not depend
on where a temporary flake lives).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.core.apply import ApplyOptions
    from tui.core.nix_run import Progress
    from tui.core.plan import FileChange
    from tui.core.proof import Proof

OFF = "evaluation is turned off for this run"


class ProofSource:
    """Evaluates a change with the user's own Nix; ``evaluate`` False (or ``use_nix`` False) turns it off."""

    def __init__(
        self,
        *,
        use_nix: bool = True,
        evaluate: bool = True,
        timeout: float | None = None,
        jobs: int | None = None,
        refresh: bool = False,
    ) -> None:
        self.use_nix = use_nix
        self.evaluate = evaluate and use_nix
        self.timeout = timeout
        self.jobs = jobs
        self.refresh = refresh  # evaluate afresh, not from the evaluation cache

    def off_reason(self) -> str | None:
        """Why nothing is evaluated, or None when it is."""
        return None if self.evaluate else OFF

    def apply_options(self) -> ApplyOptions:
        """The matching options of :func:`tui.core.apply.apply_plan`."""
        from tui.core.apply import ApplyOptions

        options: dict = {"evaluate": self.evaluate, "use_nix": self.use_nix}
        if self.timeout is not None:
            options["eval_timeout"] = self.timeout
        if self.jobs is not None:
            options["jobs"] = self.jobs
        if self.refresh:
            options["refresh"] = True
        return ApplyOptions(**options)

    def prove(
        self,
        root: Path,
        changes: list[FileChange],
        hosts: list[str],
        progress: Progress | None = None,
        intended: dict | None = None,
    ) -> Proof:
        """Lock and evaluate ``hosts`` with ``changes`` written, on a scratch copy (runs in a worker thread)."""
        from tui.core.proof import Proof, prove

        if not self.evaluate:
            return Proof(not_evaluated=OFF, nix_ran=False)
        options: dict = {}
        if self.timeout is not None:
            options["timeout"] = self.timeout
        if self.jobs is not None:
            options["jobs"] = self.jobs
        if self.refresh:
            options["refresh"] = True
        if intended:
            options["intended"] = intended
        return prove(root, changes, hosts, progress=progress, **options)
