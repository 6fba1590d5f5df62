"""Wiring one machine never gives another machine its settings: files other machines import are not a
machine's own, and a machine copied from another is not given a second settings file."""

from __future__ import annotations

import json
import shutil

import git
from hostile_repos import layout_repo, run_cli

KEYED_ENTRY = (
    "(if builtins.pathExists ./common/llama-cpp/machines/${hostname}.nix "
    "then ./common/llama-cpp/machines/${hostname}.nix else { })"
)


def test_a_file_another_machine_imports_does_not_get_the_import(tmp_path):
    """boron imports hosts/carbon: carbon's settings go into the builder's list, one entry loading each
    machine's own file, so boron never loads carbon's."""
    root = layout_repo(tmp_path, "host-imports-another-host")
    shared = (root / "hosts/carbon/default.nix").read_bytes()

    result = run_cli(["apply", "--flake", str(root), "--host", "carbon=cuda", "--no-nix", "--yes"])

    assert result.returncode == 0, result.stderr
    assert (root / "hosts/carbon/default.nix").read_bytes() == shared
    assert KEYED_ENTRY in (root / "flake.nix").read_text()
    assert "machines/carbon.nix" not in "".join(p.read_text() for p in (root / "hosts").rglob("*.nix"))


def test_without_a_keyed_list_a_file_another_machine_imports_is_refused(tmp_path):
    """The builder is given each machine's folder, not its name: no entry there can be one machine's."""
    root = layout_repo(tmp_path, "host-imports-another-host")
    flake = root / "flake.nix"
    text = (
        flake.read_text()
        .replace("mkHost = hostname:", "mkHost = folder:")
        .replace("inherit inputs hostname;", "inherit inputs;")
    )
    text = text.replace("./hosts/${hostname}", "folder")
    for name in ("carbon", "boron", "neon"):
        text = text.replace(f'mkHost "{name}"', f"mkHost ./hosts/{name}")
    flake.write_text(text)
    git.Repo(root).git.commit("-qam", "folders given to the builder", "--no-verify")
    before = {p: p.read_bytes() for p in root.rglob("*.nix")}

    result = run_cli(["apply", "--flake", str(root), "--host", "carbon=cuda", "--no-nix", "--yes"])

    assert result.returncode == 3, result.stderr
    assert "hosts/carbon/default.nix is imported by boron too" in result.stderr
    assert {p: p.read_bytes() for p in root.rglob("*.nix")} == before
    assert git.Repo(root).head.commit.message == "folders given to the builder\n"


def test_a_machine_copied_from_another_is_refused_not_given_two_settings_files(tmp_path):
    root = layout_repo(tmp_path, "helper-in-flake")
    wired = run_cli(["apply", "--flake", str(root), "--host", "carbon=cuda", "--no-nix", "--yes"])
    assert wired.returncode == 0, wired.stderr
    # The usual way to add a machine: copy a host's folder and add it to the flake.
    shutil.copytree(root / "hosts/carbon", root / "hosts/argon")
    flake = root / "flake.nix"
    flake.write_text(
        flake.read_text().replace('neon = mkHost "neon";', 'neon = mkHost "neon";\n        argon = mkHost "argon";')
    )
    repo = git.Repo(root)
    repo.git.add("-A")
    repo.git.commit("-qm", "argon, copied from carbon", "--no-verify")
    copied = (root / "hosts/argon/default.nix").read_bytes()

    listed = run_cli(["hosts", "--flake", str(root), "--no-nix"])
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "│ argon" in line)
    assert "carbon's" in row
    assert (
        "argon: imports carbon's settings (common/llama-cpp/machines/carbon.nix) in hosts/argon/default.nix"
        in " ".join(listed.stdout.split())
    )
    as_json = json.loads(run_cli(["hosts", "--flake", str(root), "--no-nix", "--json"]).stdout)
    argon = next(h for h in as_json["hosts"] if h["name"] == "argon")
    assert argon["imports_settings_of"] == [
        {"machine": "carbon", "file": "hosts/argon/default.nix", "settings": "common/llama-cpp/machines/carbon.nix"}
    ]

    noted = run_cli(["plan", "--flake", str(root), "--host", "neon=cpu", "--no-nix"])
    assert noted.returncode == 0, noted.stderr
    assert (
        "note: argon: hosts/argon/default.nix imports carbon's settings (common/llama-cpp/machines/carbon.nix), "
        "so it is built with that machine's llama.cpp settings"
    ) in noted.stderr

    result = run_cli(["apply", "--flake", str(root), "--host", "argon=vulkan", "--no-nix", "--yes"])
    assert result.returncode == 0, result.stderr
    assert "the import is changed to its own settings (common/llama-cpp/machines/argon.nix)" in result.stderr
    assert (root / "hosts/argon/default.nix").read_text() == copied.decode().replace(
        "../../common/llama-cpp/machines/carbon.nix", "../../common/llama-cpp/machines/argon.nix"
    )
    assert (root / "hosts/carbon/default.nix").read_text().count("machines/carbon.nix") == 1
    again = run_cli(["plan", "--flake", str(root), "--host", "argon=vulkan", "--no-nix", "--check"])
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_machine_built_on_a_wired_machine_is_refused_not_rewired(tmp_path):
    root = layout_repo(tmp_path, "helper-in-flake")
    assert run_cli(["apply", "--flake", str(root), "--host", "carbon=cuda", "--no-nix", "--yes"]).returncode == 0
    (root / "hosts/argon").mkdir()
    (root / "hosts/argon/default.nix").write_text("{ ... }: {\n  imports = [ ../carbon ];\n}\n")
    flake = root / "flake.nix"
    flake.write_text(
        flake.read_text().replace('neon = mkHost "neon";', 'neon = mkHost "neon";\n        argon = mkHost "argon";')
    )
    repo = git.Repo(root)
    repo.git.add("-A")
    repo.git.commit("-qm", "argon on top of carbon", "--no-verify")
    carbon = (root / "hosts/carbon/default.nix").read_bytes()

    result = run_cli(["apply", "--flake", str(root), "--host", "argon=vulkan", "--no-nix", "--yes"])

    assert result.returncode == 3, result.stderr
    assert "hosts/carbon/default.nix imports carbon's settings" in result.stderr
    assert (root / "hosts/carbon/default.nix").read_bytes() == carbon
    assert repo.git.status("--porcelain") == ""


def test_an_import_built_in_a_let_is_followed(tmp_path):
    root = layout_repo(tmp_path, "host-imports-another-host")
    (root / "hosts/boron/default.nix").write_text(
        '{ lib, ... }:\nlet base = [ (../. + "/carbon") ]; in\n{\n  imports = base;\n}\n'
    )
    git.Repo(root).git.commit("-qam", "boron on carbon", "--no-verify")
    shared = (root / "hosts/carbon/default.nix").read_bytes()
    result = run_cli(["apply", "--flake", str(root), "--host", "carbon=cpu", "--no-nix", "--yes"])
    assert result.returncode == 0, result.stderr
    assert (root / "hosts/carbon/default.nix").read_bytes() == shared  # boron's too, seen through the let
    assert KEYED_ENTRY in (root / "flake.nix").read_text()


def test_hosts_says_by_hand_where_plan_refuses_a_machine_built_on_a_wired_machine(tmp_path):
    """``hosts`` and ``plan`` ask the same engine: a machine whose own file imports a wired machine's file
    cannot be given its own settings, so ``hosts`` does not call it automatic, and shows plan's lines."""
    root = layout_repo(tmp_path, "helper-in-flake")
    assert run_cli(["apply", "--flake", str(root), "--host", "carbon=cuda", "--no-nix", "--yes"]).returncode == 0
    (root / "hosts/argon").mkdir()
    (root / "hosts/argon/default.nix").write_text("{ ... }: {\n  imports = [ ../carbon ];\n}\n")
    flake = root / "flake.nix"
    flake.write_text(
        flake.read_text().replace('neon = mkHost "neon";', 'neon = mkHost "neon";\n        argon = mkHost "argon";')
    )
    repo = git.Repo(root)
    repo.git.add("-A")
    repo.git.commit("-qm", "argon on top of carbon", "--no-verify")

    planned = json.loads(run_cli(["plan", "--flake", str(root), "--host", "argon=vulkan", "--no-nix", "--json"]).stdout)
    (refusal,) = planned["refusals"]
    listed = json.loads(run_cli(["hosts", "--flake", str(root), "--no-nix", "--json"]).stdout)
    argon = next(h for h in listed["hosts"] if h["name"] == "argon")

    assert argon["can_wire"] is False
    assert (argon["refusal"], argon["snippet"], argon["snippet_file"]) == (
        refusal["reason"],
        refusal["snippet"],
        refusal["file"],
    )
    table = run_cli(["hosts", "--flake", str(root), "--no-nix"]).stdout
    row = next(line for line in table.splitlines() if "│ argon" in line)
    assert "by hand" in row
