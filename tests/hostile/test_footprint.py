"""llamaflake writes over its own files only, and finds them again wherever the user put its module folder."""

from __future__ import annotations

from pathlib import Path

import git

from conftest import demo_source, make_repo
from hostile_repos import assert_one_line_refusal, run_cli

WIRE = ["--host", "boron=cpu", "--cpu-flags", "boron=avx2,fma", "--no-nix", "--yes"]
HAND_WRITTEN_MODULE = "# my own llama.cpp module, from a guide\n{ pkgs, ... }: {\n  nixpkgs.overlays = [ ];\n}\n"


def state(root: Path) -> tuple[str, str]:
    repo = git.Repo(root)
    return repo.head.commit.hexsha, repo.git.status("--porcelain", "--untracked-files=all")


def test_a_module_folder_whose_default_nix_is_the_users_is_refused(tmp_path):
    root = make_repo(tmp_path / "config", source=demo_source())
    before = state(root)
    users_module = (root / "nixos/default.nix").read_bytes()

    result = run_cli(["apply", "--flake", str(root), "--module-dir", "nixos", *WIRE])

    assert_one_line_refusal(result)
    assert "nixos/default.nix" in result.stderr and "not a file llamaflake wrote" in result.stderr
    assert "--module-dir nixos/llama-cpp" in result.stderr
    assert (root / "nixos/default.nix").read_bytes() == users_module
    assert state(root) == before


def test_a_hand_written_module_in_the_default_folder_is_not_replaced(tmp_path):
    root = make_repo(tmp_path / "config", source=demo_source(), files={"nixos/llama-cpp/default.nix": HAND_WRITTEN_MODULE})
    before = state(root)

    result = run_cli(["plan", "--flake", str(root), *WIRE[:-1]])

    assert_one_line_refusal(result)
    assert "nixos/llama-cpp/default.nix" in result.stderr and "--module-dir" in result.stderr
    result = run_cli(["apply", "--flake", str(root), *WIRE])
    assert_one_line_refusal(result)
    assert (root / "nixos/llama-cpp/default.nix").read_text() == HAND_WRITTEN_MODULE
    assert state(root) == before


def test_a_settings_file_that_is_not_one_is_not_replaced(tmp_path):
    mine = "# notes about boron, kept here by its owner\n{ }\n"
    root = make_repo(tmp_path / "config", source=demo_source(), files={"nixos/llama-cpp/machines/boron.nix": mine})
    before = state(root)

    result = run_cli(["apply", "--flake", str(root), *WIRE])

    assert_one_line_refusal(result)
    assert "nixos/llama-cpp/machines/boron.nix" in result.stderr
    assert (root / "nixos/llama-cpp/machines/boron.nix").read_text() == mine
    assert state(root) == before


def test_a_module_folder_of_the_users_choice_round_trips(tmp_path):
    root = make_repo(tmp_path / "config", source=demo_source())
    first = run_cli(["apply", "--flake", str(root), "--module-dir", "nixos/ai", *WIRE])
    assert first.returncode == 0, first.stderr
    assert (root / "nixos/ai/default.nix").is_file() and (root / "nixos/ai/machines/boron.nix").is_file()

    again = run_cli(["plan", "--flake", str(root), "--no-nix", "--check"])
    assert again.returncode == 0, again.stdout + again.stderr
    same = run_cli(["plan", "--flake", str(root), *WIRE[:-1], "--check"])
    assert same.returncode == 0, same.stdout + same.stderr

    second = run_cli(["apply", "--flake", str(root), "--host", "carbon=vulkan", "--no-nix", "--yes"])
    assert second.returncode == 0, second.stderr
    changed = git.Repo(root).git.show("--name-only", "--format=", "HEAD").split()
    assert "nixos/ai/machines/carbon.nix" in changed
    assert not any(path.startswith("nixos/llama-cpp/") for path in changed)
    assert "nixos/ai/default.nix" not in changed  # the module stays as it was

    undone = run_cli(["undo", "--flake", str(root), "--yes"])
    assert undone.returncode == 0, undone.stderr
    assert not (root / "nixos/ai/machines/carbon.nix").exists()
    assert (root / "nixos/ai/machines/boron.nix").is_file()


def test_a_second_module_folder_next_to_the_first_is_refused(tmp_path):
    root = make_repo(tmp_path / "config", source=demo_source())
    assert run_cli(["apply", "--flake", str(root), "--module-dir", "nixos/ai", *WIRE]).returncode == 0
    before = state(root)

    result = run_cli(["apply", "--flake", str(root), "--module-dir", "nixos/llm", "--host", "carbon=cpu", "--no-nix",
                      "--yes"])

    assert_one_line_refusal(result)
    assert "nixos/ai" in result.stderr
    assert state(root) == before
