"""``llamaflake plan`` and ``llamaflake apply``: the change as a diff, and writing it."""

from __future__ import annotations

import argparse
import sys

from tui.commands.common import (
    add_answer_options,
    add_repo_options,
    answers_from_args,
    errors_as_json,
    load_from_args,
    print_json,
    say,
)
from tui.core import eval_cache
from tui.core.diff import plan_diff
from tui.core.footprint import machine_path
from tui.core.next_steps import rebuild_commands, unchecked_lines, verify_line
from tui.core.plan import Plan, make_plan
from tui.core.report import plan_report


def add_parsers(subparsers) -> None:
    plan = subparsers.add_parser(
        "plan",
        help="print the change as a unified diff",
        description="Print what llamaflake would change, as a unified diff (or JSON). Nothing is written.",
    )
    add_repo_options(plan)
    add_answer_options(plan)
    plan.add_argument("--check", action="store_true", help="exit 1 when there is something to change")
    plan.add_argument(
        "--eval-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="time limit for asking nix which machines exist (default: 300)",
    )
    plan.set_defaults(run=run_plan)

    apply = subparsers.add_parser(
        "apply",
        help="write the change, and commit it",
        description="Write the planned change and commit it (only the files it touches).",
    )
    add_repo_options(apply)
    add_answer_options(apply)
    apply.add_argument("--yes", action="store_true", help="do it without asking (required where there is no terminal)")
    apply.add_argument("--no-commit", action="store_true", help="write the files but do not commit")
    apply.add_argument("--message", metavar="TEXT", help="the commit message (default: made from the answers)")
    apply.add_argument(
        "--allow-dirty",
        action="store_true",
        help="go on where files the change touches have uncommitted changes (the commit includes them)",
    )
    apply.add_argument(
        "--init",
        action="store_true",
        help="where the flake is in no git repository: `git init` there and commit its files as they are first",
    )
    apply.add_argument("--eval", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    apply.add_argument(
        "--no-eval",
        action="store_true",
        help="do not lock the flake and evaluate each changed machine before committing",
    )
    apply.add_argument(
        "--eval-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="time limit for asking nix which machines exist (default: 300), for locking, and for "
        "each machine's evaluation (default: 600)",
    )
    apply.add_argument("--refresh", action="store_true", help=eval_cache.REFRESH_HELP)
    apply.add_argument(
        "--jobs",
        metavar="N",
        type=int,
        default=None,
        help="machines evaluated at once (default: up to 4, by CPU count)",
    )
    apply.set_defaults(run=run_apply)


REFUSED = 3  # exit status: a machine asked for is not wired


def report_plan(plan: Plan) -> None:
    for refusal in plan.refusals:
        written = plan.change(machine_path(plan.module_dir, refusal.host)) is not None
        done = "its settings file is written, not imported" if written else "nothing is written for it"
        say(f"llamaflake: {refusal.host!r}: not done ({done}): {refusal.reason}")
        where = refusal.file or f"a module that only {refusal.host!r} imports"
        snippet = "\n    ".join(refusal.snippet.splitlines())
        say(f"  to wire it by hand, add to {where}:\n    {snippet}")
        if not written and refusal.requested:
            say("  (--write-refused writes its settings file without importing it)")
    for offer in plan.offers:
        say(f"llamaflake: offer: {offer.title} (pass --cleanup to include it)")
    for note in plan.notes:
        say(f"llamaflake: note: {note}")
    for warning in plan.warnings:
        say(f"llamaflake: warning: {warning}")


def run_plan(args: argparse.Namespace) -> int:
    with errors_as_json(args.json):
        flake = load_from_args(args)
        plan = make_plan(flake, answers_from_args(args, flake))
    if args.json:
        print_json(plan_report(plan))
    else:
        sys.stdout.write(plan_diff(plan))
        report_plan(plan)
        if plan.is_empty:
            say(_nothing_to_change(plan))
    if plan.refused_requested:
        return REFUSED
    if args.check and not plan.is_empty:
        return 1
    return 0


def _ask(question: str) -> str:
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower()


def _progress(event) -> None:
    from tui.core.preflight import Finding
    from tui.core.validate import Check

    if isinstance(event, Finding):
        if event.level == "error":
            return  # the refusal that follows says it, with its hint
        say(f"llamaflake: {event.level}: {event.message}")
        if event.hint:
            say(f"hint: {event.hint}")
    elif isinstance(event, Check):
        first, *rest = str(event).splitlines()
        say(f"llamaflake: {first}")
        for line in rest:
            say(f"  {line}")
    else:
        say(f"  nix: {event}")


def _nothing_to_change(plan: Plan) -> str:
    """The line for an empty plan; where no machine was answered for, what to pass."""
    if plan.asked or plan.refusals:
        return "llamaflake: nothing to change"
    return (
        "llamaflake: nothing to change: no machine was answered for; pass --host NAME=VARIANT (or --this-machine, "
        "--report NAME=FILE, --ssh NAME=HOST) for each machine to wire (`llamaflake hosts` lists them)"
    )


def run_apply(args: argparse.Namespace) -> int:
    from tui.core.apply import ApplyOptions, CommitRejected, apply_plan, landed_commit
    from tui.core.gitrepo import find_repo
    from tui.core.journal import recover
    from tui.core.nix.flake import load_flake
    from tui.core.validate import DEFAULT_EVAL_TIMEOUT

    flake = load_from_args(args)
    repo = find_repo(flake.root)
    recovered = recover(repo)
    if recovered is not None:
        say(f"llamaflake: {recovered}")
        flake = load_flake(flake.root)  # read again: the files are as that apply left them now
    plan = make_plan(flake, answers_from_args(args, flake))
    report_plan(plan)
    refused = [r.host for r in plan.refused_requested]
    if plan.is_empty:
        say(_nothing_to_change(plan))
        if args.json:
            print_json({"changed": [], "commit": None, "findings": [], "checks": [], "refused": refused})
        return REFUSED if refused else 0
    interactive = sys.stdin.isatty()
    if not args.yes:
        if not interactive:
            say("llamaflake: apply needs --yes where there is no terminal to ask")
            return 2
        sys.stdout.write(plan_diff(plan))
        sys.stdout.flush()
        if _ask("Write these changes? [y/N] ") not in ("y", "yes"):
            say("llamaflake: nothing written")
            return 1
    head_before = landed_commit(repo, None) if repo is not None else None
    try:
        try:
            options = ApplyOptions(
                commit=not args.no_commit,
                message=args.message,
                allow_dirty=args.allow_dirty,
                init=args.init,
                evaluate=not args.no_eval,
                eval_timeout=args.eval_timeout or DEFAULT_EVAL_TIMEOUT,
                keep_on_reject=interactive,
                use_nix=not args.no_nix,
                refresh=args.refresh,
                **({"jobs": max(1, args.jobs)} if args.jobs else {}),
            )
            result = apply_plan(plan, options, progress=_progress, repo=repo)
        except CommitRejected as rejected:
            if rejected.pending is None:
                raise
            result = _retry_or_abort(rejected, args.message)
            if result is None:
                return 2
        _report_result(args, plan, result, refused)
    except KeyboardInterrupt:
        landed = landed_commit(repo, head_before) if repo is not None and head_before is not None else None
        if landed is None:
            raise
        say(f"llamaflake: interrupted, but the commit {landed[:12]} had landed: the apply is done")
        return REFUSED if refused else 0
    if refused:
        say("llamaflake: not done for " + ", ".join(repr(h) for h in refused) + " (see above)")
        return REFUSED
    return 0


def _report_result(args: argparse.Namespace, plan: Plan, result, refused: list[str]) -> None:
    from tui.core.apply import AFTER_COMMIT

    if getattr(result, "interrupted", False):
        say(f"llamaflake: interrupted, but the commit {result.commit[:12]} had landed: the apply is done")
    if args.json:
        print_json(
            {
                "changed": result.paths,
                "commit": result.commit,
                "findings": [{"level": f.level, "code": f.code, "message": f.message} for f in result.findings],
                "checks": [
                    {
                        "subject": c.subject,
                        "status": c.status,
                        "detail": c.detail,
                        "host": c.host,
                        "chosen": c.chosen,
                        "intent": c.intent,
                    }
                    for c in result.checks
                ],
                "next": rebuild_commands(plan),
                "refused": refused,
            }
        )
    else:
        for path in result.paths:
            say(f"llamaflake: wrote {path}")
        _say_proof(result.checks)
        for line in unchecked_lines(result.checks):
            if line.startswith("flake.lock"):
                say(f"llamaflake: {line}")
        if result.commit:
            say(f"llamaflake: committed {result.commit[:12]} (undo with `llamaflake undo`)")
            for finding in result.findings:
                if finding.code in AFTER_COMMIT:
                    say(f"llamaflake: {finding}")
            commands = rebuild_commands(plan)  # none where only the header's machines left alone changed
            if commands:
                say("llamaflake: next, on each machine:")
                for command in commands.values():
                    say(f"  {command}")
                say("llamaflake: then, on that machine, check that its chosen build is what runs:")
                for host in commands:
                    say(f"  {verify_line(host)}")
        elif any(f.code == "not-a-repository" for f in result.findings):
            say("llamaflake: not committed: the flake is in no git repository")
        else:
            say("llamaflake: not committed; new files are marked with `git add --intent-to-add` so that nix sees them")


def _say_proof(checks) -> None:
    """The per-machine result last, where it is read: ✓/✗ per machine, or plainly "not evaluated"."""
    machines = [c for c in checks if c.host is not None]
    if machines:
        say("llamaflake: evaluated with nix:")
        for check in machines:
            first, *rest = check.machine_line().splitlines()
            say(f"  {first}")
            for line in rest[:6]:
                say(f"      {line}")
            for warning in check.warnings or []:
                say(f"      warning: {warning}")
    else:
        why = next(
            (c.detail for c in checks if c.subject.startswith(("evaluate", "lock the flake and")) and c.status != "ok"),
            None,
        )
        if why:
            say(f"llamaflake: machines not evaluated: {why}")


def _retry_or_abort(rejected, message: str | None):
    """Ask, after a rejected commit, whether to retry it (after fixing what the hook says) or abort."""
    from tui.core.apply import CommitRejected

    pending = rejected.pending
    try:
        while True:
            say(f"llamaflake: {rejected.message}")
            reply = _ask("Fix the problem, then [r]etry the commit, or [a]bort (put everything back)? [r/A] ")
            if reply not in ("r", "retry"):
                pending.abort()
                say("llamaflake: aborted; every file and the index are back as they were")
                return None
            try:
                return pending.commit(message)
            except CommitRejected as again:
                rejected = again
    except KeyboardInterrupt:
        if not pending.done:
            say("")
            pending.abort()
            say("llamaflake: interrupted: nothing was committed; every file and the index are back as they were")
        raise
