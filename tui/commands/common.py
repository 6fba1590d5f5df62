"""Options and helpers the headless commands share."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

from tui.core.answers import Answers, split_list
from tui.core.caches import cache_by_name, custom_cache
from tui.core.choice import Choice, combine
from tui.core.errors import AnswerError, printable
from tui.core.nix.flake import Flake, load_flake
from tui.core.variants import NO_VARIANT, VARIANTS


def add_repo_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--flake", metavar="PATH", type=Path, help="the flake repository (default: the nearest flake.nix upward)"
    )
    where.add_argument("--demo", action="store_true", help="work on a fresh copy of the bundled demo repository")
    parser.add_argument("--json", action="store_true", help="print data as JSON")
    parser.add_argument(
        "--no-nix", action="store_true", help="do not run nix: the machines as read from the files alone, no evaluation"
    )


def add_answer_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("answers")
    group.add_argument(
        "--host",
        metavar="NAME=VARIANT",
        action="append",
        default=[],
        help=f"the build for a machine: {', '.join(VARIANTS)}, or {NO_VARIANT} (leave it alone); repeat per machine",
    )
    group.add_argument(
        "--cpu-flags",
        metavar="NAME=FLAGS",
        action="append",
        default=[],
        help="the machine's /proc/cpuinfo flags, comma separated (only those ggml uses are kept)",
    )
    group.add_argument(
        "--all-cpu-variants",
        metavar="NAME",
        action="append",
        default=[],
        help="build every CPU variant and pick at run time (for a CPU not known for certain)",
    )
    group.add_argument(
        "--cuda",
        metavar="NAME=CAPS",
        action="append",
        default=[],
        help="CUDA compute capabilities for a machine, comma separated (e.g. carbon=8.6)",
    )
    group.add_argument(
        "--rocm",
        metavar="NAME=TARGETS",
        action="append",
        default=[],
        help="ROCm GPU targets for a machine, comma separated (e.g. gfx1100)",
    )
    group.add_argument(
        "--this-machine",
        metavar="NAME",
        action="append",
        default=[],
        help="NAME is the machine this runs on: detect its hardware and take the recommended build "
        "(a --host NAME=VARIANT still chooses the variant)",
    )
    group.add_argument(
        "--report",
        metavar="NAME=FILE",
        action="append",
        default=[],
        help="take a machine's hardware from a report: `llamaflake detect --json` output or nixos-facter's facter.json",
    )
    group.add_argument(
        "--ssh",
        metavar="NAME=HOST",
        action="append",
        default=[],
        help="scan a machine's hardware over SSH (read-only; needs only a shell there)",
    )
    group.add_argument(
        "--cache",
        metavar="NAME|URL=KEY",
        action="append",
        default=None,
        help="a binary cache to set: nixos-cuda, flox, nix-community, or a custom URL=KEY; repeat for more",
    )
    group.add_argument("--no-caches", action="store_true", help="set no binary caches (remove those set before)")
    group.add_argument("--follows", metavar="INPUT", help="the nixpkgs input llama.cpp follows ('' for none)")
    group.add_argument("--ref", metavar="REF", help="pin llama.cpp to a branch, tag or commit ('' to unpin)")
    group.add_argument(
        "--url",
        metavar="URL",
        help="where the llama.cpp flake comes from: a fork, git+file:/path or path:/path for a local checkout "
        "(default: github:ggml-org/llama.cpp)",
    )
    group.add_argument(
        "--cleanup",
        action="store_true",
        help="also remove what the new set-up supersedes (hand-written overlays, dead caches)",
    )
    group.add_argument(
        "--module-dir", metavar="DIR", help="the folder for the generated module (default: chosen from the layout)"
    )
    group.add_argument(
        "--write-refused",
        action="store_true",
        help="write the settings file of a machine the engine cannot wire, for you to import by hand "
        "(the machine still counts as not done: exit status 3)",
    )


def _pairs(values: list[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise AnswerError(f"{option} {value!r}: give it as NAME=VALUE")
        pairs.append((name.strip(), rest.strip()))
    return pairs


def hardware_recommendations(
    args: argparse.Namespace, cuda_release: Callable[[], str | None], flake: Flake | None = None
) -> dict:
    """Recommendations for the machines whose hardware the flags point at (this machine, a report, SSH);
    an NVIDIA GPU's under ``cuda_release()``, the CUDA release of the nixpkgs llama.cpp will follow. Where a
    report disagrees with the machine's own configuration, a warning says so."""
    sources = []
    for name in getattr(args, "this_machine", []):
        sources.append((name, "this", None))
    for name, path in _pairs(getattr(args, "report", []), "--report"):
        sources.append((name, "report", path))
    for name, host in _pairs(getattr(args, "ssh", []), "--ssh"):
        sources.append((name, "ssh", host))
    if not sources:
        return {}
    from tui.core import hardware

    recommendations = {}
    for name, kind, where in sources:
        if kind == "this":
            from tui.commands.detect import this_machine_report

            report = this_machine_report()
        elif kind == "report":
            report = hardware.load_report(Path(where))
        else:
            say(f"llamaflake: scanning {where} over SSH ...")
            report = hardware.scan_over_ssh(where)
        nvidia = any(gpu.vendor == "nvidia" for gpu in report.gpus)
        recommendations[name] = hardware.recommend(
            report, report.system, cuda_version=cuda_release() if nvidia else None
        )
        host = flake.host(name) if flake is not None else None
        if host is not None:
            from tui.core.hardware.hints import hints_from_config
            from tui.core.hardware.mismatch import CLI_FLAGS, report_mismatches

            for line in report_mismatches(hints_from_config(flake, host), report, name, CLI_FLAGS):
                say(f"llamaflake: warning: {line}")
    return recommendations


def _cuda_release_reader(args: argparse.Namespace, flake: Flake | None) -> Callable[[], str | None]:
    """Reads the CUDA release of the nixpkgs llama.cpp will follow the first time it is called, and says it."""

    @cache
    def read() -> str | None:
        if flake is None or getattr(args, "no_nix", False) or getattr(args, "no_eval", False):
            version, note = None, "nixpkgs' current CUDA release is assumed (Nix not asked)"
        else:
            from tui.core.plan import follows_cuda_release

            version, note = follows_cuda_release(flake, getattr(args, "follows", None))
        say(f"llamaflake: note: {note}")
        return version

    return read


def answers_from_args(args: argparse.Namespace, flake: Flake | None = None) -> Answers:
    answers = Answers()
    cuda_release = _cuda_release_reader(args, flake)
    recommendations = hardware_recommendations(args, cuda_release, flake)
    choices: dict[str, Choice] = {}
    for name, variant in _pairs(args.host, "--host"):
        if variant == NO_VARIANT:
            answers.skip.append(name)
        else:
            choices[name] = Choice(variant=variant)
    for name in recommendations:
        if name not in answers.skip:
            choices.setdefault(name, Choice())

    def machine(name: str, option: str) -> Choice:
        if name not in choices:
            raise AnswerError(f"{option} {name}: give the machine's variant with --host {name}=VARIANT too")
        return choices[name]

    for name, flags in _pairs(args.cpu_flags, "--cpu-flags"):
        machine(name, "--cpu-flags").cpu_flags = split_list(flags)
    for name in args.all_cpu_variants:
        machine(name, "--all-cpu-variants").all_variants = True
    for name, caps in _pairs(args.cuda, "--cuda"):
        machine(name, "--cuda").cuda = split_list(caps)
    for name, targets in _pairs(args.rocm, "--rocm"):
        machine(name, "--rocm").rocm = split_list(targets)
    # The hardware was asked for by a flag: its recommendation comes before the machine's file (the plan's).
    for name, choice in choices.items():
        recommendation = recommendations.get(name)
        variant = choice.variant or recommendation.variant
        answers.machines[name] = combine(variant, choice, recommendation, follow_hardware=True)
    if args.no_caches:
        answers.caches = []
    elif args.cache is not None:
        answers.caches = [custom_cache(c) if "=" in c else cache_by_name(c) for c in args.cache]
    answers.follows = args.follows
    if any(m.variant == "cuda" and m.cuda_capabilities for m in answers.machines.values()):
        answers.cuda_release = cuda_release()  # the release the capabilities are checked against
    answers.ref = args.ref
    answers.url = args.url
    answers.cleanup = args.cleanup
    answers.module_dir = args.module_dir
    answers.write_refused = args.write_refused
    return answers


def load_from_args(args: argparse.Namespace) -> Flake:
    if args.demo:
        from tui.core.demo import make_demo_repo

        path = make_demo_repo()
        print(f"llamaflake: demo repository copied to {path}", file=sys.stderr)
        flake = load_flake(path)
    else:
        flake = load_flake(args.flake or Path.cwd())
    if not getattr(args, "no_nix", True):
        from tui.core.judge import discover

        timeout = getattr(args, "eval_timeout", None)
        args.discovery = discover(flake, **({"timeout": timeout} if timeout else {}))
        for note in args.discovery.notes():
            say(f"llamaflake: {note}")
    return flake


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def say(message: str) -> None:
    print(printable(message), file=sys.stderr)
