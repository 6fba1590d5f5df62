"""``llamaflake plan`` and ``llamaflake apply``: the change as a diff, and writing it."""

from __future__ import annotations

import argparse
import sys

from tui.commands.common import add_answer_options, add_repo_options, answers_from_args, load_from_args, print_json, say
from tui.core.diff import plan_diff
from tui.core.plan import Plan, make_plan
from tui.core.report import plan_report


def add_parsers(subparsers) -> None:
    plan = subparsers.add_parser(
        "plan", help="print the change as a unified diff",
        description="Print what llamaflake would change, as a unified diff (or JSON). Nothing is written.",
    )
    add_repo_options(plan)
    add_answer_options(plan)
    plan.add_argument("--check", action="store_true", help="exit 1 when there is something to change")
    plan.set_defaults(run=run_plan)

    apply = subparsers.add_parser(
        "apply", help="write the change, and commit it",
        description="Write the planned change and commit it (only the files it touches).",
    )
    add_repo_options(apply)
    add_answer_options(apply)
    apply.add_argument("--yes", action="store_true", help="do it without asking (required where there is no terminal)")
    apply.add_argument("--no-commit", action="store_true", help="write the files but do not commit")
    apply.add_argument("--message", metavar="TEXT", help="the commit message (default: made from the answers)")
    apply.set_defaults(run=run_apply)


def report_plan(plan: Plan) -> None:
    for refusal in plan.refusals:
        say(f"llamaflake: {refusal.host}: not wired: {refusal.reason}")
        say(f"  add to {refusal.file or 'its module'} by hand:\n    {refusal.snippet}")
    for offer in plan.offers:
        say(f"llamaflake: offer: {offer.title} (pass --cleanup to include it)")
    for note in plan.notes:
        say(f"llamaflake: note: {note}")


def run_plan(args: argparse.Namespace) -> int:
    flake = load_from_args(args)
    plan = make_plan(flake, answers_from_args(args))
    if args.json:
        print_json(plan_report(plan))
    else:
        sys.stdout.write(plan_diff(plan))
        report_plan(plan)
        if plan.is_empty:
            say("llamaflake: nothing to change")
    if args.check and not plan.is_empty:
        return 1
    return 0


def run_apply(args: argparse.Namespace) -> int:
    from tui.core.apply import apply_plan

    flake = load_from_args(args)
    plan = make_plan(flake, answers_from_args(args))
    report_plan(plan)
    if plan.is_empty:
        say("llamaflake: nothing to change")
        if args.json:
            print_json({"changed": [], "commit": None})
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            say("llamaflake: apply needs --yes where there is no terminal to ask")
            return 2
        sys.stdout.write(plan_diff(plan))
        reply = input("Write these changes? [y/N] ").strip().lower()
        if reply not in ("y", "yes"):
            say("llamaflake: nothing written")
            return 1
    result = apply_plan(plan, commit=not args.no_commit, message=args.message)
    if args.json:
        print_json({"changed": result.paths, "commit": result.commit})
    else:
        for path in result.paths:
            say(f"llamaflake: wrote {path}")
        if result.commit:
            say(f"llamaflake: committed {result.commit[:12]}")
    return 0
