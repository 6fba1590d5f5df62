"""Programs that print without end: an SSH answer past its limit is not kept whole.

The limits are lowered for each test, and the fake ``ssh`` prints a few MiB, then waits: a limit that holds
stops it at once; without one the test waits for it and reads everything.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tui.cli import main
from tui.core.hardware import ssh

LIMIT = 64 * 1024
FLOOD = "yes 'warning: something said again and again' | head -n 100000"  # 4.4 MB


def fake_program(tmp_path: Path, monkeypatch, name: str, body: str) -> None:
    """``name`` first on PATH, a sh script running ``body``; a fake ``nix`` says it is 2.18 when asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    version = 'if [ "$1" = --version ]; then echo "nix (Nix) 2.18.1"; exit 0; fi\n' if name == "nix" else ""
    tool = bin_dir / name
    tool.write_text("#!/bin/sh\n" + version + body + "\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_an_ssh_answer_past_the_limit_stops_the_scan_in_one_line(tmp_path, monkeypatch, capsys):
    pid = tmp_path / "pid"
    fake_program(tmp_path, monkeypatch, "ssh", f'echo $$ > {pid}\necho "@@llamaflake-scan 1"\necho "@@cpuinfo"\n'
                 f"{FLOOD}\nsleep 30\necho @@end\n")
    monkeypatch.setattr(ssh, "MAX_SCAN_BYTES", LIMIT, raising=False)
    started = time.monotonic()
    code = main(["detect", "--ssh", "box"])
    err = capsys.readouterr().err
    assert time.monotonic() - started < 20
    assert code == 2, err
    assert err.splitlines()[0] == "llamaflake: the answer from box is larger than 64 KiB: the scan was stopped"
    assert "Traceback" not in err
    assert gone(int(pid.read_text()))
