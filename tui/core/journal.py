"""The apply journal: what an apply is about to do, kept in ``.git/llamaflake/`` until it is done.

An apply killed half-way (SIGKILL, a power cut) leaves files written and not committed, a stale
``index.lock`` or temporary files. The next run reads the journal and finishes the apply where its commit
landed, or rolls it back (every file and the index as they were before it) where it did not, and says which.
A rollback first checks that nothing happened since (HEAD, each file, the rest of the index); where something
did, it refuses and keeps the journal.

One apply at a time: an apply holds ``.git/llamaflake/lock`` (``flock``) from start to end; the kernel
releases it when the process dies, so a held lock means another apply is running.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import git

from tui.core import gitrepo
from tui.core.errors import RepositoryError
from tui.core.footprint import is_llamaflake_commit
from tui.core.write import atomic_write

JOURNAL = "apply.json"
LOCK = "lock"
INDEX_COPY = "index.before"
REWRITTEN = "rewritten-by-hooks"  # commits of llamaflake's whose files a hook changed as they were committed
LOCK_WAIT = 3.0  # seconds a git process left running by the killed apply gets to finish


def journal_dir(repo: git.Repo) -> Path:
    return gitrepo.git_path(repo, "llamaflake")


def remember_rewritten(repo: git.Repo, sha: str) -> None:
    """Note that llamaflake's commit ``sha`` holds files the repository's hooks changed as it was committed, so that
    ``undo`` takes them for llamaflake's own although they differ from what it wrote."""
    path = journal_dir(repo) / REWRITTEN
    try:
        known = path.read_text("utf-8") if path.is_file() else ""
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, (known + sha + "\n").encode(), 0o644)
    except OSError:
        pass  # undo then refuses the commit as amended, and says how to take it back by hand


def rewritten_by_hooks(repo: git.Repo) -> set[str]:
    """The commits :func:`remember_rewritten` noted."""
    path = journal_dir(repo) / REWRITTEN
    try:
        return set(path.read_text("utf-8").split()) if path.is_file() else set()
    except OSError:
        return set()


def _head(repo: git.Repo) -> str | None:
    try:
        return repo.head.commit.hexsha
    except ValueError:
        return None


_held: dict[str, list[int]] = {}  # lock path -> [fd, depth], for the locks this process holds


class ApplyLock:
    """The repository's apply lock, held by this process; re-entrant within it. :meth:`release` once per acquire."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.released = False

    @classmethod
    def acquire(cls, repo: git.Repo) -> ApplyLock:
        """Take the lock, or raise :class:`RepositoryError` where another apply holds it."""
        folder = journal_dir(repo)
        folder.mkdir(parents=True, exist_ok=True)
        path = str(folder / LOCK)
        if path in _held:
            _held[path][1] += 1
            return cls(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by git or nix (PEP 446)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RepositoryError(
                "another llamaflake apply is running in this repository", hint="wait for it to finish, then run again"
            ) from None
        _held[path] = [fd, 1]
        return cls(path)

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        held = _held.get(self.path)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _held[self.path]
            os.close(held[0])  # closing the only descriptor releases the flock


def digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass
class Journal:
    """An apply in progress: :meth:`start` before the first write, :meth:`finish` once it is done or undone."""

    repo: git.Repo
    folder: Path
    lock: ApplyLock | None = None  # released by :meth:`finish`

    @classmethod
    def start(cls, repo: git.Repo, paths: list[str], intended: dict[str, bytes | None] | None = None) -> Journal:
        """Record the files (repository-relative) as they are now, what each is about to become
        (``intended``: content, or None to delete; a path not in it is not known yet), the index and HEAD,
        atomically. The caller holds the :class:`ApplyLock`."""
        intended = intended or {}
        top = gitrepo.work_tree(repo)
        folder = journal_dir(repo)
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        new_dirs: list[str] = []
        for rel in dict.fromkeys(paths):
            path = top / rel
            if path.is_file() and not path.is_symlink():
                files.append(
                    {
                        "path": rel,
                        "data": base64.b64encode(path.read_bytes()).decode(),
                        "mode": path.stat().st_mode & 0o7777,
                    }
                )
            else:
                files.append({"path": rel, "data": None, "mode": None})
                parent = path.parent
                while parent != top and not parent.exists():
                    new_dirs.append(parent.relative_to(top).as_posix())
                    parent = parent.parent
        index = gitrepo.git_path(repo, "index")
        has_index = index.exists()
        if has_index:
            atomic_write(folder / INDEX_COPY, index.read_bytes(), 0o644)
        for entry in files:
            if entry["path"] in intended:
                entry["new"] = digest(intended[entry["path"]])
        record = {
            "version": 1,
            "pid": os.getpid(),
            "started": time.time(),
            "head": _head(repo),
            "index": has_index,
            "files": files,
            "dirs": sorted(set(new_dirs), key=len, reverse=True),
        }
        atomic_write(folder / JOURNAL, json.dumps(record).encode(), 0o644)
        return cls(repo, folder)

    def expect(self, path: str, data: bytes | None) -> None:
        """Record what ``path`` (repository-relative) became once it is known (``flake.lock`` after locking)."""
        journal_file = self.folder / JOURNAL
        record = json.loads(journal_file.read_text("utf-8"))
        for entry in record["files"]:
            if entry["path"] == path:
                entry["new"] = digest(data)
        atomic_write(journal_file, json.dumps(record).encode(), 0o644)

    def finish(self) -> None:
        """The apply is done (committed, kept or put back): forget it."""
        (self.folder / JOURNAL).unlink(missing_ok=True)
        (self.folder / INDEX_COPY).unlink(missing_ok=True)
        if self.lock is not None:
            self.lock.release()


def _clear_abandoned(folder: Path) -> None:
    """What an apply killed inside :meth:`Journal.start` left (its index copy, half-written files):
    it had written nothing else yet. The caller holds the lock, so no apply that made them is running."""
    if not folder.is_dir():
        return
    for path in [folder / INDEX_COPY, *folder.glob(".*.tmp")]:
        path.unlink(missing_ok=True)


def _remove_temporaries(top: Path, paths: list[str]) -> None:
    """The ``.<name>.*.tmp`` files an interrupted atomic write leaves beside its target."""
    for rel in paths:
        path = top / rel
        pattern = re.compile(r"\." + re.escape(path.name) + r"\..+\.tmp")
        try:
            siblings = list(path.parent.iterdir())
        except OSError:
            continue
        for sibling in siblings:
            if pattern.fullmatch(sibling.name) and sibling.is_file():
                sibling.unlink(missing_ok=True)


def _clear_stale_lock(repo: git.Repo, started: float) -> bool:
    """Wait briefly for a git command the killed apply started; then remove its ``index.lock`` if it is
    as new as the apply (an older lock belongs to something else and is left for the user)."""
    lock = gitrepo.git_path(repo, "index.lock")
    deadline = time.monotonic() + LOCK_WAIT
    while lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        mtime = lock.stat().st_mtime
    except FileNotFoundError:
        return False
    if mtime + 1 < started:
        raise RepositoryError(
            f"{lock} exists (another git command is running?), and an interrupted llamaflake apply needs the index",
            hint="wait for it to finish, or remove the lock file if no git command is running, then run again",
        )
    lock.unlink(missing_ok=True)
    return True


def _landed(repo: git.Repo, head_before: str | None) -> str | None:
    """The commit the interrupted apply made, if HEAD now is it."""
    head = _head(repo)
    if head is None or head == head_before:
        return None
    commit = repo.head.commit
    parents = [p.hexsha for p in commit.parents]
    message = commit.message if isinstance(commit.message, str) else commit.message.decode(errors="replace")
    if parents == ([head_before] if head_before else []) and is_llamaflake_commit(message):
        return head
    return None


def recover(repo: git.Repo | None) -> str | None:
    """Finish or roll back an apply that was interrupted; returns what was done, or None if there was none.

    Raises :class:`RepositoryError` where another apply is running, or where a rollback would lose work done
    since the interruption (the journal is then kept)."""
    if repo is None:
        return None
    folder = journal_dir(repo)
    journal_file = folder / JOURNAL
    try:
        lock = ApplyLock.acquire(repo)
    except OSError as exc:
        if journal_file.is_file():
            raise RepositoryError(
                f"cannot take the apply lock in {folder}: {exc.strerror or exc}; "
                "an interrupted apply cannot be finished"
            ) from None
        return None  # a repository llamaflake cannot write to: nothing was interrupted here
    try:
        return _recover(repo, folder, journal_file)
    finally:
        lock.release()


def _index_entries(repo: git.Repo, index_file: Path, leave_out: set[str]) -> list[str]:
    """``git ls-files --stage`` of an index file, without ``leave_out``."""
    top = gitrepo.work_tree(repo)
    env = dict(os.environ, GIT_INDEX_FILE=str(index_file), GIT_OPTIONAL_LOCKS="0")
    out = subprocess.run(
        ["git", "ls-files", "--stage", "-z"], cwd=top, env=env, capture_output=True, check=False
    ).stdout.decode("utf-8", "surrogateescape")
    return [e for e in out.split("\0") if e and e.split("\t", 1)[-1] not in leave_out]


def _changed_since(repo: git.Repo, record: dict, index_copy: Path) -> list[str]:
    """What happened since the interrupted apply that a rollback would lose: HEAD moved, a file holds
    neither its old nor its intended content, the index has other changes."""
    top = gitrepo.work_tree(repo)
    changed = []
    head = _head(repo)
    if head != record.get("head"):
        changed.append(
            f"HEAD is {head[:12] if head else 'unborn'}, not {str(record.get('head'))[:12]} (a commit was made since)"
        )
    for entry in record["files"]:
        path = top / entry["path"]
        now = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        old = None if entry["data"] is None else base64.b64decode(entry["data"])
        if now == old or "new" not in entry or digest(now) == entry["new"]:
            continue
        changed.append(f"{entry['path']} was changed")
    if record.get("index") and index_copy.is_file():
        paths = {entry["path"] for entry in record["files"]}
        if _index_entries(repo, index_copy, paths) != _index_entries(repo, gitrepo.git_path(repo, "index"), paths):
            changed.append("the index has other staged changes")
    return changed


def _recover(repo: git.Repo, folder: Path, journal_file: Path) -> str | None:
    if not journal_file.is_file():
        _clear_abandoned(folder)
        return None
    try:
        record = json.loads(journal_file.read_text("utf-8"))
        files = record["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise RepositoryError(
            f"{journal_file} is unreadable; an interrupted apply cannot be finished",
            hint="check `git status`, then remove that file",
        ) from None
    top = gitrepo.work_tree(repo)
    paths = [entry["path"] for entry in files]
    journal = Journal(repo, folder)
    # A git command the killed apply started may still be finishing its commit: let it, before deciding.
    lock_note = (
        " (and removed its stale index.lock)" if _clear_stale_lock(repo, float(record.get("started", 0))) else ""
    )
    landed = _landed(repo, record.get("head"))
    if landed is None:
        changed = _changed_since(repo, record, folder / INDEX_COPY)
        if changed:
            raise RepositoryError(
                "an interrupted apply was not rolled back, because work was done since: "
                + "; ".join(changed)
                + f"; its journal is kept in {folder}",
                hint="check `git status` and `git log`; to keep everything as it is now, remove "
                f"{journal_file} and {folder / INDEX_COPY}, then run again",
            )
    index = gitrepo.git_path(repo, "index")
    _remove_temporaries(top, paths)
    _remove_temporaries(index.parent, [index.name])
    if landed is not None:
        # The commit landed; git may have been stopped before it updated the index for those paths.
        repo.git.reset("-q", landed, "--", *gitrepo.pathspecs(paths))
        journal.finish()
        return f"an interrupted apply had committed {landed[:12]}; finished it{lock_note}"
    for entry in files:
        path = top / entry["path"]
        if entry["data"] is None:
            if path.is_file() or path.is_symlink():
                path.unlink()
            continue
        data = base64.b64decode(entry["data"])
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, entry["mode"])
    for rel in record.get("dirs", []):
        with contextlib.suppress(OSError):
            (top / rel).rmdir()
    if record.get("index"):
        saved = (folder / INDEX_COPY).read_bytes()
        if not index.exists() or index.read_bytes() != saved:
            atomic_write(index, saved, 0o644)
    else:
        index.unlink(missing_ok=True)
    journal.finish()
    return f"an interrupted apply was rolled back: its files and the index are as they were before it{lock_note}"
