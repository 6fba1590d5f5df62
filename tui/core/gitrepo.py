"""Git through GitPython: the repository around the flake, its state, and partial commits made by git itself.

Every commit goes through ``git commit`` (GitPython's command interface), so that the repository's hooks
and signing settings apply; GitPython's own ``index.commit`` would skip both.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import git

from tui.core.errors import RepositoryError

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.apply import PendingApply

IDENTITY_LINES = 'git config --global user.name "Your Name"\ngit config --global user.email "you@example.org"'

# Marker files of an operation git has not finished, with its name and how to get out of it.
OPERATIONS = (
    ("rebase-merge", "a rebase", "git rebase --continue` or `git rebase --abort"),
    ("rebase-apply", "a rebase or `git am`", "git rebase --continue` / `git am --continue`, or `--abort"),
    ("MERGE_HEAD", "a merge", "git merge --continue` or `git merge --abort"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --continue` or `git cherry-pick --abort"),
    ("REVERT_HEAD", "a revert", "git revert --continue` or `git revert --abort"),
)


class CommitRejected(RepositoryError):
    """``git commit`` failed, most often because a hook refused it; ``output`` is what git and the hook printed."""

    output: str

    def __init__(self, output: str, *, restored: bool = True) -> None:
        self.output = output
        self.restored = restored
        self.pending: PendingApply | None = None  # set by the caller that can retry or abort
        text = "\n".join("  " + line for line in output.rstrip().splitlines()) or "  (no output)"
        if restored:
            hint = "every file and the index are back as they were; fix what it reports (a hook, signing) and run again"
        else:
            hint = "the files are written and not committed; fix what it reports (a hook, signing), then retry or abort"
        super().__init__(f"git commit failed, nothing was committed:\n{text}", hint=hint)


def pathspecs(paths: list[str]) -> list[str]:
    """Paths as git pathspecs that match only themselves (no glob characters taken as patterns)."""
    return [f":(literal){p}" if any(c in p for c in "*?[\\:") else p for p in paths]


def _nearest_work_tree(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` with a ``.git``, looking no higher than git would: never into a
    folder of ``GIT_CEILING_DIRECTORIES`` (which GitPython's own search ignores)."""
    ceilings = {Path(p).resolve() for p in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep) if p}
    here = path.resolve()
    while True:
        if (here / ".git").exists():
            return here
        if here.parent == here or here.parent in ceilings:
            return None
        here = here.parent


def find_repo(path: Path) -> git.Repo | None:
    """The git repository whose work tree holds ``path``, or None."""
    if not path.exists():
        return None
    top = _nearest_work_tree(path if path.is_dir() else path.parent)
    if top is None:
        return None
    try:
        repo = git.Repo(top)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if repo.bare or repo.working_tree_dir is None:
        return None
    return repo


def open_repo(path: Path) -> git.Repo:
    """The git repository that holds ``path``."""
    repo = find_repo(path)
    if repo is None:
        raise RepositoryError(
            f"{path} is not inside a git repository",
            hint="flakes need git: run `git init` there and commit your files (or `llamaflake apply --init`)",
        )
    return repo


def init_repo(path: Path) -> git.Repo:
    """``git init`` at ``path`` and a first commit of the files as they are (flakes see only tracked files)."""
    missing = missing_identity(None, path)
    if missing:
        raise RepositoryError(
            "git does not know who you are (" + " and ".join(missing) + " are not set)",
            hint="set them, then run again:\n" + IDENTITY_LINES,
        )
    repo = git.Repo.init(path)
    repo.git.add("-A")
    status, out, err = repo.git.commit(
        "--allow-empty",
        "-m",
        "Initial commit: the configuration as it was",
        with_extended_output=True,
        with_exceptions=False,
    )
    if status != 0:
        raise CommitRejected("\n".join(part for part in (err, out) if part), restored=False)
    return repo


def message_text(commit: git.Commit) -> str:
    """A commit's message as text (GitPython gives bytes where it is not in the encoding the commit names)."""
    return commit.message if isinstance(commit.message, str) else commit.message.decode(errors="replace")


def work_tree(repo: git.Repo) -> Path:
    if repo.working_tree_dir is None:
        raise RepositoryError(f"{repo.git_dir} is a bare repository: it has no files to change")
    return Path(repo.working_tree_dir).resolve()


def repo_prefix(repo: git.Repo, root: Path) -> str:
    """The flake's folder relative to the work tree: "" at the top, else e.g. ``nixos/``."""
    rel = root.resolve().relative_to(work_tree(repo)).as_posix()
    return "" if rel in ("", ".") else rel + "/"


def head_state(repo: git.Repo) -> str:
    """``branch``, ``detached`` or ``unborn`` (a repository without commits)."""
    try:
        _ = repo.head.commit
    except ValueError:
        return "unborn"
    return "detached" if repo.head.is_detached else "branch"


def git_path(repo: git.Repo, name: str) -> Path:
    """The path of a file git keeps for this work tree (``index``, ``MERGE_HEAD``, ...)."""
    rel = repo.git.rev_parse("--git-path", name)
    path = Path(rel)
    return path if path.is_absolute() else work_tree(repo) / path


def operation_in_progress(repo: git.Repo) -> tuple[str, str] | None:
    """The operation git has not finished (merge, rebase, ...) and how to finish it, or None."""
    for marker, name, way_out in OPERATIONS:
        if git_path(repo, marker).exists():
            return name, way_out
    return None


def _config(repo: git.Repo | None, key: str, cwd: Path | None = None) -> str:
    runner = repo.git if repo is not None else git.Git(cwd)
    status, out, _ = runner.config("--get", key, with_extended_output=True, with_exceptions=False)
    return out.strip() if status == 0 else ""


def missing_identity(repo: git.Repo | None, cwd: Path | None = None) -> list[str]:
    """The identity settings git would need and does not have: ``user.name``, ``user.email``.

    Without a repository, the global settings as seen from ``cwd``.
    """
    missing = []
    for key in ("name", "email"):
        upper = key.upper()
        if os.environ.get(f"GIT_AUTHOR_{upper}") and os.environ.get(f"GIT_COMMITTER_{upper}"):
            continue
        if _config(repo, f"user.{key}", cwd):
            continue
        if _config(repo, f"author.{key}", cwd) and _config(repo, f"committer.{key}", cwd):
            continue
        if key == "email" and os.environ.get("EMAIL"):
            continue
        missing.append(f"user.{key}")
    return missing


@dataclass
class PathStatus:
    """What git says about one path: staged and unstaged changes, untracked or ignored."""

    path: str
    staged: bool = False
    unstaged: bool = False
    untracked: bool = False

    def describe(self) -> str:
        if self.untracked:
            return "untracked"
        parts = []
        if self.staged:
            parts.append("staged")
        if self.unstaged:
            parts.append("unstaged")
        return " and ".join(parts) + " changes"


def path_status(repo: git.Repo, paths: list[str]) -> dict[str, PathStatus]:
    """``git status`` for ``paths`` (repository-relative): only those with something to say."""
    if not paths:
        return {}
    out = repo.git.status(
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--",
        *pathspecs(paths),
        env={"GIT_OPTIONAL_LOCKS": "0"},
    )  # a check must not rewrite the index
    result: dict[str, PathStatus] = {}
    for entry in out.split("\0"):
        if len(entry) < 4:
            continue
        x, y, path = entry[0], entry[1], entry[3:]
        status = result.setdefault(path, PathStatus(path))
        if x == "?":
            status.untracked = True
        else:
            status.staged = status.staged or x not in (" ",)
            status.unstaged = status.unstaged or y not in (" ",)
    return result


def ignored(repo: git.Repo, paths: list[str]) -> list[str]:
    """Those of ``paths`` that .gitignore (or info/exclude) ignores (paths read by git as data, NUL-separated)."""
    if not paths:
        return []
    result = subprocess.run(
        [repo.git.GIT_PYTHON_GIT_EXECUTABLE or "git", "check-ignore", "--stdin", "-z"],
        cwd=work_tree(repo),
        input="".join(p + "\0" for p in paths).encode(),
        capture_output=True,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    return [p for p in result.stdout.decode("utf-8", "replace").split("\0") if p] if result.returncode == 0 else []


def submodules_holding(repo: git.Repo, paths: list[str]) -> dict[str, str]:
    """For each of ``paths`` (repository-relative) inside a submodule or another nested repository, that folder."""
    top = work_tree(repo)
    out = repo.git.ls_files("-s", "-z", env={"GIT_OPTIONAL_LOCKS": "0"})
    gitlinks = {entry.split("\t", 1)[1] for entry in out.split("\0") if entry.startswith("160000 ")}
    found = {}
    for path in paths:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if folder in gitlinks or (top / folder / ".git").exists():
                found[path] = folder
                break
    return found


def _git_stdin(repo: git.Repo, args: list[str], lines: list[str]) -> list[str]:
    """A git command fed one line per item on its standard input, run at the work tree's top; its output lines."""
    result = subprocess.run(
        [repo.git.GIT_PYTHON_GIT_EXECUTABLE or "git", *args],
        cwd=work_tree(repo),
        input="".join(line + "\n" for line in lines).encode(),
        capture_output=True,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    if result.returncode != 0:
        raise RepositoryError(f"`git {' '.join(args)}` failed: {result.stderr.decode('utf-8', 'replace').strip()}")
    return result.stdout.decode("utf-8", "replace").splitlines()


def blob_ids(repo: git.Repo, paths: list[str]) -> dict[str, str | None]:
    """The blob id git would store for each of ``paths`` (repository-relative) as the file is now, its
    filters applied as ``git add`` applies them; None for a path with no file."""
    present = [p for p in paths if (work_tree(repo) / p).is_file()]
    ids = _git_stdin(repo, ["hash-object", "--stdin-paths"], present) if present else []
    found = dict(zip(present, ids, strict=False))  # a path git said nothing of has no id
    return {p: found.get(p) for p in paths}


def committed_blob_ids(repo: git.Repo, rev: str, paths: list[str]) -> dict[str, str | None]:
    """The blob id of each of ``paths`` (repository-relative) in commit ``rev``; None where it has none."""
    if not paths:
        return {}
    out = _git_stdin(repo, ["cat-file", "--batch-check=%(objectname) %(objecttype)"], [f"{rev}:{p}" for p in paths])
    return {p: line.split()[0] if line.endswith(" blob") else None for p, line in zip(paths, out, strict=False)}


def tracked(repo: git.Repo, paths: list[str]) -> list[str]:
    """Those of ``paths`` that the index knows (intent-to-add entries included)."""
    if not paths:
        return []
    out = repo.git.ls_files("-z", "--", *pathspecs(paths))
    known = {p for p in out.split("\0") if p}
    return [p for p in paths if p in known]


def hidden_from_git(repo: git.Repo, paths: list[str]) -> dict[str, str]:
    """Those of ``paths`` whose index entry tells git not to look at the file (``skip-worktree`` or
    ``assume-unchanged``): a commit of them would hold the index's old content, not the file's."""
    if not paths:
        return {}
    out = repo.git.ls_files("-v", "-z", "--", *pathspecs(paths), env={"GIT_OPTIONAL_LOCKS": "0"})
    found = {}
    for entry in out.split("\0"):
        if len(entry) < 3:
            continue
        tag, path = entry[0], entry[2:]
        if tag in "Ss":
            found[path] = "skip-worktree"
        elif tag.islower():
            found[path] = "assume-unchanged"
    return found


def intent_to_add(repo: git.Repo, paths: list[str]) -> None:
    """``git add --intent-to-add``: git (and so nix) sees the new files, with nothing of them staged yet."""
    if paths:
        repo.git.add("--intent-to-add", "--", *pathspecs(paths))


class IndexSnapshot:
    """The index file's bytes, to be put back exactly as they were."""

    def __init__(self, repo: git.Repo) -> None:
        self.path = git_path(repo, "index")
        try:
            self.data = self.path.read_bytes() if self.path.exists() else None
        except OSError as exc:
            raise RepositoryError(
                f"cannot read git's index {self.path}: {exc.strerror or exc}; nothing was changed",
                hint="check the file's permissions (`git status` must work here)",
            ) from None

    def restore(self) -> None:
        """Write the saved bytes back under git's own lock file (``index.lock``), or remove a new index."""
        if self.data is None:
            self.path.unlink(missing_ok=True)
            return
        if self.path.exists() and self.path.read_bytes() == self.data:
            return
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise RepositoryError(
                f"cannot put the index back: {lock} exists (another git command is running?)",
                hint="wait for it to finish, or remove the lock file if no git command is running",
            ) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(lock, self.path)
        except BaseException:
            lock.unlink(missing_ok=True)
            raise


def committed_bytes(repo: git.Repo, sha: str, path: str) -> bytes | None:
    """The bytes of ``path`` (repository-relative) in commit ``sha``; None where the commit has no such file."""
    # A git process of its own each time: the long-lived object reader dies with a Ctrl+C to the group.
    entry = repo.git.ls_tree(sha, "--", path).strip()
    if not entry or entry.split(None, 2)[1] != "blob":
        return None
    return repo.git.cat_file("blob", f"{sha}:{path}", stdout_as_string=False, strip_newline_in_stdout=False)


def commit_paths(repo: git.Repo, paths: list[str], message: str) -> str:
    """Commit exactly ``paths`` (repository-relative) as they are in the work tree, with ``git commit -- paths``.

    This is git's partial commit: changes to other files, staged or not, stay as they were and are not
    committed. Hooks (``pre-commit``, ``commit-msg``, ...) and signing run as for any commit; a failure
    raises :class:`CommitRejected` with git's and the hook's output.
    """
    known = tracked(repo, paths)
    if not known:
        raise RepositoryError("nothing to commit: git knows none of " + ", ".join(paths))
    missing = [p for p in paths if p not in known]
    if missing:
        raise RepositoryError(
            "the commit would not hold " + ", ".join(missing) + " (git does not track it); nothing was committed",
            hint="commit or remove that file yourself, then run again",
        )
    status, out, err = repo.git.commit(
        "-m",
        message,
        "--",
        *pathspecs(known),
        with_extended_output=True,
        with_exceptions=False,
    )
    if status != 0:
        raise CommitRejected("\n".join(part for part in (err, out) if part), restored=False)
    sha = repo.git.rev_parse("HEAD").strip()
    # A partial commit updates the index before the pre-commit hook runs; what a hook rewrote and staged (a
    # formatter, an added file) went into the commit only. Leave the index as a plain `git commit` would.
    touched = [
        p for p in repo.git.diff_tree("--no-commit-id", "-r", "--name-only", "-z", "--root", sha).split("\0") if p
    ]
    # The paths asked for too: a hook that formats a file back to what HEAD held leaves it out of the diff.
    repo.git.reset("-q", sha, "--", *pathspecs(list(dict.fromkeys(touched + known))))
    return sha
