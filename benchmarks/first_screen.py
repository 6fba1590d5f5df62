"""Time from process start to the wizard's first screen being up, and to its machines being visible, on the demo
repository, in a real pty.

First screen: the wizard is started as ``python -m tui.app.main DEMO`` in a 100x30 pseudo-terminal with
``LLAMAFLAKE_READY_FD`` set: once the first screen is mounted and drawn, the app writes ``ready`` to
that descriptor and quits. Reading the flake and detecting hardware go on in workers after that point,
so they are not part of the number. A bare Textual app (a header, one line, a footer) is timed the same
way, its runs taken turn about with the wizard's so that a busy machine slows both alike; prints both
medians and their ratio (target: at most 1.15, and well under 0.5 s).

Machines visible: the wizard is started without that descriptor and timed until the terminal shows the
demo's last machine (``boron``) in the table, then quit with ctrl+q; once with Nix on PATH (asked which
machines exist, in the background) and once with ``--no-nix``, turn about. Prints both medians and their
ratio (target: at most 1.5): the machines must not wait for Nix.

    python benchmarks/first_screen.py [--runs N]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

TARGET_S = 0.5
TARGET_RATIO = 1.15
TARGET_NIX_RATIO = 1.5
LAST_MACHINE = b"boron"  # the demo's last machine: seen in the terminal, the table of machines is drawn
QUIT = b"\x11"  # ctrl+q


BASELINE = """
import os, sys
from textual.app import App
from textual.widgets import Footer, Header, Static

class Hello(App):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

    def on_mount(self):
        self.call_after_refresh(self.ready)

    def ready(self):
        os.write(int(os.environ["LLAMAFLAKE_READY_FD"]), b"ready\\n")
        self.exit()

Hello().run()
"""


def one_run(repo: Path, bytecode: Path, baseline: bool = False, machines: str | None = None) -> float:
    """Seconds to the first screen (the app says so on ``LLAMAFLAKE_READY_FD``), or with ``machines``
    (``"nix"`` or ``"no-nix"``) to the demo's last machine shown in the terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    ready_read, ready_write = os.pipe()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="30")
    if machines is None:
        env["LLAMAFLAKE_READY_FD"] = str(ready_write)
    # An installed llamaflake has its bytecode, as Textual in site-packages has: both apps read theirs
    # from one cache that the warm-up runs fill, even where the shell says not to write bytecode.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    if baseline:
        argv = [sys.executable, "-c", BASELINE]
    else:
        argv = [sys.executable, "-m", "tui.app.main", *(["--no-nix"] if machines == "no-nix" else []), str(repo)]
    start = time.perf_counter()
    process = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        pass_fds=(ready_write,),
        close_fds=True,
        start_new_session=True,
    )
    os.close(slave)
    os.close(ready_write)
    elapsed = None
    shown = b""
    try:
        deadline = start + 20
        while elapsed is None and time.perf_counter() < deadline:
            readable, _, _ = select.select([master, ready_read], [], [], 0.5)
            if ready_read in readable and os.read(ready_read, 16).startswith(b"ready"):
                elapsed = time.perf_counter() - start
            if master in readable:
                try:
                    output = os.read(master, 65536)  # keep the terminal drained so the app never blocks on output
                except OSError:
                    break
                if machines is not None:
                    shown = shown[-len(LAST_MACHINE) :] + output
                    if LAST_MACHINE in shown:
                        elapsed = time.perf_counter() - start
                        os.write(master, QUIT)
        while process.poll() is None:  # let it quit, still draining
            readable, _, _ = select.select([master], [], [], 0.2)
            if master in readable:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
            if time.perf_counter() > start + 30:
                break
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
        os.close(ready_read)
    if elapsed is None:
        what = "its first screen" if machines is None else "the machines"
        raise SystemExit(f"the wizard did not show {what} within 20 s")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from tui.core.demo import make_demo_repo

    with tempfile.TemporaryDirectory() as scratch:
        repo = make_demo_repo(Path(scratch))
        bytecode = Path(scratch) / "bytecode"
        one_run(repo, bytecode)  # warm the file cache and the bytecode
        one_run(repo, bytecode, baseline=True)
        times: list[float] = []
        baseline: list[float] = []
        for _ in range(args.runs):
            times.append(one_run(repo, bytecode))
            baseline.append(one_run(repo, bytecode, baseline=True))
        with_nix: list[float] = []
        without_nix: list[float] = []
        if shutil.which("nix") is not None:
            for _ in range(args.runs):
                with_nix.append(one_run(repo, bytecode, machines="nix"))
                without_nix.append(one_run(repo, bytecode, machines="no-nix"))
    median = statistics.median(times)
    ratio = median / statistics.median(baseline)
    print(
        f"first screen: median {median * 1000:.0f} ms over {args.runs} runs "
        f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; target < {TARGET_S * 1000:.0f} ms)"
    )
    print(
        f"a bare Textual app (header, one line, footer) on the same machine: median "
        f"{statistics.median(baseline) * 1000:.0f} ms"
    )
    print(f"ratio: {ratio:.2f} (target <= {TARGET_RATIO})")
    if not with_nix:
        print("machines visible: n/a (nix is not on PATH)")
        return 0 if median < TARGET_S and ratio <= TARGET_RATIO else 1
    nix_ratio = statistics.median(with_nix) / statistics.median(without_nix)
    print(
        f"machines visible with nix on PATH: median {statistics.median(with_nix) * 1000:.0f} ms over {args.runs} runs "
        f"(min {min(with_nix) * 1000:.0f} ms, max {max(with_nix) * 1000:.0f} ms)"
    )
    print(f"machines visible with --no-nix: median {statistics.median(without_nix) * 1000:.0f} ms")
    print(f"machines ratio: {nix_ratio:.2f} (target <= {TARGET_NIX_RATIO})")
    return 0 if median < TARGET_S and ratio <= TARGET_RATIO and nix_ratio <= TARGET_NIX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
