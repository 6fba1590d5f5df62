"""``import-tree ./dir`` (github:vic/import-tree): a module importing every .nix file below ``dir``,
names starting with ``_`` skipped."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tui.core.nix.values import AttrsValue, External, ListValue, PathValue, Thunk, Unknown, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name != "import-tree":
        return None
    return import_tree(evaluator, evaluator.force(arg))


def import_tree(evaluator: Evaluator, value: Value) -> Value:
    if not isinstance(value, PathValue):
        return Unknown("import-tree of something that is not a path")
    found: list[Thunk] = []
    root = evaluator.flake.root
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, value.rel)):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("_"))
        for name in sorted(filenames):
            if name.endswith(".nix") and not name.startswith("_"):
                rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
                found.append(Thunk.const(PathValue(rel)))
    return AttrsValue({"imports": Thunk.const(ListValue(found))})
