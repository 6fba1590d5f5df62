"""What to run after the change: the first rebuild per machine, with new caches passed as options."""

from __future__ import annotations

import shlex

from tui.core.caches import Cache
from tui.core.plan import Plan


def caches_for(plan: Plan, host: str) -> list[Cache]:
    """The chosen caches that apply to ``host``'s variant."""
    answer = plan.machines.get(host)
    if answer is None:
        return []
    return [c for c in plan.caches if not c.variants or answer.variant in c.variants]


def rebuild_command(plan: Plan, host: str, flake_ref: str = ".") -> str:
    """``nixos-rebuild switch`` for one machine; new substituters only apply after the first switch,
    so they are given as options for that first build."""
    parts = ["sudo", "nixos-rebuild", "switch", "--flake", f"{flake_ref}#{host}"]
    caches = caches_for(plan, host)
    if caches:
        parts += ["--option", "extra-substituters", " ".join(c.url for c in caches)]
        parts += ["--option", "extra-trusted-public-keys", " ".join(c.key for c in caches)]
    return shlex.join(parts)


def next_steps(plan: Plan) -> list[str]:
    """The commands to run next, one per changed machine, then how to undo."""
    return [rebuild_command(plan, host) for host in plan.machines] + ["llamaflake undo   # to take the change back"]
