"""nixpkgs' ``nixosSystem`` (``nixpkgs.lib.nixosSystem``, ``lib.nixosSystem``, another flake's own
``nixos-raspberrypi.lib.nixosSystem``, or ``import "${nixpkgs}/nixos/lib/eval-config.nix"``, which
``nixosSystem`` itself calls): a machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.core.nix.values import External, SystemCall, Thunk, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name == "nixosSystem":
        return SystemCall(fn.path, arg)
    return None


def import_external(evaluator, source: External) -> Value | None:
    """``import "${nixpkgs}/nixos/lib/eval-config.nix"``: the function ``nixpkgs.lib.nixosSystem`` is."""
    if source.path[-1:] == ("/nixos/lib/eval-config.nix",) and len(source.path) > 1:
        return External((*source.path[:-1], "lib", "nixosSystem"))
    return None
