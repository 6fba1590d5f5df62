"""Writing a plan to disk atomically: each file through a temporary file and a rename, all or nothing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tui.core.errors import LlamaflakeError
from tui.core.plan import FileChange


class WriteError(LlamaflakeError):
    """A file of the plan could not be written; every file is back as it was."""


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def check_current(root: Path, changes: list[FileChange]) -> None:
    """Refuse if a file changed on disk since the plan was made."""
    for change in changes:
        path = root / change.path
        now = path.read_bytes() if path.exists() else None
        if now != change.old:
            raise WriteError(f"{change.path} changed since the plan was made; run again to see the new plan")


def write_changes(root: Path, changes: list[FileChange]) -> list[str]:
    """Write every change, or none: on any failure the files written so far are restored."""
    check_current(root, changes)
    done: list[FileChange] = []
    created_dirs: list[Path] = []
    try:
        for change in changes:
            path = root / change.path
            if change.new is None:
                path.unlink()
            else:
                parent = path.parent
                missing = []
                while not parent.exists():
                    missing.append(parent)
                    parent = parent.parent
                created_dirs.extend(reversed(missing))
                _atomic_write(path, change.new)
            done.append(change)
    except OSError as exc:
        for change in reversed(done):
            path = root / change.path
            if change.old is None:
                path.unlink(missing_ok=True)
            else:
                _atomic_write(path, change.old)
        for directory in reversed(created_dirs):
            try:
                directory.rmdir()
            except OSError:
                pass
        raise WriteError(f"{getattr(exc, 'filename', None) or 'a file'}: cannot write: {exc.strerror or exc}; nothing was changed") from None
    return [c.path for c in changes]
