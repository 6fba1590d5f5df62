"""Checks of the written files before the commit: Nix's own parser, and (asked for) locking and evaluating.

Each check says plainly whether it passed, failed, or was not done and why, so that nothing unchecked
passes for checked.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tui.core.errors import LlamaflakeError, NixSyntaxError
from tui.core.nix.syntax import parse

OK = "ok"
FAILED = "failed"
NOT_CHECKED = "not checked"
TIMED_OUT = "timed out"

DEFAULT_EVAL_TIMEOUT = 600
PARSE_TIMEOUT = 60
# Both the module's package and pkgs.llama-cpp: forcing the package alone does not reach the
# overlay, and the overlay is where a broken package set shows (pkgs is the fixpoint of all overlays).
EVAL_APPLY = (
    "c: { package = c.config.local.llama-cpp.package.drvPath;"
    " pkgsLlamaCpp = c.pkgs.llama-cpp.drvPath; }"
)


@dataclass
class Check:
    """The result of one check: ``subject`` is what was checked, ``status`` one of ok, failed, not checked, timed out."""

    subject: str
    status: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def __str__(self) -> str:
        return f"{self.status}: {self.subject}" + (f": {self.detail}" if self.detail else "")


Progress = Callable[[object], None]


class ValidationError(LlamaflakeError):
    """A check failed before the commit; every file and the index are back as they were."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks
        failed = [c for c in checks if c.failed]
        lines = "\n".join(f"  {c.subject}: {c.detail}" for c in failed)
        super().__init__(
            f"validation failed, nothing was changed:\n{lines}",
            hint="every file and the index are back as they were",
        )


@dataclass
class RunResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False


def run_streaming(argv: list[str], cwd: Path, timeout: float, progress: Progress | None = None) -> RunResult:
    """Run a command, passing each line it writes on stderr to ``progress`` (in the caller's thread).

    After ``timeout`` seconds the command and its children are stopped.
    """
    proc = subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    lines: queue.Queue[tuple[str, str | None]] = queue.Queue()

    def pump(stream, name: str) -> None:
        for raw in iter(stream.readline, b""):
            lines.put((name, raw.decode(errors="replace")))
        lines.put((name, None))

    threads = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
    for thread in threads:
        thread.start()
    out: list[str] = []
    err: list[str] = []
    open_streams = 2
    deadline = time.monotonic() + timeout
    timed_out = False
    while open_streams:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            _stop(proc)
            deadline = float("inf")
            continue
        try:
            name, line = lines.get(timeout=min(left, 0.2))
        except queue.Empty:
            continue
        if line is None:
            open_streams -= 1
            continue
        if name == "out":
            out.append(line)
        else:
            err.append(line)
            if progress is not None and line.strip():
                progress(line.rstrip("\n"))
    returncode = proc.wait()
    return RunResult(None if timed_out else returncode, "".join(out), "".join(err), timed_out)


def _stop(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def _short(text: str, root: Path, limit: int = 12) -> str:
    text = text.replace(str(root.resolve()) + "/", "").replace(str(root) + "/", "")
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more lines)"]
    return "\n".join(lines)


def parse_checks(root: Path, rels: list[str], progress: Progress | None = None) -> list[Check]:
    """Parse each ``.nix`` file of ``rels`` with ``nix-instantiate --parse``, or say that Nix could not check them."""
    checks: list[Check] = []
    nix_files = [rel for rel in rels if rel.endswith(".nix") and (root / rel).is_file()]
    instantiate = shutil.which("nix-instantiate")
    for rel in nix_files:
        if instantiate is not None:
            try:
                result = subprocess.run(
                    [instantiate, "--parse", str(root / rel)], capture_output=True, text=True, timeout=PARSE_TIMEOUT,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired:
                check = Check(f"parse {rel}", TIMED_OUT, f"nix-instantiate --parse took over {PARSE_TIMEOUT} s")
            else:
                if result.returncode == 0:
                    check = Check(f"parse {rel}", OK, "nix-instantiate --parse")
                else:
                    check = Check(f"parse {rel}", FAILED, _short(result.stderr, root))
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
        check = Check("Nix's own parser", NOT_CHECKED, "nix-instantiate is not installed (Debian: nix-bin)")
        checks.append(check)
        if progress is not None:
            progress(check)
    return checks


@dataclass
class NixSupport:
    """Whether ``nix`` is installed and has flakes on; ``reason`` says why not."""

    version: str | None
    flakes: bool
    reason: str = ""


def nix_support() -> NixSupport:
    """Look for ``nix`` with the ``nix-command`` and ``flakes`` features on, as the user's configuration sets them."""
    nix = shutil.which("nix")
    if nix is None:
        return NixSupport(None, False, "nix is not installed")
    try:
        result = subprocess.run([nix, "--version"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return NixSupport(None, False, f"`nix --version` failed: {exc}")
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", result.stdout)
    version = match.group(1) if match else result.stdout.strip() or "unknown"
    features = None
    for argv in ([nix, "config", "show"], [nix, "show-config"]):
        try:
            shown = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if shown.returncode == 0:
            for line in shown.stdout.splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() == "experimental-features":
                    features = value.split()
            break
    on = set(features or [])
    if {"nix-command", "flakes"} <= on:
        return NixSupport(version, True)
    if _flakes_builtin(nix):  # a Nix where flakes are on without being listed as experimental
        return NixSupport(version, True)
    lacking = " and ".join(f for f in ("nix-command", "flakes") if f not in on)
    return NixSupport(
        version, False,
        f"Nix {version} has {lacking} off (add `experimental-features = nix-command flakes` to nix.conf to check this)",
    )


def _flakes_builtin(nix: str) -> bool:
    try:
        probe = subprocess.run([nix, "eval", "--expr", "builtins ? getFlake"], capture_output=True, text=True,
                               timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and probe.stdout.strip() == "true"


def attr_name(name: str) -> str:
    """A host name as a Nix attribute in an installable: quoted where it is not a plain identifier."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_'-]*", name) else '"' + name.replace('"', '\\"') + '"'


def lock_check(root: Path, timeout: float, progress: Progress | None = None) -> Check:
    """``nix flake lock``: locks the inputs that are new or changed (the llama.cpp one), leaves the others alone."""
    result = run_streaming(["nix", "flake", "lock"], root, timeout, progress)
    if result.timed_out:
        return Check("lock the flake's inputs", TIMED_OUT, f"`nix flake lock` did not finish in {timeout:g} s")
    if result.returncode != 0:
        return Check("lock the flake's inputs", FAILED, _short(result.stderr, root))
    return Check("lock the flake's inputs", OK, "nix flake lock")


def eval_check(root: Path, host: str, timeout: float, progress: Progress | None = None) -> Check:
    """Evaluate one machine's llama.cpp package and its ``pkgs.llama-cpp`` down to derivations (nothing is built)."""
    installable = f".#nixosConfigurations.{attr_name(host)}"
    result = run_streaming(["nix", "eval", "--json", installable, "--apply", EVAL_APPLY], root, timeout, progress)
    subject = f"evaluate {host}"
    if result.timed_out:
        return Check(subject, TIMED_OUT, f"`nix eval` did not finish in {timeout:g} s")
    if result.returncode != 0:
        return Check(subject, FAILED, _short(result.stderr, root))
    try:
        return Check(subject, OK, json.loads(result.stdout)["package"])
    except (ValueError, KeyError, TypeError):
        return Check(subject, FAILED, f"`nix eval` printed something unexpected: {_short(result.stdout, root)}")


def validate(
    root: Path,
    rels: list[str],
    hosts: list[str],
    *,
    evaluate: bool = False,
    timeout: float = DEFAULT_EVAL_TIMEOUT,
    progress: Progress | None = None,
) -> list[Check]:
    """Run the checks on the written files; ``evaluate`` adds locking the flake and evaluating ``hosts``.

    ``progress`` receives each :class:`Check` as it ends and each line nix prints.
    """
    checks = parse_checks(root, rels, progress)

    def add(check: Check) -> None:
        checks.append(check)
        if progress is not None:
            progress(check)

    if not evaluate:
        if hosts:
            add(Check("evaluate the machines", NOT_CHECKED, "pass --eval to lock the flake and evaluate each machine"))
        return checks
    if any(c.failed for c in checks):
        add(Check("evaluate the machines", NOT_CHECKED, "a file does not parse"))
        return checks
    support = nix_support()
    if not support.flakes:
        add(Check("lock the flake and evaluate the machines", NOT_CHECKED, support.reason))
        return checks
    lock = lock_check(root, timeout, progress)
    add(lock)
    if lock.status != OK:
        add(Check("evaluate the machines", NOT_CHECKED, "the flake's inputs are not locked"))
        return checks
    for host in hosts:
        add(eval_check(root, host, timeout, progress))
    return checks
