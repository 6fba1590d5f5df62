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


def apply_edits(source: bytes, edits: list[Edit]) -> bytes:
    """Apply non-overlapping edits; insertions at the same place keep their given order."""
    ordered = sorted(enumerate(edits), key=lambda item: (item[1].start, item[1].end, item[0]))
    out = []
    position = 0
    for _, edit in ordered:
        if edit.start < position:
            raise ValueError(f"overlapping edits at byte {edit.start}")
        out.append(source[position : edit.start])
        out.append(edit.text)
        position = edit.end
    out.append(source[position:])
    return b"".join(out)


def line_end_after(source: bytes, offset: int) -> int | None:
    """The offset of the newline ending the line at ``offset`` when only blanks or a comment follow."""
    newline = source.find(b"\n", offset)
    end = len(source) if newline == -1 else newline
    rest = source[offset:end].strip()
    if rest == b"" or rest.startswith(b"#"):
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
        inner = source[lst.start + 1 : close.start]
        if b"\n" in inner:
            indent = indent_of(source, close.start) + indent_unit(source)
            return Edit(lst.start + 1, close.start, b"\n" + indent + item + b"\n" + indent_of(source, close.start))
        return Edit(lst.start + 1, close.start, b" " + item + b" ")
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
    if starts_line(source, item.start) and end is not None and source[item.end:end].strip() == b"":
        return Edit(line_start, min(end + 1, len(source)), b"")
    # Inline element: take the blank before it too.
    start = item.start
    while start > 0 and source[start - 1 : start] in (b" ", b"\t"):
        start -= 1
    return Edit(start, item.end, b"")
