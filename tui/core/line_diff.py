"""Line diffs as people read them: difflib's opcodes, with each inserted or deleted block moved to where
it reads as a whole (``llama-cpp = { ... };`` rather than ``}; llama-cpp = { ...``)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

Opcode = tuple[str, int, int, int, int]
Line = bytes | str

_CLOSERS = ("}", "]", ")")
_OPENERS = ("{", "[", "(")


def line_opcodes(old: Sequence[Line], new: Sequence[Line]) -> list[Opcode]:
    """difflib's opcodes from ``old`` to ``new`` (lists of lines), each lone insertion or deletion slid to
    the place among its equivalent ones that reads best: not starting with a closing bracket, not ending
    with an opening one, not cutting into a deeper block."""
    opcodes = [list(op) for op in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()]
    for index, op in enumerate(opcodes):
        tag = op[0]
        if tag not in ("insert", "delete") or not 0 < index < len(opcodes) - 1:
            continue
        before, after = opcodes[index - 1], opcodes[index + 1]
        if before[0] != "equal" or after[0] != "equal":
            continue
        lines = new if tag == "insert" else old
        start, end = (op[3], op[4]) if tag == "insert" else (op[1], op[2])
        # How far the block may move: up while its last line equals the line above it, down while its
        # first line equals the line below it (the same text either way).
        up = 0
        while up < before[2] - before[1] and lines[end - 1 - up] == lines[start - 1 - up]:
            up += 1
        down = 0
        while down < after[2] - after[1] and lines[start + down] == lines[end + down]:
            down += 1
        if not up and not down:
            continue
        best = min(range(-up, down + 1), key=lambda shift: (_score(lines, start + shift, end + shift), abs(shift)))
        if best:
            for field in (1, 2, 3, 4):
                op[field] += best
            before[2] += best
            before[4] += best
            after[1] += best
            after[3] += best
    return [tuple(op) for op in opcodes if op[1] != op[2] or op[3] != op[4]]  # type: ignore[misc]


def _score(lines: Sequence[Line], start: int, end: int) -> int:
    """How badly the block ``lines[start:end]`` reads as one change (lower is better)."""
    first, last = _text(lines[start]).strip(), _text(lines[end - 1]).strip()
    score = 0
    if first.startswith(_CLOSERS):
        score += 2
    if last.endswith(_OPENERS):
        score += 2
    if not first:
        score += 1  # a blank line reads better at the end of an added block than at its start
    if end < len(lines) and _text(lines[end]).strip() and _indent(lines[end]) > _indent(lines[start]):
        score += 1  # the block would end inside a deeper one
    return score


def _indent(line: Line) -> int:
    text = _text(line)
    return len(text) - len(text.lstrip(" \t"))


def _text(line: Line) -> str:
    return line.decode("utf-8", "replace") if isinstance(line, bytes) else line


def grouped_opcodes(opcodes: list[Opcode], context: int = 3) -> list[list[Opcode]]:
    """``opcodes`` in groups of changes with up to ``context`` lines around them, as
    :meth:`difflib.SequenceMatcher.get_grouped_opcodes` groups its own."""
    codes = list(opcodes) or [("equal", 0, 1, 0, 1)]
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = (tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2)
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = (tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context))
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > context * 2:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def unified_diff(old: Sequence[str], new: Sequence[str], old_name: str, new_name: str, context: int = 3) -> list[str]:
    """The lines of a unified diff, as :func:`difflib.unified_diff` writes them, of :func:`line_opcodes`."""
    groups = grouped_opcodes(line_opcodes(old, new), context)
    if not groups:
        return []
    out = [f"--- {old_name}\n", f"+++ {new_name}\n"]
    for group in groups:
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(" " + line for line in old[i1:i2])
                continue
            out.extend("-" + line for line in old[i1:i2])
            out.extend("+" + line for line in new[j1:j2])
    return out


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"
