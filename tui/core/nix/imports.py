"""Which files a NixOS module file brings in through its ``imports``, followed through the files it names."""

from __future__ import annotations

import os

from tui.core.errors import LlamaflakeError
from tui.core.nix.model import Flake
from tui.core.nix.paths import relative_path
from tui.core.nix.syntax import Node, bindings, relative_path_literal, unwrap


def _module_attrset(tree: Node) -> Node | None:
    """The attribute set a module file evaluates to: under ``{ ... }:`` and ``let … in`` too."""
    node = unwrap(tree)
    while node is not None and node.kind in ("NODE_LAMBDA", "NODE_LET_IN"):
        node = unwrap(node.nodes()[-1])
    return node if node is not None and node.kind == "NODE_ATTR_SET" else None


def _as_file(flake: Flake, rel: str) -> str | None:
    """The file a path means to ``import``: itself, or its ``default.nix`` if it is a folder."""
    path = os.path.join(flake.root, rel)
    if os.path.isdir(path):
        rel, path = f"{rel}/default.nix", os.path.join(path, "default.nix")
    return rel if rel.endswith(".nix") and os.path.isfile(path) else None


def imported_files(flake: Flake, rel: str) -> list[str]:
    """The files ``rel`` imports with plain relative paths anywhere in its ``imports`` value
    (``[ ./a ]``, ``lib.optional(s)``, ``++``); a path built from a variable is left to the caller."""
    try:
        tree = flake.source_file(rel).tree
    except LlamaflakeError:
        return []
    attrset = _module_attrset(tree)
    if attrset is None:
        return []
    found: list[str] = []
    for binding in bindings(attrset):
        if binding.path != ["imports"] or binding.value is None:
            continue
        for node in binding.value.walk():
            literal = relative_path_literal(node) if node.kind == "NODE_PATH_REL" else None
            target = relative_path(rel, literal) if literal else None
            target = _as_file(flake, target) if target else None
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

