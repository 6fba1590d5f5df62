"""``llamaflake hosts``: the machines of a flake and where each is defined."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from tui.commands.common import add_repo_options, load_from_args, print_json
from tui.core.report import host_report


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("hosts", help="list the machines and how each is built",
                                   description="List the machines of the flake, how each is built, and whether it can be wired.")
    add_repo_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    flake = load_from_args(args)
    report = host_report(flake)
    if args.json:
        print_json(report)
        return 0
    table = Table(title=f"Machines in {flake.root}", title_justify="left")
    for column in ("host", "built by", "defined in", "system", "llama.cpp", "wiring"):
        table.add_column(column)
    for host in report["hosts"]:
        current = host["llama_cpp"]["variant"] if host["llama_cpp"] else "-"
        wiring = "automatic" if host["can_wire"] else f"by hand: {host['refusal']}"
        table.add_row(host["name"], host["builder"], f"{host['file']}:{host['line']}", host["system"] or "?", current, wiring)
    Console().print(table)
    return 0
