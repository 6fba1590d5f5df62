"""``llamaflake undo``: take back the last commit llamaflake made."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui.commands.common import print_json, say


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "undo",
        help="take back the last commit llamaflake made",
        description="Find the last commit with the `Generated-by: llamaflake` trailer and undo it: drop it "
        "where it is the last commit and on no remote (your other uncommitted work is kept), else `git revert` it.",
    )
    parser.add_argument("--flake", metavar="PATH", type=Path, help="a folder in the repository (default: here)")
    parser.add_argument("--yes", action="store_true", help="do it without asking (required where there is no terminal)")
    parser.add_argument("--json", action="store_true", help="print what was done as JSON")
    parser.set_defaults(run=run_undo)


def ask(question: str) -> bool:
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def run_undo(args: argparse.Namespace) -> int:
    from tui.core.undo import plan_undo, undo

    plan = plan_undo(args.flake or Path.cwd())
    say(plan.describe())
    if not args.yes:
        if not sys.stdin.isatty():
            say("llamaflake: undo needs --yes where there is no terminal to ask; nothing was changed")
            return 2
        if not ask("Undo it? [y/N] "):
            say("llamaflake: nothing changed")
            return 1
    result = undo(plan)
    if args.json:
        print_json({"done": True, **result.as_dict()})
    else:
        verb = "dropped" if result.method == "reset" else "reverted"
        say(f"llamaflake: {verb} {result.commit[:12]}; HEAD is now {result.head[:12]}")
    return 0
