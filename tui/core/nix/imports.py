"""Which files a NixOS module file brings in through its ``imports``, followed through the files it names."""

from __future__ import annotations

from tui.core.errors import LlamaflakeError
from tui.core.nix.model import Flake
from tui.core.nix.paths import import_target, relative_path
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


def import_closure(flake: Flake, files: list[str]) -> list[str]:
    """``files`` and every file they import, and those import, in the order they are reached."""
    seen = list(dict.fromkeys(files))
    index = 0
    while index < len(seen):
        for target in imported_files(flake, seen[index]):
            if target not in seen:
                seen.append(target)
        index += 1
    return seen


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
