"""flake-parts (github:hercules-ci/flake-parts): ``mkFlake { inherit inputs; } module``, whose outputs
are the ``flake`` attributes of the module and of every module it imports, merged; ``withSystem``."""

from __future__ import annotations

from tui.core.nix.builtins import builtin
from tui.core.nix.values import AttrsValue, Builtin, External, Lambda, PathValue, Thunk, Value


def call(evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name == "mkFlake":
        return Builtin("mkFlake", 2, (arg,), fn.path, mk_flake)
    return None


def mk_flake(evaluator, args: Thunk, module: Thunk) -> Value:
    return flake_parts_outputs(evaluator, module)


@builtin("withSystem", 2)
def with_system(evaluator, system: Thunk, fn: Thunk) -> Value:
    """``withSystem system ({ pkgs, ... }: ...)``: the function with the per-system arguments left open."""
    return evaluator.call(evaluator.force(fn), External(("perSystem",), True))


def flake_module_body(evaluator, value: Value) -> Value:
    """A flake-parts module's attribute set, its function applied to ``inputs`` and ``self`` (the rest left open)."""
    if isinstance(value, Lambda) and evaluator.inputs is not None:
        inputs = evaluator.inputs
        args = AttrsValue({"inputs": Thunk.const(inputs), "self": Thunk.lazy(lambda: evaluator.select(inputs, "self"))}, open=True)
        value = evaluator.apply(value, Thunk.const(args))
    return evaluator.module_body(value)


def flake_parts_outputs(evaluator, module: Thunk) -> Value:
    merged = AttrsValue({}, open=True)
    queue: list[Value] = [evaluator.force(module)]
    seen: set[str] = set()
    while queue:
        value = queue.pop(0)
        if isinstance(value, PathValue):
            rel = evaluator.nix_file(value.rel)
            if rel is None or rel in seen:
                continue
            seen.add(rel)
            value = evaluator.import_path(value)
        body = flake_module_body(evaluator, value)
        if not isinstance(body, AttrsValue):
            continue
        flake_attrs = body.attrs.get("flake")
        if flake_attrs is not None:
            flake_value = evaluator.force(flake_attrs)
            if isinstance(flake_value, AttrsValue):
                merged = evaluator.merge_deep(merged, flake_value)
        imports = body.attrs.get("imports")
        if imports is not None:
            items = evaluator.force_list(imports)
            if items is not None:
                queue.extend(evaluator.force(i) for i in items.items)
    merged.origin = "flake-parts"  # type: ignore[attr-defined]
    return merged
