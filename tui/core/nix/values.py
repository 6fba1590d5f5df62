"""The values of the static evaluator: what a Nix expression is known to be, or why it is not known."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, TypeAlias

from tui.core.nix.syntax import Node

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator
    from tui.core.nix.model import SourceFile


# An environment: each applied function's argument by id() of its lambda node, and ("file", id) its file.
Env: TypeAlias = "dict[int | tuple[str, int], Thunk | SourceFile]"


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

    outputs: Thunk | None = None


@dataclass(eq=False)
class PathValue:
    rel: str  # relative to the flake root, posix
    node: Node | None = None
    interpolated: bool = False


class PathString(str):
    """Text made from a path in the repository (``"${./hosts}/${name}"``, ``toString ./hosts``): a string
    like any other, that ``import``, ``readDir`` and ``pathExists`` still take as that path, as Nix does.
    Its text is the path relative to the flake root."""

    @property
    def path(self) -> PathValue:
        return PathValue(str(self), None, True)


def as_path(value: Value) -> Value:
    """A :class:`PathString` as the path it names; anything else as it is."""
    return value.path if isinstance(value, PathString) else value


@dataclass(eq=False)
class ListValue:
    items: list[Thunk]
    nodes: list[Node | None] = field(default_factory=list)  # the list literals it is made of; None: a part not seen


@dataclass(eq=False)
class AttrsValue:
    attrs: dict[str, Thunk]
    open: bool = False  # may hold names the engine cannot see
    node: Node | None = None
    where: dict[str, Node] = field(default_factory=dict)  # binding node of each name
    file: SourceFile | None = None
    base: External | None = None  # `lib // { ... }`: a name not here is this external's
    origin: str | None = None  # the framework that made it ("flake-parts" for mkFlake's outputs)


@dataclass(eq=False)
class Lambda:
    node: Node
    file: SourceFile
    env: Env

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
    args: tuple[Thunk, ...] = ()
    path: tuple[str, ...] = ()
    impl: Callable | None = None  # its own implementation (a recogniser's); else the registry's, by name


@dataclass(eq=False)
class SystemCall:
    """A call of ``nixosSystem``: the function as written, and its argument."""

    fn: tuple[str, ...]
    arg: Thunk


class Opaque:
    """A value a framework recogniser makes (snowfall-lib's flake, ...): selecting from it or calling it
    is the recogniser's business."""

    def select(self, name: str) -> Value:
        return Unknown(f"`{name}` of {type(self).__name__}")

    def call(self, evaluator: Evaluator, arg: Thunk) -> Value:
        return Unknown(f"calling {type(self).__name__}")


# What an expression is known to be. Nix's own values are themselves (a string, a number, a bool, null)
# or one of the classes above; a path made into text is a PathString, the inputs' set a FlakeInputs.
Value: TypeAlias = (
    Unknown
    | External
    | PathValue
    | ListValue
    | AttrsValue
    | Lambda
    | Builtin
    | SystemCall
    | Opaque
    | str
    | bool
    | int
    | float
    | None
)


class _Unset(Enum):
    """A thunk not yet evaluated (None is a value: Nix's null)."""

    UNSET = 0


_UNSET = _Unset.UNSET


class Thunk:
    """An expression with its file and environment, evaluated at most once."""

    __slots__ = ("_compute", "_value", "env", "file", "node")

    def __init__(
        self,
        node: Node | None,
        file: SourceFile | None,
        env: Env | None,
        value: Value | None = None,
        compute: Callable[[], Value] | None = None,
    ) -> None:
        self.node = node
        self.file = file
        self.env = env if env is not None else {}  # the same dict: binding caches compare it by identity
        self._value: Value | _Unset = _UNSET if (value is None and compute is not None) or node is not None else value
        self._compute = compute

    @classmethod
    def const(cls, value: Value) -> Thunk:
        return cls(None, None, None, value=value)

    @classmethod
    def lazy(cls, compute: Callable[[], Value]) -> Thunk:
        return cls(None, None, None, compute=compute)


def is_true(value: Value) -> bool | None:
    return value if isinstance(value, bool) else None


def from_data(data) -> Value:
    """A TOML or JSON document as evaluator values."""
    if isinstance(data, dict):
        return AttrsValue({k: Thunk.const(from_data(v)) for k, v in data.items()})
    if isinstance(data, list):
        return ListValue([Thunk.const(from_data(v)) for v in data])
    if isinstance(data, (str, bool, int, float)) or data is None:
        return data
    return str(data)
