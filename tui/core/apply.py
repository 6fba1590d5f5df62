"""Applying a plan: write the files, then commit exactly them."""

from __future__ import annotations

from dataclasses import dataclass

from tui import __version__
from tui.core import gitrepo
from tui.core.plan import Plan, describe
from tui.core.write import write_changes


@dataclass
class ApplyResult:
    paths: list[str]
    commit: str | None


def commit_message(plan: Plan) -> str:
    """Subject, a body listing the machines and caches, and a Generated-by trailer."""
    names = ", ".join(plan.machines) or "no machines"
    lines = [f"llama-cpp: build llama.cpp from its flake for {names}", ""]
    for name, answer in plan.machines.items():
        lines.append(f"- {name}: {describe(answer)}")
    if plan.caches:
        lines.append("")
        lines.append("Binary caches: " + ", ".join(c.url for c in plan.caches))
    removed = [c.path for c in plan.changes if c.kind == "delete"]
    if removed:
        lines.append("")
        lines.append("Removed: " + ", ".join(removed))
    lines.append("")
    lines.append(f"Generated-by: llamaflake {__version__}")
    return "\n".join(lines) + "\n"


def apply_plan(plan: Plan, *, commit: bool = True, message: str | None = None) -> ApplyResult:
    root = plan.flake.root
    repo = gitrepo.open_repo(root) if commit else None
    paths = write_changes(root, plan.changes)
    sha = None
    if repo is not None:
        prefix = root.resolve().relative_to(repo.working_tree_dir).as_posix() if repo.working_tree_dir else ""
        repo_paths = [f"{prefix}/{p}" if prefix not in ("", ".") else p for p in paths]
        sha = gitrepo.commit_paths(repo, repo_paths, message or commit_message(plan))
    return ApplyResult(paths, sha)
