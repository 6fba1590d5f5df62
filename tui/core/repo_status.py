"""The state of the git repository around the flake, as the wizard's first step shows it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import git


@dataclass
class RepoStatus:
    """Branch and working-tree state; ``problem`` says why there is no usable repository."""

    branch: str | None = None
    detached_at: str | None = None
    changed: list[str] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def is_repo(self) -> bool:
        return self.problem is None

    @property
    def clean(self) -> bool:
        return self.is_repo and not self.changed and not self.untracked

    def summary(self) -> str:
        """One line: the branch and whether the tree is clean."""
        if self.problem:
            return self.problem
        where = f"branch {self.branch}" if self.branch else f"detached HEAD at {self.detached_at}"
        if self.clean:
            return f"{where}, clean"
        parts = []
        if self.changed:
            parts.append(f"{len(self.changed)} changed")
        if self.untracked:
            parts.append(f"{len(self.untracked)} untracked")
        return f"{where}, dirty ({', '.join(parts)})"


def repo_status(root: Path) -> RepoStatus:
    """Read the branch and the changed and untracked files of the repository holding ``root``."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return RepoStatus(problem="not a git repository: the changes can be written but not committed")
    try:
        status = RepoStatus()
        if repo.head.is_detached:
            status.detached_at = repo.head.commit.hexsha[:12]
        else:
            status.branch = repo.active_branch.name
        if repo.head.is_valid():
            status.changed = sorted(_paths(repo.index.diff(None)) | _paths(repo.index.diff("HEAD")))
        status.untracked = sorted(repo.untracked_files)
        return status
    except (git.GitCommandError, ValueError, OSError) as exc:
        return RepoStatus(problem=f"cannot read the git repository: {exc}")


def _paths(diffs: Iterable[git.Diff]) -> set[str]:
    """The paths a diff between the index and a tree touches (a file only one side has is named on both)."""
    return {path for d in diffs if (path := d.a_path or d.b_path) is not None}
