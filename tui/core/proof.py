"""Proof before deciding: a change evaluated by Nix on a scratch copy of the repository, never the user's tree.

The scratch copy holds the files git tracks (as they are in the work tree), committed once as they are, so that
HEAD there is the repository before the change; the change is then written on top, and the copy is locked and
every changed machine evaluated exactly as :func:`tui.core.validate.validate` does before a commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.nix_run import Progress, nix_support
from tui.core.plan import FileChange
from tui.core.validate import (
    DEFAULT_EVAL_TIMEOUT,
    DEFAULT_JOBS,
    FAILED,
    NOT_CHECKED,
    OK,
    Check,
    validate,
)

if TYPE_CHECKING:
    import git

# The scratch copy's own commit: no hooks, no signing, no identity of the user's needed.
_GIT = [
    "git",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "user.name=llamaflake",
    "-c",
    "user.email=llamaflake@localhost",
    "-c",
    "init.defaultBranch=main",
]


@dataclass
class Proof:
    """What Nix said about a change: one check per changed machine, or why there are none."""

    machines: list[Check] = field(default_factory=list)
    other: list[Check] = field(default_factory=list)  # parsing and locking
    not_evaluated: str | None = None  # why no machine was evaluated at all
    nix_ran: bool = True  # False: Nix is missing or turned off ("not evaluated"); True: it ran ("not verified")

    @property
    def failed(self) -> list[Check]:
        """The machines that do not evaluate because of the change, and any other failed check."""
        return [c for c in [*self.other, *self.machines] if c.status == FAILED]

    @property
    def proven(self) -> bool:
        return bool(self.machines) and all(c.status == OK for c in self.machines) and not self.failed


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run([*_GIT, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise OSError(f"git {args[0]} in the scratch copy failed: {result.stderr.strip()}")
    return result.stdout


def scratch_copy(root: Path, changes: list[FileChange], where: Path, repo: git.Repo | None = None) -> Path:
    """Copy the repository holding ``root`` (``repo``, looked for where not given) into ``where`` (tracked files
    only), commit it there as it is, write ``changes`` on top; the flake's folder in the copy."""
    from tui.core import gitrepo

    if repo is None:
        repo = gitrepo.find_repo(root)
    if repo is not None:
        top = gitrepo.work_tree(repo)
        prefix = gitrepo.repo_prefix(repo, root)
        files = [p for p in repo.git.ls_files("-z").split("\0") if p]
    else:
        top, prefix = root, ""
        files = [
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if (p.is_file() or p.is_symlink()) and ".git" not in p.relative_to(root).parts
        ]
    for rel in files:
        source, target = top / rel, where / rel
        if not (source.is_symlink() or source.is_file()):
            continue  # a submodule, or a file deleted in the work tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copyfile(source, target)
    _git(where, "init", "-q")
    _git(where, "add", "-A", "-f")  # tracked files that .gitignore matches too
    _git(where, "commit", "-q", "--allow-empty", "--no-verify", "-m", "before the change")
    scratch_root = where / prefix
    for change in changes:
        path = scratch_root / change.path
        if change.new is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(change.new)
    _git(where, "add", "-A", "-f")
    return scratch_root


def prove(
    root: Path,
    changes: list[FileChange],
    hosts: list[str],
    *,
    timeout: float = DEFAULT_EVAL_TIMEOUT,
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
    refresh: bool = False,
    intended: dict | None = None,
    repo: git.Repo | None = None,
) -> Proof:
    """Lock and evaluate ``hosts`` with ``changes`` written, on a scratch copy of the repository at ``root``
    (``repo``, where the caller has it open)."""
    if not hosts:
        return Proof(not_evaluated="no machine changes", nix_ran=False)
    support = nix_support()
    if not support.flakes:
        return Proof(not_evaluated=support.reason, nix_ran=False)
    with tempfile.TemporaryDirectory(prefix="llamaflake-proof-") as scratch:
        try:
            scratch_root = scratch_copy(root, changes, Path(scratch), repo)
        except OSError as exc:
            return Proof(not_evaluated=f"cannot make a scratch copy to evaluate: {exc}", nix_ran=False)
        written = [c.path for c in changes if c.new is not None]
        checks = validate(
            scratch_root,
            written,
            hosts,
            evaluate=True,
            timeout=timeout,
            progress=progress,
            jobs=jobs,
            refresh=refresh,
            intended=intended,
        )
        for check in checks:  # the scratch folder's name means nothing to the user
            check.detail = check.detail.replace(str(Path(scratch).resolve()) + "/", "").replace(scratch + "/", "")
    proof = Proof(machines=[c for c in checks if c.host is not None], other=[c for c in checks if c.host is None])
    if not proof.machines:
        reason = next((c.detail for c in proof.other if c.status != OK), None)
        proof.not_evaluated = reason or "nothing was evaluated"
    return proof


__all__ = ["NOT_CHECKED", "Proof", "prove", "scratch_copy"]
