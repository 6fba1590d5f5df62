"""Paths inside the repository: Nix path literals resolved against the flake root, and the repository's .nix files."""

from __future__ import annotations

import os
from pathlib import Path

SKIP_DIRS = {".git", "result", "node_modules", ".direnv", ".venv"}


def relative_path(base_file: str, path_literal: str) -> str | None:
    """Resolve a Nix path literal written in ``base_file`` to a path relative to the flake root."""
    if not path_literal.startswith(("./", "../")):
        return None
    slash = base_file.rfind("/")
    joined = (base_file[:slash] + "/" + path_literal) if slash >= 0 else path_literal
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) if parts else "."


def import_target(root: Path | str, rel: str) -> str | None:
    """The file a path means to ``import``: itself, or its ``default.nix`` if it is a folder; None if absent."""
    path = os.path.join(root, rel)
    if os.path.isdir(path):
        path = os.path.join(path, "default.nix")
        rel = f"{rel}/default.nix" if rel != "." else "default.nix"
    return rel if os.path.isfile(path) else None


def nix_files(root: Path, limit: int = 5000) -> list[str]:
    """The ``.nix`` files of the repository, relative to the root, in a stable order."""
    found: list[str] = []
    top = str(root)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        prefix = os.path.relpath(dirpath, top).replace(os.sep, "/")
        prefix = "" if prefix == "." else prefix + "/"
        for name in sorted(filenames):
            # Only regular files: reading a FIFO or a device named *.nix would never end.
            if name.endswith(".nix") and os.path.isfile(os.path.join(dirpath, name)):
                found.append(prefix + name)
                if len(found) >= limit:
                    return found
    return found
