"""Writing a plan to disk: each file through a temporary file and a rename, all files or none."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tui.core.changes import FileChange
from tui.core.errors import LlamaflakeError


class WriteError(LlamaflakeError):
    """A file of the plan could not be written (or put back)."""


class ChangedMeanwhile(WriteError):
    """Files the apply had written were saved by someone else while it ran: their version is kept."""

    def __init__(self, paths: list[str], why: str = "") -> None:
        self.paths = paths
        names = ", ".join(paths)
        super().__init__(
            f"{names} changed while the apply ran{why}; your version is kept, every other file and the index "
            "are put back, nothing was committed",
            hint="check it (`git diff`), then run again to plan from the files as they are now",
        )


class StalePlan(WriteError):
    """A file the plan changes is no longer what the plan was made from: nothing was written."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"{path} changed since the plan was made; nothing was changed", hint="run again to see the new plan"
        )


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` by ``data`` through a temporary file in the same folder and a rename.

    The file keeps its permission bits (or gets ``mode``); a reader sees the old bytes or the new, never a mix.
    """
    if mode is None:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


@dataclass
class SavedFile:
    """A file as it was: its bytes and permission bits, or ``data`` None where it did not exist."""

    rel: str
    data: bytes | None
    mode: int | None


@dataclass
class Snapshot:
    """Files of a repository as they were before a change, to be put back byte for byte."""

    root: Path
    files: list[SavedFile]
    created_dirs: list[Path] = field(default_factory=list)
    written: dict[str, bytes | None] = field(default_factory=dict)  # what the apply put there (None: removed)
    free: set[str] = field(default_factory=set)  # files a tool the apply runs may write (nix and flake.lock)

    @classmethod
    def take(cls, root: Path, rels: list[str]) -> Snapshot:
        """Read ``rels`` (relative to ``root``) as they are now."""
        files = []
        for rel in dict.fromkeys(rels):
            path = root / rel
            try:
                if path.is_symlink():
                    raise WriteError(
                        f"{rel} is a symbolic link; llamaflake writes only regular files",
                        hint="replace the link by the file it points to, or edit this file by hand",
                    )
                if path.exists():
                    files.append(SavedFile(rel, path.read_bytes(), stat.S_IMODE(path.stat().st_mode)))
                else:
                    files.append(SavedFile(rel, None, None))
            except OSError as exc:
                raise WriteError(f"{rel}: cannot read: {exc.strerror or exc}; nothing was changed") from None
        return cls(root, files)

    def saved(self, rel: str) -> SavedFile | None:
        return next((f for f in self.files if f.rel == rel), None)

    def changed(self) -> list[str]:
        """The saved files whose bytes on disk differ from the saved ones now."""
        result = []
        for saved in self.files:
            path = self.root / saved.rel
            now = path.read_bytes() if path.is_file() else None
            if now != saved.data:
                result.append(saved.rel)
        return result

    def changed_by_others(self) -> list[str]:
        """The written files whose bytes on disk are no longer what the apply wrote (saved by someone else)."""
        return [rel for rel, data in self.written.items() if self.on_disk(rel) != data]

    def restore(self) -> list[str]:
        """Put every saved file back as it was, and remove the folders made since; files already right are left
        alone, and so are files saved by someone else since the apply wrote them: those are returned."""
        failed: list[str] = []
        kept = [f.rel for f in self.files if f.rel not in self.free and self._saved_by_others(f)]
        for saved in reversed(self.files):
            if saved.rel in kept:
                continue
            path = self.root / saved.rel
            try:
                if saved.data is None:
                    if path.exists() or path.is_symlink():
                        path.unlink()
                    continue
                if (
                    path.is_file()
                    and not path.is_symlink()
                    and path.read_bytes() == saved.data
                    and stat.S_IMODE(path.stat().st_mode) == saved.mode
                ):
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, saved.data, saved.mode)
            except OSError as exc:
                failed.append(f"{saved.rel} ({exc.strerror or exc})")
        for directory in sorted(self.created_dirs, key=lambda d: len(d.parts), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
        if failed:
            raise WriteError(
                "could not put back " + ", ".join(failed),
                hint="`git status` and `git diff` show what differs; `git checkout -- <file>` restores a committed file",
            )
        return kept

    def _saved_by_others(self, saved: SavedFile) -> bool:
        now = self.on_disk(saved.rel)
        return now != saved.data and (saved.rel not in self.written or now != self.written[saved.rel])

    def on_disk(self, rel: str) -> bytes | None:
        """The file's bytes as they are now (None where it is absent, or not a plain file)."""
        path = self.root / rel
        try:
            return path.read_bytes() if path.is_file() and not path.is_symlink() else None
        except OSError:
            return None


def check_current(root: Path, changes: list[FileChange]) -> None:
    """Refuse if a file changed on disk since the plan was made."""
    for change in changes:
        path = root / change.path
        try:
            now = path.read_bytes() if path.exists() else None
        except OSError as exc:
            raise WriteError(f"{change.path}: cannot read: {exc.strerror or exc}; nothing was changed") from None
        if now != change.old:
            raise StalePlan(change.path)


def write_changes(root: Path, changes: list[FileChange], snapshot: Snapshot | None = None) -> Snapshot:
    """Write every change, or none: on any failure the files written so far are put back.

    Returns the snapshot of the files as they were, which puts them back on ``restore()``.
    """
    check_current(root, changes)
    if snapshot is None:
        snapshot = Snapshot.take(root, [c.path for c in changes])
    current = None
    try:
        for change in changes:
            current = change.path
            path = root / change.path
            if snapshot.on_disk(change.path) != change.old:  # saved by someone else since the check above
                raise ChangedMeanwhile([change.path])
            snapshot.written[change.path] = change.new
            if change.new is None:
                path.unlink()
                continue
            missing = []
            parent = path.parent
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            if missing:
                snapshot.created_dirs.extend(reversed(missing))
                path.parent.mkdir(parents=True)
            atomic_write(path, change.new)
    except BaseException as exc:
        kept = snapshot.restore()
        if kept and not isinstance(exc, ChangedMeanwhile):
            raise ChangedMeanwhile(kept) from None
        if isinstance(exc, OSError):
            raise WriteError(f"{current}: cannot write: {exc.strerror or exc}; nothing was changed") from None
        raise
    return snapshot
