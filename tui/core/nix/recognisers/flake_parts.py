"""flake-parts (github:hercules-ci/flake-parts): ``mkFlake { inherit inputs; } module``, whose outputs
are the ``flake`` attributes of the module and of every module it imports, merged; ``withSystem``.

Each module is called with ``inputs``, ``self`` and ``config``, the merged configuration of all of them
(so ``flake.nixosConfigurations = mapAttrs mkHost config.flake.hosts`` in one file can read
``flake.hosts = import ./definitions.nix`` from another). A module imported from another flake
(``inputs.nixos-unified.flakeModules.autoWire``, ``inputs.ez-configs.flakeModule``) is asked of the
recognisers' ``flake_module``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.core.nix.builtins import builtin
from tui.core.nix.values import AttrsValue, Builtin, External, Lambda, PathValue, Thunk, Unknown, Value, as_path

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name == "mkFlake":
        return Builtin("mkFlake", 2, (arg,), fn.path, mk_flake)
    return None


def mk_flake(evaluator: Evaluator, args: Thunk, module: Thunk) -> Value:
    return flake_parts_outputs(evaluator, module)


@builtin("withSystem", 2)
def with_system(evaluator: Evaluator, system: Thunk, fn: Thunk) -> Value:
    """``withSystem system ({ pkgs, ... }: ...)``: the function with the per-system arguments left open."""
    return evaluator.call(evaluator.force(fn), External(("perSystem",), True))


def flake_module_body(evaluator: Evaluator, value: Value, config: Thunk | None = None) -> Value:
    """A flake-parts module's attribute set, its function applied to ``inputs``, ``self`` and ``config``
    (the rest left open)."""
    if isinstance(value, Lambda) and evaluator.inputs is not None:
        inputs = evaluator.inputs
        given = {"inputs": Thunk.const(inputs), "self": Thunk.lazy(lambda: evaluator.select(inputs, "self"))}
        if config is not None:
            given["config"] = config
        value = evaluator.apply(value, Thunk.const(AttrsValue(given, open=True)))
    return evaluator.module_body(value)


def module_config(evaluator: Evaluator, body: AttrsValue) -> Value:
    """What a module sets: its ``config`` when it declares ``options`` too, else the set without ``imports``."""
    if "options" in body.attrs or ("config" in body.attrs and "flake" not in body.attrs):
        return evaluator.force(body.attrs["config"]) if "config" in body.attrs else AttrsValue({})
    attrs = {k: v for k, v in body.attrs.items() if k not in ("imports", "_file", "key")}
    return AttrsValue(attrs, body.open, body.node, body.where, body.file, body.base)


def flake_parts_outputs(evaluator: Evaluator, module: Thunk) -> Value:
    bodies: list[AttrsValue] = []
    collected = {"done": False}

    def merged() -> Value:
        if not collected["done"]:
            return Unknown("the flake-parts configuration read while its modules are being listed")
        result = AttrsValue({}, open=True)
        for body in bodies:
            part = module_config(evaluator, body)
            if isinstance(part, AttrsValue):
                result = evaluator.merge_deep(result, part)
        return result

    config = Thunk.lazy(merged)
    queue: list[Value] = [evaluator.force(module)]
    seen: set[str] = set()
    while queue:
        value = as_path(queue.pop(0))
        if isinstance(value, PathValue):
            rel = evaluator.nix_file(value.rel)
            if rel is None or rel in seen:
                continue
            seen.add(rel)
            value = evaluator.import_path(value)
        if isinstance(value, External):
            value = evaluator.flake_module(value, config)
            if value is None:
                continue
        body = flake_module_body(evaluator, value, config)
        if not isinstance(body, AttrsValue):
            continue
        bodies.append(body)
        imports = body.attrs.get("imports")
        if imports is not None:
            items = evaluator.force_list(imports)
            if items is not None:
                queue.extend(evaluator.force(i) for i in items.items)
    collected["done"] = True
    everything = evaluator.force(config)
    flake = (
        evaluator.select(everything, "flake")
        if isinstance(everything, AttrsValue) and "flake" in everything.attrs
        else None
    )
    result = flake if isinstance(flake, AttrsValue) else AttrsValue({}, open=True)
    result = AttrsValue(dict(result.attrs), True, result.node, dict(result.where), result.file, result.base)
    result.origin = "flake-parts"
    return result
