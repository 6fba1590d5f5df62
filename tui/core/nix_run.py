"""Running Nix: its command line with flakes on, a bounded run that streams what it says, whether this Nix can
run flake commands, and Nix's messages made short and said plainly (offline, an old Nix).

The judge (which machines exist), the proof (locking and evaluating) and hardware support run Nix through here.
"""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tui.core.bounded import CHUNK, Tail, amount, kill, run_bounded, stop
from tui.core.errors import LlamaflakeError

MAX_NIX_OUTPUT_BYTES = 64 * 1024 * 1024  # nix eval's JSON answer; all machines of a large flake are well under 1 MiB
NIX_MESSAGES_BYTES = 1024 * 1024  # the end of what Nix says on stderr: its error is the last of it
# Flakes work whether or not the user's nix.conf turns them on.
NIX_FLAGS = ["--extra-experimental-features", "nix-command flakes"]

Progress = Callable[[object], None]

# Nix's own retries of a download (the final error says it once), and its advice to use --show-trace.
_RETRYING = re.compile(
    r"^warning: .*; retrying in \d+ ms$|^\(use '--show-trace' to show detailed location information\)$"
)
# What nix prints when it cannot reach the network for an input.
_OFFLINE = re.compile(
    r"unable to download|Could not resolve host|Couldn't resolve host|unable to access|Failed to connect|"
    r"Connection refused|Network is unreachable|cannot connect|timed out after|Temporary failure in name resolution",
    re.I,
)


def nix_argv(*args: str) -> list[str]:
    """A ``nix`` command line with flakes on for this command alone."""
    return ["nix", *NIX_FLAGS, *args]


@dataclass
class RunResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    too_large: bool = False  # its stdout passed MAX_NIX_OUTPUT_BYTES: it was stopped, the answer is not read


class NixCancelled(LlamaflakeError):
    """The caller stopped a Nix command before it answered (its ``cancel`` event was set)."""

    def __init__(self) -> None:
        super().__init__("stopped before nix answered")


def run_streaming(
    argv: list[str],
    cwd: Path,
    timeout: float,
    progress: Progress | None = None,
    *,
    answer: bool = True,
    cancel: threading.Event | None = None,
    step: Callable[[str], bool] | None = None,
) -> RunResult:
    """Run a command, passing each line it writes on stderr to ``progress`` (in the caller's thread).

    After ``timeout`` seconds the command and its children are stopped; when ``cancel`` is set, they are stopped
    at once and :class:`NixCancelled` is raised. A line on stderr for which ``step`` is true starts a new step
    (one machine of several): ``timeout`` counts from there, and the line is not passed to ``progress``. Of stderr the last
    :data:`NIX_MESSAGES_BYTES` are kept. Its stdout is the answer (``answer``): past
    :data:`MAX_NIX_OUTPUT_BYTES` the command is stopped and ``too_large`` set; otherwise its end is kept as
    stderr's is.
    """
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    # Bounded: a reader waits while the caller is behind, and Nix waits on its pipe.
    lines: queue.Queue[tuple[str, bytes | None]] = queue.Queue(maxsize=256)

    def pump(stream, name: str) -> None:
        for raw in iter(lambda: stream.readline(CHUNK), b""):
            lines.put((name, raw))
        lines.put((name, None))

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True),
    ]
    for thread in threads:
        thread.start()
    out: bytearray | Tail = bytearray() if answer else Tail(NIX_MESSAGES_BYTES)
    err = Tail(NIX_MESSAGES_BYTES)
    open_streams = 2
    deadline = time.monotonic() + timeout
    timed_out = overflow = False
    try:
        while open_streams:
            if cancel is not None and cancel.is_set():
                raise NixCancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                stop(proc)
                deadline = float("inf")
                continue
            try:
                name, line = lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
                continue
            if name == "err":
                text = line.decode(errors="replace")
                if step is not None and step(text.rstrip("\n")):
                    if deadline != float("inf"):
                        deadline = time.monotonic() + timeout
                    continue
                err.add(line)
                if progress is not None and text.strip() and not _DIRTY_TREE.match(text.strip()):
                    progress(text.rstrip("\n"))
            elif isinstance(out, Tail):
                out.add(line)
            elif not overflow:
                out.extend(line)
                if len(out) > MAX_NIX_OUTPUT_BYTES:
                    overflow = True
                    out.clear()
                    kill(proc)
        returncode = proc.wait()
    except BaseException:
        stop(proc)
        raise
    stdout = out.text() if isinstance(out, Tail) else out.decode(errors="replace")
    return RunResult(None if timed_out or overflow else returncode, stdout, err.text(), timed_out, overflow)


def too_large(command: str) -> str:
    """Why the answer of ``command`` (``nix eval``) was not read."""
    return f"`{command}` printed more than {amount(MAX_NIX_OUTPUT_BYTES)}: it was stopped and its answer not read"


_DIRTY_TREE = re.compile(r"^warning: Git tree '.*' is dirty$")
# A flake's nixConfig that this user's Nix does not trust: said on every run, about nothing the change did.
_UNTRUSTED_SETTING = re.compile(r"^warning: ignoring untrusted flake configuration setting ")
# The flake's source as nix copies it into the store: paths under it are the repository's own files.
_STORE_SOURCE = re.compile(r"/nix/store/[0-9a-z]{32}-source/")


# What an older Nix says about a flake.lock written by a newer one.
_OLD_NIX = re.compile(
    r"unsupported (?:\w+ )?input attribute '[^']+'|unsupported input type|"
    r"lock file '[^']*' has unsupported version|unknown flake input type",
    re.I,
)


def offline_reason(stderr: str, root: Path) -> str | None:
    """One line saying that an input could not be fetched (or that this Nix cannot read the flake's lock), with
    Nix's own error about it; None if that is not why. The machine is then not verified, not failed."""
    old = _OLD_NIX.search(stderr)
    if old:
        version = nix_support().version or "installed"
        return (
            f"your Nix ({version}) cannot read this flake.lock ({old.group(0)}): upgrade Nix, "
            "or run without evaluation (--no-eval)"
        )
    if not _OFFLINE.search(stderr):
        return None
    lines = short_message(stderr, root, limit=10_000).splitlines()
    cause = next((line for line in lines if line.lstrip().startswith("error:") and _OFFLINE.search(line)), None)
    cause = cause or next((line for line in lines if _OFFLINE.search(line)), "")
    cause = cause.strip().removeprefix("error:").removeprefix("warning:").strip()
    return "offline: an input could not be fetched" + (f": {cause}" if cause else "")


def short_message(text: str, root: Path, limit: int = 12) -> str:
    """Nix's message with the repository's paths made relative and its noise left out, at most ``limit`` lines."""
    text = text.replace(str(root.resolve()) + "/", "").replace(str(root) + "/", "")
    text = _STORE_SOURCE.sub("", text)
    lines = [
        line.rstrip()
        for line in text.strip().splitlines()
        if line.strip()
        and not _DIRTY_TREE.match(line.strip())
        and not _RETRYING.search(line)
        and not _UNTRUSTED_SETTING.match(line.strip())
    ]
    if len(lines) > limit:
        # Nix's error comes after its warnings: shown even where they would fill the lines.
        first_error = next((i for i, line in enumerate(lines) if line.lstrip().startswith("error:")), 0)
        start = first_error if first_error >= limit else 0
        rest = len(lines) - start - limit
        lines = (
            ([f"... ({start} lines before)"] if start else [])
            + lines[start : start + limit]
            + ([f"... ({rest} more lines)"] if rest > 0 else [])
        )
    return "\n".join(lines)


@dataclass
class NixSupport:
    """Whether ``nix`` is installed and has flakes on; ``reason`` says why not."""

    version: str | None
    flakes: bool
    reason: str = ""


def nix_support() -> NixSupport:
    """Look for a ``nix`` that can run flake commands (2.4 or later; flakes are turned on per command)."""
    nix = shutil.which("nix")
    if nix is None:
        return NixSupport(None, False, "nix is not installed")
    try:
        result = run_bounded([nix, "--version"], limit=NIX_MESSAGES_BYTES, tail=NIX_MESSAGES_BYTES, timeout=30)
    except OSError as exc:
        return NixSupport(None, False, f"`nix --version` failed: {exc}")
    if result.timed_out or result.too_large:
        why = "did not finish in 30 s" if result.timed_out else f"printed more than {amount(NIX_MESSAGES_BYTES)}"
        return NixSupport(None, False, f"`nix --version` {why}")
    match = re.search(r"(\d+)\.(\d+)(?:\.\d+)?", result.stdout)
    if match is None:
        return NixSupport(result.stdout.strip() or "unknown", False, "`nix --version` printed no version")
    version = match.group(0)
    if (int(match.group(1)), int(match.group(2))) < (2, 4):
        return NixSupport(version, False, f"Nix {version} has no flakes (2.4 or later is needed)")
    return NixSupport(version, True)
