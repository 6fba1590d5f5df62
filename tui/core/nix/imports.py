"""The files a machine's modules reach: one walk (:func:`reach`) for the engine's two closures.

- :func:`import_closure`: what NixOS loads through ``imports``, read from plain path literals (ownership and
  the settings a machine imports are decided over it; the finder adds what it evaluates, see
  :mod:`tui.core.nix.wiring`);
- :func:`files_reached`: every ``.nix`` file a machine's configuration can read (any path it names, a
  folder's files, the folders a framework loads into every machine), or None where its modules are not all
  known: a closure the engine cannot follow is unknown, never "reaches nothing".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tui.core.errors import LlamaflakeError
from tui.core.nix.model import Flake, Host
from tui.core.nix.paths import import_target, nix_files, relative_path
from tui.core.nix.syntax import bindings, module_attrset, path_expression_target, relative_path_literal


def imported_files(flake: Flake, rel: str) -> list[str]:
    """The files ``rel`` imports with plain relative paths anywhere in its ``imports`` value
    (``[ ./a ]``, ``lib.optional(s)``, ``++``); a path built from a variable is left to the caller."""
    try:
        tree = flake.source_file(rel).tree
    except LlamaflakeError:
        return []
    attrset = module_attrset(tree)
    if attrset is None:
        return []
    found: list[str] = []
    for binding in bindings(attrset):
        if binding.path != ["imports"] or binding.value is None:
            continue
        for node in binding.value.walk():
            literal = relative_path_literal(node) if node.kind == "NODE_PATH_REL" else None
            target = relative_path(rel, literal) if literal else None
            target = import_target(flake.root, target) if target else None
            target = target if target is not None and target.endswith(".nix") else None
            if target is not None and target not in found:
                found.append(target)
    return found


def reach(files: list[str], follow: Callable[[str], Iterable[str]]) -> list[str]:
    """``files`` and every file ``follow`` names from them, and from those in turn, in the order reached."""
    seen = list(dict.fromkeys(files))
    known = set(seen)
    index = 0
    while index < len(seen):
        for target in follow(seen[index]):
            if target not in known:
                known.add(target)
                seen.append(target)
        index += 1
    return seen


def import_closure(flake: Flake, files: list[str]) -> list[str]:
    """``files`` and every file they import, and those import, in the order they are reached."""
    return reach(files, lambda rel: imported_files(flake, rel))


def files_reached(flake: Flake, host: Host, repository_files: list[str] | None = None) -> set[str] | None:
    """The ``.nix`` files a machine's configuration can read: its module files, the files they name with path
    literals, and theirs in turn (a folder: its ``default.nix``, else every file below it, as an importer would
    load them), and the folders a framework loads into every machine. None where its modules are not all known."""
    if not host.modules_known:
        return None
    every = repository_files if repository_files is not None else nix_files(flake.root)

    def below(folder: str) -> list[str]:
        prefix = "" if folder in (".", "") else folder.rstrip("/") + "/"
        return [rel for rel in every if rel.startswith(prefix)]

    def named(rel: str) -> list[str]:
        found = []
        for target in path_refs(flake, rel):
            if target == ".":
                found.append("default.nix")  # the whole repository (`src = ./.;`) is no import of every file
            elif (flake.root / target).is_dir():
                entry = f"{target}/default.nix"
                found.extend([entry] if (flake.root / entry).is_file() else below(target))
            elif target != "flake.nix":
                found.append(target)
        return [target for target in found if target.endswith(".nix")]

    start = list(host.module_files)
    for folder in flake.auto_imported:
        start.extend(below(folder))
    return set(reach([rel for rel in start if rel.endswith(".nix")], named))


def path_refs(flake: Flake, rel: str) -> set[str]:
    """Files (relative to the root) named by path literals in ``rel``, read once per file."""
    cache = flake.path_refs
    if rel not in cache:
        refs: set[str] = set()
        try:
            file = flake.source_file(rel)
        except LlamaflakeError:
            cache[rel] = refs
            return refs
        for node in file.tree.walk():
            text = path_expression_target(node) if node.kind in ("NODE_PATH_REL", "NODE_BIN_OP") else None
            if text:
                target = relative_path(rel, text)
                if target is not None:
                    refs.add(target)
        cache[rel] = refs
    return cache[rel]
