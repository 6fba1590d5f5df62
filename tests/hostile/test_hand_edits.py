"""A machine's settings file edited by hand keeps the user's lines: only the settings asked for change."""

from __future__ import annotations

import itertools
from pathlib import Path

import git
import pytest
from conftest import assert_nix_parses, demo_source, make_repo
from hostile_repos import assert_one_line_refusal, run_cli

from tui.core.answers import MachineAnswer
from tui.core.machine_file import HandEditRefused, update_machine_file
from tui.core.read_back import read_machine_settings
from tui.core.render import render_machine

BORON = "nixos/llama-cpp/machines/boron.nix"
FIRST = ["--host", "boron=cpu", "--cpu-flags", "boron=avx2,fma", "--no-nix", "--yes"]


def wired_demo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "config", source=demo_source())
    result = run_cli(["apply", "--flake", str(root), *FIRST])
    assert result.returncode == 0, result.stderr
    return root


def hand_edit(root: Path) -> bytes:
    """The user's habits: a comment of their own, and another option in the same file; committed."""
    path = root / BORON
    text = path.read_text()
    text = text.replace("  local.llama-cpp = {\n", "  # boron serves the house model\n  local.llama-cpp = {\n")
    text = text.replace("    enable = true;\n", "    enable = true; # keep\n")
    text = text.replace("\n}\n", "\n\n  services.llama-cpp.enable = true;\n}\n")
    path.write_text(text)
    repo = git.Repo(root)
    repo.git.add(BORON)
    repo.git.commit("-m", "boron: serve", "--no-verify")
    return path.read_bytes()


def test_a_run_for_another_machine_leaves_the_edited_file_as_it_is(tmp_path):
    root = wired_demo(tmp_path)
    edited = hand_edit(root)

    result = run_cli(["apply", "--flake", str(root), "--host", "carbon=vulkan", "--no-nix", "--yes"])

    assert result.returncode == 0, result.stderr
    assert (root / BORON).read_bytes() == edited
    assert BORON not in git.Repo(root).git.show("--name-only", "--format=", "HEAD").split()


def test_the_same_answers_again_change_nothing(tmp_path):
    root = wired_demo(tmp_path)
    edited = hand_edit(root)

    result = run_cli(["plan", "--flake", str(root), *FIRST[:-1], "--check"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / BORON).read_bytes() == edited


def test_a_new_answer_changes_only_the_settings(tmp_path):
    root = wired_demo(tmp_path)
    edited = hand_edit(root).decode()

    result = run_cli(
        ["apply", "--flake", str(root), "--host", "boron=cuda", "--cuda", "boron=8.6", "--no-nix", "--yes"]
    )

    assert result.returncode == 0, result.stderr
    text = (root / BORON).read_text()
    for line in (
        "  # boron serves the house model",
        "    enable = true; # keep",
        "  services.llama-cpp.enable = true;",
    ):
        assert line in text
    assert text == edited.replace('variant = "cpu";', 'variant = "cuda";').replace(
        "    ];\n  };", '    ];\n    cuda.capabilities = [ "8.6" ];\n  };'
    )
    settings = read_machine_settings(text.encode())
    assert (settings.variant, sorted(settings.cpu_flags), settings.cuda_capabilities) == (
        "cuda",
        ["avx2", "fma"],
        ["8.6"],
    )
    assert_nix_parses(root / BORON)


def test_a_setting_that_is_not_a_plain_value_is_refused_with_the_line_to_write(tmp_path):
    root = wired_demo(tmp_path)
    path = root / BORON
    path.write_text(path.read_text().replace('variant = "cpu";', 'variant = if true then "cpu" else "vulkan";'))
    repo = git.Repo(root)
    repo.git.commit("-am", "boron: a variant of my own", "--no-verify")
    before = (repo.head.commit.hexsha, path.read_bytes())

    result = run_cli(["apply", "--flake", str(root), "--host", "boron=vulkan", "--no-nix", "--yes"])

    assert_one_line_refusal(result)
    assert f"{BORON}" in result.stderr and 'local.llama-cpp.variant = "vulkan";' in result.stderr
    assert (repo.head.commit.hexsha, path.read_bytes()) == before
    assert repo.git.status("--porcelain") == ""


def test_settings_written_as_one_set_per_group_are_refused_not_misread():
    source = b'{\n  local.llama-cpp = {\n    variant = "cpu";\n    cpu = { flags = [ "avx2" ]; };\n  };\n}\n'
    with pytest.raises(HandEditRefused, match=r"m\.nix:4: cpu is written as one attribute set"):
        update_machine_file(source, "m.nix", "h", MachineAnswer(variant="cpu", cpu_flags=["fma"]))


def test_flat_settings_are_changed_where_they_are():
    source = (
        b'{ ... }:\n{\n  local.llama-cpp.enable = true;\n  local.llama-cpp.variant = "cpu";\n  networking.x = 1;\n}\n'
    )
    new = update_machine_file(
        source, "m.nix", "h", MachineAnswer(variant="rocm", all_variants=True, rocm_targets=["gfx1100"])
    )
    assert new.startswith(
        b'{ ... }:\n{\n  local.llama-cpp.enable = true;\n  local.llama-cpp.variant = "rocm";\n  networking.x = 1;\n'
    )
    settings = read_machine_settings(new)
    assert (settings.variant, settings.all_variants, settings.rocm_targets) == ("rocm", True, ["gfx1100"])


def _answers() -> list[MachineAnswer]:
    result = []
    for variant, cpu, extra in itertools.product(
        ("cpu", "cuda", "vulkan", "rocm"), ([], ["avx2", "fma"], ["avx512f"], None), (False, True)
    ):
        result.append(
            MachineAnswer(
                variant=variant,
                cpu_flags=cpu or [],
                all_variants=cpu is None,
                notes=["a note"],
                cuda_capabilities=["8.6", "7.5"] if variant == "cuda" and extra else [],
                rocm_targets=["gfx1100"] if variant == "rocm" and extra else [],
            )
        )
    return result


def test_changing_a_file_llamaflake_wrote_gives_the_file_it_would_write():
    answers = _answers()
    for old, new in itertools.product(answers, answers):
        written = render_machine("h", old, "../default.nix")
        expected = render_machine("h", MachineAnswer(**{**new.__dict__, "notes": old.notes}), "../default.nix")
        assert update_machine_file(written, "m/h.nix", "h", new) == expected, (old, new)


def test_a_crlf_file_keeps_its_line_ends_when_settings_go():
    source = render_machine(
        "h", MachineAnswer(variant="cuda", cpu_flags=["avx2"], cuda_capabilities=["8.6"]), "../default.nix"
    ).replace(b"\n", b"\r\n")
    new = update_machine_file(source, "m.nix", "h", MachineAnswer(variant="cpu", all_variants=True))
    assert new.count(b"\n") == new.count(b"\r\n")
    assert b"\r\n\r\n  };" not in new and b"\r\n  };" in new


def test_settings_under_let_and_in_another_order_are_the_same_settings():
    source = (
        b'{ lib, ... }:\nlet\n  x = 1;\nin\n{\n  local.llama-cpp = {\n    variant = "cuda";\n'
        b'    cpu.flags = [ "avx2" "fma" ];\n  };\n}\n'
    )
    assert update_machine_file(source, "m.nix", "h", MachineAnswer(variant="cuda", cpu_flags=["fma", "avx2"])) == source


def test_the_refusal_gives_the_line_to_write_on_its_own_line(tmp_path):
    root = wired_demo(tmp_path)
    path = root / BORON
    path.write_text("{ lib, ... }:\n" + path.read_text().replace('variant = "cpu";', 'variant = lib.mkForce "cpu";'))
    git.Repo(root).git.commit("-qam", "mkForce", "--no-verify")
    result = run_cli(["plan", "--flake", str(root), "--host", "boron=vulkan", "--no-nix"])
    assert_one_line_refusal(result)
    assert '\n  local.llama-cpp.variant = "vulkan";' in result.stderr and "\\n" not in result.stderr


def test_a_second_run_names_and_rebuilds_only_the_machines_whose_build_changes(tmp_path):
    root = make_repo(tmp_path / "config", source=demo_source())
    first = run_cli(
        [
            "apply",
            "--flake",
            str(root),
            "--host",
            "carbon=cuda",
            "--cuda",
            "carbon=8.6",
            "--host",
            "beryllium=none",
            "--host",
            "boron=none",
            "--no-nix",
            "--yes",
        ]
    )
    assert first.returncode == 0, first.stderr

    added = run_cli(
        ["apply", "--flake", str(root), "--host", "boron=cpu", "--cpu-flags", "boron=avx2", "--no-nix", "--yes"]
    )

    assert added.returncode == 0, added.stderr
    message = git.Repo(root).head.commit.message
    assert message.startswith("llama-cpp: add boron (cpu)\n"), message
    assert "- boron: cpu" in message and "- carbon" not in message
    rebuilds = [line.strip() for line in added.stderr.splitlines() if "nixos-rebuild" in line]
    assert rebuilds == ["sudo nixos-rebuild switch --flake .#boron"]

    changed = run_cli(["apply", "--flake", str(root), "--host", "carbon=vulkan", "--no-nix", "--yes"])
    assert changed.returncode == 0, changed.stderr
    assert git.Repo(root).head.commit.message.startswith("llama-cpp: carbon: vulkan\n")
    assert [line.strip() for line in changed.stderr.splitlines() if "nixos-rebuild" in line] == [
        "sudo nixos-rebuild switch --flake .#carbon"
    ]
