"""What to run after the change is written: the first rebuild per machine, and how to undo."""

from __future__ import annotations

from tui.core.caches import Cache
from tui.core.footprint import module_file
from tui.core.plan import Plan
from tui.core.shell import shell_quote


def new_caches(plan: Plan) -> list[Cache]:
    """The plan's caches that the machines do not have yet (they apply only after the first switch)."""
    from tui.core.read_back import read_module_caches

    module = plan.change(module_file(plan.module_dir))
    if module is None:
        return []
    before: set[str] = set()
    if module.old is not None:
        before = {c.url for c in read_module_caches(module.old, module.path)}
    return [c for c in plan.caches if c.url not in before]


def substituter_options(caches: list[Cache]) -> str:
    """``--option`` arguments that make a first rebuild use ``caches`` already."""
    if not caches:
        return ""
    urls = " ".join(c.url for c in caches)
    keys = " ".join(c.key for c in caches)
    return f"--option extra-substituters {shell_quote(urls)} --option extra-trusted-public-keys {shell_quote(keys)}"


def rebuild_commands(plan: Plan, caches: list[Cache] | None = None) -> dict[str, str]:
    """The exact ``nixos-rebuild switch`` line for each machine of the plan.

    New caches go on the line of the machines whose variant they serve (a cache with no listed
    variants serves every machine).
    """
    fresh = new_caches(plan) if caches is None else caches
    commands = {}
    for host in plan.changed_builds():  # a machine whose build does not change needs no switch
        answer = plan.machines[host]
        line = f"sudo nixos-rebuild switch --flake {shell_quote('.#' + host)}"
        options = substituter_options([c for c in fresh if not c.variants or answer.variant in c.variants])
        commands[host] = f"{line} {options}" if options else line
    return commands


def undo_commands(commit: str | None, plan: Plan) -> list[str]:
    """How to take the change back: the commit, or the written files when nothing was committed."""
    if commit:
        return ["llamaflake undo", f"git revert {commit[:12]}"]
    restore = [c.path for c in plan.changes if c.old is not None]
    created = [c.path for c in plan.changes if c.old is None]
    lines = []
    if restore:
        lines.append("git restore --source=HEAD -- " + " ".join(shell_quote(p) for p in restore))
    if created:
        lines.append("rm -- " + " ".join(shell_quote(p) for p in created))
    return lines
