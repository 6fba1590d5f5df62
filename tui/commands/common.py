"""Options and helpers the headless commands share."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.answers import Answers, MachineAnswer, ServeChoice, split_list
from tui.core.caches import cache_by_name, custom_cache
from tui.core.choice import Choice, combine
from tui.core.errors import AnswerError, LlamaflakeError, printable
from tui.core.models import DEFAULT_CONTEXT, memory_for, parse_model_spec, resolve_model
from tui.core.nix.flake import Flake, load_flake
from tui.core.variants import NO_VARIANT, VARIANTS

if TYPE_CHECKING:
    from tui.core.hardware.model import HardwareReport, Recommendation


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
        "--model",
        metavar="NAME=REPO[:FILE][@REVISION]",
        action="append",
        default=[],
        help="serve a GGUF model from Hugging Face on a machine, pinned to a commit (default: the main branch's): "
        "FILE is a .gguf path or a quantisation such as Q4_K_M; without it, the largest that fits the hardware "
        "given by --this-machine, --report or --ssh; NAME=none serves nothing (the service goes)",
    )
    group.add_argument(
        "--model-sha256",
        metavar="NAME=SHA256",
        action="append",
        default=[],
        help="the model file's sha256: with FILE and a commit id as REVISION nothing is looked up (offline); "
        "otherwise it must match the repository's",
    )
    group.add_argument(
        "--serve-port",
        metavar="NAME=PORT",
        action="append",
        default=[],
        help="the port the model is served on, on 127.0.0.1 (default: 8080; alone: changes the port of the model "
        "the machine serves)",
    )
    group.add_argument(
        "--context",
        metavar="NAME=TOKENS",
        action="append",
        default=[],
        help=f"the context the model is served with, in tokens (default: {DEFAULT_CONTEXT}; alone: changes the "
        "context of the model the machine serves)",
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
    args: argparse.Namespace,
    cuda_release: Callable[[], str | None],
    flake: Flake | None = None,
    reports: dict[str, HardwareReport] | None = None,
) -> dict[str, Recommendation]:
    """Recommendations for the machines whose hardware the flags point at (this machine, a report, SSH);
    an NVIDIA GPU's under ``cuda_release()``, the CUDA release of the nixpkgs llama.cpp will follow. Where a
    report disagrees with the machine's own configuration, a warning says so. ``reports``, where given, gets
    each machine's hardware report."""
    sources: list[tuple[str, str, str]] = []  # (machine, where its hardware is read, the report or SSH host)
    for name in getattr(args, "this_machine", []):
        sources.append((name, "this", ""))
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
        if reports is not None:
            reports[name] = report
        nvidia = any(gpu.vendor == "nvidia" for gpu in report.gpus)
        recommendations[name] = hardware.recommend(
            report, report.system, cuda_version=cuda_release() if nvidia else None
        )
        machine = flake.host(name) if flake is not None else None
        if flake is not None and machine is not None:
            from tui.core.hardware.hints import hints_from_config
            from tui.core.hardware.mismatch import CLI_FLAGS, report_mismatches

            for line in report_mismatches(hints_from_config(flake, machine), report, name, CLI_FLAGS):
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
    reports: dict[str, HardwareReport] = {}
    recommendations = hardware_recommendations(args, cuda_release, flake, reports)
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
        chosen = choice.variant or (recommendation.variant if recommendation is not None else None)
        if not chosen:  # `--host NAME=` and no hardware to recommend one
            raise AnswerError(
                f"--host {name}=: give the machine's variant ({', '.join(VARIANTS)}, or {NO_VARIANT} to leave it alone)"
            )
        answers.machines[name] = combine(chosen, choice, recommendation, follow_hardware=True)
    serve_from_args(args, answers, flake, reports)
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


def _number(value: str, option: str, name: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise AnswerError(f"{option} {name}={value!r}: give a whole number")
    return int(value)


def _machine_file(flake: Flake | None, name: str) -> tuple[str, bytes] | None:
    """The generated module's settings file of a machine (its path in the repository and its bytes), or None."""
    if flake is None:
        return None
    from tui.core.footprint import machine_path
    from tui.core.plan import existing_module_dir

    module_dir = existing_module_dir(flake)
    if module_dir is None or not (flake.root / machine_path(module_dir, name)).is_file():
        return None
    rel = machine_path(module_dir, name)
    return rel, flake.source_file(rel).source


def _wired_answer(flake: Flake | None, name: str) -> MachineAnswer | None:
    """The build a machine already has in the generated module's settings file, or None."""
    from tui.core.read_back import read_machine_settings

    found = _machine_file(flake, name)
    return read_machine_settings(found[1], found[0]) if found is not None else None


def _say_if_switched_off(flake: Flake | None, name: str) -> None:
    """A note where the machine's file keeps its served model off by hand (``serve.enable = false;``, the user's)."""
    from tui.core.read_back import serve_switched_off

    found = _machine_file(flake, name)
    if found is not None and serve_switched_off(found[1], found[0]):
        say(
            f"llamaflake: note: {name}: serve.enable = false in {found[0]}: the model is pinned, not served "
            "(set it to true to serve it)"
        )


NO_MODEL = "none"


def _machine_to_serve(name: str, answers: Answers, flake: Flake | None) -> MachineAnswer:
    """The answer of a machine a serve flag names: given by --host, else read from its settings file."""
    if flake is not None and flake.host(name) is None:
        from tui.core.plan import unknown_host

        raise unknown_host(flake, name)
    if name in answers.skip:
        raise AnswerError(f"--model {name}: {name} is left alone (--host {name}={NO_VARIANT}): it gets no service")
    machine = answers.machines.get(name) or _wired_answer(flake, name)
    if machine is None:
        raise AnswerError(f"--model {name}: {name} has no llama.cpp build yet: give it with --host {name}=VARIANT")
    return machine


def _served_before(flake: Flake | None, name: str) -> ServeChoice | None:
    """The model a machine's settings file serves now, or None."""
    wired = _wired_answer(flake, name)
    return wired.serve if wired is not None else None


def _change_service(name: str, answers: Answers, flake: Flake | None, extras: dict[str, dict[str, str]]) -> None:
    """--serve-port or --context alone: the model served before, on another port or with another context."""
    machine = _machine_to_serve(name, answers, flake)
    before = machine.serve or _served_before(flake, name)
    assert before is not None  # checked by the caller
    port, context = before.port, before.context
    if name in extras["--serve-port"]:
        port = _number(extras["--serve-port"][name], "--serve-port", name)
    if name in extras["--context"]:
        context = _number(extras["--context"][name], "--context", name)
    machine.serve = replace(before, port=port, context=context)
    machine.serve.validate(name)
    answers.machines[name] = machine
    _say_if_switched_off(flake, name)


def serve_from_args(
    args: argparse.Namespace, answers: Answers, flake: Flake | None, reports: dict[str, HardwareReport]
) -> None:
    """The model each ``--model`` names, pinned (looked up unless pinned offline), as its machine's ``serve``;
    the file that fits the machine where ``reports`` has its hardware. A machine named by no ``--model`` keeps
    what its settings file serves."""
    models: dict[str, str] = {}
    for name, text in _pairs(getattr(args, "model", []), "--model"):
        if name in models:
            raise AnswerError(f"--model {name}: given twice")
        models[name] = text
    extras: dict[str, dict[str, str]] = {}
    for option, attr in (("--model-sha256", "model_sha256"), ("--serve-port", "serve_port"), ("--context", "context")):
        extras[option] = {}
        for name, value in _pairs(getattr(args, attr, []), option):
            if models.get(name) == NO_MODEL:
                raise AnswerError(f"{option} {name}: {name} is to serve no model (--model {name}={NO_MODEL})")
            if name not in models and (option == "--model-sha256" or _served_before(flake, name) is None):
                raise AnswerError(f"{option} {name}: give the model with --model {name}=REPO[:FILE][@REVISION] too")
            extras[option][name] = value
    for name in {**extras["--serve-port"], **extras["--context"]}:
        if name not in models:
            _change_service(name, answers, flake, extras)
    for name, text in models.items():
        machine = _machine_to_serve(name, answers, flake)
        if text == NO_MODEL:
            machine.serve, machine.stop_serving = None, True
            answers.machines[name] = machine
            continue
        try:
            spec = parse_model_spec(text)
        except AnswerError as exc:
            raise AnswerError(f"--model {name}: {exc.message}") from None
        port = _number(extras["--serve-port"][name], "--serve-port", name) if name in extras["--serve-port"] else None
        context = _number(extras["--context"][name], "--context", name) if name in extras["--context"] else None
        context = DEFAULT_CONTEXT if context is None else context
        try:
            resolved = resolve_model(
                spec,
                sha256=extras["--model-sha256"].get(name),
                memory=memory_for(reports.get(name), machine.variant),
                context=context,
            )
        except LlamaflakeError as exc:
            raise type(exc)(f"--model {name}: {exc.message}", hint=exc.hint) from None
        serve = ServeChoice(resolved.choice, context=context)
        if port is not None:
            serve = replace(serve, port=port)
        serve.validate(name)
        machine.serve = serve
        answers.machines[name] = machine
        choice = resolved.choice
        say(f"llamaflake: {name}: model {choice.repo} {choice.name} at {choice.revision[:12]}: {resolved.reason}")
        for note in resolved.notes:
            say(f"llamaflake: note: {name}: {note}")
        _say_if_switched_off(flake, name)


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


@contextmanager
def errors_as_json(enabled: bool) -> Iterator[None]:
    """With ``enabled`` (``--json``), an expected failure is also printed on stdout, as ``{"ok": false, "error":
    …}``, for a script that reads it; the message on stderr and the exit status stay as they are."""
    try:
        yield
    except LlamaflakeError as exc:
        if enabled:
            print_json({"ok": False, "error": exc.message} | ({"hint": exc.hint} if exc.hint else {}))
        raise


def say(message: str) -> None:
    print(printable(message), file=sys.stderr)
