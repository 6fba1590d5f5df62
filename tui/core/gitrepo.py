"""Git through GitPython: the repository around the flake, and committing a plan's paths."""

from __future__ import annotations

from pathlib import Path

import git

from tui.core.errors import RepositoryError


def open_repo(path: Path) -> git.Repo:
    """The git repository that holds ``path``."""
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RepositoryError(
            f"{path} is not inside a git repository",
            hint="flakes need git: run `git init` there (or `llamaflake apply --init`)",
        ) from None


def commit_paths(repo: git.Repo, paths: list[str], message: str) -> str:
    """Commit exactly ``paths`` (repository-relative) with git's own commit, hooks and signing included."""
    existing = [p for p in paths if (Path(repo.working_tree_dir) / p).exists()]
    removed = [p for p in paths if p not in existing]
    if existing:
        repo.git.add("--", *existing)
    if removed:
        repo.git.rm("--cached", "--quiet", "--ignore-unmatch", "--", *removed)
    repo.git.commit("-m", message, "--", *paths)
    return repo.head.commit.hexsha
