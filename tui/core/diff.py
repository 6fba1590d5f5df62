"""Unified diffs of a plan, as git prints them."""

from __future__ import annotations

from tui.core.line_diff import unified_diff
from tui.core.plan import FileChange, Plan


def _lines(data: bytes | None) -> list[str]:
    """The lines of ``data`` as git splits them: at ``\n`` only (a ``\r`` or form feed inside a line stays)."""
    if data is None:
        return []
    parts = data.decode("utf-8", errors="replace").split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def file_diff(change: FileChange, context: int = 3) -> str:
    """The unified diff of one change, with ``a/`` and ``b/`` prefixes and /dev/null for new or removed files."""
    old_name = "/dev/null" if change.old is None else f"a/{change.path}"
    new_name = "/dev/null" if change.new is None else f"b/{change.path}"
    out = [f"diff --git a/{change.path} b/{change.path}\n"]
    if change.old is None:
        out.append("new file mode 100644\n")
    elif change.new is None:
        out.append("deleted file mode 100644\n")
    body = unified_diff(_lines(change.old), _lines(change.new), old_name, new_name, context)
    for line in body:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def plan_diff(plan: Plan) -> str:
    return "".join(file_diff(c) for c in plan.changes)
