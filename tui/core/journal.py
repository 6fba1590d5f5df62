"""The apply journal: what an apply is about to do, kept in ``.git/llamaflake/`` until it is done.

An apply killed half-way (SIGKILL, a power cut) leaves files written and not committed, a stale
``index.lock`` or temporary files. The next run reads the journal and finishes the apply where its commit
landed, or rolls it back (every file and the index as they were before it) where it did not, and says which.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import git

from tui.core import gitrepo
from tui.core.errors import RepositoryError
from tui.core.write import atomic_write

JOURNAL = "apply.json"
INDEX_COPY = "index.before"  # with the pid of the apply that made it: index.before.<pid>
LOCK_WAIT = 3.0  # seconds a git process left running by the killed apply gets to finish


def journal_dir(repo: git.Repo) -> Path:
    return gitrepo.git_path(repo, "llamaflake")


def _head(repo: git.Repo) -> str | None:
    try:
        return repo.head.commit.hexsha
    except ValueError:
        return None


@dataclass
class Journal:
    """An apply in progress: :meth:`start` before the first write, :meth:`finish` once it is done or undone."""

    repo: git.Repo
    folder: Path
    index_copy: str = INDEX_COPY

    @classmethod
    def start(cls, repo: git.Repo, paths: list[str]) -> "Journal":
        """Record the files (repository-relative) as they are now, the index and HEAD, atomically."""
        top = gitrepo.work_tree(repo)
        folder = journal_dir(repo)
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        new_dirs: list[str] = []
        for rel in dict.fromkeys(paths):
            path = top / rel
            if path.is_file() and not path.is_symlink():
                files.append({"path": rel, "data": base64.b64encode(path.read_bytes()).decode(),
                              "mode": path.stat().st_mode & 0o7777})
            else:
                files.append({"path": rel, "data": None, "mode": None})
                parent = path.parent
                while parent != top and not parent.exists():
                    new_dirs.append(parent.relative_to(top).as_posix())
                    parent = parent.parent
        index = gitrepo.git_path(repo, "index")
        has_index = index.exists()
        index_copy = f"{INDEX_COPY}.{os.getpid()}"
        if has_index:
            atomic_write(folder / index_copy, index.read_bytes(), 0o644)
        record = {"version": 1, "pid": os.getpid(), "started": time.time(), "head": _head(repo),
                  "index": has_index, "index_copy": index_copy, "files": files,
                  "dirs": sorted(set(new_dirs), key=len, reverse=True)}
        atomic_write(folder / JOURNAL, json.dumps(record).encode(), 0o644)
        return cls(repo, folder, index_copy)

    def finish(self) -> None:
        """The apply is done (committed, kept or put back): forget it."""
        (self.folder / JOURNAL).unlink(missing_ok=True)
        (self.folder / self.index_copy).unlink(missing_ok=True)


def _clear_abandoned(folder: Path) -> None:
    """What an apply killed inside :meth:`Journal.start` left (its index copy, half-written files):
    it had written nothing else yet. Left alone while the apply that made them is still running."""
    if not folder.is_dir():
        return
    copies = [p for p in folder.glob(f"{INDEX_COPY}.*") if not p.name.endswith(".tmp")]
    if any(_alive(int(p.name.rsplit(".", 1)[1])) for p in copies if p.name.rsplit(".", 1)[1].isdigit()):
        return
    for path in copies + list(folder.glob(".*.tmp")):
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    if parents == ([head_before] if head_before else []) and "\nGenerated-by: llamaflake" in "\n" + message:
        return head
    return None


def recover(repo: git.Repo | None) -> str | None:
    """Finish or roll back an apply that was interrupted; returns what was done, or None if there was none."""
    if repo is None:
        return None
    folder = journal_dir(repo)
    journal_file = folder / JOURNAL
    if not journal_file.is_file():
        _clear_abandoned(folder)
        return None
    try:
        record = json.loads(journal_file.read_text("utf-8"))
        files = record["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise RepositoryError(f"{journal_file} is unreadable; an interrupted apply cannot be finished",
                              hint="check `git status`, then remove that file") from None
    if _alive(int(record.get("pid", 0))):
        raise RepositoryError(f"another llamaflake apply (process {record['pid']}) is running in this repository",
                              hint="wait for it to finish, then run again")
    top = gitrepo.work_tree(repo)
    paths = [entry["path"] for entry in files]
    lock_note = " (and removed its stale index.lock)" if _clear_stale_lock(repo, float(record.get("started", 0))) else ""
    index = gitrepo.git_path(repo, "index")
    _remove_temporaries(top, paths)
    _remove_temporaries(index.parent, [index.name])
    journal = Journal(repo, folder, str(record.get("index_copy") or INDEX_COPY))
    landed = _landed(repo, record.get("head"))
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
        try:
            (top / rel).rmdir()
        except OSError:
            pass
    if record.get("index"):
        saved = (folder / journal.index_copy).read_bytes()
        if not index.exists() or index.read_bytes() != saved:
            atomic_write(index, saved, 0o644)
    else:
        index.unlink(missing_ok=True)
    journal.finish()
    return f"an interrupted apply was rolled back: its files and the index are as they were before it{lock_note}"
