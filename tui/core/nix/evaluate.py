"""A small, lazy, symbolic evaluator over the syntax tree: enough Nix to follow a flake to its hosts.

It never runs Nix. It follows names through ``let``, function arguments, ``import`` of other files,
``//``, ``++`` and the handful of library functions host lists are built with (``mapAttrs``,
``genAttrs``, ``listToAttrs``, ``filterAttrs``, ``readDir``, ...). A name it cannot bind (a flake
input, ``lib``, ``builtins``) becomes an :class:`External` that remembers its path, so
``nixpkgs.lib.nixosSystem`` and ``inputs.nixpkgs.lib.nixosSystem`` are both recognised by their last
name. Anything it cannot follow is :class:`Unknown`, and the caller refuses rather than guesses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tui.core.errors import LlamaflakeError
from tui.core.nix.syntax import Node, unwrap

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.flake import Flake, SourceFile

MAX_DEPTH = 120  # nested evaluations; each takes a few Python frames


# ---- values ----------------------------------------------------------------------------------

@dataclass(eq=False)
class Unknown:
    reason: str


@dataclass(eq=False)
class External:
    """A value from outside what the engine reads: a flake input, ``lib``, ``builtins``, a module argument."""

    path: tuple[str, ...]
    bound: bool = False  # True when a function argument (in scope), False for a free name

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else ""


@dataclass(eq=False)
class FlakeInputs(External):
    """The argument of ``outputs``: every input by name, and ``self``, the outputs themselves."""

    outputs: "Thunk | None" = None


@dataclass(eq=False)
class PathValue:
    rel: str  # relative to the flake root, posix
    node: Node | None = None
    interpolated: bool = False


@dataclass(eq=False)
class ListValue:
    items: list["Thunk"]
    nodes: list[Node] = field(default_factory=list)  # the list literals it is made of


@dataclass(eq=False)
class AttrsValue:
    attrs: dict[str, "Thunk"]
    open: bool = False  # may hold names the engine cannot see
    node: Node | None = None
    where: dict[str, Node] = field(default_factory=dict)  # binding node of each name
    file: "SourceFile | None" = None


@dataclass(eq=False)
class Lambda:
    node: Node
    file: "SourceFile"
    env: dict

    @property
    def param(self) -> Node:
        return self.node.nodes()[0]

    @property
    def body(self) -> Node:
        return self.node.nodes()[-1]


@dataclass(eq=False)
class Builtin:
    name: str
    arity: int
    args: tuple["Thunk", ...] = ()
    path: tuple[str, ...] = ()


@dataclass(eq=False)
class SystemCall:
    """A call of ``nixosSystem``: the function as written, and its argument."""

    fn: tuple[str, ...]
    arg: "Thunk"


@dataclass(eq=False)
class SnowfallFlake:
    """``snowfall-lib``'s ``mkFlake``: hosts come from ``systems/<arch>/<host>``."""

    root: str  # the snowfall root, relative to the flake root
    arg: "Thunk | None" = None


Value = object
_UNSET = object()


class Thunk:
    """An expression with its file and environment, evaluated at most once."""

    __slots__ = ("node", "file", "env", "_value", "_compute")

    def __init__(self, node: Node | None, file: "SourceFile | None", env: dict | None,
                 value: Value | None = None, compute: Callable[[], Value] | None = None) -> None:
        self.node = node
        self.file = file
        self.env = env or {}
        self._value = _UNSET if value is None and compute is not None or node is not None else value
        self._compute = compute

    @classmethod
    def const(cls, value: Value) -> "Thunk":
        return cls(None, None, None, value=value)

    @classmethod
    def lazy(cls, compute: Callable[[], Value]) -> "Thunk":
        return cls(None, None, None, compute=compute)


def is_true(value: Value) -> bool | None:
    return value if isinstance(value, bool) else None


# ---- the evaluator -----------------------------------------------------------------------------

class Evaluator:
    """Evaluates nodes of the flake's files; one per :class:`Flake`, with caches shared across hosts."""

    def __init__(self, flake: "Flake") -> None:
        self.flake = flake
        self.depth = 0
        self._scope_cache: dict[int, dict[str, list[tuple[list, Node]]]] = {}
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
            else:
                thunk._value = Unknown("recursion")
                thunk._value = self._guard(lambda: self.eval(thunk.node, thunk.file, thunk.env))
        return thunk._value

    def _guard(self, compute: Callable[[], Value]) -> Value:
        if self.depth > MAX_DEPTH:
            return Unknown("too deep")
        self.depth += 1
        try:
            return compute()
        finally:
            self.depth -= 1

    def thunk(self, node: Node | None, file: "SourceFile", env: dict) -> Thunk:
        return Thunk(node, file, env)

    # -- expressions

    def eval(self, node: Node | None, file: "SourceFile", env: dict) -> Value:
        node = unwrap(node)
        if node is None:
            return Unknown("empty expression")
        kind = node.kind
        method = getattr(self, "_eval_" + kind[5:].lower(), None) if kind.startswith("NODE_") else None
        if method is None:
            return Unknown(f"{kind.lower()[5:]} expression")
        return method(node, file, env)

    def _eval_literal(self, node, file, env):
        text = node.text
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text  # a bare URI

    def _eval_string(self, node, file, env):
        from tui.core.nix.syntax import string_value

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
        return "".join(parts)

    def to_string(self, value: Value) -> str | None:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return str(value)
        if isinstance(value, PathValue):
            return value.rel
        return None

    def _eval_path_rel(self, node, file, env):
        from tui.core.nix.flake import relative_path

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

    def _eval_path_abs(self, node, file, env):
        return Unknown("an absolute path")

    _eval_path_home = _eval_path_abs

    def _eval_path_search(self, node, file, env):
        return External((node.text,))

    def _eval_ident(self, node, file, env):
        return self.force(self.lookup(node, node.text, file, env))

    def _eval_select(self, node, file, env):
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
            return Unknown(f"no attribute `{name}`") if not value.open else External((name,))
        if isinstance(value, FlakeInputs):
            if name == "self" and value.outputs is not None:
                outputs = self.force(value.outputs)
                if isinstance(outputs, AttrsValue):  # `self` also has `outputs` and `inputs`
                    extra = {"outputs": Thunk.const(outputs), "inputs": Thunk.const(value)}
                    return AttrsValue({**outputs.attrs, **extra}, outputs.open, outputs.node, outputs.where, outputs.file)
                return outputs
            return External((name,), True)
        if isinstance(value, External):
            return External(value.path + (name,), value.bound)
        if isinstance(value, SnowfallFlake):
            return External(("snowfall-lib", name))
        if isinstance(value, Unknown):
            return value
        return Unknown(f"selecting `{name}` from a {type(value).__name__}")

    def attr_name(self, name_node: Node, file, env) -> str | None:
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

    def _eval_apply(self, node, file, env):
        fn, arg = node.nodes()[0], node.nodes()[1]
        return self.apply(self.eval(fn, file, env), self.thunk(arg, file, env))

    def _eval_lambda(self, node, file, env):
        return Lambda(node, file, env)

    def _eval_let_in(self, node, file, env):
        return self.eval(node.nodes()[-1], file, env)

    def _eval_with(self, node, file, env):
        return self.eval(node.nodes()[-1], file, env)

    def _eval_assert(self, node, file, env):
        return self.eval(node.nodes()[-1], file, env)

    def _eval_list(self, node, file, env):
        return ListValue([self.thunk(item, file, env) for item in node.nodes()], [node])

    def _eval_if_else(self, node, file, env):
        cond, then, other = node.nodes()
        value = is_true(self.eval(cond, file, env))
        if value is None:
            return Unknown("a condition the engine cannot decide")
        return self.eval(then if value else other, file, env)

    def _eval_has_attr(self, node, file, env):
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

    def _eval_unary_op(self, node, file, env):
        op = node.tokens()[0].kind if node.tokens() else ""
        value = self.eval(node.nodes()[0], file, env)
        if op == "TOKEN_INVERT" and isinstance(value, bool):
            return not value
        if op == "TOKEN_SUB" and isinstance(value, int) and not isinstance(value, bool):
            return -value
        return Unknown("an operator the engine cannot evaluate")

    def _eval_bin_op(self, node, file, env):
        left_node, right_node = node.nodes()[0], node.nodes()[1]
        op = next((t.kind for t in node.tokens() if t.kind != "TOKEN_WHITESPACE" and t.kind != "TOKEN_COMMENT"), "")
        if op == "TOKEN_AND_AND":
            left = is_true(self.eval(left_node, file, env))
            if left is False:
                return False
            right = is_true(self.eval(right_node, file, env))
            if left is None or right is None:
                return False if right is False else Unknown("&&")
            return right
        if op == "TOKEN_OR_OR":
            left = is_true(self.eval(left_node, file, env))
            if left is True:
                return True
            right = is_true(self.eval(right_node, file, env))
            if left is None or right is None:
                return True if right is True else Unknown("||")
            return right
        if op == "TOKEN_IMPLICATION":
            left = is_true(self.eval(left_node, file, env))
            if left is False:
                return True
            right = is_true(self.eval(right_node, file, env))
            return right if left is True and right is not None else Unknown("->")
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
            if isinstance(left, (str, int, bool)) and isinstance(right, (str, int, bool)) or (left is None and right is None):
                return (left == right) == (op == "TOKEN_EQUAL")
            return Unknown("a comparison the engine cannot decide")
        if op == "TOKEN_ADD":
            if isinstance(left, PathValue):
                text = self.to_string(right)
                if text is None:
                    return Unknown("path + value")
                from tui.core.nix.flake import relative_path

                rel = relative_path("x", "./" + (left.rel + "/" + text.lstrip("/") if text.startswith("/") else left.rel + text))
                return PathValue(rel, None, True) if rel else Unknown("path outside the repository")
            if isinstance(left, str) and isinstance(right, (str, PathValue)):
                return left + self.to_string(right)
            if isinstance(left, int) and isinstance(right, int):
                return left + right
        return Unknown("an operator the engine cannot evaluate")

    def update(self, left: Value, right: Value) -> Value:
        if isinstance(left, AttrsValue) and isinstance(right, AttrsValue):
            return AttrsValue({**left.attrs, **right.attrs}, left.open or right.open,
                              right.node, {**left.where, **right.where}, right.file or left.file)
        if isinstance(left, AttrsValue):
            return AttrsValue(dict(left.attrs), True, left.node, dict(left.where), left.file)
        if isinstance(right, AttrsValue):
            return AttrsValue(dict(right.attrs), True, right.node, dict(right.where), right.file)
        if isinstance(left, External) and isinstance(right, External):
            return left  # `nixpkgs.lib // home-manager.lib`: still a lib
        if isinstance(left, External):
            return left
        if isinstance(right, External):
            return right
        return Unknown("`//` of values the engine cannot see")

    # -- attribute sets

    def _eval_attr_set(self, node, file, env):
        return self.attrs_of(node, file, env)

    def attrs_of(self, node: Node, file, env) -> AttrsValue:
        from tui.core.nix.syntax import string_value

        attrs: dict[str, Thunk] = {}
        where: dict[str, Node] = {}
        nested: dict[str, list[tuple[list, Node]]] = {}
        open_ = False
        for child in node.nodes():
            if child.kind == "NODE_ATTRPATH_VALUE":
                parts = child.nodes()
                names = []
                for name_node in parts[0].nodes():
                    name = self.attr_name(name_node, file, env)
                    if name is None:
                        names = None
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
                    name = ident.text if ident.kind == "NODE_IDENT" else string_value(ident) if ident.kind == "NODE_STRING" else None
                    if name is None:
                        continue
                    where.setdefault(name, child)
                    if source is not None:
                        attrs[name] = self._select_thunk(source.nodes()[0], name, file, env)
                    else:
                        attrs[name] = self._outer_lookup_thunk(node, name, file, env)
        for head, entries in nested.items():
            attrs[head] = Thunk.lazy(lambda entries=entries: self._nested(entries))
        return AttrsValue(attrs, open_, node, where, file)

    def _nested(self, entries: list[tuple[list, Thunk]]) -> Value:
        result = AttrsValue({})
        for rest, thunk in entries:
            if not rest:
                value = self.force(thunk)
                if isinstance(value, AttrsValue):
                    result = self._merge_deep(result, value)
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
                    target.attrs[rest[-1]] = Thunk.const(self._merge_deep(existing, value))
                    continue
            target.attrs[rest[-1]] = thunk
            if thunk.node is not None:
                target.where[rest[-1]] = thunk.node.parent or thunk.node
                target.file = thunk.file
        return result

    def _merge_deep(self, left: AttrsValue, right: AttrsValue) -> AttrsValue:
        attrs = dict(left.attrs)
        for name, thunk in right.attrs.items():
            if name in attrs:
                a, b = self.force(attrs[name]), self.force(thunk)
                if isinstance(a, AttrsValue) and isinstance(b, AttrsValue):
                    attrs[name] = Thunk.const(self._merge_deep(a, b))
                    continue
            attrs[name] = thunk
        return AttrsValue(attrs, left.open or right.open, right.node or left.node,
                          {**left.where, **right.where}, right.file or left.file)

    def _select_thunk(self, source: Node, name: str, file, env) -> Thunk:
        return Thunk.lazy(lambda: self.select(self.eval(source, file, env), name))

    def _outer_lookup_thunk(self, container: Node, name: str, file, env) -> Thunk:
        """``inherit name;`` reads ``name`` from outside the set (or let) that holds it."""
        return Thunk.lazy(lambda: self.force(self.lookup(container, name, file, env)))

    # -- names

    def _scope(self, node: Node) -> dict[str, list[tuple[list, Node]]]:
        """Names a let block or a rec set binds: name -> [(rest of path, binding node)]."""
        cached = self._scope_cache.get(id(node))
        if cached is not None:
            return cached
        from tui.core.nix.syntax import attrpath_names, string_value

        names: dict[str, list[tuple[list, Node]]] = {}
        for child in node.nodes():
            if child.kind == "NODE_ATTRPATH_VALUE":
                path = attrpath_names(child.nodes()[0])
                if path:
                    names.setdefault(path[0], []).append((path[1:], child))
            elif child.kind == "NODE_INHERIT":
                for ident in child.nodes():
                    name = ident.text if ident.kind == "NODE_IDENT" else string_value(ident) if ident.kind == "NODE_STRING" else None
                    if name is not None:
                        names.setdefault(name, []).append((None, child))
        self._scope_cache[id(node)] = names
        return names

    def lookup(self, node: Node, name: str, file, env: dict) -> Thunk:
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
            elif kind == "NODE_WITH":
                if child is not scope.nodes()[0]:
                    withs.append(scope)
            child = scope
        for scope in withs:
            namespace = self.eval(scope.nodes()[0], file, env)
            if isinstance(namespace, AttrsValue) and name in namespace.attrs:
                return namespace.attrs[name]
            if isinstance(namespace, External):
                return Thunk.const(External(namespace.path + (name,), namespace.bound))
        return Thunk.const(self.free_name(name))

    def _binding_thunk(self, scope: Node, name: str, entries, file, env) -> Thunk:
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
        pairs = [(rest, self.thunk(b.nodes()[1] if len(b.nodes()) > 1 else None, file, env)) for rest, b in entries if rest is not None]
        return Thunk.lazy(lambda: self._nested(pairs))

    def _param_lookup(self, lam: Node, param: Node, name: str, env: dict) -> Thunk | None:
        arg = env.get(id(lam))
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
                    lam_file, lam_env = env.get(("file", id(lam))), env
                    return Thunk.lazy(lambda: self._pattern_value(arg, name, default, lam_file, lam_env))
        return None

    def _pattern_value(self, arg: Thunk, name: str, default: Node | None, file, env) -> Value:
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
            return Builtin(name, BUILTINS[name], (), (name,))
        return External((name,))

    # -- application

    def apply(self, fn: Value, arg: Thunk) -> Value:
        if isinstance(fn, Lambda):
            env = dict(fn.env)
            env[id(fn.node)] = arg
            env[("file", id(fn.node))] = fn.file
            return self._guard(lambda: self.eval(fn.body, fn.file, env))
        if isinstance(fn, External):
            name = fn.name
            if name == "nixosSystem":
                return SystemCall(fn.path, arg)
            if name in BUILTINS:
                return self.apply(Builtin(name, BUILTINS[name], (), fn.path), arg)
            if name == "import-tree":
                return self.import_tree(self.force(arg))
            if name == "mkLib" and any("snowfall" in p for p in fn.path):
                return SnowfallFlake(self._snowfall_root(arg), arg)
            if name == "mkFlake":
                if any("snowfall" in p for p in fn.path):
                    return self.snowfall(arg)
                return Builtin("mkFlake", 2, (arg,), fn.path)
            return Unknown(f"the function `{'.'.join(fn.path)}`")
        if isinstance(fn, SnowfallFlake):
            return Unknown("snowfall-lib")
        if isinstance(fn, Builtin):
            args = fn.args + (arg,)
            if len(args) < fn.arity:
                return Builtin(fn.name, fn.arity, args, fn.path)
            impl = getattr(self, "_builtin_" + fn.name.replace("'", "_prime").replace("-", "_"))
            return impl(*args)
        if isinstance(fn, AttrsValue) and "__functor" in fn.attrs:
            return self.apply(self.apply(self.force(fn.attrs["__functor"]), Thunk.const(fn)), arg)
        if isinstance(fn, Unknown):
            return fn
        return Unknown("calling a value that is not a function")

    def call(self, fn: Value, *values: Value) -> Value:
        for value in values:
            fn = self.apply(fn, value if isinstance(value, Thunk) else Thunk.const(value))
        return fn

    # -- files

    def import_path(self, value: Value) -> Value:
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
        path = os.path.join(self.flake.root, rel)
        if os.path.isdir(path):
            path = os.path.join(path, "default.nix")
            rel = f"{rel}/default.nix" if rel != "." else "default.nix"
        return rel if os.path.isfile(path) else None

    def read_dir(self, rel: str) -> dict[str, str] | None:
        if rel not in self._dirs:
            entries: dict[str, str] | None = {}
            try:
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
                        entries[entry.name] = kind
            except OSError:
                entries = None
            self._dirs[rel] = dict(sorted(entries.items())) if entries is not None else None
        return self._dirs[rel]

    def import_tree(self, value: Value) -> Value:
        """``import-tree ./dir``: a module importing every .nix file below ``dir`` (names starting with _ skipped)."""
        if not isinstance(value, PathValue):
            return Unknown("import-tree of something that is not a path")
        found: list[Thunk] = []
        base = os.path.join(self.flake.root, value.rel)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("_"))
            for name in sorted(filenames):
                if name.endswith(".nix") and not name.startswith("_"):
                    rel = os.path.relpath(os.path.join(dirpath, name), self.flake.root).replace(os.sep, "/")
                    found.append(Thunk.const(PathValue(rel)))
        return AttrsValue({"imports": Thunk.const(ListValue(found))})

    # -- builtins and lib functions, by name

    def _builtin_import(self, path):
        return self.import_path(self.force(path))

    def _builtin_readDir(self, path):
        value = self.force(path)
        if not isinstance(value, PathValue):
            return Unknown("readDir of something that is not a path")
        entries = self.read_dir(value.rel)
        if entries is None:
            return Unknown(f"./{value.rel} is not a folder")
        return AttrsValue({name: Thunk.const(kind) for name, kind in entries.items()})

    def _attrs(self, thunk) -> AttrsValue | None:
        value = self.force(thunk)
        return value if isinstance(value, AttrsValue) else None

    def _list(self, thunk) -> ListValue | None:
        value = self.force(thunk)
        return value if isinstance(value, ListValue) else None

    def _builtin_mapAttrs(self, fn, attrs):
        value = self._attrs(attrs)
        if value is None:
            return Unknown("mapAttrs over a set the engine cannot see")
        f = self.force(fn)
        result = {name: Thunk.lazy(lambda name=name, v=v: self.call(f, name, v)) for name, v in value.attrs.items()}
        return AttrsValue(result, value.open, value.node, dict(value.where), value.file)

    def _builtin_mapAttrs_prime(self, fn, attrs):
        value = self._attrs(attrs)
        if value is None:
            return Unknown("mapAttrs' over a set the engine cannot see")
        f = self.force(fn)
        pairs = ListValue([Thunk.lazy(lambda name=name, v=v: self.call(f, name, v)) for name, v in value.attrs.items()])
        return self._builtin_listToAttrs(Thunk.const(pairs))

    def _builtin_genAttrs(self, names, fn):
        value = self._list(names)
        if value is None:
            return Unknown("genAttrs over a list the engine cannot see")
        f = self.force(fn)
        result = {}
        for item in value.items:
            name = self.force(item)
            if not isinstance(name, str):
                return Unknown("genAttrs over names the engine cannot see")
            result[name] = Thunk.lazy(lambda name=name: self.call(f, name))
        return AttrsValue(result, None in value.nodes)

    def _builtin_listToAttrs(self, items):
        value = self._list(items)
        if value is None:
            return Unknown("listToAttrs of a list the engine cannot see")
        result = {}
        for item in value.items:
            pair = self._attrs(item)
            if pair is None or "name" not in pair.attrs:
                return Unknown("listToAttrs of entries the engine cannot see")
            name = self.force(pair.attrs["name"])
            if not isinstance(name, str):
                return Unknown("listToAttrs with names the engine cannot see")
            result[name] = pair.attrs.get("value") or Thunk.const(Unknown("no value"))
        return AttrsValue(result, None in value.nodes)

    def _builtin_nameValuePair(self, name, value):
        return AttrsValue({"name": name, "value": value})

    def _builtin_filterAttrs(self, pred, attrs):
        value = self._attrs(attrs)
        if value is None:
            return Unknown("filterAttrs over a set the engine cannot see")
        f = self.force(pred)
        kept = {}
        for name, v in value.attrs.items():
            if self.call(f, name, v) is not False:
                kept[name] = v
        return AttrsValue(kept, value.open, value.node, value.where, value.file)

    def _builtin_filter(self, pred, items):
        value = self._list(items)
        if value is None:
            return Unknown("filter over a list the engine cannot see")
        f = self.force(pred)
        return ListValue([i for i in value.items if self.call(f, i) is not False], value.nodes)

    def _builtin_map(self, fn, items):
        value = self._list(items)
        if value is None:
            return Unknown("map over a list the engine cannot see")
        f = self.force(fn)
        return ListValue([Thunk.lazy(lambda i=i: self.call(f, i)) for i in value.items], value.nodes)

    def _builtin_attrNames(self, attrs):
        value = self._attrs(attrs)
        if value is None:
            return Unknown("attrNames of a set the engine cannot see")
        return ListValue([Thunk.const(n) for n in sorted(value.attrs)], [None] if value.open else [])

    def _builtin_attrValues(self, attrs):
        value = self._attrs(attrs)
        if value is None:
            return Unknown("attrValues of a set the engine cannot see")
        return ListValue([value.attrs[n] for n in sorted(value.attrs)], [None] if value.open else [])

    def _builtin_removeSuffix(self, suffix, text):
        s, t = self.force(suffix), self.force(text)
        if isinstance(s, str) and isinstance(t, str):
            return t[: -len(s)] if s and t.endswith(s) else t
        return Unknown("removeSuffix")

    def _builtin_removePrefix(self, prefix, text):
        p, t = self.force(prefix), self.force(text)
        if isinstance(p, str) and isinstance(t, str):
            return t[len(p):] if t.startswith(p) else t
        return Unknown("removePrefix")

    def _builtin_hasSuffix(self, suffix, text):
        s, t = self.force(suffix), self.force(text)
        return t.endswith(s) if isinstance(s, str) and isinstance(t, str) else Unknown("hasSuffix")

    def _builtin_hasPrefix(self, prefix, text):
        p, t = self.force(prefix), self.force(text)
        return t.startswith(p) if isinstance(p, str) and isinstance(t, str) else Unknown("hasPrefix")

    def _builtin_elem(self, item, items):
        x, value = self.force(item), self._list(items)
        if value is None or not isinstance(x, (str, int)):
            return Unknown("elem")
        values = [self.force(i) for i in value.items]
        if x in values:
            return True
        return False if None not in value.nodes else Unknown("elem")

    def _builtin_pathExists(self, path):
        value = self.force(path)
        if isinstance(value, PathValue):
            return (self.flake.root / value.rel).exists()
        return Unknown("pathExists")

    def _builtin_toString(self, value):
        text = self.to_string(self.force(value))
        return text if text is not None else Unknown("toString")

    def _builtin_baseNameOf(self, value):
        text = self.to_string(self.force(value))
        return text.rstrip("/").rsplit("/", 1)[-1] if text is not None else Unknown("baseNameOf")

    def _builtin_readFile(self, path):
        value = self.force(path)
        if not isinstance(value, PathValue):
            return Unknown("readFile of something that is not a path")
        try:
            return (self.flake.root / value.rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return Unknown(f"./{value.rel} cannot be read")

    def _builtin_fromTOML(self, text):
        import tomllib

        value = self.force(text)
        if not isinstance(value, str):
            return Unknown("fromTOML of text the engine cannot see")
        try:
            return from_data(tomllib.loads(value))
        except tomllib.TOMLDecodeError:
            return Unknown("fromTOML of text that is not TOML")

    def _builtin_fromJSON(self, text):
        import json

        value = self.force(text)
        if not isinstance(value, str):
            return Unknown("fromJSON of text the engine cannot see")
        try:
            return from_data(json.loads(value))
        except ValueError:
            return Unknown("fromJSON of text that is not JSON")

    def _builtin_mkDefault(self, value):
        return self.force(value)

    _builtin_mkForce = _builtin_mkDefault

    def _builtin_recursiveUpdate(self, left, right):
        a, b = self.force(left), self.force(right)
        if isinstance(a, AttrsValue) and isinstance(b, AttrsValue):
            return self._merge_deep(a, b)
        return self.update(a, b)

    def _builtin_foldl_prime(self, fn, start, items):
        value = self._list(items)
        if value is None:
            return Unknown("foldl' over a list the engine cannot see")
        f = self.force(fn)
        acc = start
        for item in value.items:
            acc = Thunk.const(self.call(f, acc, item))
        return self.force(acc)

    def _builtin_mergeAttrsList(self, items):
        value = self._list(items)
        if value is None:
            return Unknown("mergeAttrsList")
        result: Value = AttrsValue({})
        for item in value.items:
            result = self.update(result, self.force(item))
        return result

    def _builtin_concatMap(self, fn, items):
        mapped = self._builtin_map(fn, items)
        if not isinstance(mapped, ListValue):
            return mapped
        out: list[Thunk] = []
        for item in mapped.items:
            inner = self._list(item)
            if inner is None:
                return Unknown("concatMap")
            out.extend(inner.items)
        return ListValue(out, mapped.nodes)

    def _builtin_withSystem(self, system, fn):
        return self.call(self.force(fn), External(("perSystem",), True))

    def _builtin_mkFlake(self, args, module):
        """flake-parts: the ``flake`` attributes of the module and every module it imports, merged."""
        return self.flake_parts_outputs(module)

    # -- flake-parts and snowfall-lib

    def outputs_of(self, outputs: Node, file: "SourceFile") -> Value:
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

    def flake_module_body(self, value: Value) -> Value:
        """A flake-parts module's attribute set, its function applied to ``inputs`` and ``self`` (the rest left open)."""
        if isinstance(value, Lambda) and self.inputs is not None:
            inputs = self.inputs
            args = AttrsValue({"inputs": Thunk.const(inputs), "self": Thunk.lazy(lambda: self.select(inputs, "self"))}, open=True)
            value = self.apply(value, Thunk.const(args))
        return self.module_body(value)

    def flake_parts_outputs(self, module: Thunk) -> Value:
        merged = AttrsValue({}, open=True)
        queue: list[Value] = [self.force(module)]
        seen: set[str] = set()
        while queue:
            value = queue.pop(0)
            if isinstance(value, PathValue):
                rel = self.nix_file(value.rel)
                if rel is None or rel in seen:
                    continue
                seen.add(rel)
                value = self.import_path(value)
            body = self.flake_module_body(value)
            if not isinstance(body, AttrsValue):
                continue
            flake_attrs = body.attrs.get("flake")
            if flake_attrs is not None:
                flake_value = self.force(flake_attrs)
                if isinstance(flake_value, AttrsValue):
                    merged = self._merge_deep(merged, flake_value)
            imports = body.attrs.get("imports")
            if imports is not None:
                items = self._list(imports)
                if items is not None:
                    queue.extend(self.force(i) for i in items.items)
        merged.origin = "flake-parts"  # type: ignore[attr-defined]
        return merged

    def _snowfall_root(self, arg: Thunk) -> str:
        value = self._attrs(arg)
        if value is None:
            return "."
        snowfall = value.attrs.get("snowfall")
        if snowfall is not None:
            config = self._attrs(snowfall)
            if config is not None and "root" in config.attrs:
                root = self.force(config.attrs["root"])
                if isinstance(root, PathValue):
                    return root.rel
        src = value.attrs.get("src")
        if src is not None:
            root = self.force(src)
            if isinstance(root, PathValue):
                return root.rel
        return "."

    def snowfall(self, arg: Thunk) -> SnowfallFlake:
        return SnowfallFlake(self._snowfall_root(arg), arg)


def _is_rec(attrset: Node) -> bool:
    for child in attrset.children:
        if child.kind == "TOKEN_REC":
            return True
        if child.kind == "TOKEN_L_BRACE":
            return False
    return False


# Library and builtin functions the evaluator implements, by name, with their arity.
BUILTINS = {
    "import": 1, "readDir": 1, "mapAttrs": 2, "mapAttrs'": 2, "genAttrs": 2, "listToAttrs": 1,
    "nameValuePair": 2, "filterAttrs": 2, "filter": 2, "map": 2, "attrNames": 1, "attrValues": 1,
    "removeSuffix": 2, "removePrefix": 2, "hasSuffix": 2, "hasPrefix": 2, "elem": 2, "pathExists": 1,
    "toString": 1, "baseNameOf": 1, "mkDefault": 1, "mkForce": 1, "recursiveUpdate": 2, "foldl'": 3,
    "mergeAttrsList": 1, "concatMap": 2, "withSystem": 2, "readFile": 1, "fromTOML": 1, "fromJSON": 1,
}


def from_data(data) -> Value:
    """A TOML or JSON document as evaluator values."""
    if isinstance(data, dict):
        return AttrsValue({k: Thunk.const(from_data(v)) for k, v in data.items()})
    if isinstance(data, list):
        return ListValue([Thunk.const(from_data(v)) for v in data])
    if isinstance(data, (str, bool, int, float)) or data is None:
        return data
    return str(data)


def snowfall_hosts(root_dir: Path) -> list[tuple[str, str, str]]:
    """(host, arch, file relative to the snowfall root) for ``systems/<arch>/<host>/default.nix``.

    Only ``*-linux`` folders hold NixOS systems (``*-darwin`` are nix-darwin, ``*-iso`` and the like are images).
    """
    found = []
    systems = root_dir / "systems"
    if not systems.is_dir():
        return found
    for arch in sorted(p for p in systems.iterdir() if p.is_dir() and p.name.endswith("-linux")):
        for host in sorted(p for p in arch.iterdir() if p.is_dir()):
            if (host / "default.nix").is_file():
                found.append((host.name, arch.name, f"systems/{arch.name}/{host.name}/default.nix"))
    return found
