"""Edits to ``flake.nix``'s inputs: add the llama.cpp input in the file's own style, pin it, make it follow nixpkgs."""

from __future__ import annotations

from tui.core.nix.edits import Edit, indent_unit, line_end_after
from tui.core.nix.flake import Flake, FlakeInput, outputs_arg_names, outputs_pattern
from tui.core.nix.syntax import (
    Node,
    attrpath_names,
    bindings,
    indent_of,
    is_identifier,
    nix_attr_name,
    nix_attr_path,
    nix_string,
    starts_line,
    unwrap,
)

Reasoned = tuple[str, Edit, str]


def input_edits(
    flake: Flake, name: str, url: str, follows: str | None, ref: str | None, url_given: bool = False
) -> list[Reasoned]:
    """The edits that make ``flake.nix`` have the llama.cpp input as asked (none if it already has).

    An existing input's URL changes only where a ref or a URL (``url_given``) was asked for.
    """
    existing = flake.input(name)
    edits: list[Reasoned] = []
    if existing is None:
        edits.append(("flake.nix", add_input(flake, name, url, follows), f"add the `{name}` flake input"))
    else:
        if ref is not None or url_given:
            edit = set_url(flake, existing, url)
            if edit is not None:
                reason = f"pin the `{name}` input" if ref else f"unpin the `{name}` input"
                if url_given:
                    reason = f"take the `{name}` input from {url}"
                edits.append(("flake.nix", edit, reason))
        if follows and existing.follows.get("nixpkgs") != follows:
            edit = set_follows(flake, existing, follows)
            if edit is not None:
                edits.append(("flake.nix", edit, f"make `{name}` follow `{follows}`"))
    pattern_edit = add_to_outputs_pattern(flake, name)
    if pattern_edit is not None:
        edits.append(("flake.nix", pattern_edit, f"take `{name}` in outputs' arguments"))
    return edits


def _after_binding(source: bytes, node: Node) -> int:
    """Where text goes after a binding: after a trailing comment on its line, if any."""
    end = line_end_after(source, node.end)
    return end if end is not None else node.end


def _blank_line_before(source: bytes, node: Node) -> bool:
    line_start = source.rfind(b"\n", 0, node.start)
    prev_end = source.rfind(b"\n", 0, line_start) if line_start > 0 else -1
    return line_start > 0 and source[prev_end + 1 : line_start].strip() == b""


def add_input(flake: Flake, name: str, url: str, follows: str | None) -> Edit:
    source = flake.file.source
    unit = indent_unit(source)
    name = nix_attr_name(name)  # from here on, the name as Nix code
    url_text = f'"{nix_string(url)}"'
    follows_text = f'"{nix_string(follows)}"' if follows else None
    if flake.inputs_style == "block" and flake.inputs_block is not None:
        block = flake.inputs_block
        entries = [c for c in block.nodes() if c.kind in ("NODE_ATTRPATH_VALUE", "NODE_INHERIT")]
        multiline = b"\n" in block.raw
        dotted = _prefers_dotted(block)
        if not entries:
            close = block.children[-1]
            indent = indent_of(source, block.start) + unit
            body = _input_lines(name, url_text, follows_text, dotted, indent, unit)
            return Edit(block.start + 1, close.start, b"\n" + body + b"\n" + indent_of(source, close.start))
        last = entries[-1]
        if not multiline or not starts_line(source, last.start):
            parts = [f"{name}.url = {url_text};"]
            if follows_text:
                parts.append(f"{name}.inputs.nixpkgs.follows = {follows_text};")
            return Edit(last.end, last.end, (" " + " ".join(parts)).encode())
        indent = indent_of(source, last.start)
        body = _input_lines(name, url_text, follows_text, dotted, indent, unit)
        gap = b"\n\n" if _blank_line_before(source, last) and not dotted else b"\n"
        at = _after_binding(source, last)
        return Edit(at, at, gap + body)
    body_node = flake.body
    if flake.inputs_style == "top-level":
        last = [b.node for b in bindings(body_node) if b.path and b.path[0] == "inputs"][-1]
        indent = indent_of(source, last.start)
        lines = [f"inputs.{name}.url = {url_text};"]
        if follows_text:
            lines.append(f"inputs.{name}.inputs.nixpkgs.follows = {follows_text};")
        at = _after_binding(source, last)
        return Edit(at, at, b"".join(b"\n" + indent + line.encode() for line in lines))
    # No inputs at all: put a block before `outputs`, or first in the flake.
    outputs = next((b.node for b in bindings(body_node) if b.path == ["outputs"]), None)
    anchor = outputs or (body_node.nodes()[0] if body_node.nodes() else None)
    if anchor is None or not starts_line(source, anchor.start):
        at = body_node.start + 1
        text = f" inputs.{name}.url = {url_text};"
        if follows_text:
            text += f" inputs.{name}.inputs.nixpkgs.follows = {follows_text};"
        return Edit(at, at, text.encode())
    indent = indent_of(source, anchor.start)
    new_block = (
        b"inputs = {\n"
        + _input_lines(name, url_text, follows_text, False, indent + unit, unit)
        + b"\n"
        + indent
        + b"};\n\n"
        + indent
    )
    return Edit(anchor.start, anchor.start, new_block)


def _prefers_dotted(block: Node) -> bool:
    """Whether the inputs block writes entries as ``x.url = ...;`` rather than ``x = { ... };``."""
    dotted = nested = 0
    for b in bindings(block):
        if not b.path:
            continue
        if len(b.path) > 1:
            dotted += 1
        else:
            nested += 1
    return dotted > nested


def _input_lines(name: str, url_text: str, follows_text: str | None, dotted: bool, indent: bytes, unit: bytes) -> bytes:
    if dotted:
        lines = [f"{name}.url = {url_text};"]
        if follows_text:
            lines.append(f"{name}.inputs.nixpkgs.follows = {follows_text};")
        return b"\n".join(indent + line.encode() for line in lines)
    rows = [indent + f"{name} = {{".encode(), indent + unit + f"url = {url_text};".encode()]
    if follows_text:
        rows.append(indent + unit + f"inputs.nixpkgs.follows = {follows_text};".encode())
    rows.append(indent + b"};")
    return b"\n".join(rows)


def _field_bindings(existing: FlakeInput) -> list[tuple[list[str], Node, Node | None, Node]]:
    """(path relative to the input, binding node, value, container) for each field of an input."""
    fields: list[tuple[list[str], Node, Node | None, Node]] = []
    for node in existing.nodes:
        if node.kind != "NODE_ATTRPATH_VALUE":
            continue
        parts = node.nodes()
        path = attrpath_names(parts[0]) or []
        # Strip "inputs.<name>" or "<name>" from the front.
        rel = path[2:] if path[:1] == ["inputs"] and len(path) > 1 and path[1] == existing.name else path[1:]
        value = parts[1] if len(parts) > 1 else None
        if rel and node.parent is not None:  # a binding always has its set or let around it
            fields.append((rel, node, value, node.parent))
        else:
            inner = unwrap(value)
            if inner is not None and inner.kind == "NODE_ATTR_SET":
                for b in bindings(inner):
                    if b.path:
                        fields.append((b.path, b.node, b.value, inner))
    return fields


def set_url(flake: Flake, existing: FlakeInput, url: str) -> Edit | None:
    if existing.url == url:
        return None
    for path, _node, value, _container in _field_bindings(existing):
        string = unwrap(value)
        if path == ["url"] and string is not None and string.kind == "NODE_STRING":
            return Edit(string.start, string.end, f'"{nix_string(url)}"'.encode())
    return None


def set_follows(flake: Flake, existing: FlakeInput, follows: str) -> Edit | None:
    source = flake.file.source
    fields = _field_bindings(existing)
    for path, _node, value, _container in fields:
        string = unwrap(value)
        if path == ["inputs", "nixpkgs", "follows"] and string is not None and string.kind == "NODE_STRING":
            return Edit(string.start, string.end, f'"{nix_string(follows)}"'.encode())
    url_field = next((f for f in fields if f[0] == ["url"]), None)
    if url_field is None:
        return None
    _path, node, _value, container = url_field
    binding_path = attrpath_names(node.nodes()[0]) or []
    prefix = binding_path[: len(binding_path) - 1]
    new_path = nix_attr_path(prefix + ["inputs", "nixpkgs", "follows"])
    text = f'{new_path} = "{nix_string(follows)}";'.encode()
    at = _after_binding(source, node)
    if starts_line(source, node.start) and b"\n" in container.raw:
        return Edit(at, at, b"\n" + indent_of(source, node.start) + text)
    return Edit(node.end, node.end, b" " + text)


def add_to_outputs_pattern(flake: Flake, name: str) -> Edit | None:
    """``outputs = { self, nixpkgs }:`` has no ``...``: a new input must be named there too."""
    pattern = outputs_pattern(flake)
    names, _whole, has_ellipsis = outputs_arg_names(flake)
    if pattern is None or has_ellipsis or name in names:
        return None
    if not is_identifier(name):
        return None  # a pattern can only name identifiers; such an input needs `...` (the flake has it, or fails)
    source = flake.file.source
    entries = [c for c in pattern.nodes() if c.kind == "NODE_PAT_ENTRY"]
    if not entries:
        close = pattern.children[-1]
        return Edit(close.start, close.start, f"{name} ".encode())
    last = entries[-1]
    after = [c for c in pattern.children if c.start >= last.end]
    trailing_comma = next((c for c in after if c.kind == "TOKEN_COMMA"), None)
    multiline = b"\n" in pattern.raw and starts_line(source, last.start)
    if trailing_comma is not None:
        if multiline:
            return Edit(
                trailing_comma.end, trailing_comma.end, b"\n" + indent_of(source, last.start) + f"{name},".encode()
            )
        return Edit(trailing_comma.end, trailing_comma.end, f" {name},".encode())
    if multiline:
        return Edit(last.end, last.end, b",\n" + indent_of(source, last.start) + name.encode())
    return Edit(last.end, last.end, f", {name}".encode())
