"""Hunks of a file change, and rebuilding the change from the hunks the user accepted.

A hunk is one group of changed lines with up to three lines of context around it, as in a unified
diff, except that changes for different parts of the plan (two machines' import lines, the flake
input) are separate hunks however close they are, so that each can be rejected alone. The review screen
shows each hunk and the user accepts or rejects it; :func:`apply_hunks` then rebuilds the new text from
the original, taking the new lines only where a hunk was accepted, so that what is written is exactly
what was seen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tui.core.line_diff import Opcode, grouped_opcodes, line_opcodes
from tui.core.nix.syntax import parse
from tui.core.plan import FileChange, Plan

CONTEXT = 3


@dataclass(frozen=True)
class Hunk:
    """One hunk: ``opcodes`` are :func:`~tui.core.line_diff.line_opcodes` over lines (equal ones are the
    context); ``part`` is whom its changes are for (see :attr:`FileChange.parts`), None where unknown."""

    index: int
    opcodes: tuple[Opcode, ...]
    added: int
    removed: int
    part: str | None = None

    def header(self) -> str:
        """A unified diff style ``@@ -a,b +c,d @@`` header."""
        first, last = self.opcodes[0], self.opcodes[-1]
        old_len, new_len = last[2] - first[1], last[4] - first[3]
        old_start = first[1] + 1 if old_len else first[1]
        new_start = first[3] + 1 if new_len else first[3]
        return f"@@ -{old_start},{old_len} +{new_start},{new_len} @@"


def lines_of(data: bytes | None) -> list[bytes]:
    """The lines of ``data`` with their line endings, so that joining them gives ``data`` back."""
    return [] if data is None else data.splitlines(keepends=True)


def _parted_opcodes(change: FileChange) -> list[tuple[Opcode, str | None]]:
    """The line opcodes of ``change``, each changed one with its part; an insertion of lines for two parts
    is cut in two where the part changes."""
    old, new = lines_of(change.old), lines_of(change.new)
    opcodes = line_opcodes(old, new)
    spans = list(change.parts) if change.new is not None else []
    if not spans:
        return [(op, None) for op in opcodes]
    starts = [0]
    for line in new:
        starts.append(starts[-1] + len(line))

    def nearest(offset: int) -> str:
        return min(spans, key=lambda s: 0 if s[0] <= offset <= s[1] else min(abs(offset - s[0]), abs(offset - s[1])))[2]

    def part_of_line(j: int) -> str | None:
        """The part that wrote most of line ``j`` (None: no edit wrote any of it)."""
        overlap: dict[str, int] = {}
        for start, end, part in spans:
            common = min(end, starts[j + 1]) - max(start, starts[j])
            if common > 0:
                overlap[part] = overlap.get(part, 0) + common
        return max(overlap, key=overlap.__getitem__) if overlap else None

    result: list[tuple[Opcode, str | None]] = []
    for op in opcodes:
        tag, i1, i2, j1, j2 = op
        if tag == "equal":
            result.append((op, None))
            continue
        parts = [part_of_line(j) for j in range(j1, j2)]
        known = [p for p in parts if p is not None]
        if not known:  # a removal, or lines the diff slid off the edit's own
            parts = [nearest(starts[j1])] * max(1, j2 - j1)
        else:  # a line no edit wrote (a slid blank line) goes with the edit's lines next to it
            for index in range(len(parts)):
                parts[index] = parts[index] or next((p for p in reversed(parts[:index]) if p), known[0])
        if tag != "insert":
            result.append((op, parts[0]))
            continue
        run = j1
        for j in range(j1 + 1, j2 + 1):
            if j == j2 or parts[j - j1] != parts[run - j1]:
                result.append((("insert", i1, i2, run, j), parts[run - j1]))
                run = j
    return result


def change_opcodes(change: FileChange) -> list[Opcode]:
    """The line opcodes the hunks of ``change`` are made of (an insertion for two parts is two opcodes)."""
    return [op for op, _ in _parted_opcodes(change)]


def split_hunks(change: FileChange) -> list[Hunk]:
    """The hunks of ``change``; a new or removed file is one hunk."""
    parted = _parted_opcodes(change)
    part_of = {(op[1], op[3]): part for op, part in parted if op[0] != "equal"}
    hunks: list[Hunk] = []
    for group in grouped_opcodes([op for op, _ in parted], CONTEXT):
        for piece, part in _cut_between_parts(group, part_of):
            added = sum(j2 - j1 for tag, _, _, j1, j2 in piece if tag in ("insert", "replace"))
            removed = sum(i2 - i1 for tag, i1, i2, _, _ in piece if tag in ("delete", "replace"))
            if added or removed:
                hunks.append(Hunk(len(hunks), tuple(piece), added, removed, part))
    return hunks


def _cut_between_parts(
    group: list[Opcode], part_of: dict[tuple[int, int], str | None]
) -> list[tuple[list[Opcode], str | None]]:
    """``group`` cut before each change for another part than the one before it; the unchanged lines
    between two pieces are the context of both (up to :data:`CONTEXT` lines each)."""
    pieces: list[tuple[list[Opcode], str | None]] = [([], None)]
    for op in group:
        tag, i1, _i2, j1, _j2 = op
        ops, current = pieces[-1]
        part = None if tag == "equal" else part_of[(i1, j1)]
        if part is not None and current is not None and part != current:
            shared = ops.pop() if ops and ops[-1][0] == "equal" else None
            following: list[Opcode] = []
            if shared is not None:
                _, s1, s2, t1, t2 = shared
                ops.append(("equal", s1, min(s2, s1 + CONTEXT), t1, min(t2, t1 + CONTEXT)))
                following.append(("equal", max(s1, s2 - CONTEXT), s2, max(t1, t2 - CONTEXT), t2))
            pieces.append((following, None))
            ops, current = pieces[-1]
        ops.append(op)
        if part is not None and current is None:
            pieces[-1] = (ops, part)
    return pieces


def apply_hunks(change: FileChange, accepted: set[int]) -> FileChange | None:
    """``change`` with only the ``accepted`` hunks; None when that leaves nothing to change."""
    hunks = split_hunks(change)
    wanted = {h.index for h in hunks} & set(accepted)
    if not wanted:
        return None
    if len(wanted) == len(hunks):
        return change
    if change.old is None or change.new is None:  # one hunk, so all or nothing (handled above)
        return change  # pragma: no cover
    old, new = lines_of(change.old), lines_of(change.new)
    chosen: set[tuple[int, int]] = set()  # (i1, j1) of the changed opcodes in accepted hunks
    for hunk in hunks:
        if hunk.index in wanted:
            chosen.update((i1, j1) for tag, i1, _, j1, _ in hunk.opcodes if tag != "equal")
    out: list[bytes] = []
    for tag, i1, i2, j1, j2 in change_opcodes(change):
        if tag != "equal" and (i1, j1) in chosen:
            out.extend(new[j1:j2])
        else:
            out.extend(old[i1:i2])
    text = b"".join(out)
    if text == change.old:
        return None
    return replace(change, new=text, parts=())  # the parts' ranges were of the whole new text


def accepted_plan(plan: Plan, accepted: dict[str, set[int]]) -> Plan:
    """The plan with each file's change rebuilt from its accepted hunks (files not named keep all)."""
    changes = []
    for change in plan.changes:
        if change.path not in accepted:
            changes.append(change)
            continue
        kept = apply_hunks(change, accepted[change.path])
        if kept is not None:
            changes.append(kept)
    return replace(plan, changes=changes)


@dataclass(frozen=True)
class ReviewCheck:
    """One validation result: ``ok`` and a line saying what was checked or what is wrong."""

    path: str
    ok: bool
    text: str


def validate_changes(changes: list[FileChange]) -> list[ReviewCheck]:
    """Check that the new text of each Nix file parses (removed files have nothing to check)."""
    from tui.core.errors import LlamaflakeError

    results = []
    for change in changes:
        if change.new is None:
            results.append(ReviewCheck(change.path, True, "removed"))
            continue
        if not change.path.endswith(".nix"):
            results.append(ReviewCheck(change.path, True, "not a Nix file"))
            continue
        try:
            parse(change.new, change.path)
        except LlamaflakeError as exc:
            results.append(ReviewCheck(change.path, False, exc.message))
        else:
            results.append(ReviewCheck(change.path, True, "parses"))
    return results


def wiring_checks(plan: Plan, final: list[FileChange]) -> list[ReviewCheck]:
    """What rejecting hunks broke between files: imports of files that will not exist, files nothing imports,
    a module without its flake input. ``ok`` is False where evaluating the configuration would fail."""
    from tui.core.answers import LLAMA_CPP_URL
    from tui.core.footprint import machine_path, module_file

    by_path = {c.path: c for c in final}
    root = plan.flake.root

    def text_of(rel: str) -> bytes:
        if rel in by_path:
            return by_path[rel].new or b""
        try:
            return (root / rel).read_bytes()
        except OSError:
            return b""

    def will_exist(rel: str) -> bool:
        change = by_path.get(rel)
        return change.new is not None if change else (root / rel).is_file()

    results: list[ReviewCheck] = []
    module = module_file(plan.module_dir)
    flake_has_input = plan.flake.llama_input() is not None or LLAMA_CPP_URL.encode() in text_of("flake.nix")
    whole = plan.change("flake.nix")
    if not flake_has_input and whole is not None and whole.old is not None and whole.new is not None:
        # The input from another URL (a fork, a local checkout): its url line, as the whole plan adds it.
        old_lines = set(whole.old.splitlines())
        added = [line for line in whole.new.splitlines() if b"url" in line and line not in old_lines]
        flake_has_input = bool(added) and all(line in text_of("flake.nix").splitlines() for line in added)
    if will_exist(module) and not flake_has_input and module in by_path:
        results.append(
            ReviewCheck(module, False, f"{module} needs the llama.cpp flake input, and its hunk is rejected")
        )
    for name in plan.machines:
        rel = machine_path(plan.module_dir, name)
        tail = "/".join(rel.split("/")[-3:]).encode()
        host = plan.flake.host(name)
        files = [] if host is None else [host.file, *host.module_files]
        imported = any(tail in text_of(f) for f in files if not f.endswith(tail.decode()))
        if imported and not will_exist(rel):
            results.append(ReviewCheck(rel, False, f"{name} imports {rel}, which is rejected and will not exist"))
        elif rel in by_path and by_path[rel].new is not None and not imported:
            results.append(ReviewCheck(rel, True, f"nothing imports {rel} yet: {name} keeps its old build"))
    return results
