"""What the engine knows about a flake repository: its files, inputs, machines and where each machine's settings attach."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tui.core.errors import RepositoryError
from tui.core.nix.syntax import Node, line_column, parse, unwrap

LLAMA_URL = re.compile(r"(github:|https://github\.com/|git\+https://github\.com/)(ggml-org|ggerganov)/llama\.cpp", re.I)
NIXPKGS_URL = re.compile(r"nixpkgs", re.I)

AttachKind = Literal["modules-list", "imports-list", "imports-new", "keyed-entry"]
AccessKind = Literal["specialArgs-add", "specialArgs-new"]
# How a host is built: a literal nixosSystem call, a helper function, generated over a folder or list,
# a snowfall-lib system, found by asking nix, or not known.
Layout = Literal["nixosSystem", "helper", "generated", "snowfall", "nix", "unknown"]
InputsStyle = Literal["block", "top-level", "none"]


class SourceFile:
    """One parsed Nix file of the repository, relative to the flake root."""

    def __init__(self, root: Path, rel: str) -> None:
        self.rel = rel
        self.path = root / rel
        if self.path.exists() and not self.path.is_file():
            raise RepositoryError(f"{rel}: not a regular file (a folder, a FIFO or a device), so it is not read")
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
        # An input named nixpkgs is nixpkgs wherever it comes from (a path: or git+file: checkout).
        if self.name == "nixpkgs":
            return True
        return bool(
            self.url and NIXPKGS_URL.search(self.url.split("?")[0].split("/")[1] if "/" in self.url else self.url)
        )


@dataclass
class Attach:
    """Where one line attaching a machine's settings goes.

    ``modules-list``: the host's own ``modules = [ ... ]`` list; ``imports-list``: the ``imports`` list of
    the host's own module file; ``imports-new``: that file has none, so ``imports = [ ... ];`` is added
    as the first binding of its attribute set (``node``); ``keyed-entry``: a ``modules`` list written once
    for several hosts, inside a function whose argument ``key`` is each host's name, gets one entry that
    loads ``machines/${key}.nix`` where it exists: each of those hosts its own file, none another's.
    """

    kind: AttachKind
    file: str
    node: Node = field(repr=False)
    key: str | None = None  # keyed-entry: the name that holds the host's name where the list is written


@dataclass
class Access:
    """How ``inputs`` is made to reach a host's modules when it does not yet.

    ``specialArgs-add``: add ``inputs`` to the literal ``specialArgs`` set ``node``; ``specialArgs-new``:
    add a ``specialArgs`` binding to the ``nixosSystem`` argument set ``node``. ``expression`` is what
    names the flake's inputs at that place; ``pattern`` is the outputs pattern that needs ``@inputs``
    first, when the inputs have no name there yet.
    """

    kind: AccessKind
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
    layout: Layout = "nixosSystem"
    own_file: str | None = None  # the module file that belongs to this host alone, if any
    shared_module_files: list[str] = field(default_factory=list)  # module files every host uses
    imported_files: list[str] = field(default_factory=list)  # module_files and every file their imports reach
    access: Access | None = field(default=None, repr=False)
    snippet: str | None = None  # what to add by hand, when refused
    snippet_file: str | None = None
    nixpkgs: str | None = None  # the nixpkgs it is built from, as a `follows` path ("nixpkgs", "other/nixpkgs")
    modules_known: bool = True  # False: some of its modules are not followed, so which files it reads is not known

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
    inputs_style: InputsStyle
    inputs_block: Node | None = field(repr=False)
    outputs: Node | None = field(repr=False)
    hosts: list[Host]
    files: dict[str, SourceFile] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)  # what the host finder could not follow
    auto_imported: list[str] = field(default_factory=list)  # folders a framework loads into every machine
    _by_source: dict[int, SourceFile] = field(default_factory=dict, repr=False)
    _hosts_by_name: dict[str, Host] = field(default_factory=dict, repr=False)
    # Facts read once per file by the plan and the host finder: path literals, nixpkgs.hostPlatform.
    path_refs: dict[str, set[str]] = field(default_factory=dict, repr=False)
    platforms: dict[str, str | None] = field(default_factory=dict, repr=False)

    def input(self, name: str) -> FlakeInput | None:
        return next((i for i in self.inputs if i.name == name), None)

    def llama_input(self) -> FlakeInput | None:
        """The llama.cpp input: by upstream's URL, else the input llamaflake names ``llama-cpp`` (a fork, a checkout)."""
        return next((i for i in self.inputs if i.is_llama_cpp), None) or self.input("llama-cpp")

    def nixpkgs_inputs(self) -> list[str]:
        return [i.name for i in self.inputs if i.is_nixpkgs]

    def host(self, name: str) -> Host | None:
        if len(self._hosts_by_name) != len(self.hosts):
            self._hosts_by_name = {h.name: h for h in reversed(self.hosts)}
        return self._hosts_by_name.get(name)

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
    whole: str | None = None
    for c in param.nodes():
        if c.kind == "NODE_PAT_ENTRY":
            ident = c.nodes()[0]
            names.add(ident.text)
        elif c.kind == "NODE_PAT_BIND":
            bound = next((n for n in c.nodes() if n.kind == "NODE_IDENT"), None)
            whole = bound.text if bound else None
    has_ellipsis = any(t.kind == "TOKEN_ELLIPSIS" for t in param.children)
    return names, whole, has_ellipsis
