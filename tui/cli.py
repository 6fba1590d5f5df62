"""The ``llamaflake`` command: the wizard, and headless subcommands with data on stdout."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

from tui import __version__
from tui.core.errors import AnswerError, LlamaflakeError, printable

SUBCOMMANDS = ("hosts", "plan", "apply", "detect", "undo", "verify")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The subcommands' parser; ``only`` sets up one subcommand alone (a faster start)."""
    parser = argparse.ArgumentParser(
        prog="llamaflake",
        description="Wire the official llama.cpp flake into a flake-based NixOS repository.",
        epilog="Run `llamaflake [PATH]` for the wizard, or a subcommand for scripts: "
        + ", ".join(SUBCOMMANDS)
        + ". Each has --help.",
    )
    parser.add_argument("--version", action="version", version=f"llamaflake {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    if only in (None, "hosts"):
        from tui.commands import hosts

        hosts.add_parser(subparsers)
    if only in (None, "plan", "apply"):
        from tui.commands import plan

        plan.add_parsers(subparsers)
    for optional in ("detect", "undo", "verify"):
        if only not in (None, optional):
            continue
        try:
            module = __import__(f"tui.commands.{optional}", fromlist=["add_parser"])
        except ImportError:
            continue
        module.add_parser(subparsers)
    return parser


def build_wizard_parser() -> argparse.ArgumentParser:
    from tui.core import eval_cache

    parser = argparse.ArgumentParser(
        prog="llamaflake",
        description="Wire the official llama.cpp flake into a flake-based NixOS repository. "
        "Without a subcommand, starts the wizard.",
        epilog="Subcommands for scripts: " + ", ".join(SUBCOMMANDS) + " (each has --help).",
    )
    parser.add_argument("--version", action="version", version=f"llamaflake {__version__}")
    parser.add_argument(
        "path", nargs="?", type=Path, help="the flake repository (default: the nearest flake.nix upward)"
    )
    parser.add_argument("--demo", action="store_true", help="start on a copy of the bundled demo repository")
    parser.add_argument(
        "--no-eval",
        action="store_true",
        help="do not evaluate the changed machines with nix in the review step and before the commit",
    )
    parser.add_argument(
        "--no-nix",
        action="store_true",
        help="do not run nix at all: the machines as read from the files alone, no evaluation",
    )
    parser.add_argument(
        "--eval-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="time limit for locking and for each machine's evaluation (default: 600)",
    )
    parser.add_argument("--refresh", action="store_true", help=eval_cache.REFRESH_HELP)
    return parser


def run_wizard(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "llamaflake: the wizard needs a terminal; without one, use the subcommands "
            "(hosts, detect, plan, apply, undo, verify; each has --help)",
            file=sys.stderr,
        )
        return 2
    run_app: Callable[..., int] | None
    try:
        from tui.app.main import run as run_app
    except ImportError:
        run_app = None
    if args.demo:
        from tui.core.demo import make_demo_repo

        path = make_demo_repo()
        print(f"llamaflake: demo repository copied to {path}", file=sys.stderr)
    else:
        path = args.path or Path.cwd()
    if run_app is None:
        from tui.commands.hosts import run as run_hosts

        return run_hosts(argparse.Namespace(flake=path, demo=False, json=False))
    return run_app(
        path, use_nix=not args.no_nix, evaluate=not args.no_eval, eval_timeout=args.eval_timeout, refresh=args.refresh
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in SUBCOMMANDS:
            args = build_parser(argv[0]).parse_args(argv)
            return args.run(args)
        if argv and argv[0] in ("-h", "--help"):
            build_wizard_parser().print_help()
            return 0
        return run_wizard(build_wizard_parser().parse_args(argv))
    except LlamaflakeError as exc:
        # An answer is one line; values from reports and flags in it must not move the cursor or colour it.
        one_line = isinstance(exc, AnswerError)
        print(f"llamaflake: {printable(exc.message, newlines=not one_line)}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {printable(exc.hint)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("llamaflake: interrupted", file=sys.stderr)
        return 130
    except RecursionError:
        print("llamaflake: a file nests too deeply to read", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say, and no one to say it to
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EFBIG):
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is still buffered goes nowhere
        print(f"llamaflake: cannot write the output: {exc.strerror}", file=sys.stderr)
        return 2
    except Exception as exc:
        # git refusing something the checks did not foresee: its own words in one line, not a traceback.
        import git

        if not isinstance(exc, git.GitCommandError):
            raise
        said = next((line.strip() for line in str(exc.stderr or "").splitlines() if line.strip()), "")
        said = said.strip("'\" ").removeprefix("stderr: ").strip("'\" ")
        print(
            f"llamaflake: git {exc.command[1] if len(exc.command) > 1 else ''} failed: {said or exc.status}",
            file=sys.stderr,
        )
        return 2
