"""A small, lazy, symbolic evaluator over the syntax tree: enough Nix to follow a flake to its hosts.

It never runs Nix. It follows names through ``let``, function arguments, ``import`` of other files,
``//``, ``++`` and the library functions in :mod:`tui.core.nix.builtins`. A name it cannot bind (a flake
input, ``lib``, ``builtins``) becomes an :class:`External` that remembers its path, so
``nixpkgs.lib.nixosSystem`` and ``inputs.nixpkgs.lib.nixosSystem`` are both recognised by their last
name; what such a function means (``nixosSystem``, flake-parts' ``mkFlake``, ...) is decided by the
recognisers in :mod:`tui.core.nix.recognisers`. Anything it cannot follow is :class:`Unknown`, and the
caller refuses rather than guesses.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from tui.core.errors import LlamaflakeError
from tui.core.nix import recognisers
from tui.core.nix.builtins import BUILTINS
from tui.core.nix.paths import import_target, relative_path
from tui.core.nix.syntax import Node, attrpath_names, string_value, unwrap
from tui.core.nix.values import (
    _UNSET,
    AttrsValue,
    Builtin,
    Env,
    External,
    FlakeInputs,
    Lambda,
    ListValue,
    Opaque,
    PathString,
    PathValue,
    Thunk,
    Unknown,
    Value,
    as_path,
    is_true,
)

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.model import Flake, SourceFile

EVAL_CONFIG = "/nixos/lib/eval-config.nix"  # what nixpkgs' lib.nixosSystem calls
# The names a let block or a rec set binds: name -> [(the rest of its path, or None for `inherit`, binding node)]
Scope = dict[str, list[tuple[list[str] | None, Node]]]

MAX_DEPTH = 120  # nested evaluations; each takes a few Python frames


# ---- the evaluator -----------------------------------------------------------------------------


class Evaluator:
    """Evaluates nodes of the flake's files; one per :class:`Flake`, with caches shared across hosts."""

    def __init__(self, flake: Flake) -> None:
        self.flake = flake
        self.depth = 0
        self._scope_cache: dict[int, Scope] = {}
        self._file_values: dict[str, Thunk] = {}
        self._dirs: dict[str, dict[str, str] | None] = {}
        self.inputs: FlakeInputs | None = None  # the argument of outputs, once it is applied
        self._bindings: dict[tuple[int, int], Thunk] = {}

    # -- forcing

    def force(self, thunk: Thunk | None) -> Value:
        if thunk is None:
            return Unknown("missing")
        if thunk._value is _UNSET:
            if thunk._compute is not None:
                thunk._value = Unknown("recursion")
                thunk._value = self._guard(thunk._compute)
            elif thunk.file is not None:
                file = thunk.file
                thunk._value = Unknown("recursion")
                thunk._value = self._guard(lambda: self.eval(thunk.node, file, thunk.env))
            else:  # never made: an expression comes with its file
                thunk._value = Unknown("an expression without its file")
        return thunk._value

    def _guard(self, compute: Callable[[], Value]) -> Value:
        if self.depth > MAX_DEPTH:
            return Unknown("too deep")
        self.depth += 1
        try:
            return compute()
        finally:
            self.depth -= 1

    def thunk(self, node: Node | None, file: SourceFile, env: Env) -> Thunk:
        return Thunk(node, file, env)

    # -- expressions

    def eval(self, node: Node | None, file: SourceFile, env: Env) -> Value:
        node = unwrap(node)
        if node is None:
            return Unknown("empty expression")
        kind = node.kind
        method = getattr(self, "_eval_" + kind[5:].lower(), None) if kind.startswith("NODE_") else None
        if method is None:
            return Unknown(f"{kind.lower()[5:]} expression")
        return method(node, file, env)

    def _eval_literal(self, node: Node, file: SourceFile, env: Env) -> Value:
        text = node.text
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text  # a bare URI

    def _eval_string(self, node: Node, file: SourceFile, env: Env) -> Value:
        inner = [c for c in node.children if c.kind not in ("TOKEN_STRING_START", "TOKEN_STRING_END")]
        if (
            len(inner) == 2
            and inner[0].kind == "NODE_INTERPOL"
            and inner[1].kind == "TOKEN_STRING_CONTENT"
            and inner[1].text == EVAL_CONFIG
        ):  # `"${nixpkgs}/nixos/lib/eval-config.nix"`: a file of another flake, known by its place there
            source = self.eval(inner[0].nodes()[0] if inner[0].nodes() else None, file, env)
            if isinstance(source, External):
                return External((*source.path, EVAL_CONFIG))
        parts = []
        for c in node.children:
            if c.kind in ("TOKEN_STRING_START", "TOKEN_STRING_END"):
                continue
            if c.kind == "TOKEN_STRING_CONTENT":
                parts.append(c.text)
            elif c.kind == "NODE_INTERPOL":
                value = self.eval(c.nodes()[0] if c.nodes() else None, file, env)
                text = self.to_string(value)
                if text is None:
                    return Unknown("string with an interpolation the engine cannot follow")
                parts.append(text)
        if not any(c.kind == "NODE_INTERPOL" for c in node.children):
            plain = string_value(node)
            if plain is not None:
                return plain
        text = "".join(parts)
        if parts and isinstance(parts[0], PathString):  # `"${./hosts}/${name}"`: still that path
            return path_string(text)
        return text

    def to_string(self, value: Value) -> str | None:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return str(value)
        if isinstance(value, PathValue):
            return PathString(value.rel)
        if isinstance(value, AttrsValue) and "outPath" in value.attrs:  # `"${self}"`: the flake's folder
            return self.to_string(self.force(value.attrs["outPath"]))
        return None

    def _eval_path_rel(self, node: Node, file: SourceFile, env: Env) -> Value:
        text = []
        interpolated = False
        for c in node.children:
            if c.kind == "NODE_INTERPOL":
                interpolated = True
                value = self.eval(c.nodes()[0] if c.nodes() else None, file, env)
                part = self.to_string(value) if not isinstance(value, PathValue) else None
                if part is None:
                    return Unknown("a path with an interpolation the engine cannot follow")
                text.append(part)
            else:
                text.append(c.text)
        rel = relative_path(file.rel, "".join(text))
        if rel is None:
            return Unknown("a path outside the repository")
        return PathValue(rel, node, interpolated)

    def _eval_path_abs(self, node: Node, file: SourceFile, env: Env) -> Value:
        return Unknown("an absolute path")

    _eval_path_home = _eval_path_abs

    def _eval_path_search(self, node: Node, file: SourceFile, env: Env) -> Value:
        return External((node.text,))

    def _eval_ident(self, node: Node, file: SourceFile, env: Env) -> Value:
        return self.force(self.lookup(node, node.text, file, env))

    def _eval_cur_pos(self, node: Node, file: SourceFile, env: Env) -> Value:
        """``__curPos``: where it is written; its file as text made from a path."""
        return AttrsValue({"file": Thunk.const(PathString(file.rel)), "line": Thunk.const(file.line(node))})

    def _eval_select(self, node: Node, file: SourceFile, env: Env) -> Value:
        parts = node.nodes()
        base = self.eval(parts[0], file, env)
        default = parts[2] if len(parts) > 2 else None
        for name_node in parts[1].nodes():
            name = self.attr_name(name_node, file, env)
            if name is None:
                return Unknown("a dynamic attribute name")
            if default is not None and isinstance(base, AttrsValue) and not base.open and name not in base.attrs:
                return self.eval(default, file, env)  # `x.a or d`: only when `a` is surely missing
            base = self.select(base, name)
        return base

    def select(self, value: Value, name: str) -> Value:
        if isinstance(value, AttrsValue):
            if name in value.attrs:
                return self.force(value.attrs[name])
            if value.base is not None:
                return External(value.base.path + (name,), value.base.bound)
            return Unknown(f"no attribute `{name}`") if not value.open else External((name,))
        if isinstance(value, FlakeInputs):
            if name == "self" and value.outputs is not None:
                outputs = self.force(value.outputs)
                if isinstance(outputs, AttrsValue):  # `self` also has `outputs` and `inputs`
                    extra = {
                        "outputs": Thunk.const(outputs),
                        "inputs": Thunk.const(value),
                        "outPath": Thunk.const(PathValue(".")),
                    }
                    return AttrsValue(
                        {**outputs.attrs, **extra}, outputs.open, outputs.node, outputs.where, outputs.file
                    )
                return outputs
            return External((name,), True)
        if isinstance(value, External):
            return External(value.path + (name,), value.bound)
        if isinstance(value, Opaque):
            return value.select(name)
        if isinstance(value, Unknown):
            return value
        return Unknown(f"selecting `{name}` from a {type(value).__name__}")

    def attr_name(self, name_node: Node, file: SourceFile, env: Env) -> str | None:
        if name_node.kind == "NODE_IDENT":
            return name_node.text
        if name_node.kind == "NODE_STRING":
            value = self.eval(name_node, file, env)
            return value if isinstance(value, str) else None
        if name_node.kind == "NODE_DYNAMIC":
            inner = name_node.nodes()
            value = self.eval(inner[0] if inner else None, file, env)
            return value if isinstance(value, str) else None
        return None

    def _eval_apply(self, node: Node, file: SourceFile, env: Env) -> Value:
        fn, arg = node.nodes()[0], node.nodes()[1]
        return self.apply(self.eval(fn, file, env), self.thunk(arg, file, env))

    def _eval_lambda(self, node: Node, file: SourceFile, env: Env) -> Value:
        return Lambda(node, file, env)

    def _eval_let_in(self, node: Node, file: SourceFile, env: Env) -> Value:
        return self.eval(node.nodes()[-1], file, env)

    def _eval_with(self, node: Node, file: SourceFile, env: Env) -> Value:
        return self.eval(node.nodes()[-1], file, env)

    def _eval_assert(self, node: Node, file: SourceFile, env: Env) -> Value:
        return self.eval(node.nodes()[-1], file, env)

    def _eval_list(self, node: Node, file: SourceFile, env: Env) -> Value:
        return ListValue([self.thunk(item, file, env) for item in node.nodes()], [node])

    def _eval_if_else(self, node: Node, file: SourceFile, env: Env) -> Value:
        cond, then, other = node.nodes()
        value = is_true(self.eval(cond, file, env))
        if value is None:
            return Unknown("a condition the engine cannot decide")
        return self.eval(then if value else other, file, env)

    def _eval_has_attr(self, node: Node, file: SourceFile, env: Env) -> Value:
        base, path = node.nodes()[0], node.nodes()[1]
        value = self.eval(base, file, env)
        for name_node in path.nodes():
            name = self.attr_name(name_node, file, env)
            if name is None or not isinstance(value, AttrsValue):
                return Unknown("`?` on a value the engine cannot see")
            if name not in value.attrs:
                return False if not value.open else Unknown("`?` on an open set")
            value = self.force(value.attrs[name])
        return True

    def _eval_unary_op(self, node: Node, file: SourceFile, env: Env) -> Value:
        op = node.tokens()[0].kind if node.tokens() else ""
        value = self.eval(node.nodes()[0], file, env)
        if op == "TOKEN_INVERT" and isinstance(value, bool):
            return not value
        if op == "TOKEN_SUB" and isinstance(value, int) and not isinstance(value, bool):
            return -value
        return Unknown("an operator the engine cannot evaluate")

    def _eval_bin_op(self, node: Node, file: SourceFile, env: Env) -> Value:
        left_node, right_node = node.nodes()[0], node.nodes()[1]
        op = next((t.kind for t in node.tokens() if t.kind != "TOKEN_WHITESPACE" and t.kind != "TOKEN_COMMENT"), "")
        if op == "TOKEN_AND_AND":
            left_bool = is_true(self.eval(left_node, file, env))
            if left_bool is False:
                return False
            right_bool = is_true(self.eval(right_node, file, env))
            if left_bool is None or right_bool is None:
                return False if right_bool is False else Unknown("&&")
            return right_bool
        if op == "TOKEN_OR_OR":
            left_bool = is_true(self.eval(left_node, file, env))
            if left_bool is True:
                return True
            right_bool = is_true(self.eval(right_node, file, env))
            if left_bool is None or right_bool is None:
                return True if right_bool is True else Unknown("||")
            return right_bool
        if op == "TOKEN_IMPLICATION":
            left_bool = is_true(self.eval(left_node, file, env))
            if left_bool is False:
                return True
            right_bool = is_true(self.eval(right_node, file, env))
            return right_bool if left_bool is True and right_bool is not None else Unknown("->")
        if op == "TOKEN_PIPE_RIGHT":  # `x |> f` is `f x` (Nix's experimental pipe-operators)
            return self.apply(self.eval(right_node, file, env), self.thunk(left_node, file, env))
        if op == "TOKEN_PIPE_LEFT":  # `f <| x` is `f x`
            return self.apply(self.eval(left_node, file, env), self.thunk(right_node, file, env))
        left = self.eval(left_node, file, env)
        right = self.eval(right_node, file, env)
        if op == "TOKEN_UPDATE":
            return self.update(left, right)
        if op == "TOKEN_CONCAT":
            if isinstance(left, ListValue) and isinstance(right, ListValue):
                return ListValue(left.items + right.items, left.nodes + right.nodes)
            known = [v for v in (left, right) if isinstance(v, ListValue)]
            if known:  # part of the list is not visible: keep what is
                return ListValue([i for v in known for i in v.items], [n for v in known for n in v.nodes] + [None])
            return Unknown("a list the engine cannot see")
        if op in ("TOKEN_EQUAL", "TOKEN_NOT_EQUAL"):
            if (isinstance(left, (str, int, bool)) and isinstance(right, (str, int, bool))) or (
                left is None and right is None
            ):
                return (left == right) == (op == "TOKEN_EQUAL")
            decided = _decided_equal(left, right)
            if decided is not None:
                return decided == (op == "TOKEN_EQUAL")
            return Unknown("a comparison the engine cannot decide")
        if op == "TOKEN_ADD":
            if isinstance(left, PathValue):
                text = self.to_string(right)
                if text is None:
                    return Unknown("path + value")
                rel = relative_path(
                    "x", "./" + (left.rel + "/" + text.lstrip("/") if text.startswith("/") else left.rel + text)
                )
                return PathValue(rel, None, True) if rel else Unknown("path outside the repository")
            if isinstance(left, str) and isinstance(right, (str, PathValue)):
                right_text = self.to_string(right)
                if right_text is not None:  # always, for a string or a path
                    text = left + right_text
                    return path_string(text) if isinstance(left, PathString) else text
            if isinstance(left, int) and isinstance(right, int):
                return left + right
        return Unknown("an operator the engine cannot evaluate")

    def update(self, left: Value, right: Value) -> Value:
        if isinstance(left, AttrsValue) and isinstance(right, AttrsValue):
            return AttrsValue(
                {**left.attrs, **right.attrs},
                left.open or right.open,
                right.node,
                {**left.where, **right.where},
                right.file or left.file,
                left.base or right.base,
            )
        if isinstance(left, AttrsValue):
            base = right if isinstance(right, External) else left.base
            return AttrsValue(dict(left.attrs), True, left.node, dict(left.where), left.file, base)
        if isinstance(right, AttrsValue):
            base = left if isinstance(left, External) else right.base
            return AttrsValue(dict(right.attrs), True, right.node, dict(right.where), right.file, base)
        if isinstance(left, External) and isinstance(right, External):
            return left  # `nixpkgs.lib // home-manager.lib`: still a lib
        if isinstance(left, External):
            return left
        if isinstance(right, External):
            return right
        return Unknown("`//` of values the engine cannot see")

    # -- attribute sets

    def _eval_attr_set(self, node: Node, file: SourceFile, env: Env) -> Value:
        return self.attrs_of(node, file, env)

    def attrs_of(self, node: Node, file: SourceFile, env: Env) -> AttrsValue:
        attrs: dict[str, Thunk] = {}
        where: dict[str, Node] = {}
        nested: dict[str, list[tuple[list[str], Thunk]]] = {}
        open_ = False
        for child in node.nodes():
            if child.kind == "NODE_ATTRPATH_VALUE":
                parts = child.nodes()
                names: list[str] = []
                for name_node in parts[0].nodes():
                    name = self.attr_name(name_node, file, env)
                    if name is None:
                        names = []  # a name the engine cannot see: the set may hold anything
                        break
                    names.append(name)
                if not names:
                    open_ = True
                    continue
                value_node = parts[1] if len(parts) > 1 else None
                head = names[0]
                where.setdefault(head, child)
                if len(names) == 1 and head not in nested:
                    attrs[head] = self.thunk(value_node, file, env)
                else:
                    if head in attrs and head not in nested:
                        nested[head] = [([], attrs.pop(head))]
                    nested.setdefault(head, []).append((names[1:], self.thunk(value_node, file, env)))
            elif child.kind == "NODE_INHERIT":
                source = child.first("NODE_INHERIT_FROM")
                for ident in child.nodes():
                    name = (
                        ident.text
                        if ident.kind == "NODE_IDENT"
                        else string_value(ident)
                        if ident.kind == "NODE_STRING"
                        else None
                    )
                    if name is None:
                        continue
                    where.setdefault(name, child)
                    if source is not None:
                        attrs[name] = self._select_thunk(source.nodes()[0], name, file, env)
                    else:
                        attrs[name] = self._outer_lookup_thunk(node, name, file, env)
        for head, entries in nested.items():
            attrs[head] = Thunk.lazy(partial(self._nested, entries))
        return AttrsValue(attrs, open_, node, where, file)

    def _nested(self, entries: list[tuple[list[str], Thunk]]) -> Value:
        result = AttrsValue({})
        for rest, thunk in entries:
            if not rest:
                value = self.force(thunk)
                if isinstance(value, AttrsValue):
                    result = self.merge_deep(result, value)
                else:
                    result.open = True
                continue
            target = result
            for name in rest[:-1]:
                inner = target.attrs.get(name)
                inner_value = self.force(inner) if inner is not None else None
                if not isinstance(inner_value, AttrsValue):
                    inner_value = AttrsValue({})
                    target.attrs[name] = Thunk.const(inner_value)
                target = inner_value
            if rest[-1] in target.attrs:
                existing = self.force(target.attrs[rest[-1]])
                value = self.force(thunk)
                if isinstance(existing, AttrsValue) and isinstance(value, AttrsValue):
                    target.attrs[rest[-1]] = Thunk.const(self.merge_deep(existing, value))
                    continue
            target.attrs[rest[-1]] = thunk
            if thunk.node is not None:
                target.where[rest[-1]] = thunk.node.parent or thunk.node
                target.file = thunk.file
        return result

    def merge_deep(self, left: AttrsValue, right: AttrsValue) -> AttrsValue:
        attrs = dict(left.attrs)
        for name, thunk in right.attrs.items():
            if name in attrs:
                a, b = self.force(attrs[name]), self.force(thunk)
                if isinstance(a, AttrsValue) and isinstance(b, AttrsValue):
                    attrs[name] = Thunk.const(self.merge_deep(a, b))
                    continue
            attrs[name] = thunk
        return AttrsValue(
            attrs,
            left.open or right.open,
            right.node or left.node,
            {**left.where, **right.where},
            right.file or left.file,
            left.base or right.base,
        )

    def _select_thunk(self, source: Node, name: str, file: SourceFile, env: Env) -> Thunk:
        return Thunk.lazy(lambda: self.select(self.eval(source, file, env), name))

    def _outer_lookup_thunk(self, container: Node, name: str, file: SourceFile, env: Env) -> Thunk:
        """``inherit name;`` reads ``name`` from outside the set (or let) that holds it."""
        return Thunk.lazy(lambda: self.force(self.lookup(container, name, file, env)))

    # -- names

    def _scope(self, node: Node) -> Scope:
        """Names a let block or a rec set binds: name -> [(rest of path, binding node)]."""
        cached = self._scope_cache.get(id(node))
        if cached is not None:
            return cached
        names: Scope = {}
        for child in node.nodes():
            if child.kind == "NODE_ATTRPATH_VALUE":
                path = attrpath_names(child.nodes()[0])
                if path:
                    names.setdefault(path[0], []).append((path[1:], child))
            elif child.kind == "NODE_INHERIT":
                for ident in child.nodes():
                    name = (
                        ident.text
                        if ident.kind == "NODE_IDENT"
                        else string_value(ident)
                        if ident.kind == "NODE_STRING"
                        else None
                    )
                    if name is not None:
                        names.setdefault(name, []).append((None, child))
        self._scope_cache[id(node)] = names
        return names

    def lookup(self, node: Node, name: str, file: SourceFile, env: Env) -> Thunk:
        """The value ``name`` has where ``node`` stands: lexical scope (above ``node``), then ``with``, then outside."""
        withs: list[Node] = []
        child = node
        for scope in node.ancestors():
            kind = scope.kind
            if kind == "NODE_LET_IN" or (kind == "NODE_ATTR_SET" and _is_rec(scope)):
                entries = self._scope(scope).get(name)
                if entries:
                    return self._binding_thunk(scope, name, entries, file, env)
            elif kind == "NODE_LAMBDA":
                bound = self._param_lookup(scope, scope.nodes()[0], name, env)
                if bound is not None:
                    return bound
            elif kind == "NODE_WITH" and child is not scope.nodes()[0]:
                withs.append(scope)
            child = scope
        for scope in withs:
            namespace = self.eval(scope.nodes()[0], file, env)
            if isinstance(namespace, AttrsValue) and name in namespace.attrs:
                return namespace.attrs[name]
            if isinstance(namespace, External):
                return Thunk.const(External(namespace.path + (name,), namespace.bound))
        return Thunk.const(self.free_name(name))

    def _binding_thunk(self, scope: Node, name: str, entries, file: SourceFile, env: Env) -> Thunk:
        if len(entries) == 1 and entries[0][0] == []:
            value_node = entries[0][1].nodes()[1] if len(entries[0][1].nodes()) > 1 else None
            key = (id(value_node), id(env))
            cached = self._bindings.get(key)
            if cached is None or cached.env is not env:  # one thunk per binding and environment
                cached = self._bindings[key] = self.thunk(value_node, file, env)
            return cached
        if len(entries) == 1 and entries[0][0] is None:
            inherit = entries[0][1]
            source = inherit.first("NODE_INHERIT_FROM")
            if source is not None:
                return self._select_thunk(source.nodes()[0], name, file, env)
            return Thunk.lazy(lambda: self.force(self.lookup(scope, name, file, env)))
        pairs = [
            (rest, self.thunk(b.nodes()[1] if len(b.nodes()) > 1 else None, file, env))
            for rest, b in entries
            if rest is not None
        ]
        return Thunk.lazy(lambda: self._nested(pairs))

    def _param_lookup(self, lam: Node, param: Node, name: str, env: Env) -> Thunk | None:
        given = env.get(id(lam))
        arg = given if isinstance(given, Thunk) else None
        if param.kind == "NODE_IDENT_PARAM":
            ident = param.nodes()[0] if param.nodes() else None
            if ident is not None and ident.text == name:
                return arg if arg is not None else Thunk.const(External((name,), bound=True))
            return None
        if param.kind != "NODE_PATTERN":
            return None
        for entry in param.nodes():
            if entry.kind == "NODE_PAT_BIND":
                ident = entry.first("NODE_IDENT")
                if ident is not None and ident.text == name:
                    return arg if arg is not None else Thunk.const(External((name,), bound=True))
            elif entry.kind == "NODE_PAT_ENTRY":
                parts = entry.nodes()
                if parts and parts[0].text == name:
                    if arg is None:
                        return Thunk.const(External((name,), bound=True))
                    default = parts[1] if len(parts) > 1 else None
                    where = env.get(("file", id(lam)))
                    lam_file, lam_env = (where if not isinstance(where, Thunk) else None), env
                    # returned at once: the loop's variables do not change under the thunk
                    return Thunk.lazy(lambda: self._pattern_value(arg, name, default, lam_file, lam_env))  # noqa: B023
        return None

    def _pattern_value(self, arg: Thunk, name: str, default: Node | None, file: SourceFile | None, env: Env) -> Value:
        value = self.force(arg)
        if isinstance(value, AttrsValue) and name in value.attrs:
            return self.force(value.attrs[name])
        if default is not None and file is not None:
            return self.eval(default, file, env)
        return self.select(value, name)

    def free_name(self, name: str) -> Value:
        if name == "true":
            return True
        if name == "false":
            return False
        if name == "null":
            return None
        if name in BUILTINS:
            return Builtin(name, BUILTINS[name].arity, (), (name,))
        return External((name,))

    # -- application

    def apply(self, fn: Value, arg: Thunk) -> Value:
        if isinstance(fn, Lambda):
            env = dict(fn.env)
            env[id(fn.node)] = arg
            env[("file", id(fn.node))] = fn.file
            return self._guard(lambda: self.eval(fn.body, fn.file, env))
        if isinstance(fn, External):
            recognised = recognisers.call_external(self, fn, arg)
            if recognised is not None:
                return recognised
            if fn.name in BUILTINS:
                spec = BUILTINS[fn.name]
                return self.apply(Builtin(spec.name, spec.arity, (), fn.path), arg)
            return Unknown(f"the function `{'.'.join(fn.path)}`")
        if isinstance(fn, Opaque):
            return fn.call(self, arg)
        if isinstance(fn, Builtin):
            args = fn.args + (arg,)
            if len(args) < fn.arity:
                return Builtin(fn.name, fn.arity, args, fn.path, fn.impl)
            impl = fn.impl or BUILTINS[fn.name].impl
            return impl(self, *args)
        if isinstance(fn, AttrsValue) and "__functor" in fn.attrs:
            return self.apply(self.apply(self.force(fn.attrs["__functor"]), Thunk.const(fn)), arg)
        if isinstance(fn, Unknown):
            return fn
        return Unknown("calling a value that is not a function")

    def flake_module(self, module: External, config: Thunk) -> Value | None:
        """A flake-parts module from another flake, as the recogniser that knows it sees it (or None)."""
        return recognisers.flake_module(self, module, config)

    def call(self, fn: Value, *values: Value | Thunk) -> Value:
        """``fn`` applied to each argument in turn (a value, or a thunk as it is)."""
        for value in values:
            fn = self.apply(fn, value if isinstance(value, Thunk) else Thunk.const(value))
        return fn

    # -- files

    def import_path(self, value: Value) -> Value:
        value = as_path(value)
        if isinstance(value, External):
            recognised = recognisers.import_external(self, value)
            if recognised is not None:
                return recognised
        if not isinstance(value, PathValue):
            return Unknown("import of something that is not a path in the repository")
        rel = self.nix_file(value.rel)
        if rel is None:
            return Unknown(f"./{value.rel} does not exist")
        if rel not in self._file_values:
            try:
                source = self.flake.source_file(rel)
            except LlamaflakeError as exc:
                return Unknown(str(exc))
            self._file_values[rel] = Thunk(source.tree, source, {})
        return self.force(self._file_values[rel])

    def nix_file(self, rel: str) -> str | None:
        """The file a path means to ``import``: itself, or its ``default.nix`` if it is a folder."""
        return import_target(self.flake.root, rel)

    def read_dir(self, rel: str) -> dict[str, str] | None:
        if rel not in self._dirs:
            entries: dict[str, str] | None
            try:
                found: dict[str, str] = {}
                with os.scandir(self.flake.root / rel) as it:
                    for entry in it:
                        if entry.is_symlink():
                            kind = "symlink"
                        elif entry.is_dir():
                            kind = "directory"
                        elif entry.is_file():
                            kind = "regular"
                        else:
                            kind = "unknown"
                        found[entry.name] = kind
                entries = dict(sorted(found.items()))
            except OSError:
                entries = None
            self._dirs[rel] = entries
        return self._dirs[rel]

    def force_attrs(self, thunk: Thunk) -> AttrsValue | None:
        value = self.force(thunk)
        return value if isinstance(value, AttrsValue) else None

    def force_list(self, thunk: Thunk) -> ListValue | None:
        value = self.force(thunk)
        return value if isinstance(value, ListValue) else None

    # -- the flake's outputs and modules

    def outputs_of(self, outputs: Node, file: SourceFile) -> Value:
        """The value of the flake's ``outputs`` function applied to its inputs (``self`` included)."""
        value = self.eval(outputs, file, {})
        if not isinstance(value, Lambda):
            return value
        inputs = FlakeInputs(("inputs",), True)
        result = Thunk.lazy(lambda: self.apply(value, Thunk.const(inputs)))
        inputs.outputs = result
        self.inputs = inputs
        return self.force(result)

    def module_body(self, value: Value) -> Value:
        """A module's attribute set: a function's body with its arguments left open, or the set itself."""
        seen = 0
        while isinstance(value, Lambda) and seen < 3:
            value = self.eval(value.body, value.file, value.env)
            seen += 1
        return value


def path_string(text: str) -> Value:
    """``text`` made from a path, normalised, as a :class:`PathString` (or Unknown outside the repository)."""
    rel = relative_path("flake.nix", "./" + text)
    return PathString(rel) if rel is not None else Unknown("a path outside the repository")


def _decided_equal(left: Value, right: Value) -> bool | None:
    """Whether two values are equal where the engine can tell without reading them whole: ``null`` against a
    value it sees (``v != null``), a list against a whole list of another length (``tail values == []``)."""
    seen = (AttrsValue, ListValue, Lambda, PathValue, Builtin, str, int, bool)
    if left is None or right is None:
        other = right if left is None else left
        return False if isinstance(other, seen) else None
    if isinstance(left, ListValue) and isinstance(right, ListValue):
        whole = None not in left.nodes and None not in right.nodes
        if whole and len(left.items) != len(right.items):
            return False
        if whole and not left.items and not right.items:
            return True
    return None


def _is_rec(attrset: Node) -> bool:
    for child in attrset.children:
        if child.kind == "TOKEN_REC":
            return True
        if child.kind == "TOKEN_L_BRACE":
            return False
    return False
