"""`llamaflake detect` through the real command-line entry point."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from hardware_fakes import FIXTURES, RTX_4090, FakeNvml, machine

from tui.cli import main


@pytest.fixture
def fake_root(monkeypatch):
    def use(name: str, arch: str = "x86_64"):
        monkeypatch.setenv("LLAMAFLAKE_ROOT", str(machine(name)))
        monkeypatch.setenv("LLAMAFLAKE_MACHINE", arch)

    return use


def run_json(capsys, *args) -> dict:
    assert main(["detect", "--json", *args]) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def test_json_of_the_framework(capsys, fake_root):
    fake_root("framework-13-7840u")
    data = run_json(capsys)
    assert set(data) >= {"source", "cpu", "gpus", "vulkan_driver", "notes", "recommendation"}
    assert data["source"] == "detected" and data["vulkan_driver"] is True
    assert data["gpus"][0]["rocm_target"] == "gfx1103"
    assert data["recommendation"]["variant"] == "vulkan"
    assert data["recommendation"]["cpu_flags"][-1] == "avx512_bf16"


def test_json_of_the_nvidia_workstation_with_fake_nvml(capsys, fake_root, monkeypatch):
    fake_root("nvidia-workstation")
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml([RTX_4090]))
    data = run_json(capsys)
    assert data["recommendation"]["variant"] == "cuda"
    assert data["recommendation"]["cuda_capabilities"] == ["8.9"]
    assert data["gpus"][0]["memory_mib"] == 24564


def test_separate_proc_and_sys_roots(capsys, monkeypatch):
    root = machine("raspberry-pi-4")
    monkeypatch.setenv("LLAMAFLAKE_PROC_ROOT", str(root / "proc"))
    monkeypatch.setenv("LLAMAFLAKE_SYS_ROOT", str(root / "sys"))
    monkeypatch.setenv("LLAMAFLAKE_VULKAN_ICD_DIRS", "")
    monkeypatch.setenv("LLAMAFLAKE_MACHINE", "aarch64")
    data = run_json(capsys)
    assert data["system"] == "aarch64-linux" and data["vulkan_driver"] is False
    assert data["recommendation"] | {"reasons": []} == {
        "variant": "cpu",
        "cpu_flags": [],
        "all_variants": False,
        "cuda_capabilities": [],
        "rocm_targets": [],
        "reasons": [],
        "confidence": "detected",
        "rocm_option": [],
        "cuda_source": None,
    }


def test_human_table(capsys, fake_root):
    fake_root("zen4-desktop")
    assert main(["detect"]) == 0
    out = capsys.readouterr().out
    for expected in ("AMD Ryzen 9 7950X", "x86-64-v4", "GGML_AVX512_BF16", "gfx1100", "vulkan", "ROCm is an option"):
        assert expected in out


def test_report_option(capsys):
    data = run_json(capsys, "--report", str(FIXTURES / "facter/thinkpad-x1-extreme.facter.json"))
    assert data["source"] == "facter" and data["recommendation"]["cuda_capabilities"] == ["8.6"]


def test_host_option_on_the_demo(capsys, demo_repo):
    data = run_json(capsys, "--flake", str(demo_repo), "--host", "carbon")
    assert data["source"] == "hints" and data["recommendation"]["variant"] == "cuda"
    assert {"file": "machines/carbon.nix", "line": 19, "text": 'services.xserver.videoDrivers has "nvidia"'} in data[
        "hints"
    ]


def test_errors_are_one_line_and_exit_2(capsys, demo_repo, tmp_path):
    assert main(["detect", "--flake", str(demo_repo), "--host", "nitrogen"]) == 2
    err = capsys.readouterr().err
    assert "no machine named 'nitrogen'" in err and "carbon" in err and "Traceback" not in err
    assert main(["detect", "--flake", str(demo_repo)]) == 2
    assert "--host" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert main(["detect", "--report", str(tmp_path / "bad.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_ssh_failure_through_the_command(capsys, tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "ssh"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\necho 'ssh: Could not resolve hostname nowhere: Name or service not known' >&2\nexit 255\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    assert main(["detect", "--ssh", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert "Could not resolve hostname nowhere" in err and err.startswith("llamaflake: ")


def test_help_documents_the_test_variables():
    done = subprocess.run([sys.executable, "-m", "tui", "detect", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "LLAMAFLAKE_PROC_ROOT" in done.stdout and "LLAMAFLAKE_SYS_ROOT" in done.stdout


def test_detect_starts_without_textual_rich_or_git():
    code = (
        "import sys; from tui.cli import main; main(['detect', '--json']); "
        "print([m for m in ('textual', 'rich', 'git', 'jinja2') if m in sys.modules], file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "LLAMAFLAKE_ROOT": str(machine("tigerlake-laptop")), "LLAMAFLAKE_MACHINE": "x86_64"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert json.loads(done.stdout)["gpus"][0]["vendor"] == "intel"
