"""adios-flake (github:Mic92/adios-flake): ``mkFlake { inherit inputs self; systems = [ ... ]; modules = [ ... ];
flake = { ... }; }``, one argument where flake-parts' ``mkFlake`` takes two. The system-agnostic outputs,
``nixosConfigurations`` among them, are the ``flake`` set; its ``modules`` make per-system outputs only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.core.nix.values import AttrsValue, External, Thunk, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name != "mkFlake" or not any("adios" in part for part in fn.path[:-1]):
        return None
    given = evaluator.force_attrs(arg)
    flake = evaluator.force_attrs(given.attrs["flake"]) if given is not None and "flake" in given.attrs else None
    if flake is None:
        return AttrsValue({}, open=True)
    return AttrsValue(dict(flake.attrs), True, flake.node, dict(flake.where), flake.file, flake.base)
