"""``llamaflake detect``: the hardware of this machine (or another one) and the llama.cpp build it should get."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

TEST_ENVIRONMENT = """\
for testing, these environment variables point detection of this machine at a copied file tree:
  LLAMAFLAKE_ROOT             a folder holding proc/, sys/ and the Vulkan driver folders
  LLAMAFLAKE_PROC_ROOT        instead of /proc
  LLAMAFLAKE_SYS_ROOT         instead of /sys
  LLAMAFLAKE_VULKAN_ICD_DIRS  Vulkan driver folders, separated by ':'
  LLAMAFLAKE_MACHINE          instead of `uname -m`
  LLAMAFLAKE_PCI_IDS          the PCI ID database (pci.ids) that names GPUs ('' for none)
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="show the hardware and the recommended llama.cpp build",
        description="Detect a machine's CPU and GPUs and recommend its llama.cpp build. Without options: this machine.",
        epilog=TEST_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--ssh", metavar="HOST", help="scan another machine over SSH (read-only; needs key or agent login)"
    )
    source.add_argument(
        "--report",
        metavar="FILE",
        type=Path,
        help="read a saved report: `llamaflake detect --json` output or a nixos-facter facter.json",
    )
    source.add_argument("--host", metavar="NAME", help="what the flake's configuration of machine NAME says (hints)")
    parser.add_argument(
        "--flake",
        metavar="PATH",
        type=Path,
        help="the flake repository for --host (default: the nearest flake.nix upward)",
    )
    parser.add_argument("--json", action="store_true", help="print the report and the recommendation as JSON")
    parser.set_defaults(run=run)


def this_machine_report():
    """This machine's hardware; the LLAMAFLAKE_* variables (for tests) point at fake trees."""
    from tui.core.hardware.this_machine import VULKAN_ICD_DIRS, detect_this_machine

    env = os.environ
    root = Path(env["LLAMAFLAKE_ROOT"]) if env.get("LLAMAFLAKE_ROOT") else None
    proc = Path(env.get("LLAMAFLAKE_PROC_ROOT") or (root / "proc" if root else "/proc"))
    sys_root = Path(env.get("LLAMAFLAKE_SYS_ROOT") or (root / "sys" if root else "/sys"))
    if env.get("LLAMAFLAKE_VULKAN_ICD_DIRS") is not None:
        icd_dirs = [Path(p) for p in env["LLAMAFLAKE_VULKAN_ICD_DIRS"].split(":") if p]
    elif root is not None:
        icd_dirs = [root / p.relative_to("/") for p in VULKAN_ICD_DIRS]
    else:
        icd_dirs = None
    return detect_this_machine(proc, sys_root, icd_dirs=icd_dirs, machine=env.get("LLAMAFLAKE_MACHINE") or None)


def gather(args: argparse.Namespace):
    """The HardwareReport the options ask for."""
    if args.ssh:
        from tui.core.hardware.ssh import scan_over_ssh

        return scan_over_ssh(args.ssh)
    if args.report:
        from tui.core.hardware.reports import load_report

        return load_report(args.report)
    if args.host:
        from tui.core.errors import AnswerError
        from tui.core.hardware.hints import hints_from_config
        from tui.core.nix.flake import load_flake

        flake = load_flake(args.flake or Path.cwd())
        host = flake.host(args.host)
        if host is None:
            names = ", ".join(h.name for h in flake.hosts) or "none"
            raise AnswerError(f"no machine named {args.host!r} in {flake.root} (machines: {names})")
        args.flake_root = flake.root
        return hints_from_config(flake, host)
    if args.flake:
        from tui.core.errors import AnswerError

        raise AnswerError("--flake goes with --host NAME (the machine whose configuration to read)")
    return this_machine_report()


def run(args: argparse.Namespace) -> int:
    from tui.core.hardware.recommendation import recommend

    report = gather(args)
    recommendation = recommend(report, cuda_version=_flake_cuda_version(args, report))
    if args.json:
        data = report.to_dict()
        data["recommendation"] = recommendation.to_dict()
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print_table(report, recommendation)
    return 0


def _flake_cuda_version(args: argparse.Namespace, report) -> str | None:
    """The CUDA release of the machine's own nixpkgs (``--host``), read only when an NVIDIA GPU needs it."""
    root = getattr(args, "flake_root", None)
    if root is None or not any(g.vendor == "nvidia" for g in report.gpus):
        return None
    from tui.core.hardware.support import flake_cuda_release

    version, note = flake_cuda_release(root)
    report.notes.append(note)
    return version


def print_table(report, recommendation) -> None:
    from rich.console import Console
    from rich.table import Table

    from tui.commands.text import shown
    from tui.core.ggml import filter_flags

    where = report.hostname or ("this machine" if report.source == "detected" else "the machine")
    source = {
        "detected": "detected",
        "ssh": "scanned over SSH",
        "report": "saved report",
        "facter": "nixos-facter report",
        "hints": "hints from its configuration",
    }.get(report.source, report.source)
    table = Table(
        title=shown(f"Hardware of {where} ({source})", "table.title"), title_justify="left", show_header=False
    )
    table.add_column("", style="bold")
    table.add_column("")

    def add(label: str, value: object, style: str = "") -> None:
        table.add_row(shown(label, newlines=False), shown(value, newlines=False), style=style or None)

    cpu = report.cpu
    if cpu is not None:
        model = cpu.model or (f"{cpu.vendor} CPU" if cpu.vendor else "unknown CPU")
        counts = ", ".join(
            p
            for p in (
                f"{cpu.cores} cores" if cpu.cores else "",
                f"{cpu.threads} threads" if cpu.threads and cpu.threads != cpu.cores else "",
            )
            if p
        )
        add("CPU", f"{model} ({cpu.arch}{', ' + counts if counts else ''})")
        if cpu.flags and cpu.ggml_options:
            level = f"x86-64-v{cpu.x86_64_level}: " if cpu.x86_64_level else ""
            add("flags that matter", level + (" ".join(filter_flags(cpu.flags)) or "none"))
        elif cpu.flags:
            add("features", " ".join(cpu.flags))
        on = [o for o, enabled in cpu.ggml_options.items() if enabled]
        if cpu.ggml_options:
            add("ggml options", ", ".join(on) or "none")
    for index, gpu in enumerate(report.gpus):
        add("GPU" if index == 0 else "", gpu.summary())
    if not report.gpus:
        add("GPU", "none found")
    if report.vulkan_driver is not None:
        add("Vulkan driver", "installed" if report.vulkan_driver else "none installed")
    for index, hint in enumerate(report.hints):
        add("hints" if index == 0 else "", f"{hint.file}:{hint.line}: {hint.text}")
    for index, note in enumerate(report.notes):
        add("notes" if index == 0 else "", note)
    build = recommendation.variant
    if recommendation.cuda_capabilities:
        build += f" (CUDA {', '.join(recommendation.cuda_capabilities)})"
    if recommendation.all_variants:
        build += ", all CPU variants"
    add("recommended", f"{build} [{recommendation.confidence}]", style="green")
    for index, reason in enumerate(recommendation.reasons):
        add("why" if index == 0 else "", reason)
    Console().print(table)
