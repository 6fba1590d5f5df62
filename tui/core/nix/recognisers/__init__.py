"""Framework recognisers: what a function from outside the repository means when a flake calls it.

Each module here knows one framework or convention, and offers ``call(evaluator, fn, arg)``: the value
of calling the external function ``fn`` (an :class:`External`, known by its path such as
``inputs.snowfall-lib.mkFlake``) with ``arg``, or ``None`` when the function is not its own. Adding a
layout means adding one module here (with its fixture in ``tests/fixtures/layouts/``) and its ``call``
to :data:`CALLS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tui.core.nix.recognisers import (
    adios_flake,
    clan,
    extensible,
    ez_configs,
    flake_parts,
    flakelight,
    haumea,
    import_tree,
    nixos,
    nixos_unified,
    nixpkgs_overlays,
    snowfall,
)
from tui.core.nix.values import External, Thunk, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator

# In order: the first that knows the function decides.
CALLS: list[Callable[[Evaluator, External, Thunk], Value | None]] = [
    nixos.call,
    nixos_unified.call,
    flakelight.call,
    clan.call,
    snowfall.call,
    adios_flake.call,
    flake_parts.call,
    import_tree.call,
    haumea.call,
    extensible.call,
]


# Modules from other flakes imported into a flake-parts flake, by the recogniser that knows them.
FLAKE_MODULES: list[Callable[[Evaluator, External, Thunk], Value | None]] = [
    nixos_unified.flake_module,
    ez_configs.flake_module,
]


def flake_module(evaluator: Evaluator, module: External, config: Thunk) -> Value | None:
    """The flake-parts module ``module`` (from another flake) as the first recogniser that knows it sees
    it, given the merged ``config`` of the flake; or None."""
    for recognise in FLAKE_MODULES:
        value = recognise(evaluator, module, config)
        if value is not None:
            return value
    return None


# What ``import x`` is when ``x`` comes from outside the repository (``import nixpkgs { ... }``).
IMPORTS: list[Callable[[Evaluator, External], Value | None]] = [
    nixos.import_external,
    nixpkgs_overlays.import_external,
]


def import_external(evaluator: Evaluator, source: External) -> Value | None:
    """The value of ``import source`` as the first recogniser that knows it sees it, or None."""
    for recognise in IMPORTS:
        value = recognise(evaluator, source)
        if value is not None:
            return value
    return None


def call_external(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    """The value of ``fn arg`` as the first recogniser that knows ``fn`` sees it, or None."""
    for call in CALLS:
        value = call(evaluator, fn, arg)
        if value is not None:
            return value
    return None
