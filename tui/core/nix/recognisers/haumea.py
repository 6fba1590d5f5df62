"""haumea (github:nix-community/haumea): ``haumea.lib.load { src = ./src; inputs = { ... }; }``, a set with
one attribute per ``.nix`` file below ``src`` (named without ``.nix``; a folder is a nested set). Names
starting with ``_`` are left out. A file that is a function is called with the ``inputs`` it names in its
pattern, and ``self`` (its own value), ``super`` (its folder's set) and ``root`` (the whole set)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from tui.core.nix.builtins import lambda_args
from tui.core.nix.values import AttrsValue, External, PathValue, Thunk, Unknown, Value, as_path

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name != "load" or not any("haumea" in part for part in fn.path[:-1]):
        return None
    given = evaluator.force_attrs(arg)
    src = as_path(evaluator.force(given.attrs["src"])) if given is not None and "src" in given.attrs else None
    if given is None or not isinstance(src, PathValue):
        return Unknown("haumea's load of a `src` the engine cannot see")
    inputs = given.attrs.get("inputs")
    return Loader(evaluator, inputs).folder(src.rel, None)


class Loader:
    def __init__(self, evaluator: Evaluator, inputs: Thunk | None) -> None:
        self.evaluator = evaluator
        self.inputs = inputs
        self.root: AttrsValue | None = None

    def folder(self, rel: str, parent: AttrsValue | None) -> Value:
        entries = self.evaluator.read_dir(rel)
        if entries is None:
            return Unknown(f"./{rel} is not a folder")
        here = AttrsValue({})
        if self.root is None:
            self.root = here
        for name, kind in entries.items():
            if name.startswith("_"):
                continue
            path = f"{rel}/{name}"
            if kind == "directory":
                here.attrs[name] = Thunk.lazy(partial(self.folder, path, here))
            elif kind == "regular" and name.endswith(".nix") and len(name) > 4:
                holder: dict[str, Thunk] = {}
                holder["self"] = Thunk.lazy(partial(self._file_itself, path, here, holder))
                here.attrs[name[:-4]] = holder["self"]
        return here

    def _file_itself(self, rel: str, folder: AttrsValue, holder: dict[str, Thunk]) -> Value:
        return self.file(rel, folder, holder["self"])  # the thunk that holds this file's value, made above

    def file(self, rel: str, folder: AttrsValue, itself: Thunk) -> Value:
        ev = self.evaluator
        value = ev.import_path(PathValue(rel))
        names = lambda_args(value)
        if names is None and not hasattr(value, "param"):
            return value  # not a function: the file's value itself
        given = ev.force_attrs(self.inputs) if self.inputs is not None else AttrsValue({})
        available = dict(given.attrs) if given is not None else {}
        available.update(self=itself, super=Thunk.const(folder), root=Thunk.const(self.root))
        if names is not None:  # only the names it asks for, as haumea passes them
            available = {k: v for k, v in available.items() if k in names}
        return ev.apply(value, Thunk.const(AttrsValue(available, given is None or (names is None and given.open))))
