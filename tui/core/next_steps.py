"""What to run after the change is written: the first rebuild per machine, how to undo, and what was not checked."""

from __future__ import annotations

from tui.core.caches import Cache
from tui.core.footprint import module_file
from tui.core.plan import Plan
from tui.core.shell import shell_join, shell_quote


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
    # a machine whose build does not change needs no switch
    return {host: rebuild_line(host, plan.machines[host].variant, fresh) for host in plan.changed_builds()}


def caches_serving(caches: list[Cache], variant: str) -> list[Cache]:
    """The caches a machine of ``variant`` uses: those listing it, and those that list no variant."""
    return [c for c in caches if not c.variants or variant in c.variants]


def rebuild_line(host: str, variant: str, caches: list[Cache]) -> str:
    """``nixos-rebuild switch`` for ``host``, with the caches its variant uses on the command line."""
    line = f"sudo nixos-rebuild switch --flake {shell_quote('.#' + host)}"
    options = substituter_options(caches_serving(caches, variant))
    return f"{line} {options}" if options else line


def verify_line(host: str) -> str:
    """``llamaflake verify`` for ``host``, run on that machine after its switch: is the chosen build what runs?"""
    return shell_join(["llamaflake", "verify", "--host", host])


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


def unchecked_lines(checks) -> list[str]:
    """What a written change was not checked for, in words: ``flake.lock`` not updated, machines not verified.

    Empty where the flake was locked and every changed machine evaluated (or nothing asked Nix at all
    because no machine changed)."""
    from tui.core.validate import FAILED, LOCK_SUBJECT, NOT_VERIFIED, OK

    lines = []
    lock = next((c for c in checks if c.subject == LOCK_SUBJECT), None)
    if lock is not None and lock.status != OK:
        lines.append(
            f"flake.lock was not updated ({lock.detail.splitlines()[0] if lock.detail else lock.status}): "
            "the first rebuild locks the new input and changes flake.lock; or run `nix flake lock` "
            "here and commit it"
        )
    machines = [c for c in checks if c.host is not None]
    general = [
        c
        for c in checks
        if c.host is None and c.subject.startswith(("evaluate", "lock the flake and")) and c.status != OK
    ]
    if not machines and general:
        lines.append(f"no machine was verified: {general[0].detail.removeprefix(NOT_VERIFIED + ': ')}")
    for check in machines:
        if check.status == FAILED:
            lines.append(f"{check.host}: does not evaluate (written anyway, as you chose)")
        elif check.status != OK:
            why = (check.detail.splitlines() or [check.status])[0].rstrip(":")
            lines.append(f"{check.host}: not verified: {why}")
    return lines
