"""Undoing the last commit llamaflake made: drop it where it is local, revert it where others may have it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import git

from tui.core import footprint, gitrepo
from tui.core.footprint import GENERATED_BY_PATTERN, MODULE_FOLDER
from tui.core.errors import RepositoryError

FILE_TRAILER = footprint.FILE_TRAILER + " "
USER_TRAILER = footprint.USER_TRAILER + " "
# A line that only imports a file of the generated module's folder (or opens/closes an imports list).
IMPORT_LINE = re.compile(
    r"(imports\s*=\s*\[)?\s*(\(?\s*(\.{1,2}/)+([\w.+-]+/)*" + MODULE_FOLDER + r"(/[\w.+-]+)*\s*\)?)?\s*(\]\s*;?)?"
)


@dataclass
class UndoPlan:
    """How the last llamaflake commit will be undone: ``reset`` (drop it) or ``revert`` (a new commit)."""

    commit: str
    subject: str
    method: str
    reason: str
    changes: list[tuple[str, str]]  # (A|M|D, repository-relative path)
    head: str
    work_tree: str
    notes: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [path for _, path in self.changes]

    def describe(self) -> str:
        lines = [f"last llamaflake commit: {self.commit[:12]} {self.subject}"]
        if self.method == "reset":
            lines.append(f"undo by dropping it ({self.reason}):")
        else:
            lines.append(f"undo by `git revert` ({self.reason}), a new commit that takes it back:")
        names = {"A": "remove", "M": "restore", "D": "bring back"}
        lines.extend(f"  {names.get(status, status)} {path}" for status, path in self.changes)
        lines.extend(self.notes)
        return "\n".join(lines)


@dataclass
class UndoResult:
    commit: str
    method: str
    paths: list[str]
    head: str

    def as_dict(self) -> dict:
        return asdict(self)


def find_generated_commit(repo: git.Repo) -> git.Commit | None:
    """The newest commit in HEAD's history whose message carries the ``Generated-by: llamaflake`` trailer."""
    if gitrepo.head_state(repo) == "unborn":
        return None
    sha = repo.git.log("-n", "1", "--format=%H", "-E", f"--grep={GENERATED_BY_PATTERN}", "HEAD").strip()
    return repo.commit(sha) if sha else None


def _reverted_by(repo: git.Repo, sha: str) -> str | None:
    found = repo.git.log("-n", "1", "--format=%H", "-F", f"--grep=This reverts commit {sha}", f"{sha}..HEAD").strip()
    return found or None


def _commit_changes(repo: git.Repo, commit: git.Commit) -> list[tuple[str, str]]:
    if commit.parents:
        out = repo.git.diff_tree("-r", "-z", "--no-renames", "--name-status", commit.parents[0].hexsha, commit.hexsha)
    else:
        out = repo.git.diff_tree("-r", "-z", "--no-renames", "--name-status", "--root", commit.hexsha)
    fields = [f for f in out.split("\0") if f]
    if fields and not commit.parents and fields[0] == commit.hexsha:
        fields = fields[1:]
    return [(fields[i][0], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]


def _in_module_folder(path: str) -> bool:
    return MODULE_FOLDER in path.split("/")[:-1]


def _could_be_generated(repo: git.Repo, commit: git.Commit, status: str, path: str) -> bool:
    """Whether a change of a commit without ``Generated-file`` trailers is one llamaflake makes: the flake's
    ``flake.nix``/``flake.lock``, a file of the generated module's folder, or only import lines of that folder."""
    if _in_module_folder(path):
        return True
    if status in ("A", "D"):
        return False
    if path.rsplit("/", 1)[-1] in ("flake.nix", "flake.lock"):
        return True
    if not commit.parents:
        return False
    diff = repo.git.diff("-U0", "--no-color", "--no-ext-diff", commit.parents[0].hexsha, commit.hexsha, "--", path)
    changed = [line[1:] for line in diff.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))]
    return bool(changed) and all(IMPORT_LINE.fullmatch(line.strip()) for line in changed)


def plan_undo(path: Path) -> UndoPlan:
    """Find the last llamaflake commit and decide how to undo it; raises :class:`RepositoryError` where it cannot."""
    repo = gitrepo.open_repo(path)
    from tui.core.journal import recover

    recovered = recover(repo)
    try:
        plan = _plan(repo)
    except RepositoryError as exc:
        if recovered is None:
            raise
        # What recovery did must be said even where the undo itself cannot go on.
        raise RepositoryError(f"{recovered}; then: {exc.message}", hint=exc.hint) from None
    if recovered is not None:
        plan.notes.insert(0, f"first: {recovered}")
    return plan


def _plan(repo: git.Repo) -> UndoPlan:
    operation = gitrepo.operation_in_progress(repo)
    if operation is not None:
        name, way_out = operation
        raise RepositoryError(f"{name} is in progress", hint=f"finish it first: `{way_out}`")
    commit = find_generated_commit(repo)
    if commit is None:
        raise RepositoryError("no commit made by llamaflake in the history of HEAD (none has the Generated-by trailer)")
    sha = commit.hexsha
    reverted = _reverted_by(repo, sha)
    if reverted:
        raise RepositoryError(f"the last llamaflake commit {sha[:12]} was already reverted by {reverted[:12]}")
    head = repo.head.commit.hexsha
    changes = _commit_changes(repo, commit)
    message = commit.message if isinstance(commit.message, str) else commit.message.decode(errors="replace")
    written = {line[len(FILE_TRAILER):] for line in message.splitlines() if line.startswith(FILE_TRAILER)}
    with_yours = [line[len(USER_TRAILER):] for line in message.splitlines() if line.startswith(USER_TRAILER)]
    if with_yours:
        raise RepositoryError(
            f"the last llamaflake commit {sha[:12]} also holds your own changes to " + ", ".join(with_yours)
            + " (committed with --allow-dirty); undoing it would drop them, so nothing was changed",
            hint=f"take it back by hand: `git revert --no-commit {sha[:12]}`, put your own lines of "
            + ", ".join(with_yours) + " back, then `git commit`",
        )
    if written:
        foreign = [path for _, path in changes if path not in written]
    else:
        # Made by a version without Generated-file trailers, or amended: only what llamaflake writes may go.
        foreign = [path for status, path in changes if not _could_be_generated(repo, commit, status, path)]
    if foreign:
        raise RepositoryError(
            f"the last llamaflake commit {sha[:12]} also holds changes llamaflake did not write: "
            + ", ".join(foreign) + "; undoing it would drop them, so nothing was changed",
            hint=f"move them to a commit of their own first, or take the commit back by hand (`git revert {sha[:12]}`)",
        )
    subject = commit.summary if isinstance(commit.summary, str) else commit.summary.decode(errors="replace")
    remote = [b.strip() for b in repo.git.branch("-r", "--contains", sha).splitlines() if b.strip()]
    if head != sha:
        method, reason = "revert", "commits follow it"
    elif remote:
        method, reason = "revert", "it is already on " + ", ".join(remote)
    elif not commit.parents:
        method, reason = "revert", "it is the repository's first commit"
    else:
        method, reason = "reset", "it is the last commit and on no remote"
    plan = UndoPlan(sha, subject, method, reason, changes, head, str(gitrepo.work_tree(repo)))

    paths = plan.paths
    statuses = gitrepo.path_status(repo, paths)
    touched = [s for s in statuses.values() if s.staged or s.unstaged or s.untracked]
    if touched:
        listing = ", ".join(f"{s.path} ({s.describe()})" for s in touched)
        raise RepositoryError(
            f"files of that commit have changes since: {listing}; undoing it would lose them",
            hint="commit or stash them first, then run `llamaflake undo` again",
        )
    if method == "revert":
        if repo.git.diff("--cached", "--name-only").strip():
            raise RepositoryError(
                "`git revert` needs an index without staged changes, and there are some",
                hint="commit them, or `git stash` them, run `llamaflake undo`, then `git stash pop`",
            )
        missing = gitrepo.missing_identity(repo)
        if missing:
            raise RepositoryError(
                "git does not know who you are (" + " and ".join(missing) + " not set), so it cannot commit the revert",
                hint="set them, then run again:\n" + gitrepo.IDENTITY_LINES,
            )
    if method == "reset":
        plan.notes.append(f"the dropped commit stays reachable for a while as {sha[:12]} (`git reflog`)")
    return plan


def undo(plan: UndoPlan) -> UndoResult:
    """Carry out ``plan``. Uncommitted work in other files is kept as it is, staged or not."""
    repo = gitrepo.open_repo(Path(plan.work_tree))
    if repo.head.commit.hexsha != plan.head:
        raise RepositoryError("HEAD moved since the undo was planned; run `llamaflake undo` again")
    if plan.method == "reset":
        parent = repo.commit(plan.commit).parents[0].hexsha
        # Move HEAD back alone, then put the commit's own paths back in the index and work tree.
        repo.git.reset("--soft", parent)
        restore = [path for status, path in plan.changes if status != "A"]
        added = [path for status, path in plan.changes if status == "A"]
        if restore:
            repo.git.checkout(parent, "--", *gitrepo.pathspecs(restore))
        if added:
            repo.git.rm("-q", "-f", "--", *gitrepo.pathspecs(added))
    else:
        status, out, err = repo.git.revert("--no-edit", plan.commit, with_extended_output=True, with_exceptions=False)
        if status != 0:
            if gitrepo.git_path(repo, "REVERT_HEAD").exists():
                repo.git.revert("--abort")
            output = "\n".join(part for part in (err, out) if part)
            raise RepositoryError(
                "`git revert` failed, nothing was changed:\n" + "\n".join("  " + line for line in output.splitlines()),
                hint=f"revert it by hand: `git revert {plan.commit[:12]}`",
            )
    return UndoResult(plan.commit, plan.method, plan.paths, repo.head.commit.hexsha)
