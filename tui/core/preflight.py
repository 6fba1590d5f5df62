"""Checks before a plan is written: is the repository in a state where writing and committing is safe?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from tui.core import gitrepo
from tui.core.errors import RepositoryError
from tui.core.plan import Plan
from tui.core.shell import shell_quote


@dataclass
class Finding:
    """One result of the checks: ``error`` stops the apply, ``warning`` and ``note`` are shown and it goes on."""

    level: str
    code: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.level}: {self.message}" + (f"\n  {self.hint}" if self.hint else "")


class PreflightError(RepositoryError):
    """The checks found something that stops the apply; nothing was written."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        errors = [f for f in findings if f.level == "error"]
        if len(errors) == 1:
            message = errors[0].message
        else:
            message = f"{len(errors)} problems stop the apply:\n" + "\n".join(f"  - {f.message}" for f in errors)
        hints = [f.hint for f in errors if f.hint]
        super().__init__(message + "\nnothing was written", hint="\n".join(hints) or None)


def preflight(
    plan_or_root: Plan | Path,
    paths: list[str] | None = None,
    *,
    allow_dirty: bool = False,
    commit: bool = True,
    created: list[str] | None = None,
    repo: git.Repo | None = None,
) -> list[Finding]:
    """Check the repository around the flake before writing ``paths`` (relative to the flake's folder).

    ``created`` are the paths the plan makes new (by default read from the plan). With ``commit`` False
    only what matters for writing is an error.
    """
    if isinstance(plan_or_root, Plan):
        root = plan_or_root.flake.root
        if paths is None:
            paths = [c.path for c in plan_or_root.changes]
        if created is None:
            created = [c.path for c in plan_or_root.changes if c.old is None]
    else:
        root = Path(plan_or_root)
    paths = list(paths or [])
    created = list(created or [])
    findings: list[Finding] = []

    if repo is None:
        repo = gitrepo.find_repo(root)
    if repo is None:
        findings.append(
            Finding(
                "error" if commit else "warning",
                "not-a-repository",
                f"{root} is not inside a git repository" + ("" if commit else "; flakes see only files git tracks"),
                "flakes need git: pass --init to run `git init` there and commit the files as they are first, "
                "or run `git init` yourself",
            )
        )
        return findings

    prefix = gitrepo.repo_prefix(repo, root)
    if prefix:
        findings.append(
            Finding(
                "note",
                "subfolder",
                f"the flake is in {prefix.rstrip('/')}/ of the repository at {gitrepo.work_tree(repo)}; "
                "paths are taken relative to the repository",
            )
        )

    lock = gitrepo.git_path(repo, "index.lock")
    if lock.exists():
        findings.append(
            Finding(
                "error",
                "index-locked",
                f"{lock} exists: another git command is running, or one was stopped",
                "wait for it to finish, or remove the lock file if no git command is running",
            )
        )

    operation = gitrepo.operation_in_progress(repo)
    if operation is not None:
        name, way_out = operation
        findings.append(
            Finding(
                "error",
                "operation-in-progress",
                f"{name} is in progress in {gitrepo.work_tree(repo)}",
                f"finish it first: `{way_out}`",
            )
        )

    state = gitrepo.head_state(repo)
    if state == "detached":
        findings.append(
            Finding(
                "warning",
                "detached-head",
                f"HEAD is detached at {repo.head.commit.hexsha[:12]}: the commit will be on no branch",
                "to keep it on a branch, run `git switch -c <name>` first (or afterwards, before switching away)",
            )
        )
    elif state == "unborn":
        findings.append(Finding("note", "unborn", "the repository has no commit yet; this will be the first"))

    if commit:
        missing = gitrepo.missing_identity(repo)
        if missing:
            findings.append(
                Finding(
                    "error",
                    "no-identity",
                    "git does not know who you are (" + " and ".join(missing) + " not set), so it cannot commit",
                    "set them, then run again:\n" + gitrepo.IDENTITY_LINES,
                )
            )

    repo_paths = [prefix + p for p in paths]
    statuses = gitrepo.path_status(repo, repo_paths)
    dirty = [s for s in statuses.values() if s.staged or s.unstaged or s.untracked]
    if dirty and commit:
        listing = ", ".join(f"{s.path} ({s.describe()})" for s in dirty)
        if allow_dirty:
            findings.append(
                Finding(
                    "warning",
                    "dirty",
                    f"files the change touches have changes of yours, which the commit will include: {listing}",
                )
            )
        else:
            findings.append(
                Finding(
                    "error",
                    "dirty",
                    f"files the change touches have changes that are not committed: {listing}",
                    "commit or stash them first, or pass --allow-dirty to include them in the commit",
                )
            )

    for rel, flag in gitrepo.hidden_from_git(repo, repo_paths).items():
        findings.append(
            Finding(
                "error",
                "hidden-from-git",
                f"{rel} is marked {flag} in the index, so git would not see the change and the commit would not hold it",
                f"clear the mark first: `git update-index --no-{flag} -- {shell_quote(rel)}`",
            )
        )
    for rel, holder in gitrepo.submodules_holding(repo, repo_paths).items():
        findings.append(
            Finding(
                "error",
                "submodule",
                f"{rel} is inside the submodule {holder}, whose files this repository's commit cannot hold",
                "choose a folder for the module outside it (--module-dir)",
            )
        )
    for rel in gitrepo.ignored(repo, repo_paths):
        findings.append(
            Finding(
                "error",
                "ignored",
                f"{rel} is ignored by git (.gitignore), so nix would not see it",
                "remove the rule that ignores it, or choose another folder for the module (--module-dir)",
            )
        )
    return findings


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "error"]
