"""The repository boundary: names that become file names, and paths that may be written.

Everything written must stay a regular file inside the flake's folder, reached without a symbolic link,
outside ``.git``, and (checked with git in :mod:`tui.core.preflight`) neither ignored nor in a submodule.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tui.core.errors import AnswerError, RepositoryError

MAX_NAME_LENGTH = 200


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be used as a file name, or None."""
    if not name:
        return "it is empty"
    if name in (".", ".."):
        return "it names a folder, not a file"
    if "/" in name or "\\" in name:
        return "it holds a slash"
    if any(not ch.isprintable() for ch in name):
        return "it holds control characters (a line break, a tab, ...)"
    if len(name.encode("utf-8")) > MAX_NAME_LENGTH:
        return f"it is longer than {MAX_NAME_LENGTH} bytes"
    return None


def check_machine_name(name: str) -> None:
    """Refuse a machine name that cannot be the file name of its settings (``<name>.nix``)."""
    problem = name_problem(name)
    if problem is not None:
        raise AnswerError(
            f"machine {name!r} cannot get a settings file: {problem}",
            hint="rename the machine in nixosConfigurations, or leave it out (--host NAME=none)",
        )


def check_folder_text(text: str, what: str) -> None:
    """Refuse a folder given as text that holds control characters."""
    if any(not ch.isprintable() for ch in text):
        raise AnswerError(f"{what} {text!r} holds control characters (a line break, a tab, ...)")


def inside_git_dir(rel: str) -> bool:
    """Whether a root-relative path is inside a ``.git`` folder (or is one)."""
    return any(part.casefold() == ".git" for part in rel.split("/"))


def check_writable_paths(root: Path, rels: list[str]) -> None:
    """Refuse, naming the path, any of ``rels`` (relative to ``root``) that would be written outside the
    flake's folder, through a symbolic link, inside ``.git``, or over something that is not a regular file."""
    top = root.resolve()
    for rel in rels:
        if rel.startswith("/") or ".." in rel.split("/"):
            raise RepositoryError(f"{rel}: outside the repository; nothing was changed")
        if inside_git_dir(rel):
            raise RepositoryError(
                f"{rel}: inside .git, which llamaflake never writes; nothing was changed",
                hint="choose another folder for the module (--module-dir)",
            )
        current = top
        for part in [p for p in rel.split("/") if p not in ("", ".")]:
            current = current / part
            try:
                info = os.lstat(current)
            except FileNotFoundError:
                break
            except OSError as exc:
                raise RepositoryError(f"{rel}: cannot check {current}: {exc.strerror or exc}") from None
            if stat.S_ISLNK(info.st_mode):
                target = os.readlink(current)
                raise RepositoryError(
                    f"{rel}: {current.relative_to(top)} is a symbolic link (to {target}); llamaflake writes only "
                    "regular files inside the repository; nothing was changed",
                    hint="replace the link by what it points to, or edit that file by hand",
                )
            if current != top / rel and not stat.S_ISDIR(info.st_mode):
                raise RepositoryError(f"{rel}: {current.relative_to(top)} is not a folder; nothing was changed")
            if current == top / rel and not stat.S_ISREG(info.st_mode):
                raise RepositoryError(f"{rel}: not a regular file; nothing was changed")
        resolved = (top / rel).resolve()
        if resolved != top and top not in resolved.parents:
            raise RepositoryError(f"{rel}: resolves to {resolved}, outside the repository; nothing was changed")
