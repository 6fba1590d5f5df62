"""Reading a flake repository: its inputs, its machines and how each is built, and what llama-cpp set-up exists."""

from __future__ import annotations

from pathlib import Path

from tui.core.errors import RepositoryError
from tui.core.nix.hosts import find_hosts
from tui.core.nix.model import (  # noqa: F401  (the names other modules know from here)
    LLAMA_URL,
    NIXPKGS_URL,
    Access,
    Attach,
    Flake,
    FlakeInput,
    Host,
    InputsStyle,
    SourceFile,
    outputs_arg_names,
    outputs_pattern,
)
from tui.core.nix.paths import relative_path
from tui.core.nix.syntax import Node, bindings, inherited_names, string_value, unwrap


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


def read_flake(path: Path) -> Flake:
    """Read the flake at ``path`` (a folder, or a flake.nix): its files and inputs, without its machines."""
    root = find_flake(Path(path))
    flake_file = SourceFile(root, "flake.nix")
    body = _flake_attrset(flake_file)
    inputs, style, block = _read_inputs(body)
    outputs = next((b.value for b in bindings(body) if b.path == ["outputs"]), None)
    return Flake(root, flake_file, body, inputs, style, block, outputs, [], {"flake.nix": flake_file})


def load_flake(path: Path) -> Flake:
    """Read and understand the flake at ``path``: :func:`read_flake`, then every machine in it."""
    flake = read_flake(path)
    flake.hosts = find_hosts(flake)
    return flake


def _flake_attrset(file: SourceFile) -> Node:
    node = unwrap(file.tree)
    while node is not None and node.kind == "NODE_LET_IN":
        node = unwrap(node.nodes()[-1])
    if node is None or node.kind != "NODE_ATTR_SET":
        raise RepositoryError("flake.nix: the file is not an attribute set { inputs = ...; outputs = ...; }")
    return node


def _read_inputs(body: Node) -> tuple[list[FlakeInput], InputsStyle, Node | None]:
    found: dict[str, FlakeInput] = {}
    style: InputsStyle = "none"
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
                    take(
                        inner.path[0],
                        inner.path[1:],
                        inner.value,
                        inner.node,
                        "dotted" if len(inner.path) > 1 else "block",
                    )
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
    "read_flake",
    "relative_path",
]
