"""``import nixpkgs { overlays = [ ... ]; }``: a package set whose names come from the overlays first
(``final: prev: { builders = import ./builders { pkgs = final; }; }``, so ``pkgs.builders.mkNixos`` is
followed), and from nixpkgs for the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui.core.nix.values import AttrsValue, Builtin, External, Opaque, Thunk, Unknown, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


def import_external(evaluator: Evaluator, source: External) -> Value | None:
    """``import nixpkgs`` (a flake input or ``<nixpkgs>``): the function that makes the package set."""
    if "nixpkgs" not in source.name.strip("<>"):
        return None

    def make(ev: Evaluator, config: Thunk) -> Value:
        given = ev.force_attrs(config)
        overlays = ev.force_list(given.attrs["overlays"]) if given is not None and "overlays" in given.attrs else None
        return PackageSet(ev, source.path, list(overlays.items) if overlays is not None else [])

    return Builtin("import", 1, (), source.path, make)


@dataclass(eq=False)
class PackageSet(Opaque):
    """nixpkgs with overlays: ``lib.fix`` of the overlays over nixpkgs itself, seen name by name."""

    evaluator: Evaluator
    source: tuple[str, ...]
    overlays: list[Thunk]
    _fixed: Value | None = field(default=None, repr=False)

    def _layers(self) -> Value:
        if self._fixed is None:
            ev = self.evaluator
            final = Thunk.const(self)
            result: Value = External(self.source, True)
            self._fixed = Unknown("an overlay that reads its own result to name its attributes")
            for overlay in self.overlays:
                added = ev.call(ev.force(overlay), final, Thunk.const(result))
                result = ev.update(result, added) if isinstance(added, AttrsValue) else result
            self._fixed = result
        return self._fixed

    def select(self, name: str) -> Value:
        return self.evaluator.select(self._layers(), name)
