"""Surgical text edits at byte ranges found in the syntax tree."""

from __future__ import annotations

from dataclasses import dataclass

from tui.core.nix.syntax import Node, indent_of, starts_line


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``source[start:end]`` with ``text``; an insertion has ``start == end``."""

    start: int
    end: int
    text: bytes


def uses_crlf(source: bytes) -> bool:
    """Whether the file's lines end with CR LF (then inserted lines must too)."""
    crlf = source.count(b"\r\n")
    return crlf > 0 and crlf * 2 >= source.count(b"\n")


def apply_edits(source: bytes, edits: list[Edit]) -> bytes:
    """Apply non-overlapping edits; insertions at the same place keep their given order.

    Edits are written with ``\n``; in a file whose lines end with CR LF they get CR LF too.
    """
    return apply_edits_at(source, edits)[0]


def apply_edits_at(source: bytes, edits: list[Edit]) -> tuple[bytes, list[tuple[int, int]]]:
    """:func:`apply_edits`, and where each edit's text lands in the result: ``(start, end)`` per edit, in
    the order given (an empty range where an edit only removes)."""
    ordered = sorted(enumerate(edits), key=lambda item: (item[1].start, item[1].end, item[0]))
    crlf = uses_crlf(source)
    out = []
    spans: list[tuple[int, int]] = [(0, 0)] * len(edits)
    position = length = 0
    for index, edit in ordered:
        if edit.start < position:
            raise ValueError(f"overlapping edits at byte {edit.start}")
        out.append(source[position : edit.start])
        length += edit.start - position
        text = edit.text
        if crlf:
            text = text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        out.append(text)
        spans[index] = (length, length + len(text))
        length += len(text)
        position = edit.end
    out.append(source[position:])
    return b"".join(out), spans


def line_end_after(source: bytes, offset: int) -> int | None:
    """The offset of the newline ending the line at ``offset`` when only blanks or a comment follow."""
    newline = source.find(b"\n", offset)
    end = len(source) if newline == -1 else newline
    if end > offset and source[end - 1 : end] == b"\r":
        end -= 1
    rest = source[offset:end].strip()
    if rest == b"" or (rest.startswith(b"#") and b"\n" not in rest):
        return end
    return None


def indent_unit(source: bytes) -> bytes:
    """The file's indentation step: the smallest non-zero leading indent, two spaces by default."""
    smallest = None
    for line in source.split(b"\n"):
        stripped = line.lstrip(b" ")
        if stripped and not stripped.startswith(b"\t"):
            width = len(line) - len(stripped)
            if width and (smallest is None or width < smallest):
                smallest = width
    if b"\n\t" in source and smallest is None:
        return b"\t"
    return b" " * (smallest or 2)


def append_to_list(source: bytes, lst: Node, item: bytes) -> Edit:
    """Insert ``item`` as the last element of a list literal, formatted like its neighbours."""
    items = lst.nodes()
    close = lst.children[-1]
    if not items:
        open_end = lst.start + 1
        inner = source[open_end : close.start]
        if b"\n" in inner:  # keep what is inside (comments): the item goes on its own line after `[`
            indent = indent_of(source, close.start) + indent_unit(source)
            at = line_end_after(source, open_end)
            at = open_end if at is None else at
            return Edit(at, at, b"\n" + indent + item)
        if inner.startswith((b" ", b"\t")):
            return Edit(open_end + 1, open_end + 1, item + (b"" if inner[1:].strip() == b"" and inner[1:] else b" "))
        return Edit(open_end, open_end, b" " + item + (b" " if inner == b"" or not inner[:1].isspace() else b""))
    last = items[-1]
    if starts_line(source, last.start) and b"\n" in source[lst.start : close.start]:
        indent = indent_of(source, last.start)
        end = line_end_after(source, last.end)
        if end is not None and end < close.start:
            return Edit(end, end, b"\n" + indent + item)
        return Edit(last.end, last.end, b"\n" + indent + item)
    return Edit(last.end, last.end, b" " + item)


def remove_list_item(source: bytes, item: Node) -> Edit:
    """Remove one element of a list, with its line when it stands alone on it."""
    line_start = source.rfind(b"\n", 0, item.start) + 1
    end = line_end_after(source, item.end)
    if starts_line(source, item.start) and end is not None:  # a trailing comment goes with the element
        start = line_start
        next_end = source.find(b"\n", end + 1)
        next_line = source[end + 1 : len(source) if next_end == -1 else next_end].strip()
        if next_line.startswith(b"]"):
            # Comment lines right above the last element describe it: they go with it.
            while start > 0:
                prev_start = source.rfind(b"\n", 0, start - 1) + 1
                if not source[prev_start : start - 1].strip().startswith(b"#"):
                    break
                start = prev_start
        return Edit(start, min(end + 1, len(source)), b"")
    # Inline element: take the blank before it too.
    start = item.start
    while start > 0 and source[start - 1 : start] in (b" ", b"\t"):
        start -= 1
    return Edit(start, item.end, b"")


def _entries(attrset: Node) -> list[Node]:
    return [c for c in attrset.nodes() if c.kind in ("NODE_ATTRPATH_VALUE", "NODE_INHERIT")]


def add_binding(source: bytes, attrset: Node, text: bytes, first: bool = False) -> Edit:
    """Insert the binding ``text`` (``name = value;``) into an attribute set, laid out like its neighbours.

    ``first`` puts it before every other binding (after a comment on the brace's line), else after the last.
    """
    open_brace = attrset.first("TOKEN_L_BRACE")
    assert open_brace is not None, "an attribute set opens with a brace"
    close = attrset.children[-1]
    entries = _entries(attrset)
    multiline = b"\n" in source[open_brace.end : close.start]
    if not entries:
        if multiline:
            indent = indent_of(source, close.start) + indent_unit(source)
            at = line_end_after(source, open_brace.end)
            at = open_brace.end if at is None else at
            return Edit(at, at, b"\n" + indent + text)
        inner = source[open_brace.end : close.start]
        if inner.strip() == b"":
            return Edit(open_brace.end, close.start, b" " + text + b" ")
        return Edit(open_brace.end, open_brace.end, b" " + text)
    if first:
        head = entries[0]
        at = line_end_after(source, open_brace.end)
        if multiline and at is not None and starts_line(source, head.start):
            return Edit(at, at, b"\n" + indent_of(source, head.start) + text)
        return Edit(head.start, head.start, text + b" ")
    last = entries[-1]
    if multiline and starts_line(source, last.start):
        at = line_end_after(source, last.end)
        if at is not None and at < close.start:
            return Edit(at, at, b"\n" + indent_of(source, last.start) + text)
    return Edit(last.end, last.end, b" " + text)


def add_inherited_name(source: bytes, attrset: Node, name: str) -> Edit:
    """``inherit a;`` becomes ``inherit a name;``; with no plain ``inherit``, add ``inherit name;``."""
    for entry in _entries(attrset):
        if entry.kind == "NODE_INHERIT" and entry.first("NODE_INHERIT_FROM") is None:
            names = [c for c in entry.nodes() if c.kind in ("NODE_IDENT", "NODE_STRING")]
            if names:
                return Edit(names[-1].end, names[-1].end, b" " + name.encode())
    return add_binding(source, attrset, f"inherit {name};".encode())


def bind_pattern(pattern: Node, name: str) -> Edit:
    """``{ self, nixpkgs }:`` becomes ``{ self, nixpkgs }@name:``."""
    return Edit(pattern.end, pattern.end, f"@{name}".encode())
