"""The library and builtin functions the static evaluator knows, by name: a registry a new function joins
with one decorator. Each takes the evaluator and its arguments as thunks, and returns a value (or an
:class:`Unknown` with the reason it cannot)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from tui.core.nix.paths import relative_path
from tui.core.nix.values import (
    AttrsValue,
    External,
    Lambda,
    ListValue,
    Opaque,
    PathValue,
    SystemCall,
    Thunk,
    Unknown,
    Value,
    as_path,
    from_data,
)

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


@dataclass(frozen=True)
class BuiltinSpec:
    name: str
    arity: int
    impl: Callable[..., Value]


BUILTINS: dict[str, BuiltinSpec] = {}


def builtin(name: str, arity: int):
    """Register ``impl`` as the function ``name`` (``builtins.name`` or ``lib.name``) taking ``arity`` arguments."""

    def register(impl: Callable[..., Value]) -> Callable[..., Value]:
        BUILTINS[name] = BuiltinSpec(name, arity, impl)
        return impl

    return register


@builtin("import", 1)
def import_(ev: Evaluator, path: Thunk) -> Value:
    return ev.import_path(ev.force(path))


@builtin("readDir", 1)
def read_dir(ev: Evaluator, path: Thunk) -> Value:
    value = as_path(ev.force(path))
    if not isinstance(value, PathValue):
        return Unknown("readDir of something that is not a path")
    entries = ev.read_dir(value.rel)
    if entries is None:
        return Unknown(f"./{value.rel} is not a folder")
    return AttrsValue({name: Thunk.const(kind) for name, kind in entries.items()})


@builtin("mapAttrs", 2)
def map_attrs(ev: Evaluator, fn: Thunk, attrs: Thunk) -> Value:
    value = ev.force_attrs(attrs)
    if value is None:
        return Unknown("mapAttrs over a set the engine cannot see")
    f = ev.force(fn)
    result = {name: Thunk.lazy(partial(ev.call, f, name, v)) for name, v in value.attrs.items()}
    return AttrsValue(result, value.open, value.node, dict(value.where), value.file)


@builtin("genAttrs", 2)
def gen_attrs(ev: Evaluator, names: Thunk, fn: Thunk) -> Value:
    value = ev.force_list(names)
    if value is None:
        return Unknown("genAttrs over a list the engine cannot see")
    f = ev.force(fn)
    result = {}
    for item in value.items:
        name = ev.force(item)
        if not isinstance(name, str):
            return Unknown("genAttrs over names the engine cannot see")
        result[name] = Thunk.lazy(partial(ev.call, f, name))
    return AttrsValue(result, None in value.nodes)


@builtin("listToAttrs", 1)
def list_to_attrs(ev: Evaluator, items: Thunk) -> Value:
    value = ev.force_list(items)
    if value is None:
        return Unknown("listToAttrs of a list the engine cannot see")
    result = {}
    for item in value.items:
        pair = ev.force_attrs(item)
        if pair is None or "name" not in pair.attrs:
            return Unknown("listToAttrs of entries the engine cannot see")
        name = ev.force(pair.attrs["name"])
        if not isinstance(name, str):
            return Unknown("listToAttrs with names the engine cannot see")
        result[name] = pair.attrs.get("value") or Thunk.const(Unknown("no value"))
    return AttrsValue(result, None in value.nodes)


@builtin("mapAttrs'", 2)
def map_attrs_prime(ev: Evaluator, fn: Thunk, attrs: Thunk) -> Value:
    """``mapAttrs' (name: value: nameValuePair ...)``: a new name for each entry, as ``listToAttrs`` makes them."""
    value = ev.force_attrs(attrs)
    if value is None:
        return Unknown("mapAttrs' over a set the engine cannot see")
    return list_to_attrs(ev, Thunk.const(map_attrs_to_list(ev, fn, Thunk.const(value))))


@builtin("mapAttrsToList", 2)
def map_attrs_to_list(ev: Evaluator, fn: Thunk, attrs: Thunk) -> Value:
    """The function's result for each entry, in the order of their names."""
    value = ev.force_attrs(attrs)
    if value is None:
        return Unknown("mapAttrsToList over a set the engine cannot see")
    f = ev.force(fn)
    items = [Thunk.lazy(partial(ev.call, f, name, value.attrs[name])) for name in sorted(value.attrs)]
    return ListValue(items, [None] if value.open else [])


@builtin("concatMapAttrs", 2)
def concat_map_attrs(ev: Evaluator, fn: Thunk, attrs: Thunk) -> Value:
    """The sets the function makes for each entry, merged (``concatMapAttrs (arch: _: ...) (readDir ./systems)``)."""
    listed = map_attrs_to_list(ev, fn, attrs)
    if isinstance(listed, Unknown):
        return Unknown("concatMapAttrs over a set the engine cannot see")
    return merge_attrs_list(ev, Thunk.const(listed))


@builtin("nameValuePair", 2)
def name_value_pair(ev: Evaluator, name: Thunk, value: Thunk) -> Value:
    return AttrsValue({"name": name, "value": value})


@builtin("filterAttrs", 2)
def filter_attrs(ev: Evaluator, pred: Thunk, attrs: Thunk) -> Value:
    value = ev.force_attrs(attrs)
    if value is None:
        return Unknown("filterAttrs over a set the engine cannot see")
    f = ev.force(pred)
    kept = {}
    for name, v in value.attrs.items():
        if ev.call(f, name, v) is not False:
            kept[name] = v
    return AttrsValue(kept, value.open, value.node, value.where, value.file)


@builtin("filter", 2)
def filter_(ev: Evaluator, pred: Thunk, items: Thunk) -> Value:
    value = ev.force_list(items)
    if value is None:
        return Unknown("filter over a list the engine cannot see")
    f = ev.force(pred)
    return ListValue([i for i in value.items if ev.call(f, i) is not False], value.nodes)


@builtin("map", 2)
def map_(ev: Evaluator, fn: Thunk, items: Thunk) -> Value:
    value = ev.force_list(items)
    if value is None:
        return Unknown("map over a list the engine cannot see")
    f = ev.force(fn)
    return ListValue([Thunk.lazy(partial(ev.call, f, i)) for i in value.items], value.nodes)


@builtin("forEach", 2)
def for_each(ev: Evaluator, items: Thunk, fn: Thunk) -> Value:
    """``forEach xs f`` is ``map f xs``."""
    return map_(ev, fn, items)


@builtin("concatMap", 2)
def concat_map(ev: Evaluator, fn: Thunk, items: Thunk) -> Value:
    mapped = map_(ev, fn, items)
    if isinstance(mapped, Unknown):
        return Unknown("concatMap over a list the engine cannot see")
    return concat_lists(ev, Thunk.const(mapped))


@builtin("foldl'", 3)
@builtin("foldl", 3)
def fold_left(ev: Evaluator, op: Thunk, start: Thunk, items: Thunk) -> Value:
    """``foldl' (acc: x: acc // x) { } hosts``: the operator applied from the left; a set made from a list
    the engine cannot see whole may hold more names."""
    value = ev.force_list(items)
    if value is None:
        return Unknown("foldl' over a list the engine cannot see")
    f = ev.force(op)
    acc = start
    for item in value.items:
        acc = Thunk.const(ev.call(f, acc, item))
    return _made_from(value, ev.force(acc), "foldl'")


@builtin("elem", 2)
def elem(ev: Evaluator, item: Thunk, items: Thunk) -> Value:
    """Whether a name is in a list (``filter (h: !elem h excluded) hosts``); unknown where either is not seen."""
    wanted, value = ev.force(item), ev.force_list(items)
    if not isinstance(wanted, (str, int, bool)) or value is None:
        return Unknown("elem of a value or list the engine cannot see")
    seen = [ev.force(i) for i in value.items]
    if wanted in seen:
        return True
    if None in value.nodes or any(not isinstance(v, (str, int, bool)) for v in seen):
        return Unknown("elem over a list the engine cannot see whole")
    return False


@builtin("attrNames", 1)
def attr_names(ev: Evaluator, attrs: Thunk) -> Value:
    value = ev.force_attrs(attrs)
    if value is None:
        return Unknown("attrNames of a set the engine cannot see")
    return ListValue([Thunk.const(n) for n in sorted(value.attrs)], [None] if value.open else [])


@builtin("removeSuffix", 2)
def remove_suffix(ev: Evaluator, suffix: Thunk, text: Thunk) -> Value:
    s, t = ev.force(suffix), ev.force(text)
    if isinstance(s, str) and isinstance(t, str):
        return t[: -len(s)] if s and t.endswith(s) else t
    return Unknown("removeSuffix")


@builtin("hasSuffix", 2)
def has_suffix(ev: Evaluator, suffix: Thunk, text: Thunk) -> Value:
    s, t = ev.force(suffix), ev.force(text)
    return t.endswith(s) if isinstance(s, str) and isinstance(t, str) else Unknown("hasSuffix")


@builtin("hasPrefix", 2)
def has_prefix(ev: Evaluator, prefix: Thunk, text: Thunk) -> Value:
    p, t = ev.force(prefix), ev.force(text)
    return t.startswith(p) if isinstance(p, str) and isinstance(t, str) else Unknown("hasPrefix")


@builtin("pathExists", 1)
def path_exists(ev: Evaluator, path: Thunk) -> Value:
    value = as_path(ev.force(path))
    if not isinstance(value, PathValue):
        return Unknown("pathExists of something that is not a path")
    return os.path.lexists(os.path.join(ev.flake.root, value.rel))


@builtin("toString", 1)
def to_string(ev: Evaluator, value: Thunk) -> Value:
    text = ev.to_string(ev.force(value))
    return text if text is not None else Unknown("toString")


@builtin("readFile", 1)
def read_file(ev: Evaluator, path: Thunk) -> Value:
    value = as_path(ev.force(path))
    if not isinstance(value, PathValue):
        return Unknown("readFile of something that is not a path")
    if not (ev.flake.root / value.rel).is_file():
        return Unknown(f"./{value.rel} is not a regular file")
    try:
        return (ev.flake.root / value.rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Unknown(f"./{value.rel} cannot be read")


@builtin("fromTOML", 1)
def from_t_o_m_l(ev: Evaluator, text: Thunk) -> Value:
    value = ev.force(text)
    if not isinstance(value, str):
        return Unknown("fromTOML of text the engine cannot see")
    try:
        return from_data(tomllib.loads(value))
    except ValueError:  # TOMLDecodeError, or an integer too long to convert
        return Unknown("fromTOML of text that is not TOML")


@builtin("mkDefault", 1)
@builtin("mkForce", 1)
def mk_default(ev: Evaluator, value: Thunk) -> Value:
    """A module priority wrapper: the value itself, as far as finding machines goes."""
    return ev.force(value)


@builtin("recursiveUpdate", 2)
def recursive_update(ev: Evaluator, left: Thunk, right: Thunk) -> Value:
    a, b = ev.force(left), ev.force(right)
    if isinstance(a, AttrsValue) and isinstance(b, AttrsValue):
        return ev.merge_deep(a, b)
    return ev.update(a, b)


@builtin("mergeAttrsList", 1)
def merge_attrs_list(ev: Evaluator, items: Thunk) -> Value:
    value = ev.force_list(items)
    if value is None:
        return Unknown("mergeAttrsList of a list the engine cannot see")
    result: Value = AttrsValue({})
    for item in value.items:
        result = ev.update(result, ev.force(item))
    return _made_from(value, result, "mergeAttrsList")


def _made_from(listed: ListValue, result: Value, what: str) -> Value:
    """A set made from ``listed``, open where part of that list is not visible (it may hold more names)."""
    if None not in listed.nodes:
        return result
    if not isinstance(result, AttrsValue):
        return Unknown(f"{what} over a list the engine cannot see whole")
    return AttrsValue(dict(result.attrs), True, result.node, dict(result.where), result.file, result.base)


@builtin("mergeAttrs", 2)
def merge_attrs(ev: Evaluator, left: Thunk, right: Thunk) -> Value:
    """``mergeAttrs a b`` is ``a // b``."""
    return ev.update(ev.force(left), ev.force(right))


@builtin("pipe", 2)
def pipe(ev: Evaluator, start: Thunk, fns: Thunk) -> Value:
    """``pipe x [ f g ]`` is ``g (f x)``."""
    value = ev.force_list(fns)
    if value is None:
        return Unknown("pipe through functions the engine cannot see")
    result = start
    for fn in value.items:
        result = Thunk.const(ev.call(ev.force(fn), result))
    return ev.force(result)


@builtin("flip", 3)
def flip(ev: Evaluator, fn: Thunk, a: Thunk, b: Thunk) -> Value:
    """``flip f a b`` is ``f b a`` (``lib.flip mapAttrs hosts (name: ...)``)."""
    return ev.call(ev.force(fn), b, a)


@builtin("removeAttrs", 2)
def remove_attrs(ev: Evaluator, attrs: Thunk, names: Thunk) -> Value:
    value, listed = ev.force_attrs(attrs), ev.force_list(names)
    if value is None or listed is None:
        return Unknown("removeAttrs of a set or names the engine cannot see")
    removed = [ev.force(n) for n in listed.items]
    if not all(isinstance(n, str) for n in removed):
        return Unknown("removeAttrs of names the engine cannot see")
    kept = {k: v for k, v in value.attrs.items() if k not in removed}
    return AttrsValue(kept, value.open, value.node, value.where, value.file, value.base)


@builtin("baseNameOf", 1)
def base_name_of(ev: Evaluator, path: Thunk) -> Value:
    value = ev.force(path)
    text = value.rel if isinstance(value, PathValue) else value if isinstance(value, str) else None
    return text.rstrip("/").rsplit("/", 1)[-1] if text is not None else Unknown("baseNameOf")


@builtin("singleton", 1)
def singleton(ev: Evaluator, item: Thunk) -> Value:
    return ListValue([item])


@builtin("concatLists", 1)
def concat_lists(ev: Evaluator, lists: Thunk) -> Value:
    value = ev.force_list(lists)
    if value is None:
        return Unknown("concatLists of a list the engine cannot see")
    items: list[Thunk] = []
    nodes = list(value.nodes)
    for inner in value.items:
        part = ev.force(inner)
        if isinstance(part, ListValue):
            items.extend(part.items)
            nodes.extend(part.nodes)
        else:
            nodes.append(None)  # a part the engine cannot see: the list may hold more
    return ListValue(items, nodes)


@builtin("flatten", 1)
def flatten(ev: Evaluator, value: Thunk) -> Value:
    """Nested lists as one list; an item that is not a list is itself an item, as in nixpkgs' ``lib.flatten``."""
    forced = ev.force(value)
    if not isinstance(forced, ListValue):
        return ListValue([value])
    items: list[Thunk] = []
    nodes = list(forced.nodes)
    for inner in forced.items:
        part = flatten(ev, inner)
        items.extend(part.items)
        nodes.extend(part.nodes)
    return ListValue(items, nodes)


@builtin("attrValues", 1)
def attr_values(ev: Evaluator, attrs: Thunk) -> Value:
    """The values of a set, in the order of their names."""
    value = ev.force_attrs(attrs)
    if value is None:
        return Unknown("attrValues of a set the engine cannot see")
    return ListValue([value.attrs[n] for n in sorted(value.attrs)], [None] if value.open else [])


def lambda_args(fn: Value) -> dict[str, bool] | None:
    """The names a function's ``{ a, b ? 1, ... }`` pattern takes, each with whether it has a default;
    None for a function of one plain argument, or a value that is not a function written in the repository."""
    if not isinstance(fn, Lambda) or fn.param.kind != "NODE_PATTERN":
        return None
    names = {}
    for entry in fn.param.nodes():
        if entry.kind == "NODE_PAT_ENTRY" and entry.nodes():
            names[entry.nodes()[0].text] = len(entry.nodes()) > 1
    return names


@builtin("functionArgs", 1)
def function_args(ev: Evaluator, fn: Thunk) -> Value:
    names = lambda_args(ev.force(fn))
    if names is None:
        return Unknown("functionArgs of a function the engine cannot see")
    return AttrsValue({name: Thunk.const(default) for name, default in names.items()})


@builtin("intersectAttrs", 2)
def intersect_attrs(ev: Evaluator, left: Thunk, right: Thunk) -> Value:
    """The attributes of ``right`` whose names ``left`` has."""
    a, b = ev.force_attrs(left), ev.force_attrs(right)
    if a is None or b is None or a.open:
        return Unknown("intersectAttrs of sets the engine cannot see")
    kept = {k: v for k, v in b.attrs.items() if k in a.attrs}
    return AttrsValue(kept, False, b.node, {k: v for k, v in b.where.items() if k in kept}, b.file)


@builtin("append", 2)
def path_append(ev: Evaluator, base: Thunk, text: Thunk) -> Value:
    """``lib.path.append ./. "hosts/x"``: the path below ``base``."""
    path, sub = as_path(ev.force(base)), ev.force(text)
    if not isinstance(path, PathValue) or not isinstance(sub, str) or sub.startswith("/"):
        return Unknown("lib.path.append of values the engine cannot see")
    rel = relative_path("x", "./" + (sub if path.rel == "." else f"{path.rel}/{sub}"))
    return PathValue(rel, None, True) if rel is not None else Unknown("a path outside the repository")


@builtin("zipAttrsWith", 2)
def zip_attrs_with(ev, fn, sets):
    """``zipAttrsWith (name: values: ...) [ a b ]``: for each name of any set, the function of the values
    the sets give it (a deep merge of library sets, ``mergeAttrs' (attrValues libs)``). A set the engine
    cannot see leaves the result open and each list of values partly unseen."""
    value = ev.force_list(sets)
    if value is None:
        return Unknown("zipAttrsWith over a list the engine cannot see")
    f = ev.force(fn)
    seen = [ev.force(item) for item in value.items]
    known = [s for s in seen if isinstance(s, AttrsValue)]
    # A library from outside (`nixpkgs.lib` among the sets) stays the base, as in `lib // { ... }`: its names
    # are not seen, and the names of the repository's own sets are taken as they are written.
    base = next((s for s in seen if isinstance(s, External)), None)
    unseen = None in value.nodes or len(known) + (base is not None) < len(seen) or any(s.open for s in known)
    names = sorted({name for s in known for name in s.attrs})
    result = {}
    for name in names:
        values = ListValue([s.attrs[name] for s in known if name in s.attrs], [None] if unseen else [])
        result[name] = Thunk.lazy(partial(ev.call, f, name, values))
    return AttrsValue(result, unseen or base is not None, base=base)


def _whole(ev, items) -> ListValue | None:
    value = ev.force_list(items)
    return value if value is not None and None not in value.nodes else None


@builtin("head", 1)
def head(ev, items):
    value = ev.force_list(items)
    return ev.force(value.items[0]) if value is not None and value.items else Unknown("head of a list not seen")


@builtin("tail", 1)
def tail(ev, items):
    value = _whole(ev, items)
    if value is None or not value.items:
        return Unknown("tail of a list the engine cannot see whole")
    return ListValue(value.items[1:])


@builtin("last", 1)
def last(ev, items):
    value = _whole(ev, items)
    return ev.force(value.items[-1]) if value is not None and value.items else Unknown("last of a list not seen")


def _quantified(ev, pred, items, name: str, decisive: bool):
    """``all`` (decided by a False) or ``any`` (decided by a True): one answer that decides it is enough; else
    the other answer only where every element was seen and answered."""
    value = ev.force_list(items)
    if value is None:
        return Unknown(f"{name} over a list the engine cannot see")
    f = ev.force(pred)
    answers = [ev.call(f, i) for i in value.items]
    if any(a is decisive for a in answers):
        return decisive
    return (not decisive) if all(a is (not decisive) for a in answers) and None not in value.nodes else Unknown(name)


@builtin("all", 2)
def all_(ev, pred, items):
    return _quantified(ev, pred, items, "all", False)


@builtin("any", 2)
def any_(ev, pred, items):
    return _quantified(ev, pred, items, "any", True)


def _kind_test(ev, value, kind) -> Value:
    forced = ev.force(value)
    if isinstance(forced, (Unknown, External, Opaque)):
        return Unknown("the kind of a value the engine cannot see")
    return isinstance(forced, kind)


@builtin("isList", 1)
def is_list(ev, value):
    return _kind_test(ev, value, ListValue)


@builtin("isAttrs", 1)
def is_attrs(ev, value):
    return _kind_test(ev, value, (AttrsValue, SystemCall))


@builtin("id", 1)
def identity(ev, value):
    return ev.force(value)
