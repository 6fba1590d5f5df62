"""A cache of machine evaluations, so that a second identical run is instant.

An evaluation depends on the flake's files and on its lock (which pins every input, ``path:`` inputs by their
content hash too), so the key is a digest of exactly those: every file Nix copies as the flake's source (the
files git tracks, as they are in the work tree), the machine, what is asked of it, and the Nix version.
Entries live in the user's cache folder (``$XDG_CACHE_HOME/llamaflake/eval``), never in the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import git

VERSION = 1
REFRESH_HELP = "evaluate afresh instead of reusing results from the evaluation cache (~/.cache/llamaflake/eval)"


def cache_dir() -> Path:
    """Where results are kept: ``$XDG_CACHE_HOME/llamaflake/eval`` (``~/.cache`` by default, and where that is
    a relative path, which the XDG specification says to ignore)."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):
        base = str(Path.home() / ".cache")
    return Path(base) / "llamaflake" / "eval"


def _source_files(root: Path, repo: git.Repo | None = None) -> tuple[Path, list[str]] | None:
    """The top of what Nix copies for the flake at ``root`` (in ``repo``, looked for where not given) and the files
    in it, or None where that is unclear."""
    from tui.core import gitrepo

    if repo is None:
        repo = gitrepo.find_repo(root)
    if repo is None:
        return None  # a path: flake copies every file; not worth hashing a whole folder to save an evaluation
    top = gitrepo.work_tree(repo)
    files = [p for p in repo.git.ls_files("-z").split("\0") if p]
    return top, sorted(files)


def source_digest(root: Path, nix_version: str, repo: git.Repo | None = None) -> str | None:
    """A digest of the flake's source and lock as Nix (of ``nix_version``) would see them, or None where the
    cache is not used. ``repo``: the git repository holding ``root``, where the caller has it open."""
    listed = _source_files(root, repo)
    if listed is None:
        return None
    top, files = listed
    digest = hashlib.sha256(f"llamaflake-eval {VERSION} nix {nix_version}\n".encode())
    digest.update(str(root.resolve().relative_to(top.resolve())).encode() + b"\n")
    for rel in [*files, "flake.lock"]:
        path = top / rel if rel != "flake.lock" else root / rel
        try:
            data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        except (IsADirectoryError, FileNotFoundError, NotADirectoryError):
            continue  # a submodule, or a file deleted in the work tree
        except OSError:
            return None
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def key(digest: str, host: str, question: str) -> str:
    """The entry's name for ``host`` asked ``question`` on a source with ``digest``."""
    return hashlib.sha256(f"{digest}\0{host}\0{question}".encode()).hexdigest()


def load(entry: str) -> dict | None:
    """The result stored under ``entry``, or None."""
    try:
        data = json.loads((cache_dir() / f"{entry}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def store(entry: str, data: dict) -> None:
    """Keep ``data`` under ``entry``; a cache that cannot be written is no error."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{entry}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data))
        tmp.replace(folder / f"{entry}.json")
    except OSError:
        pass
