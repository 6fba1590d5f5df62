"""Undoing the last commit llamaflake made: drop it where it is local, revert it where others may have it."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import git

from tui.core import footprint, gitrepo
from tui.core.errors import RepositoryError
from tui.core.footprint import GENERATED_BY_PATTERN, MODULE_FOLDER
from tui.core.journal import rewritten_by_hooks

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


# A whole line llamaflake adds to flake.nix: structure alone, anything naming llama (its input, the input's name
# in outputs' arguments, an import of its module), the lines of its input's block, `inputs` for the modules.
FLAKE_LINE = re.compile(
    r"[\s{}\[\]();,]*|.*llama.*|url\s*=\s*\"[^\"]*\";|inputs\.nixpkgs\.follows\s*=\s*\"[^\"]*\";"
    r"|(specialArgs\s*=\s*\{\s*)?(inherit inputs;|inputs\s*=\s*[\w.]+;)(\s*\};)?|specialArgs\s*=\s*\{",
    re.I,
)
# What llamaflake inserts into a line of flake.nix that was there (`@inputs`, `inherit inputs;`, its input's name).
_INSERTED_WORDS = re.compile(r"[\w.-]*llama[\w.-]*|\b(inputs|inherit|specialArgs)\b", re.I)


def _in_module_folder(path: str) -> bool:
    return MODULE_FOLDER in path.split("/")[:-1]


def _diff_hunks(repo: git.Repo, commit: git.Commit, path: str) -> list[tuple[list[str], list[str]]]:
    """The commit's change of ``path`` as (removed lines, added lines) per hunk."""
    diff = repo.git.diff("-U0", "--no-color", "--no-ext-diff", commit.parents[0].hexsha, commit.hexsha, "--", path)
    hunks: list[tuple[list[str], list[str]]] = []
    for line in diff.splitlines():
        if line.startswith("@@"):
            hunks.append(([], []))
        elif hunks and line[:1] == "-" and not line.startswith("--- "):
            hunks[-1][0].append(line[1:])
        elif hunks and line[:1] == "+" and not line.startswith("+++ "):
            hunks[-1][1].append(line[1:])
    return hunks


def _only(kind: str, old: str, new: str) -> str | None:
    """The text ``new`` adds to ``old`` where it only adds (``kind`` "insert") or only removes ("delete")."""
    ops = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    if any(tag not in ("equal", kind) for tag, *_ in ops):
        return None
    return " ".join(new[j1:j2] for tag, _i1, _i2, j1, j2 in ops if tag == "insert")


def _flake_nix_line(line: str, removed: list[str]) -> bool:
    """Whether an added line of flake.nix is llamaflake's: a line it writes, a line of the hunk with only its
    words inserted, or a line of the hunk with something taken out (undo puts that back, losing nothing)."""
    if FLAKE_LINE.fullmatch(line.strip()) or IMPORT_LINE.fullmatch(line.strip()):
        return True
    for old in removed:
        inserted = _only("insert", old, line)
        if inserted is not None and re.fullmatch(r"[\s,;@{}=]*", _INSERTED_WORDS.sub("", inserted)):
            return True
        if _only("delete", old, line) is not None:
            return True
    return False


def _lock_gains_one_input(repo: git.Repo, commit: git.Commit, path: str) -> bool:
    """Whether the commit's flake.lock only adds one input to the one before: every input locked before is
    locked the same (``nix flake update`` changes them), and the flake's own inputs gain one at most."""
    try:
        old = json.loads(repo.git.show(f"{commit.parents[0].hexsha}:{path}"))
        new = json.loads(repo.git.show(f"{commit.hexsha}:{path}"))
        old_nodes, new_nodes = old["nodes"], new["nodes"]
        old_root, new_root = old_nodes[old.get("root", "root")], new_nodes[new.get("root", "root")]
        old_inputs, new_inputs = old_root.get("inputs", {}), new_root.get("inputs", {})
    except (git.GitCommandError, ValueError, KeyError, TypeError, AttributeError):
        return False
    locked = {json.dumps(n.get("locked"), sort_keys=True) for n in new_nodes.values() if isinstance(n, dict)}
    if any(
        json.dumps(n.get("locked"), sort_keys=True) not in locked for n in old_nodes.values() if isinstance(n, dict)
    ):
        return False
    return set(old_inputs) <= set(new_inputs) and len(set(new_inputs) - set(old_inputs)) <= 1


def _could_be_generated(repo: git.Repo, commit: git.Commit, status: str, path: str) -> bool:
    """Whether a change of a commit without ``Generated-file`` trailers is one llamaflake makes: in the flake's
    ``flake.nix`` only lines it writes, in ``flake.lock`` one more input, a file of the generated module's folder,
    or only import lines of that folder."""
    if _in_module_folder(path):
        return True
    name = path.rsplit("/", 1)[-1]
    if name == "flake.lock" and status == "A":
        return True  # the first lock, written by `nix flake lock`
    if status in ("A", "D") or not commit.parents:
        return False
    if name == "flake.lock":
        return _lock_gains_one_input(repo, commit, path)
    hunks = _diff_hunks(repo, commit, path)
    if name == "flake.nix":
        return all(_flake_nix_line(line, removed) for removed, added in hunks for line in added)
    changed = [line for removed, added in hunks for line in removed + added]
    return bool(changed) and all(IMPORT_LINE.fullmatch(line.strip()) for line in changed)


def _changed_since_written(repo: git.Repo, commit: git.Commit, blobs: dict[str, str | None]) -> list[str]:
    """The files of the commit that differ from what llamaflake wrote there (its ``Generated-blob`` trailers):
    amended since. A commit whose files a hook changed as llamaflake committed them, and that is unchanged
    since, is llamaflake's own."""
    if not blobs or commit.hexsha in rewritten_by_hooks(repo):
        return []
    committed = gitrepo.committed_blob_ids(repo, commit.hexsha, list(blobs))
    return [path for path, blob in blobs.items() if committed.get(path) != blob]


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
    written = {line[len(FILE_TRAILER) :] for line in message.splitlines() if line.startswith(FILE_TRAILER)}
    with_yours = [line[len(USER_TRAILER) :] for line in message.splitlines() if line.startswith(USER_TRAILER)]
    if with_yours:
        raise RepositoryError(
            f"the last llamaflake commit {sha[:12]} also holds your own changes to "
            + ", ".join(with_yours)
            + " (committed with --allow-dirty); undoing it would drop them, so nothing was changed",
            hint=f"take it back by hand: `git revert --no-commit {sha[:12]}`, put your own lines of "
            + ", ".join(with_yours)
            + " back, then `git commit`",
        )
    blobs = footprint.written_blobs(message)
    if written:
        # Without Generated-blob trailers (an earlier version) what it wrote is not known: its flake.nix and
        # flake.lock are judged by their change.
        foreign = [
            path
            for status, path in changes
            if path not in written
            or (
                not blobs
                and path.rsplit("/", 1)[-1] in ("flake.nix", "flake.lock")
                and not _could_be_generated(repo, commit, status, path)
            )
        ]
    else:
        # Made by a version without Generated-file trailers, or amended: only what llamaflake writes may go.
        foreign = [path for status, path in changes if not _could_be_generated(repo, commit, status, path)]
    if foreign:
        raise RepositoryError(
            f"the last llamaflake commit {sha[:12]} also holds changes llamaflake did not write: "
            + ", ".join(foreign)
            + "; undoing it would drop them, so nothing was changed",
            hint=f"move them to a commit of their own first, or take the commit back by hand (`git revert {sha[:12]}`)",
        )
    amended = _changed_since_written(repo, commit, blobs)
    if amended:
        files = ", ".join(amended)
        raise RepositoryError(
            f"the last llamaflake commit {sha[:12]} was changed since llamaflake made it: {files} "
            + ("is" if len(amended) == 1 else "are")
            + " not what llamaflake wrote (amended with your own changes?); "
            "undoing it would drop those changes, so nothing was changed",
            hint=f"take it back by hand: `git revert --no-commit {sha[:12]}`, put your own lines of {files} back, "
            "then `git commit`",
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
