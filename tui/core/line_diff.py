"""Line diffs as people read them: difflib's opcodes, with each inserted or deleted block slid to where
it reads as a whole (``llama-cpp = { ... };`` rather than ``}; llama-cpp = { ...``), as git's indent
heuristic slides it (``xdl_change_compact`` in git's ``xdiff/xdiffi.c``)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

Opcode = tuple[str, int, int, int, int]
Line = bytes | str

# git's constants for the indent heuristic (xdiff/xdiffi.c), with the weights it was tuned with.
MAX_INDENT = 200
MAX_BLANKS = 20
START_OF_FILE_PENALTY = 1
END_OF_FILE_PENALTY = 21
TOTAL_BLANK_WEIGHT = -30
POST_BLANK_WEIGHT = 6
RELATIVE_INDENT_PENALTY = -4
RELATIVE_INDENT_WITH_BLANK_PENALTY = 10
RELATIVE_OUTDENT_PENALTY = 24
RELATIVE_OUTDENT_WITH_BLANK_PENALTY = 17
RELATIVE_DEDENT_PENALTY = 23
RELATIVE_DEDENT_WITH_BLANK_PENALTY = 17
INDENT_WEIGHT = 60
INDENT_HEURISTIC_MAX_SLIDING = 100


def line_opcodes(old: Sequence[Line], new: Sequence[Line]) -> list[Opcode]:
    """difflib's opcodes from ``old`` to ``new`` (lists of lines), each lone insertion or deletion slid, among
    the places where it makes the same change, to the one git's indent heuristic chooses: the block starts
    and ends at blank lines and indentation boundaries, not inside a neighbouring block."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    found = matcher.get_opcodes()
    # Each opcode as its tag and its [i1, i2, j1, j2], which sliding moves. Empty equal opcodes at both
    # ends let a block at the start or the end of the file slide too.
    tags = ["equal", *(tag for tag, *_ in found), "equal"]
    spans = [[0, 0, 0, 0], *([i1, i2, j1, j2] for _, i1, i2, j1, j2 in found), [len(old), len(old), len(new), len(new)]]
    for index in range(1, len(spans) - 1):
        op = spans[index]
        tag = tags[index]
        before, after = spans[index - 1], spans[index + 1]
        if tag not in ("insert", "delete") or tags[index - 1] != "equal" or tags[index + 1] != "equal":
            continue
        lines = new if tag == "insert" else old
        start, end = (op[2], op[3]) if tag == "insert" else (op[0], op[1])
        # How far the block may move: up while its last line equals the line above it, down while its
        # first line equals the line below it (the same text either way).
        up = 0
        while up < before[1] - before[0] and lines[end - 1 - up] == lines[start - 1 - up]:
            up += 1
        down = 0
        while down < after[1] - after[0] and lines[start + down] == lines[end + down]:
            down += 1
        if not up and not down:
            continue
        best = _best_end(lines, end - up, end + down, end - start) - end
        if best:
            for field in range(4):
                op[field] += best
            before[1] += best
            before[3] += best
            after[0] += best
            after[2] += best
    return [(tag, i1, i2, j1, j2) for tag, (i1, i2, j1, j2) in zip(tags, spans, strict=True) if i1 != i2 or j1 != j2]


def _best_end(lines: Sequence[Line], earliest: int, latest: int, size: int) -> int:
    """Where a block of ``size`` lines that may end anywhere from ``earliest`` to ``latest`` reads best: the
    end with the best score of the splits at its start and its end (the later one of equals), as git does."""
    best, best_score = latest, None
    for end in range(max(earliest, latest - size - 1, latest - INDENT_HEURISTIC_MAX_SLIDING), latest + 1):
        indent_a, penalty_a = _split_score(lines, end)
        indent_b, penalty_b = _split_score(lines, end - size)
        score = (indent_a + indent_b, penalty_a + penalty_b)
        if best_score is None or _compare(score, best_score) <= 0:
            best, best_score = end, score
    return best


def _compare(a: tuple[int, int], b: tuple[int, int]) -> int:
    """git's ``score_cmp``: below zero where ``a`` (effective indent, penalty) is the better split."""
    return INDENT_WEIGHT * ((a[0] > b[0]) - (a[0] < b[0])) + a[1] - b[1]


def _split_score(lines: Sequence[Line], split: int) -> tuple[int, int]:
    """git's ``measure_split`` and ``score_add_split`` of a split just before ``lines[split]``: its
    effective indent and its penalty (lower is better for both)."""
    end_of_file = split >= len(lines)
    indent = -1 if end_of_file else _indent(lines[split])
    pre_blank, pre_indent = 0, -1
    for i in range(split - 1, -1, -1):
        pre_indent = _indent(lines[i])
        if pre_indent != -1:
            break
        pre_blank += 1
        if pre_blank == MAX_BLANKS:
            pre_indent = 0
            break
    post_blank, post_indent = 0, -1
    for i in range(split + 1, len(lines)):
        post_indent = _indent(lines[i])
        if post_indent != -1:
            break
        post_blank += 1
        if post_blank == MAX_BLANKS:
            post_indent = 0
            break

    penalty = 0
    if pre_indent == -1 and pre_blank == 0:
        penalty += START_OF_FILE_PENALTY
    if end_of_file:
        penalty += END_OF_FILE_PENALTY
    post_blank = 1 + post_blank if indent == -1 else 0
    total_blank = pre_blank + post_blank
    penalty += TOTAL_BLANK_WEIGHT * total_blank + POST_BLANK_WEIGHT * post_blank
    if indent == -1:
        indent = post_indent
    blanks = total_blank != 0
    if indent == -1 or pre_indent == -1 or indent == pre_indent:
        pass
    elif indent > pre_indent:
        penalty += RELATIVE_INDENT_WITH_BLANK_PENALTY if blanks else RELATIVE_INDENT_PENALTY
    elif post_indent != -1 and post_indent > indent:
        penalty += RELATIVE_OUTDENT_WITH_BLANK_PENALTY if blanks else RELATIVE_OUTDENT_PENALTY
    else:
        penalty += RELATIVE_DEDENT_WITH_BLANK_PENALTY if blanks else RELATIVE_DEDENT_PENALTY
    return indent, penalty


def _indent(line: Line) -> int:
    """git's ``get_indent``: the width of the line's leading blanks (a tab to the next multiple of 8), or -1
    for a line of blanks only."""
    width = 0
    for char in _text(line):
        if not char.isspace():
            return width
        if char == " ":
            width += 1
        elif char == "\t":
            width += 8 - width % 8
        if width >= MAX_INDENT:
            return MAX_INDENT
    return -1


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
