"""Checks of the written files before the commit: Nix's own parser, and (asked for) locking and evaluating.

Each check says plainly whether it passed, failed, or was not done and why, so that nothing unchecked
passes for checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tui.core.bounded import run_bounded
from tui.core.data import nix_expression
from tui.core.errors import LlamaflakeError, NixSyntaxError
from tui.core.nix.syntax import nix_string_literal, parse
from tui.core.nix_run import (
    NIX_MESSAGES_BYTES,
    Progress,
    nix_argv,
    nix_support,
    offline_reason,
    run_streaming,
    short_message,
    too_large,
)

if TYPE_CHECKING:
    import git

if TYPE_CHECKING:
    from tui.core.answers import ServeChoice

CheckStatus = Literal["ok", "failed", "not checked", "timed out"]
Question = Literal["evaluate", "leftAlone"]  # what the proof asks of a machine: the names in machine_questions.nix
OK: CheckStatus = "ok"
FAILED: CheckStatus = "failed"
NOT_CHECKED: CheckStatus = "not checked"
TIMED_OUT: CheckStatus = "timed out"

NOT_VERIFIED = "not verified"
LOCK_SUBJECT = "lock the flake's inputs"

DEFAULT_EVAL_TIMEOUT = 600
DEFAULT_JOBS = max(1, min(4, os.cpu_count() or 1))
PARSE_TIMEOUT = 60
# What the proof asks of one machine (tui/core/data/machine_questions.nix): its package, assertions, warnings and
# llama.cpp settings; for a machine the change does not answer for, its settings alone; as committed, the rest.
MACHINE_QUESTIONS = nix_expression("machine_questions")
EVAL_APPLY = f"({MACHINE_QUESTIONS}).evaluate"
LEFT_ALONE_APPLY = f"({MACHINE_QUESTIONS}).leftAlone"
BATCH_APPLY = f"({MACHINE_QUESTIONS}).batch"
# What the batch expression prints as each machine's answer starts to be evaluated (the machine's index).
_MACHINE_STARTS = re.compile(r"^trace: llamaflake-machine (\d+)$")
BASELINE_APPLY = f"({MACHINE_QUESTIONS}).baseline"

NOT_CHOSEN = "not what was chosen"  # a machine that evaluates, to something else than its answer
LEFT_ALONE_OK = "left alone: no setting this change writes reaches it"
NOT_LEFT_ALONE = "not left alone"  # a machine not answered for that a file of the change reaches
# A machine that evaluates, but not to what it should: its line says so instead of "does not evaluate".
INTENT_FAILURES = (NOT_CHOSEN, NOT_LEFT_ALONE)


@dataclass
class Check:
    """The result of one check: ``subject`` is what was checked, ``status`` one of ok, failed, not checked, timed out."""

    subject: str
    status: CheckStatus
    detail: str = ""
    host: str | None = None
    package: str | None = None
    warnings: list[str] | None = None
    cached: bool = False  # reused from the evaluation cache, not evaluated on this run
    definite: bool = True  # a verdict worth keeping: not Nix killed, stopped or printing nonsense
    intent: dict | None = None  # the machine's llama.cpp settings as Nix evaluated them, and their files
    chosen: str | None = None  # what was chosen for it, where Nix found exactly that (``cuda, CUDA 8.6 · from …``)
    left_alone: bool = False  # a machine not answered for, checked for settings the change would give it

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def __str__(self) -> str:
        if self.host is not None:
            return self.machine_line()
        return f"{self.status}: {self.subject}" + (f": {self.detail}" if self.detail else "")

    def machine_line(self) -> str:
        """One machine's proof: ✓ and the package it gets, ✗ and Nix's error, or why it was not verified."""
        cached = " (cached)" if self.cached else ""
        if self.status == OK and self.left_alone:
            return f"✓ {self.host}: {LEFT_ALONE_OK}{cached}"
        if self.status == OK:
            line = (
                f"✓ {self.host}: {self.package or 'evaluates'}" + (f" ({self.detail})" if self.detail else "") + cached
            )
            return line + (f"\nas chosen: {self.chosen}" if self.chosen else "")
        if self.status == FAILED and self.detail.startswith(INTENT_FAILURES):
            return f"✗ {self.host}: {self.detail}{cached}"
        if self.status == FAILED:
            return f"✗ {self.host}: does not evaluate{cached}:\n{self.detail}"
        first, sep, rest = self.detail.partition("\n")
        return f"? {self.host}: {NOT_VERIFIED}: {first.rstrip(':')}{cached}" + (f":\n{rest}" if sep else "")


class ValidationError(LlamaflakeError):
    """A check failed before the commit; every file and the index are back as they were."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks
        failed = [c for c in checks if c.failed]
        lines = "\n".join(f"  {c.subject}: {_first_error_line(c.detail)}" for c in failed)
        super().__init__(
            f"validation failed, nothing was changed:\n{lines}",
            hint="every file and the index are back as they were",
        )


def _first_error_line(detail: str) -> str:
    lines = detail.splitlines()
    return next((line.strip() for line in lines if line.strip().startswith("error:")), lines[0] if lines else "")


def parse_checks(root: Path, rels: list[str], progress: Progress | None = None, *, use_nix: bool = True) -> list[Check]:
    """Parse each ``.nix`` file of ``rels`` with ``nix-instantiate --parse``, or say that Nix could not check them."""
    checks: list[Check] = []
    nix_files = [rel for rel in rels if rel.endswith(".nix") and (root / rel).is_file()]
    instantiate = shutil.which("nix-instantiate") if use_nix else None
    # One nix-instantiate for all files where they all parse; else each file alone, for its own verdict.
    all_parse = (
        instantiate is not None
        and len(nix_files) > 1
        and _all_parse(instantiate, [str(root / rel) for rel in nix_files])
    )
    for rel in nix_files:
        if all_parse:
            check = Check(f"parse {rel}", OK, "nix-instantiate --parse")
        elif instantiate is not None:
            # Its stdout (the parsed file) is not needed: only whether it parses, and why not.
            result = run_bounded(
                [instantiate, "--parse", str(root / rel)], limit=None, tail=NIX_MESSAGES_BYTES, timeout=PARSE_TIMEOUT
            )
            if result.timed_out:
                check = Check(f"parse {rel}", TIMED_OUT, f"nix-instantiate --parse took over {PARSE_TIMEOUT} s")
            elif result.returncode == 0:
                check = Check(f"parse {rel}", OK, "nix-instantiate --parse")
            else:
                check = Check(f"parse {rel}", FAILED, short_message(result.stderr, root))
        else:
            try:
                parse((root / rel).read_bytes(), rel)
                check = Check(f"parse {rel}", OK, "llamaflake's own parser (rnix) only")
            except NixSyntaxError as exc:
                check = Check(f"parse {rel}", FAILED, str(exc))
        checks.append(check)
        if progress is not None:
            progress(check)
    if nix_files and instantiate is None:
        why = "--no-nix" if not use_nix else "nix-instantiate is not installed (Debian: nix-bin)"
        check = Check("Nix's own parser", NOT_CHECKED, why)
        checks.append(check)
        if progress is not None:
            progress(check)
    return checks


def _all_parse(instantiate: str, paths: list[str]) -> bool:
    """Whether ``nix-instantiate --parse`` parses every file of ``paths`` in one run."""
    result = run_bounded(
        [instantiate, "--parse", *paths], limit=None, tail=NIX_MESSAGES_BYTES, timeout=PARSE_TIMEOUT * len(paths)
    )
    return not result.timed_out and result.returncode == 0


def select_machine(apply: str, host: str) -> str:
    """An ``--apply`` function for the installable ``nixosConfigurations`` that picks ``host`` and applies
    ``apply`` to it. The name is an escaped Nix string there: a flake URL's fragment cannot carry every name
    (``"``, ``${``, non-ASCII)."""
    return f"configurations: ({apply}) (builtins.getAttr {nix_string_literal(host)} configurations)"


def lock_check(root: Path, timeout: float, progress: Progress | None = None) -> Check:
    """``nix flake lock``: locks the inputs that are new or changed (the llama.cpp one), leaves the others alone."""
    result = run_streaming(nix_argv("flake", "lock"), root, timeout, progress, answer=False)
    if result.timed_out:
        return Check(LOCK_SUBJECT, TIMED_OUT, f"`nix flake lock` did not finish in {timeout:g} s")
    if result.returncode != 0:
        offline = offline_reason(result.stderr, root)
        if offline:
            return Check(LOCK_SUBJECT, NOT_CHECKED, offline)
        return Check(LOCK_SUBJECT, FAILED, short_message(result.stderr, root))
    return Check(LOCK_SUBJECT, OK, "nix flake lock")


def _failed_eval(result, subject: str, host: str, root: Path, timeout: float) -> Check | None:
    """The check for a ``nix eval`` of ``host`` that gave no answer (timed out, too much output, offline, an error,
    killed), or None where it answered."""
    if result.timed_out:
        return Check(subject, TIMED_OUT, f"`nix eval` did not finish in {timeout:g} s", host=host)
    if result.too_large:
        return Check(subject, FAILED, too_large("nix eval"), host=host, definite=False)
    if result.returncode == 0:
        return None
    offline = offline_reason(result.stderr, root)
    if offline:
        return Check(subject, NOT_CHECKED, offline, host=host)
    if result.returncode < 0 or result.returncode > 1:
        # Killed (the OOM killer, a signal) or stopped for another reason: no answer about the configuration.
        why = (
            f"killed by signal {-result.returncode}"
            if result.returncode < 0
            else f"exited with status {result.returncode}"
        )
        return Check(
            subject,
            FAILED,
            f"`nix eval` {why} before it gave an answer (out of memory?)"
            + (f"\n{short_message(result.stderr, root)}" if result.stderr.strip() else ""),
            host=host,
            definite=False,
        )
    return Check(subject, FAILED, short_message(result.stderr, root), host=host)


def eval_check(root: Path, host: str, timeout: float, progress: Progress | None = None) -> Check:
    """Evaluate one machine's llama.cpp package and its ``pkgs.llama-cpp`` down to derivations (nothing is built),
    with its failed assertions and warnings."""
    result = run_streaming(
        nix_argv("eval", "--json", ".#nixosConfigurations", "--apply", select_machine(EVAL_APPLY, host)),
        root,
        timeout,
        progress,
    )
    failure = _failed_eval(result, f"evaluate {host}", host, root, timeout)
    if failure is not None:
        return failure
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = None
    return _evaluated(data, host, result.stdout, root)


def _evaluated(data: object, host: str, printed: str, root: Path) -> Check:
    """The check for ``host`` from what Nix answered to :data:`EVAL_APPLY` (``data``, parsed from ``printed``)."""
    subject = f"evaluate {host}"
    if not isinstance(data, dict) or "package" not in data:
        return Check(
            subject,
            FAILED,
            f"`nix eval` printed something unexpected: {short_message(printed, root)}",
            host=host,
            definite=False,
        )
    drv = data["package"]
    warnings = [str(w) for w in data.get("warnings") or []]
    if data.get("failedAssertions"):
        return Check(
            subject,
            FAILED,
            "failed assertions:\n" + "\n".join(f"- {m}" for m in data["failedAssertions"]),
            host=host,
            warnings=warnings,
        )
    package = data.get("name") or data.get("pkgsName")
    detail = drv
    if data.get("pkgsName") and data.get("name") and data["pkgsName"] != data["name"]:
        detail = f"{drv}; pkgs.llama-cpp is {data['pkgsName']}"
    intent = data.get("intent") if isinstance(data.get("intent"), dict) else None
    return Check(subject, OK, detail, host=host, package=package, warnings=warnings, intent=intent)


@dataclass(frozen=True)
class Intended:
    """What a machine was asked to get, and the one file that must define it (relative to the flake)."""

    variant: str
    flags: tuple[str, ...]
    all_variants: bool
    cuda: tuple[str, ...]
    rocm: tuple[str, ...]
    settings_file: str
    module_file: str = ""  # the generated module, whose option defaults count as definitions too
    serve: dict | None = None  # the served model as the evaluation gives it (see served()); None: none

    def describe(self, values: dict) -> str:
        parts = [str(values.get("variant"))]
        if values.get("allVariants"):
            parts.append("all CPU variants")
        elif values.get("flags"):
            parts.append("CPU " + ",".join(map(str, values["flags"])))
        if values.get("cuda"):
            parts.append("CUDA " + ",".join(map(str, values["cuda"])))
        if values.get("rocm"):
            parts.append("ROCm " + ",".join(map(str, values["rocm"])))
        serve = values.get("serve")
        if isinstance(serve, dict):
            files = serve.get("files") or [{}]
            parts.append(
                f"serving {serve.get('repo')} {files[0].get('name')} at {str(serve.get('revision'))[:12]} "
                f"on {serve.get('host')}:{serve.get('port')}"
            )
        return ", ".join(parts)


def served(serve: ServeChoice | None) -> dict | None:
    """The served model as the proof's evaluation gives it, to compare with what Nix evaluated."""
    if serve is None:
        return None
    return {
        "host": serve.host,
        "port": serve.port,
        "openFirewall": serve.open_firewall,
        "context": serve.context,
        "repo": serve.model.repo,
        "revision": serve.model.revision,
        "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in serve.model.files],
    }


def intent_problem(check: Check, intended: Intended, root_files: list[str] | None = None) -> str | None:
    """Why what Nix evaluated for a machine is not what was chosen for it, from its own file; None when it is."""
    got = check.intent
    if not isinstance(got, dict) or got.get("variant") is None:
        return None  # no settings to compare (an old cache entry, a module without them): the package check stands
    wanted = {
        "variant": intended.variant,
        "flags": sorted(intended.flags),
        "allVariants": intended.all_variants,
        "cuda": sorted(intended.cuda),
        "rocm": sorted(intended.rocm),
        "serve": intended.serve,
    }
    values = {
        key: sorted(map(str, got.get(key) or [])) if key in ("flags", "cuda", "rocm") else got.get(key)
        for key in wanted
    }
    files = sorted({_flake_relative(str(f)) for f in got.get("files") or []})
    foreign = [f for f in files if f not in (intended.settings_file, intended.module_file)]
    if values == wanted and not foreign:
        return None
    chosen = intended.describe(
        {**wanted, "flags": list(intended.flags), "cuda": list(intended.cuda), "rocm": list(intended.rocm)}
    )

    files = [f for f in files if f != intended.module_file]
    return (
        f"would get {intended.describe(got)} from {', '.join(files) or 'no file'}; "
        f"chosen: {chosen} from {intended.settings_file} alone"
    )


@dataclass(frozen=True)
class LeftAlone:
    """A machine the change does not answer for: no llama.cpp setting may reach it from a file the change writes
    (the generated module's option defaults aside)."""

    written: tuple[str, ...]  # every file the change writes, relative to the flake
    module_file: str = ""


def left_alone_check(root: Path, host: str, timeout: float, progress: Progress | None = None) -> Check:
    """Which llama.cpp settings reach ``host``, and from which files (nothing is built or forced beyond them)."""
    # A machine the static reading found and Nix does not list is said as such, not as an error.
    name = nix_string_literal(host)
    apply = (
        f"configurations: if builtins.hasAttr {name} configurations then ({LEFT_ALONE_APPLY}) "
        f"(builtins.getAttr {name} configurations) else {{ absent = true; }}"
    )
    result = run_streaming(
        nix_argv("eval", "--json", ".#nixosConfigurations", "--apply", apply), root, timeout, progress
    )
    failure = _failed_eval(result, f"check that {host} is left alone", host, root, timeout)
    if failure is not None:
        failure.left_alone = True
        return failure
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = None
    return _left_alone_answer(data, host, result.stdout, root)


def _left_alone_answer(data: object, host: str, printed: str, root: Path) -> Check:
    """The check for ``host`` from what Nix answered to :data:`LEFT_ALONE_APPLY` (``data``, parsed from
    ``printed``)."""
    subject = f"check that {host} is left alone"
    if isinstance(data, dict) and data.get("absent") is True:
        return Check(subject, NOT_CHECKED, "Nix lists no machine of that name", host=host, left_alone=True)
    intent = data.get("intent") if isinstance(data, dict) else None
    if not isinstance(intent, dict):
        return Check(
            subject,
            FAILED,
            f"`nix eval` printed something unexpected: {short_message(printed, root)}",
            host=host,
            definite=False,
            left_alone=True,
        )
    return Check(subject, OK, "", host=host, intent=intent, left_alone=True)


def left_alone_problem(check: Check, left: LeftAlone) -> str | None:
    """Why a machine not answered for is not left alone: a file the change writes defines its settings."""
    intent = check.intent or {}
    files = sorted({_flake_relative(str(f)) for f in intent.get("files") or []})
    reached = [f for f in files if f in left.written and f != left.module_file]
    if not reached:
        return None
    describe = Intended("", (), False, (), (), "").describe
    return (
        f"it was not answered for, but would get {describe(intent)} from {', '.join(reached)}, which "
        "this change writes: answer for it too (it then gets its own settings), or leave that import out"
    )


def _flake_relative(path: str) -> str:
    """A file as Nix names it (``/nix/store/<hash>-source/<rel>``, or a path on disk) relative to the source."""
    marker = "-source/"
    if path.startswith("/nix/store/") and marker in path:
        return path.split(marker, 1)[1]
    return path


EVALUATE: Question = "evaluate"
LEFT_ALONE: Question = "leftAlone"


def batch_apply(asked: list[tuple[str, Question]]) -> str:
    """An ``--apply`` function for ``nixosConfigurations`` answering each ``(machine, question)`` of ``asked`` in
    one JSON object, under the machine's name. The names are escaped Nix strings there, as in
    :func:`select_machine`."""
    items = " ".join(f'{{ name = {nix_string_literal(host)}; question = "{question}"; }}' for host, question in asked)
    return f"({BATCH_APPLY}) [ {items} ]"


def _ask_alone(root: Path, host: str, question: Question, timeout: float) -> Check:
    return (eval_check if question == EVALUATE else left_alone_check)(root, host, timeout)


def batch_checks(
    root: Path,
    asked: list[tuple[str, Question]],
    timeout: float,
    *,
    starts: Callable[[int], None] | None = None,
) -> list[Check]:
    """Each machine of ``asked`` (``(machine, question)``) asked in one ``nix eval``: its check, the same as
    asking it alone gives, in ``asked``'s order. ``timeout`` is each machine's, counted from where its evaluation
    starts (``starts`` is called then, with its index).

    Where the answer is not one for every machine (one fails to evaluate, Nix is killed or prints too much), the
    machines are asked again one by one, so that each gets its own verdict and Nix's own error; a machine whose
    time is up in the batch has timed out, and the others are asked again one by one.
    """
    if len(asked) == 1:
        if starts is not None:
            starts(0)
        return [_ask_alone(root, *asked[0], timeout)]
    running: list[int] = []

    def step(line: str) -> bool:
        match = _MACHINE_STARTS.match(line)
        if match is None or not 0 <= int(match.group(1)) < len(asked):
            return False
        running.append(int(match.group(1)))
        if starts is not None:
            starts(running[-1])
        return True

    result = run_streaming(
        nix_argv("eval", "--json", ".#nixosConfigurations", "--apply", batch_apply(asked)), root, timeout, step=step
    )
    data = None
    if result.returncode == 0:
        try:
            data = json.loads(result.stdout)
        except ValueError:
            data = None
    answers = data if isinstance(data, dict) and all(isinstance(data.get(h), dict) for h, _ in asked) else None
    checks: list[Check] = []
    for index, (host, question) in enumerate(asked):
        if answers is not None:
            read = _evaluated if question == EVALUATE else _left_alone_answer
            checks.append(read(answers[host], host, json.dumps(answers[host]), root))
        elif result.timed_out and (not running or running[-1] == index):
            # Its time was up while it was evaluated; or before any machine started, as it would be alone.
            subject = f"evaluate {host}" if question == EVALUATE else f"check that {host} is left alone"
            why = f"`nix eval` did not finish in {timeout:g} s"
            checks.append(Check(subject, TIMED_OUT, why, host=host, left_alone=question == LEFT_ALONE))
        else:
            if starts is not None:
                starts(index)
            checks.append(_ask_alone(root, host, question, timeout))
    return checks


def batches(hosts: list[str], jobs: int) -> list[list[str]]:
    """``hosts`` in at most ``jobs`` batches of near-equal size, in their order."""
    count = max(1, min(jobs, len(hosts)))
    return [hosts[len(hosts) * i // count : len(hosts) * (i + 1) // count] for i in range(count)] if hosts else []


def _cached_check(data: dict | None, host: str) -> Check | None:
    """A check stored by the evaluation cache, or None where there is none (or it is not one llamaflake wrote)."""
    if not isinstance(data, dict):
        return None
    subject, status, detail = data.get("subject"), data.get("status"), data.get("detail")
    package, warnings, intent = data.get("package"), data.get("warnings"), data.get("intent")
    if not (
        isinstance(subject, str)
        and status in (OK, FAILED)
        and isinstance(detail, str)
        and (package is None or isinstance(package, str))
        and (warnings is None or (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)))
    ):
        return None
    return Check(
        subject,
        status,
        detail,
        host=host,
        package=package,
        warnings=warnings,
        cached=True,
        intent=intent if isinstance(intent, dict) else None,
    )


def evaluate_machines(
    root: Path,
    hosts: list[str],
    timeout: float,
    *,
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
    cache: bool = True,
    refresh: bool = False,
    intended: dict[str, Intended | LeftAlone] | None = None,
    repo: git.Repo | None = None,
) -> list[Check]:
    """Evaluate ``hosts`` in at most ``jobs`` parallel ``nix eval`` processes, each asking Nix about a batch of
    machines at once (:func:`batch_checks`); the checks come back in ``hosts``' order. A machine found in the
    evaluation cache is not asked again.

    A machine that fails is evaluated once more as committed (HEAD): where it fails there the same way, the failure
    is the configuration's own and is reported as not verified rather than blocking. Results are cached by the
    content of the flake's files and its lock (``cache`` False neither reads nor writes the cache; ``refresh``
    evaluates afresh and replaces what it held).
    ``progress`` is called from one thread at a time. ``repo`` is the git repository holding ``root``, where the
    caller has it open (else it is looked for).
    """
    from tui.core import eval_cache, gitrepo

    lock = threading.Lock()
    if repo is None:
        repo = gitrepo.find_repo(root)
    support = nix_support() if cache else None
    digest = (
        eval_cache.source_digest(root, support.version, repo)
        if support is not None and support.flakes and support.version is not None
        else None
    )
    # Read once, where a machine fails: the repository object is not shared between the threads.
    committed_lock = threading.Lock()
    committed_url: list[str | None] = []

    def committed() -> str | None:
        with committed_lock:
            if not committed_url:
                committed_url.append(committed_flake(repo, root) if repo is not None else None)
            return committed_url[0]

    def report(event: object) -> None:
        if progress is not None:
            with lock:
                progress(event)

    def question(host: str) -> Question:
        return LEFT_ALONE if isinstance((intended or {}).get(host), LeftAlone) else EVALUATE

    def key(host: str) -> str | None:
        apply = EVAL_APPLY if question(host) == EVALUATE else LEFT_ALONE_APPLY
        return eval_cache.key(digest, host, apply) if digest is not None else None

    def announce(host: str) -> None:
        report(f"evaluating {host} ..." if question(host) == EVALUATE else f"checking that {host} is left alone ...")

    def keep(host: str, check: Check) -> None:
        """Keep a definite answer in the evaluation cache."""
        entry = key(host)
        if entry is not None and check.status in (OK, FAILED) and check.definite:
            eval_cache.store(
                entry,
                {
                    "subject": check.subject,
                    "status": check.status,
                    "detail": check.detail,
                    "package": check.package,
                    "warnings": check.warnings,
                    "intent": check.intent,
                },
            )

    def judged(host: str, check: Check) -> Check:
        """``host``'s answer from Nix judged against what it should get, and reported."""
        want = (intended or {}).get(host)
        check = (
            _judged_left_alone(root, host, check, want, timeout, committed)
            if isinstance(want, LeftAlone)
            else _judged_evaluation(root, host, check, want, timeout, committed)
        )
        report(check)
        return check

    def batch(hosts_of_batch: list[str]) -> list[Check]:
        asked = [(host, question(host)) for host in hosts_of_batch]
        answers = batch_checks(root, asked, timeout, starts=lambda index: announce(hosts_of_batch[index]))
        for host, check in zip(hosts_of_batch, answers, strict=True):
            keep(host, check)
        return [judged(host, check) for host, check in zip(hosts_of_batch, answers, strict=True)]

    if not hosts:
        return []
    machines = list(dict.fromkeys(hosts))
    cached: dict[str, Check] = {}
    for host in machines:
        entry = key(host) if not refresh else None
        check = _cached_check(eval_cache.load(entry), host) if entry is not None else None
        if check is not None:
            cached[host] = check
    to_ask = batches([h for h in machines if h not in cached], jobs)
    checks: dict[str, Check] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(cached) + len(to_ask)))) as pool:
        # The cached machines first: their verdicts come at once.
        done = [pool.submit(judged, host, check) for host, check in cached.items()]
        answered = [pool.submit(batch, hosts_of_batch) for hosts_of_batch in to_ask]
        for host, judging in zip(cached, done, strict=True):
            checks[host] = judging.result()
        for hosts_of_batch, asking in zip(to_ask, answered, strict=True):
            checks.update(zip(hosts_of_batch, asking.result(), strict=True))
    return [checks[host] for host in hosts]


def _judged_evaluation(
    root: Path,
    host: str,
    check: Check,
    want: Intended | None,
    timeout: float,
    committed: Callable[[], str | None],
) -> Check:
    """An evaluated machine's check: a failure it has without the change too is not verified; an answer other than
    what was chosen for it (``want``) fails."""
    if check.failed and check.definite:
        check = _unless_failing_before(root, host, check, timeout, committed())
    problem = intent_problem(check, want) if want is not None and check.status == OK else None
    if problem is not None:
        return Check(
            check.subject,
            FAILED,
            f"{NOT_CHOSEN}: it {problem}",
            host=host,
            package=check.package,
            warnings=check.warnings,
            cached=check.cached,
            intent=check.intent,
        )
    if want is not None and check.status == OK and check.intent and check.intent.get("variant") is not None:
        check.chosen = f"{want.describe(check.intent)} · from {want.settings_file}"
    return check


def _judged_left_alone(
    root: Path,
    host: str,
    check: Check,
    left: LeftAlone,
    timeout: float,
    committed: Callable[[], str | None],
) -> Check:
    """A machine not answered for: it fails where a file the change writes reaches its settings (``left``)."""
    check.left_alone = True
    if check.failed and check.definite:
        check = _unless_failing_before(root, host, check, timeout, committed())
        check.left_alone = True
    problem = left_alone_problem(check, left) if check.status == OK else None
    if problem is not None:
        return Check(
            check.subject,
            FAILED,
            f"{NOT_LEFT_ALONE}: {problem}",
            host=host,
            cached=check.cached,
            intent=check.intent,
            left_alone=True,
        )
    return check


FAILS_BEFORE = "fails without this change too"


def committed_flake(repo: git.Repo, root: Path) -> str | None:
    """The flake at ``root`` as committed at HEAD, as a flake URL (the repository as it was before the change), or
    None where there is no commit."""
    from tui.core import gitrepo

    if gitrepo.head_state(repo) == "unborn":
        return None
    prefix = gitrepo.repo_prefix(repo, root).rstrip("/")
    return f"git+file://{gitrepo.work_tree(repo)}?rev={repo.head.commit.hexsha}" + (f"&dir={prefix}" if prefix else "")


def baseline_check(root: Path, host: str, timeout: float, committed: str | None) -> Check | None:
    """``host`` evaluated as committed (``committed``: :func:`committed_flake`), or None where there is no commit to
    compare with."""
    if committed is None:
        return None
    result = run_streaming(
        nix_argv(
            "eval",
            "--json",
            "--no-write-lock-file",
            f"{committed}#nixosConfigurations",
            "--apply",
            select_machine(BASELINE_APPLY, host),
        ),
        root,
        timeout,
    )
    subject = f"evaluate {host} as committed"
    if result.timed_out:
        return Check(subject, TIMED_OUT, f"`nix eval` did not finish in {timeout:g} s", host=host)
    if result.too_large:
        return None
    if result.returncode != 0:
        return Check(subject, FAILED, short_message(result.stderr, root), host=host)
    try:
        failed = json.loads(result.stdout).get("failedAssertions") or []
    except (ValueError, AttributeError):
        return None
    if failed:
        return Check(subject, FAILED, "failed assertions:\n" + "\n".join(f"- {m}" for m in failed), host=host)
    return Check(subject, OK, "", host=host)


def _error_lines(detail: str) -> list[str]:
    """The lines that say what went wrong (``error:`` lines, failed assertions), without the trace around them."""
    lines = [line.strip() for line in detail.splitlines()]
    return [line for line in lines if line.startswith(("error:", "- "))] or lines[:1]


def _unless_failing_before(root: Path, host: str, check: Check, timeout: float, committed: str | None) -> Check:
    """``check`` (a failure), or a not-verified check where the machine fails the same way without the change
    (``committed``: the flake before it)."""
    before = baseline_check(root, host, timeout, committed)
    if before is None or not before.failed:
        return check
    now, then = _error_lines(check.detail), _error_lines(before.detail)
    same = (set(now) <= set(then)) if check.detail.startswith("failed assertions") else now[:1] == then[:1]
    if not same:
        return check
    return Check(
        check.subject,
        NOT_CHECKED,
        f"{FAILS_BEFORE}:\n{before.detail}",
        host=host,
        warnings=check.warnings,
        cached=check.cached,
    )


def validate(
    root: Path,
    rels: list[str],
    hosts: list[str],
    *,
    evaluate: bool = False,
    timeout: float = DEFAULT_EVAL_TIMEOUT,
    progress: Progress | None = None,
    jobs: int = DEFAULT_JOBS,
    use_nix: bool = True,
    cache: bool = True,
    refresh: bool = False,
    intended: dict[str, Intended | LeftAlone] | None = None,
    repo: git.Repo | None = None,
) -> list[Check]:
    """Run the checks on the written files; ``evaluate`` adds locking the flake and evaluating ``hosts``.

    ``intended`` gives what each machine was asked to get: a machine that evaluates to something else, or from
    another file too, fails.

    ``use_nix`` False checks with llamaflake's own parser only. ``progress`` receives each :class:`Check` as it
    ends and each line nix prints. ``repo``: the git repository holding ``root``, where the caller has it open.
    """
    checks = parse_checks(root, rels, progress, use_nix=use_nix)

    def add(check: Check) -> None:
        checks.append(check)
        if progress is not None:
            progress(check)

    if not hosts:
        return checks
    if not use_nix:
        add(Check("evaluate the machines", NOT_CHECKED, "not evaluated (--no-nix)"))
        return checks
    if not evaluate:
        add(Check("evaluate the machines", NOT_CHECKED, "not evaluated (--no-eval)"))
        return checks
    if any(c.failed for c in checks):
        add(Check("evaluate the machines", NOT_CHECKED, "a file does not parse"))
        return checks
    support = nix_support()
    if not support.flakes:
        add(Check("lock the flake and evaluate the machines", NOT_CHECKED, f"not evaluated: {support.reason}"))
        return checks
    lock = lock_check(root, timeout, progress)
    add(lock)
    if lock.status != OK:
        add(Check("evaluate the machines", NOT_CHECKED, f"{NOT_VERIFIED}: the flake's inputs are not locked"))
        return checks
    checks.extend(
        evaluate_machines(
            root,
            hosts,
            timeout,
            jobs=jobs,
            progress=progress,
            cache=cache,
            refresh=refresh,
            intended=intended,
            repo=repo,
        )
    )
    return checks
