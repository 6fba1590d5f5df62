"""``llamaflake hosts``: the machines of a flake and where each is defined."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tui.commands.common import add_repo_options, load_from_args, print_json
from tui.commands.text import shown
from tui.core.report import host_report


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "hosts",
        help="list the machines and how each is built",
        description="List the machines of the flake, how each is built, and whether it can be wired.",
    )
    add_repo_options(parser)
    parser.add_argument(
        "--eval-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="time limit for asking nix which machines exist (default: 300)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    flake = load_from_args(args)
    report = host_report(flake)
    discovery = getattr(args, "discovery", None)
    if discovery is not None:
        report["nix"] = discovery.as_dict()
    if args.json:
        print_json(report)
        return 0
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    table = Table(title=shown(f"Machines in {flake.root}", "table.title"), title_justify="left")
    table.add_column("host", no_wrap=True)
    table.add_column("built by", no_wrap=True)
    table.add_column("defined in", no_wrap=True)
    table.add_column("system", no_wrap=True)
    table.add_column("llama.cpp", no_wrap=True)
    table.add_column("wiring", overflow="fold")
    for host in report["hosts"]:
        current = host["llama_cpp"]["variant"] if host["llama_cpp"] else "left alone" if host["left_alone"] else "-"
        others = list(dict.fromkeys(entry["machine"] for entry in host["imports_settings_of"]))
        if others:  # a machine copied from another: it loads that machine's settings
            current = ("+" if host["llama_cpp"] else "") + f"{', '.join(others)}'s"
        wiring = "automatic" if host["can_wire"] else "by hand (below)"
        cells = (
            host["name"],
            host["builder"],
            f"{host['file']}:{host['line']}",
            host["system"] or "?",
            current,
            wiring,
        )
        table.add_row(*(shown(cell, newlines=False) for cell in cells))
    console.print(table)
    for host in report["hosts"]:
        if host["can_wire"]:
            continue
        console.print(Text.assemble(shown(host["name"], "bold"), ": ", shown(host["refusal"])))
        if host.get("snippet"):
            where = host.get("snippet_file")
            console.print(shown(f"  add to {where}:" if where else "  add by hand:"))
            for line in str(host["snippet"]).splitlines():
                console.print(shown(f"    {line}"))
    setup = report.get("llama_cpp_setup") or {}
    found = [*setup.get("packages", []), *setup.get("services", []), *setup.get("dead_caches", [])]
    if found:
        console.print("Existing llama.cpp set-up:", highlight=False)
        for item in found:
            label = item.get("name") or item.get("value") or item.get("option") or item.get("setting") or ""
            console.print(shown(f"  {item['file']}:{item['line']}  {label}"))
    for host in report["hosts"]:
        for entry in host["imports_settings_of"]:
            console.print(
                shown(
                    f"{host['name']}: imports {entry['machine']}'s settings ({entry['settings']}) in "
                    f"{entry['file']}: answer for it to give it its own"
                )
            )
    for note in report.get("notes", []):
        console.print(shown(f"note: {note}"))
    return 0
