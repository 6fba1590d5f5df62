"""Programs whose output comes from outside llamaflake (``ssh``, ``nix``): what is kept of it is bounded."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MIB = 1024 * 1024
CHUNK = 64 * 1024  # the most read at once, and the longest piece of a line handed on


def amount(size: int) -> str:
    """``size`` bytes in MiB, or in KiB below one MiB."""
    return f"{size // MIB} MiB" if size >= MIB else f"{size // 1024} KiB"


class Tail:
    """The last ``limit`` bytes of a stream of lines; what was left out before them is counted."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: deque[bytes] = deque()
        self.size = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        self.lines.append(data)
        self.size += len(data)
        while self.size > self.limit and self.lines:
            first = self.lines.popleft()
            self.size -= len(first)
            if self.size < self.limit:  # keep the end of a line longer than what is left
                keep = first[len(first) - (self.limit - self.size) :]
                self.lines.appendleft(keep)
                self.size += len(keep)
                first = first[: len(first) - len(keep)]
            self.dropped += len(first)

    def text(self) -> str:
        kept = b"".join(self.lines).decode(errors="replace")
        if not self.dropped:
            return kept
        return f"[{self.dropped} bytes of earlier output left out]\n" + kept


def stop(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and its children (its process group): SIGTERM, then SIGKILL after 5 seconds."""
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


def kill(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and its children at once."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class Output:
    """What a program printed: all of its stdout up to the limit, the end of its stderr."""

    returncode: int | None  # None: stopped (timed out, or its stdout passed the limit)
    stdout: str
    stderr: str
    timed_out: bool = False
    too_large: bool = False  # stdout passed the limit: the program was killed, ``stdout`` is its start


def run_bounded(
    argv: list[str],
    *,
    limit: int | None,
    tail: int,
    timeout: float,
    stdin: str | None = None,
    cwd: Path | None = None,
    err_limit: int | None = None,
    env: dict[str, str] | None = None,
) -> Output:
    """Run ``argv`` in a process group of its own, with ``stdin`` as its input. Past ``limit`` bytes of
    stdout it is killed (``limit`` None: its stdout is not read); of stderr the last ``tail`` bytes are kept,
    and past ``err_limit`` bytes of it (if given) it is killed too; after ``timeout`` seconds it is stopped.
    ``env``: its environment (default: this process's)."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.DEVNULL if limit is None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    out = bytearray()
    err = Tail(tail)
    too_large = threading.Event()

    def read_out(stream: IO[bytes], limit: int) -> None:
        fd = stream.fileno()
        while chunk := os.read(fd, CHUNK):
            if len(out) + len(chunk) > limit:
                too_large.set()
                kill(proc)
                return
            out.extend(chunk)

    err_seen = 0

    def read_err(stream: IO[bytes]) -> None:
        nonlocal err_seen
        fd = stream.fileno()
        while chunk := os.read(fd, CHUNK):
            err.add(chunk)
            err_seen += len(chunk)
            if err_limit is not None and err_seen > err_limit:
                too_large.set()
                kill(proc)
                return

    def write_in(stream: IO[bytes], text: str) -> None:
        try:
            stream.write(text.encode())
        except OSError:  # it exited without reading all of it
            pass
        finally:
            with contextlib.suppress(OSError):
                stream.close()

    # Popen made a pipe for each stream asked for: stderr always, stdout with a limit, stdin with a text.
    readers: dict[IO[bytes], threading.Thread] = {}
    if proc.stderr is not None:
        readers[proc.stderr] = threading.Thread(target=read_err, args=(proc.stderr,), daemon=True)
    if limit is not None and proc.stdout is not None:
        readers[proc.stdout] = threading.Thread(target=read_out, args=(proc.stdout, limit), daemon=True)
    threads = list(readers.values())
    if stdin is not None and proc.stdin is not None:
        threads.append(threading.Thread(target=write_in, args=(proc.stdin, stdin), daemon=True))
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads) and not too_large.is_set():
            timed_out = True
            stop(proc)
        for thread in threads:
            thread.join(5)  # a child that left the group may hold the pipes open: not waited for
        returncode = proc.wait()
    except BaseException:
        stop(proc)
        raise
    finally:
        for stream, reader in readers.items():
            if not reader.is_alive():  # one still reading is left to the garbage collector
                stream.close()
    stopped = timed_out or too_large.is_set()
    return Output(
        None if stopped else returncode, out.decode(errors="replace"), err.text(), timed_out, too_large.is_set()
    )
