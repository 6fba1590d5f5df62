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


def test_an_architecture_specific_capability_is_accepted_and_written_as_given(demo_repo, capsys):
    assert main(["plan", "--flake", str(demo_repo), "--no-nix", "--host", "carbon=cuda", "--cuda", "carbon=12.0a"]) == 0
    captured = capsys.readouterr()
    assert 'capabilities = [ "12.0a" ];' in captured.out or '"12.0a"' in captured.out
    assert "not a compute capability" not in captured.out + captured.err


def test_jetson_capabilities_only_on_aarch64_linux_and_alone(demo_repo, capsys):
    assert main(["plan", "--flake", str(demo_repo), "--no-nix", "--host", "carbon=cuda", "--cuda", "carbon=8.7"]) == 2
    err = capsys.readouterr().err
    assert "Jetson CUDA capabilities 8.7 are built on aarch64-linux only, and carbon is x86_64-linux" in err
    assert "Traceback" not in err
    assert (
        main(["plan", "--flake", str(demo_repo), "--no-nix", "--host", "carbon=cuda", "--cuda", "carbon=8.7,8.6"]) == 2
    )
    assert "the Jetson CUDA capabilities 8.7 cannot be built together with 8.6" in capsys.readouterr().err
    carbon = demo_repo / "machines" / "carbon.nix"
    carbon.write_text(carbon.read_text().replace('"x86_64-linux"', '"aarch64-linux"'))
    assert main(["plan", "--flake", str(demo_repo), "--no-nix", "--host", "carbon=cuda", "--cuda", "carbon=8.7"]) == 0
    captured = capsys.readouterr()
    assert '"8.7"' in captured.out and "Jetson" not in captured.err
