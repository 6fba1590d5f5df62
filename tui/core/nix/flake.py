"""Reading a flake repository: its inputs, its machines and how each is built, and what llama-cpp set-up exists."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tui.core.errors import RepositoryError
from tui.core.nix.syntax import (
    Node,
    bindings,
    inherited_names,
    line_column,
    parse,
    string_value,
    unwrap,
)

LLAMA_URL = re.compile(r"(github:|https://github\.com/|git\+https://github\.com/)(ggml-org|ggerganov)/llama\.cpp", re.I)
NIXPKGS_URL = re.compile(r"nixpkgs", re.I)


class SourceFile:
    """One parsed Nix file of the repository, relative to the flake root."""

    def __init__(self, root: Path, rel: str) -> None:
        self.rel = rel
        self.path = root / rel
        try:
            self.source = self.path.read_bytes()
        except OSError as exc:
            raise RepositoryError(f"{rel}: cannot read: {exc.strerror or exc}") from None
        self.tree = parse(self.source, rel)

    def line(self, node: Node) -> int:
        return line_column(self.source, node.start)[0]


@dataclass
class FlakeInput:
    name: str
    url: str | None
    follows: dict[str, str]
    style: str  # "block" (name = { ... }), "dotted" (name.url = ...) or "top-level" (inputs.name.url = ...)
    nodes: list[Node] = field(default_factory=list, repr=False)

    @property
    def is_llama_cpp(self) -> bool:
        return bool(self.url and LLAMA_URL.search(self.url))

    @property
    def is_nixpkgs(self) -> bool:
        return bool(self.url and NIXPKGS_URL.search(self.url.split("?")[0].split("/")[1] if "/" in self.url else self.url))


@dataclass
class Attach:
    """Where one line attaching a machine's settings goes.

    ``modules-list``: the host's own ``modules = [ ... ]`` list; ``imports-list``: the ``imports`` list of
    the host's own module file; ``imports-new``: that file has none, so ``imports = [ ... ];`` is added
    as the first binding of its attribute set (``node``).
    """

    kind: str  # "modules-list" | "imports-list" | "imports-new"
    file: str
    node: Node = field(repr=False)


@dataclass
class Access:
    """How ``inputs`` is made to reach a host's modules when it does not yet.

    ``specialArgs-add``: add ``inputs`` to the literal ``specialArgs`` set ``node``; ``specialArgs-new``:
    add a ``specialArgs`` binding to the ``nixosSystem`` argument set ``node``. ``expression`` is what
    names the flake's inputs at that place; ``pattern`` is the outputs pattern that needs ``@inputs``
    first, when the inputs have no name there yet.
    """

    kind: str
    file: str
    node: Node = field(repr=False)
    expression: str = "inputs"
    pattern: Node | None = field(default=None, repr=False)

    @property
    def snippet(self) -> str:
        entry = "inherit inputs;" if self.expression == "inputs" else f"inputs = {self.expression};"
        return entry if self.kind == "specialArgs-add" else f"specialArgs = {{ {entry} }};"


@dataclass
class Host:
    name: str
    builder: str
    file: str
    line: int
    system: str | None = None
    module_files: list[str] = field(default_factory=list)
    modules_literal: list[str] = field(default_factory=list)
    inputs_in_modules: bool | None = None
    attach: Attach | None = field(default=None, repr=False)
    refusal: str | None = None
    hardware_modules: list[str] = field(default_factory=list)
    layout: str = "nixosSystem"  # "nixosSystem" (a literal call), "helper", "generated", "snowfall"
    own_file: str | None = None  # the module file that belongs to this host alone, if any
    shared_module_files: list[str] = field(default_factory=list)  # module files every host uses
    access: Access | None = field(default=None, repr=False)
    snippet: str | None = None  # what to add by hand, when refused
    snippet_file: str | None = None

    @property
    def can_wire(self) -> bool:
        return self.refusal is None and self.attach is not None


@dataclass
class Flake:
    """What the engine knows about a flake repository."""

    root: Path
    file: SourceFile
    body: Node = field(repr=False)
    inputs: list[FlakeInput]
    inputs_style: str  # "block", "top-level" or "none"
    inputs_block: Node | None = field(repr=False)
    outputs: Node | None = field(repr=False)
    hosts: list[Host]
    files: dict[str, SourceFile] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)  # what the host finder could not follow
    _by_source: dict[int, SourceFile] = field(default_factory=dict, repr=False)

    def input(self, name: str) -> FlakeInput | None:
        return next((i for i in self.inputs if i.name == name), None)

    def llama_input(self) -> FlakeInput | None:
        """The llama.cpp input: by upstream's URL, else the input llamaflake names ``llama-cpp`` (a fork, a checkout)."""
        return next((i for i in self.inputs if i.is_llama_cpp), None) or self.input("llama-cpp")

    def nixpkgs_inputs(self) -> list[str]:
        return [i.name for i in self.inputs if i.is_nixpkgs]

    def host(self, name: str) -> Host | None:
        by_name = self.__dict__.get("_hosts_by_name")
        if by_name is None or len(by_name) != len(self.hosts):
            by_name = self.__dict__["_hosts_by_name"] = {h.name: h for h in reversed(self.hosts)}
        return by_name.get(name)

    def source_file(self, rel: str) -> SourceFile:
        """The parsed file (parsed once, then cached)."""
        file = self.files.get(rel)
        if file is None:
            file = self.files[rel] = SourceFile(self.root, rel)
            self._by_source[id(file.source)] = file
        return file

    def file_of(self, node: Node) -> SourceFile | None:
        """The parsed file a node belongs to."""
        found = self._by_source.get(id(node.source))
        if found is None and len(self._by_source) != len(self.files):
            self._by_source = {id(f.source): f for f in self.files.values()}
            found = self._by_source.get(id(node.source))
        return found


def find_flake(start: Path) -> Path:
    """The directory holding ``flake.nix``: ``start`` itself, or the nearest one above it."""
    start = start.resolve()
    if start.is_file():
        if start.name == "flake.nix":
            return start.parent
        raise RepositoryError(f"{start}: not a flake.nix")
    if not start.exists():
        raise RepositoryError(f"{start}: no such directory")
    for candidate in [start, *start.parents]:
        if (candidate / "flake.nix").is_file():
            return candidate
    raise RepositoryError(
        f"no flake.nix in {start} or any folder above it",
        hint="run llamaflake inside your NixOS configuration repository, or pass its path",
    )


def load_flake(path: Path) -> Flake:
    """Read and understand the flake at ``path`` (a folder, or a flake.nix)."""
    root = find_flake(Path(path))
    flake_file = SourceFile(root, "flake.nix")
    body = _flake_attrset(flake_file)
    inputs, style, block = _read_inputs(body)
    outputs = next((b.value for b in bindings(body) if b.path == ["outputs"]), None)
    flake = Flake(root, flake_file, body, inputs, style, block, outputs, [], {"flake.nix": flake_file})
    from tui.core.nix.hosts import find_hosts  # the host finder builds on this module

    flake.hosts = find_hosts(flake)
    return flake


def _flake_attrset(file: SourceFile) -> Node:
    node = unwrap(file.tree)
    while node is not None and node.kind == "NODE_LET_IN":
        node = unwrap(node.nodes()[-1])
    if node is None or node.kind != "NODE_ATTR_SET":
        raise RepositoryError("flake.nix: the file is not an attribute set { inputs = ...; outputs = ...; }")
    return node


def _read_inputs(body: Node) -> tuple[list[FlakeInput], str, Node | None]:
    found: dict[str, FlakeInput] = {}
    style = "none"
    block: Node | None = None

    def entry(name: str, entry_style: str) -> FlakeInput:
        if name not in found:
            found[name] = FlakeInput(name, None, {}, entry_style)
        return found[name]

    def take(name: str, rest: list[str], value: Node | None, node: Node, entry_style: str) -> None:
        item = entry(name, entry_style)
        item.nodes.append(node)
        if not rest:
            value = unwrap(value)
            url = string_value(value)
            if url is not None:  # `name = "github:...";` is not valid, but be lenient
                item.url = url
            elif value is not None and value.kind == "NODE_ATTR_SET":
                item.style = "block" if entry_style != "top-level" else entry_style
                for b in bindings(value):
                    if b.path:
                        take_fields(item, b.path, b.value)
            return
        take_fields(item, rest, value)

    def take_fields(item: FlakeInput, path: list[str], value: Node | None) -> None:
        if path == ["url"]:
            item.url = string_value(value)
        elif len(path) == 3 and path[0] == "inputs" and path[2] == "follows":
            item.follows[path[1]] = string_value(value) or ""
        elif len(path) == 2 and path[0] == "inputs":
            inner = unwrap(value)
            if inner is not None and inner.kind == "NODE_ATTR_SET":
                for b in bindings(inner):
                    if b.path == ["follows"]:
                        item.follows[path[1]] = string_value(b.value) or ""
        elif path == ["inputs"]:
            inner = unwrap(value)
            if inner is not None and inner.kind == "NODE_ATTR_SET":
                for b in bindings(inner):
                    if b.path and len(b.path) >= 1:
                        take_fields(item, ["inputs", *b.path], b.value)

    for b in bindings(body):
        if not b.path or b.path[0] != "inputs":
            continue
        if len(b.path) == 1:
            value = unwrap(b.value)
            if value is None or value.kind != "NODE_ATTR_SET":
                continue
            style = "block"
            block = value
            for inner in bindings(value):
                if inner.path:
                    take(inner.path[0], inner.path[1:], inner.value, inner.node, "dotted" if len(inner.path) > 1 else "block")
            for name, node in inherited_names(value):
                item = entry(name, "inherit")
                item.nodes.append(node)
                if node.first("NODE_INHERIT_FROM") is None:
                    _inherited_input(item, name, node)
        else:
            if style == "none":
                style = "top-level"
            take(b.path[1], b.path[2:], b.value, b.node, "top-level")
    return list(found.values()), style, block


def _inherited_input(item: FlakeInput, name: str, inherit: Node) -> None:
    """``inputs = { inherit nixpkgs; }`` with ``nixpkgs = { url = ...; }`` in a ``let`` around the flake."""
    for scope in inherit.ancestors():
        if scope.kind != "NODE_LET_IN":
            continue
        for b in bindings(scope):
            if b.path == [name]:
                value = unwrap(b.value)
                if value is not None and value.kind == "NODE_ATTR_SET":
                    for field_binding in bindings(value):
                        if field_binding.path == ["url"]:
                            item.url = string_value(field_binding.value)
                        elif field_binding.path == ["inputs", "nixpkgs", "follows"]:
                            item.follows["nixpkgs"] = string_value(field_binding.value) or ""
                return


def outputs_pattern(flake: Flake) -> Node | None:
    """The ``{ self, nixpkgs, ... }`` pattern of ``outputs``, if it has one."""
    value = unwrap(flake.outputs)
    if value is None or value.kind != "NODE_LAMBDA":
        return None
    param = value.nodes()[0]
    return param if param.kind == "NODE_PATTERN" else None


def outputs_arg_names(flake: Flake) -> tuple[set[str], str | None, bool]:
    """Names bound by ``outputs``' argument: (pattern names, the ``@name`` or plain name, has ``...``)."""
    value = unwrap(flake.outputs)
    if value is None or value.kind != "NODE_LAMBDA":
        return set(), None, True
    param = value.nodes()[0]
    if param.kind in ("NODE_IDENT", "NODE_IDENT_PARAM"):
        return set(), param.text, True
    names: set[str] = set()
    whole = None
    for c in param.nodes():
        if c.kind == "NODE_PAT_ENTRY":
            ident = c.nodes()[0]
            names.add(ident.text)
        elif c.kind == "NODE_PAT_BIND":
            ident = next((n for n in c.nodes() if n.kind == "NODE_IDENT"), None)
            whole = ident.text if ident else None
    has_ellipsis = any(t.kind == "TOKEN_ELLIPSIS" for t in param.children)
    return names, whole, has_ellipsis


def relative_path(base_file: str, path_literal: str) -> str | None:
    """Resolve a Nix path literal written in ``base_file`` to a path relative to the flake root."""
    if not path_literal.startswith(("./", "../")):
        return None
    slash = base_file.rfind("/")
    joined = (base_file[:slash] + "/" + path_literal) if slash >= 0 else path_literal
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) if parts else "."


def nix_path_literal(from_file: str, target: str) -> str:
    """A path literal that reaches ``target`` (relative to the root) from ``from_file``."""
    base = [p for p in from_file.split("/")[:-1] if p not in ("", ".")]
    parts = [p for p in target.split("/") if p not in ("", ".")]
    common = 0
    while common < len(base) and common < len(parts) and base[common] == parts[common]:
        common += 1
    up = [".."] * (len(base) - common)
    rel = "/".join(up + parts[common:]) or "."
    return rel if up else "./" + rel


__all__ = [
    "Access",
    "Attach",
    "Flake",
    "FlakeInput",
    "Host",
    "SourceFile",
    "find_flake",
    "load_flake",
    "outputs_arg_names",
    "outputs_pattern",
    "relative_path",
    "nix_path_literal",
]
