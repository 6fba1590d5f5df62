"""Options and helpers the headless commands share."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tui.core.answers import Answers, MachineAnswer
from tui.core.caches import cache_by_name, custom_cache
from tui.core.errors import AnswerError
from tui.core.nix.flake import Flake, load_flake


def add_repo_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--flake", metavar="PATH", type=Path, help="the flake repository (default: the nearest flake.nix upward)")
    where.add_argument("--demo", action="store_true", help="work on a fresh copy of the bundled demo repository")
    parser.add_argument("--json", action="store_true", help="print data as JSON")


def add_answer_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("answers")
    group.add_argument("--host", metavar="NAME=VARIANT", action="append", default=[],
                       help="the build for a machine: cpu, cuda, vulkan, rocm, or none (leave it alone); repeat per machine")
    group.add_argument("--cpu-flags", metavar="NAME=FLAGS", action="append", default=[],
                       help="the machine's /proc/cpuinfo flags, comma separated (only those ggml uses are kept)")
    group.add_argument("--all-cpu-variants", metavar="NAME", action="append", default=[],
                       help="build every CPU variant and pick at run time (for a CPU not known for certain)")
    group.add_argument("--cuda", metavar="NAME=CAPS", action="append", default=[],
                       help="CUDA compute capabilities for a machine, comma separated (e.g. carbon=8.6)")
    group.add_argument("--rocm", metavar="NAME=TARGETS", action="append", default=[],
                       help="ROCm GPU targets for a machine, comma separated (e.g. gfx1100)")
    group.add_argument("--cache", metavar="NAME|URL=KEY", action="append", default=None,
                       help="a binary cache to set: nixos-cuda, flox, nix-community, or a custom URL=KEY; repeat for more")
    group.add_argument("--no-caches", action="store_true", help="set no binary caches (remove those set before)")
    group.add_argument("--follows", metavar="INPUT", help="the nixpkgs input llama.cpp follows ('' for none)")
    group.add_argument("--ref", metavar="REF", help="pin llama.cpp to a branch, tag or commit ('' to unpin)")
    group.add_argument("--cleanup", action="store_true",
                       help="also remove what the new set-up supersedes (hand-written overlays, dead caches)")
    group.add_argument("--module-dir", metavar="DIR", help="the folder for the generated module (default: chosen from the layout)")


def _pairs(values: list[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise AnswerError(f"{option} {value!r}: give it as NAME=VALUE")
        pairs.append((name.strip(), rest.strip()))
    return pairs


def _split(text: str) -> list[str]:
    return [part for part in (p.strip() for p in text.replace(" ", ",").split(",")) if part]


def answers_from_args(args: argparse.Namespace) -> Answers:
    answers = Answers()
    for name, variant in _pairs(args.host, "--host"):
        if variant == "none":
            answers.skip.append(name)
        else:
            answers.machines[name] = MachineAnswer(variant=variant)

    def machine(name: str, option: str) -> MachineAnswer:
        if name not in answers.machines:
            raise AnswerError(f"{option} {name}: give the machine's variant with --host {name}=VARIANT too")
        return answers.machines[name]

    for name, flags in _pairs(args.cpu_flags, "--cpu-flags"):
        machine(name, "--cpu-flags").cpu_flags = _split(flags)
    for name in args.all_cpu_variants:
        machine(name, "--all-cpu-variants").all_variants = True
    for name, caps in _pairs(args.cuda, "--cuda"):
        machine(name, "--cuda").cuda_capabilities = _split(caps)
    for name, targets in _pairs(args.rocm, "--rocm"):
        machine(name, "--rocm").rocm_targets = _split(targets)
    if args.no_caches:
        answers.caches = []
    elif args.cache is not None:
        answers.caches = [custom_cache(c) if "=" in c else cache_by_name(c) for c in args.cache]
    answers.follows = args.follows
    answers.ref = args.ref
    answers.cleanup = args.cleanup
    answers.module_dir = args.module_dir
    return answers


def load_from_args(args: argparse.Namespace) -> Flake:
    if args.demo:
        from tui.core.demo import make_demo_repo

        path = make_demo_repo()
        print(f"llamaflake: demo repository copied to {path}", file=sys.stderr)
        return load_flake(path)
    return load_flake(args.flake or Path.cwd())


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def say(message: str) -> None:
    print(message, file=sys.stderr)
