"""Programs that print without end: an SSH answer or Nix's output past its limit is not kept whole.

The limits are lowered for each test, and the fake ``ssh`` and ``nix`` print a few MiB, then wait: a limit that
holds stops them at once; without one the test waits for them and reads everything.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tui.cli import main
from tui.core import judge, nix_run, validate
from tui.core.errors import LlamaflakeError
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
    fake_program(
        tmp_path,
        monkeypatch,
        "ssh",
        f'echo $$ > {pid}\necho "@@llamaflake-scan 1"\necho "@@cpuinfo"\n{FLOOD}\nsleep 30\necho @@end\n',
    )
    monkeypatch.setattr(ssh, "MAX_SCAN_BYTES", LIMIT)
    started = time.monotonic()
    code = main(["detect", "--ssh", "box"])
    err = capsys.readouterr().err
    assert time.monotonic() - started < 20
    assert code == 2, err
    assert err.splitlines()[0] == (
        "llamaflake: the answer from box (or what ssh printed besides it) is larger than 64 KiB: the scan was stopped"
    )
    assert "Traceback" not in err
    assert gone(int(pid.read_text()))


def test_ssh_messages_without_end_stop_the_scan_too(tmp_path, monkeypatch, capsys):
    pid = tmp_path / "pid"
    fake_program(tmp_path, monkeypatch, "ssh", f"echo $$ > {pid}\n{FLOOD} >&2\nsleep 30\n")
    monkeypatch.setattr(ssh, "MAX_SCAN_BYTES", LIMIT)
    started = time.monotonic()
    code = main(["detect", "--ssh", "box"])
    err = capsys.readouterr().err
    assert time.monotonic() - started < 20
    assert code == 2, err
    assert "larger than 64 KiB: the scan was stopped" in err.splitlines()[0] and "Traceback" not in err
    assert gone(int(pid.read_text()))


def test_output_that_cannot_be_written_is_one_line(tmp_path):
    import subprocess
    import sys

    from conftest import demo_source, make_repo

    root = make_repo(tmp_path / "config", source=demo_source())
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "tui", "hosts", "--flake", str(root), "--no-nix"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "llamaflake: cannot write the output: No space left on device"


def test_nix_s_error_after_a_flood_of_warnings_is_kept_and_the_rest_is_bounded(tmp_path, monkeypatch):
    fake_program(tmp_path, monkeypatch, "nix", f"{FLOOD} >&2\necho 'error: the reason at the end' >&2\nexit 1")
    monkeypatch.setattr(nix_run, "NIX_MESSAGES_BYTES", LIMIT)
    result = nix_run.run_streaming(["nix", "eval"], tmp_path, 60)
    assert result.returncode == 1
    assert result.stderr.endswith("error: the reason at the end\n")
    assert len(result.stderr.encode()) < LIMIT + 100  # the end, and a line saying what was left out
    check = validate.eval_check(tmp_path, "alpha", 60)
    assert check.failed and "error: the reason at the end" in check.detail, check.detail
    assert len(check.detail.splitlines()) <= 14


def test_an_answer_of_nix_past_the_limit_fails_clearly_and_stops_nix(tmp_path, monkeypatch):
    pid = tmp_path / "pid"
    fake_program(
        tmp_path,
        monkeypatch,
        "nix",
        f'echo $$ > {pid}\nprintf \'{{"package": "\'\n'
        "yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | head -n 100000 | tr -d '\\n'\n"
        "sleep 30\nprintf '\"}'",
    )
    monkeypatch.setattr(nix_run, "MAX_NIX_OUTPUT_BYTES", LIMIT)
    started = time.monotonic()
    check = validate.eval_check(tmp_path, "alpha", 60)
    assert time.monotonic() - started < 20
    assert check.failed and not check.definite
    assert check.detail == "`nix eval` printed more than 64 KiB: it was stopped and its answer not read"
    assert gone(int(pid.read_text()))
    with pytest.raises(LlamaflakeError, match="printed more than 64 KiB"):
        judge.machine_names(tmp_path, 60)


def test_one_endless_line_on_stderr_is_cut_to_its_end(tmp_path, monkeypatch):
    fake_program(
        tmp_path, monkeypatch, "nix", "head -c 4000000 /dev/zero | tr '\\0' x >&2\necho ' the end' >&2\nexit 1"
    )
    monkeypatch.setattr(nix_run, "NIX_MESSAGES_BYTES", LIMIT)
    lines = []
    result = nix_run.run_streaming(["nix", "flake", "lock"], tmp_path, 60, lines.append, answer=False)
    assert result.returncode == 1 and result.stderr.endswith("xxx the end\n")
    assert len(result.stderr.encode()) < LIMIT + 100
    assert max(len(line) for line in lines) <= 64 * 1024  # handed on in pieces, never whole
