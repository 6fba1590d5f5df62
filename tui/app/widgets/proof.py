"""The review step's proof: per changed machine, what its own Nix says about the change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

if TYPE_CHECKING:
    from tui.core.proof import Proof

ERROR_LINES = 3  # of Nix's message per machine that does not evaluate
GROUP_FROM = 3  # machines not verified for the same reason are one line from this many on


def _error_lines(detail: str) -> list[str]:
    """The first lines that say what went wrong: Nix's ``error:`` line first where there is one."""
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if line.startswith("error:")), 0)
    return lines[first : first + ERROR_LINES]


class ProofView(Static):
    """✓ with the package each machine gets, ✗ with the first lines of Nix's error, or why it is not verified."""

    def show_running(self, hosts: list[str], line: str = "") -> None:
        text = Content.from_markup(
            "[b]Proof with Nix[/] [dim]— evaluating $hosts on a scratch copy…[/]", hosts=", ".join(hosts)
        )
        if line:
            text = Content("\n").join([text, Content.from_markup("[dim]  $line[/]", line=line[-110:])])
        self.update(text)

    def show_proof(self, proof: Proof, hosts: list[str]) -> None:
        from tui.core.validate import FAILED, INTENT_FAILURES, OK

        lines = [Content.from_markup("[b]Proof with Nix[/] [dim]— each changed machine evaluated on a scratch copy[/]")]
        if not proof.machines:
            why = (proof.not_evaluated or "").splitlines() or [""]
            failed = any(c.status == FAILED for c in proof.other)
            word = "does not evaluate" if failed else "not verified" if proof.nix_ran else "not evaluated"
            mark = "[$text-error]✗[/]" if failed else "[$text-warning]?[/]"
            if len(hosts) >= GROUP_FROM:  # one reason for every machine (the lock failed): one line
                lines.append(
                    Content.from_markup(
                        f"{mark} $n machines ($hosts): $word: $why",
                        n=len(hosts),
                        hosts=", ".join(hosts),
                        word=word,
                        why=why[0],
                    )
                )
            else:
                for host in hosts:
                    lines.append(Content.from_markup(f"{mark} $host: $word: $why", host=host, word=word, why=why[0]))
            lines.extend(Content.from_markup("[dim]    $line[/]", line=line) for line in why[1:ERROR_LINES])
        unverified = [c for c in proof.machines if c.status not in (OK, FAILED)]
        reasons: dict[str, list] = {}
        for check in unverified:
            reasons.setdefault((check.detail.splitlines() or [""])[0].rstrip(":"), []).append(check)
        grouped = {id(c) for same in reasons.values() if len(same) >= GROUP_FROM for c in same}
        left_alone = [c for c in proof.machines if c.status == OK and c.left_alone]
        if len(left_alone) >= GROUP_FROM:  # machines the change does not answer for: one line
            grouped.update(id(c) for c in left_alone)
            lines.append(
                Content.from_markup(
                    "[$text-success]✓[/] $n machines left alone ($hosts) [dim]— no setting this change writes reaches them[/]",
                    n=len(left_alone),
                    hosts=", ".join(c.host for c in left_alone if c.host),
                )
            )
        for reason, same in reasons.items():
            if len(same) >= GROUP_FROM:  # one line for many machines that are not verified for one reason
                lines.append(
                    Content.from_markup(
                        "[$text-warning]?[/] $n machines ($hosts): not verified: $why",
                        n=len(same),
                        hosts=", ".join(c.host for c in same),
                        why=reason,
                    )
                )
        for check in proof.machines:
            if id(check) in grouped:
                continue
            cached = " [dim](cached)[/]" if check.cached else ""
            if check.status == OK and check.left_alone:
                lines.append(
                    Content.from_markup(
                        "[$text-success]✓[/] $host: left alone [dim]— no setting this change writes reaches it[/]"
                        + cached,
                        host=check.host,
                    )
                )
            elif check.status == OK:
                lines.append(
                    Content.from_markup(
                        "[$text-success]✓[/] $host: gets [b]$package[/]" + cached,
                        host=check.host,
                        package=check.package or "its package",
                    )
                )
                if check.chosen:
                    lines.append(Content.from_markup("[dim]    as chosen: $chosen[/]", chosen=check.chosen))
            elif check.status == FAILED and check.detail.startswith(INTENT_FAILURES):
                lines.append(
                    Content.from_markup("[$text-error]✗[/] $host: $why" + cached, host=check.host, why=check.detail)
                )
            elif check.status == FAILED:
                lines.append(
                    Content.from_markup("[$text-error]✗[/] $host: does not evaluate" + cached, host=check.host)
                )
                lines.extend(Content.from_markup("[dim]    $line[/]", line=line) for line in _error_lines(check.detail))
            else:
                first, *rest = check.detail.splitlines() or [""]
                lines.append(
                    Content.from_markup(
                        "[$text-warning]?[/] $host: not verified: $why" + cached, host=check.host, why=first.rstrip(":")
                    )
                )
                lines.extend(
                    Content.from_markup("[dim]    $line[/]", line=line) for line in _error_lines("\n".join(rest))[:2]
                )
            for warning in check.warnings or []:
                lines.append(Content.from_markup("[$text-warning]  warning:[/] $w", w=warning))
        self.update(Content("\n").join(lines))
