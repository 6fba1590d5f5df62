"""``llamaflake verify``: on a machine after its switch, whether what runs is what the repository chose."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

TEST_ENVIRONMENT = """\
exit status: 0 when every check passes, 1 when one fails.
for testing, these environment variables point verify at a copied file tree (as for `detect`):
  LLAMAFLAKE_ROOT             a folder holding proc/, sys/, dev/ and the Vulkan driver folders
  LLAMAFLAKE_PROC_ROOT        instead of /proc
  LLAMAFLAKE_SYS_ROOT         instead of /sys
  LLAMAFLAKE_DEV_ROOT         instead of /dev
  LLAMAFLAKE_VULKAN_ICD_DIRS  Vulkan driver folders, separated by ':'
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="on the machine, after the switch: check that the chosen llama.cpp build is what runs",
        description="Compare what the repository chose for this machine with what runs on it: the llama.cpp "
        "build on PATH, the devices llama.cpp sees, and the llama-cpp service with its model.",
        epilog=TEST_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", metavar="NAME", help="the machine's name in the flake (default: this host's name)")
    parser.add_argument(
        "--flake", metavar="PATH", type=Path, help="the flake repository (default: the nearest flake.nix upward)"
    )
    parser.add_argument(
        "--llama-bin",
        metavar="DIR",
        type=Path,
        help="look for llama-server and llama-cli in DIR (e.g. result/bin) instead of on PATH",
    )
    parser.add_argument("--no-service", action="store_true", help="do not check the llama-cpp service")
    parser.add_argument(
        "--bench", action="store_true", help="also run a short llama-bench of the served model (tokens per second)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object: the host and every check")
    parser.set_defaults(run=run)


def probes_from_environment():
    """The machine's own trees, or the copied ones the LLAMAFLAKE_* variables name (tests)."""
    from tui.core.verify import Probes

    env = os.environ
    root = Path(env["LLAMAFLAKE_ROOT"]) if env.get("LLAMAFLAKE_ROOT") else None
    probes = Probes()
    probes.proc = Path(env.get("LLAMAFLAKE_PROC_ROOT") or (root / "proc" if root else "/proc"))
    probes.sys = Path(env.get("LLAMAFLAKE_SYS_ROOT") or (root / "sys" if root else "/sys"))
    probes.dev = Path(env.get("LLAMAFLAKE_DEV_ROOT") or (root / "dev" if root else "/dev"))
    if env.get("LLAMAFLAKE_VULKAN_ICD_DIRS") is not None:
        probes.icd_dirs = [Path(p) for p in env["LLAMAFLAKE_VULKAN_ICD_DIRS"].split(":") if p]
    elif root is not None:
        from tui.core.hardware.this_machine import VULKAN_ICD_DIRS

        probes.icd_dirs = [root / p.relative_to("/") for p in VULKAN_ICD_DIRS]
    return probes


def run(args: argparse.Namespace) -> int:
    from tui.commands.common import errors_as_json, print_json
    from tui.core.nix.flake import load_flake
    from tui.core.read_back import serve_not_plain, serve_switched_off
    from tui.core.verify import chosen_settings, verify_machine

    with errors_as_json(args.json):
        probes = probes_from_environment()
        flake = load_flake(args.flake or Path.cwd())
        host = args.host or probes.hostname()
        settings_file, answer = chosen_settings(flake, host)
        source = flake.source_file(settings_file).source
        off = serve_switched_off(source, settings_file)
        unread = serve_not_plain(source, settings_file) if answer.serve is None else None
        result = verify_machine(
            host,
            answer,
            probes,
            settings_file=settings_file,
            llama_bin=args.llama_bin,
            service=not args.no_service,
            bench=args.bench,
            service_off=f"serve.enable = false in {settings_file}" if off else None,
            serve_unread=unread,
        )
    if args.json:
        print_json(result.to_dict())
    else:
        print_verification(result)
    return 0 if result.ok else 1


def print_verification(result, console=None) -> None:
    """The checks as ✓/✗ lines, each failure with its fix under it: in a terminal, wrapped under their text; to a
    file or a pipe, one line each."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from tui.commands.text import shown

    console = console or Console(highlight=False)
    where = f", as chosen in {result.settings_file}" if result.settings_file else ""
    console.print(shown(f"llama.cpp on {result.host}: the {result.variant} build{where}", "bold"), soft_wrap=True)
    rows: list[tuple[Text, Text]] = []
    for check in result.checks:
        mark, style = {True: ("✓", "green"), False: ("✗", "red"), None: ("-", "dim")}[check.ok]
        rows.append((Text(mark, style), Text.assemble(shown(f"{check.name}: ", "bold"), shown(check.detail))))
        if check.ok is False and check.fix:
            rows.append((Text(""), Text.assemble("  ", ("fix: ", "yellow"), shown(check.fix))))
    if console.is_terminal:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for row in rows:
            grid.add_row(*row)
        console.print(grid)
    else:
        for mark_text, text in rows:
            console.print(
                Text.assemble(mark_text, " ", text) if mark_text.plain else Text.assemble("  ", text), soft_wrap=True
            )
    passed = sum(1 for c in result.checks if c.ok)
    failed = sum(1 for c in result.checks if c.ok is False)
    summary = "every check passed" if not failed else f"{failed} failed, {passed} passed"
    console.print(shown(summary, "green" if not failed else "red"))
