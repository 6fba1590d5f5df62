"""Answers taken from hardware: this machine (fake /proc and /sys), a saved report, a facter report."""

from __future__ import annotations

from pathlib import Path

from tui.cli import main
from tui.core.read_back import read_machine_settings

FIXTURES = Path(__file__).parent / "fixtures" / "hardware"


def test_this_machine_gives_exact_cpu_flags(demo_repo, monkeypatch, capsys):
    monkeypatch.setenv("LLAMAFLAKE_ROOT", str(FIXTURES / "tigerlake-laptop"))
    assert main(["apply", "--flake", str(demo_repo), "--this-machine", "carbon", "--yes", "--no-commit"]) == 0
    settings = read_machine_settings((demo_repo / "nixos/llama-cpp/machines/carbon.nix").read_bytes())
    assert settings.all_variants is False
    assert "avx512f" in settings.cpu_flags and "avx512_vnni" in settings.cpu_flags
    assert settings.notes, "the reasons are kept as comments"


def test_explicit_variant_wins_over_the_recommendation(demo_repo, monkeypatch, capsys):
    monkeypatch.setenv("LLAMAFLAKE_ROOT", str(FIXTURES / "tigerlake-laptop"))
    assert main(["plan", "--flake", str(demo_repo), "--this-machine", "carbon", "--host", "carbon=cpu"]) == 0
    out = capsys.readouterr().out
    assert 'variant = "cpu";' in out
    assert '"avx2"' in out
    assert "cpu chosen by hand" in out


def test_facter_report_for_another_machine(demo_repo, capsys):
    report = FIXTURES / "facter" / "framework-13-7840u.facter.json"
    assert main(["plan", "--flake", str(demo_repo), "--report", f"beryllium={report}"]) == 0
    out = capsys.readouterr().out
    assert 'variant = "vulkan";' in out
    assert '"avx512f"' in out


def test_missing_report_is_a_clear_error(demo_repo, capsys):
    assert main(["plan", "--flake", str(demo_repo), "--report", "beryllium=/nonexistent/facter.json"]) == 2
    err = capsys.readouterr().err
    assert "facter.json" in err and "Traceback" not in err
