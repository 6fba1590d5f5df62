"""Custom libraries built the way nixpkgs builds ``lib``: ``makeExtensible (self: { mkHost = ...; })``,
``lib.extend (final: prev: { ... })``, ``fix``. ``makeExtensible f`` is ``fix f`` with an ``extend``;
``self.x`` / ``final.x`` inside it are followed like any other name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tui.core.nix.values import AttrsValue, Builtin, External, Thunk, Unknown, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name == "fix":
        return fix(evaluator, lambda self_: evaluator.call(evaluator.force(arg), self_))
    if fn.name == "makeExtensible":
        return make_extensible(evaluator, lambda self_: evaluator.call(evaluator.force(arg), self_))
    if fn.name == "extend" and len(fn.path) > 1:  # `nixpkgs.lib.extend (final: prev: ...)`
        base = External(fn.path[:-1], fn.bound)
        return extend(evaluator, lambda self_: base, arg)
    return None


def fix(evaluator: Evaluator, body: Callable[[Thunk], Value]) -> Value:
    """The value ``v`` with ``v = body v``, its references to itself left lazy."""
    holder: dict[str, Value] = {}
    itself = Thunk.lazy(lambda: holder.get("value", Unknown("a library that needs itself to be built")))
    holder["value"] = body(itself)
    return holder["value"]


def make_extensible(evaluator: Evaluator, body: Callable[[Thunk], Value]) -> Value:
    value = fix(evaluator, body)
    if not isinstance(value, AttrsValue):
        return value

    def extend_with(ev: Evaluator, overlay: Thunk) -> Value:
        return extend(ev, body, overlay)

    attrs = dict(value.attrs)
    attrs["extend"] = Thunk.const(Builtin("extend", 1, (), ("extend",), extend_with))
    return AttrsValue(attrs, value.open, value.node, value.where, value.file, value.base)


def extend(evaluator: Evaluator, body: Callable[[Thunk], Value], overlay: Thunk) -> Value:
    """``prev // overlay final prev``, as a fixed point that can be extended again."""

    def extended(final: Thunk) -> Value:
        prev = body(final)
        added = evaluator.call(evaluator.force(overlay), final, Thunk.const(prev))
        return evaluator.update(prev, added)

    return make_extensible(evaluator, extended)
