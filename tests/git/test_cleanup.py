"""``--cleanup`` on real repositories: what the new set-up supersedes goes, but never from under a machine the
change leaves alone."""

from __future__ import annotations

import git
import pytest
from conftest import demo_source, make_repo
from repo_state import committed_paths

from tui.cli import main

OVERLAY = "nixos/pkgs/llama-cpp-variants.nix"
WIRED = ["--host", "carbon=cuda", "--host", "boron=cpu"]


def apply(root, capsys, *argv) -> str:
    code = main(["apply", "--flake", str(root), "--no-nix", "--no-caches", "--yes", "--cleanup", *argv])
    err = capsys.readouterr().err
    assert code == 0, err
    return err


@pytest.mark.parametrize("left_alone", [[], ["--host", "beryllium=none"]], ids=["not-answered", "none"])
def test_a_shared_overlay_a_machine_left_alone_uses_is_kept(demo_repo, capsys, left_alone):
    """Every demo machine imports nixos/default.nix, which applies the overlay and lists the dead caches."""
    err = apply(demo_repo, capsys, *WIRED, *left_alone)
    assert (
        f"note: kept {OVERLAY} (a hand-written llama-cpp overlay): beryllium uses it and is left alone by "
        "this change; wire beryllium too to remove it"
    ) in err
    assert "note: kept the dead binary caches in nixos/nix.nix: beryllium uses them" in err
    assert "offer:" not in err
    committed = committed_paths(demo_repo)
    assert not {OVERLAY, "nixos/default.nix", "nixos/nix.nix"} & set(committed)
    assert (demo_repo / OVERLAY).is_file()
    assert git.Repo(demo_repo).git.status("--porcelain") == ""


def test_the_shared_overlay_goes_once_every_machine_using_it_is_wired(demo_repo, capsys):
    apply(demo_repo, capsys, *WIRED)
    err = apply(demo_repo, capsys, "--host", "beryllium=vulkan")
    assert "kept" not in err
    assert not (demo_repo / OVERLAY).exists()
    assert {OVERLAY, "nixos/default.nix", "nixos/nix.nix"} <= set(committed_paths(demo_repo))


def two_hosts(root, alpha_imports: str = "", common: str = "{ ... }:\n{\n}\n", modules_extra: str = ""):
    overlay = "final: prev: {\n  llama-cpp-cpu = prev.llama-cpp;\n}\n"
    host = '{ ... }:\n{\n  imports = [ IMPORTS ];\n  networking.hostName = "NAME";\n}\n'
    flake = (
        '{\n  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
        "  outputs = { self, nixpkgs, ... }@inputs: {\n"
        + "".join(
            f"    nixosConfigurations.{h} = nixpkgs.lib.nixosSystem {{\n"
            "      specialArgs = { inherit inputs; };\n"
            f"      modules = [ ./common.nix ./hosts/{h}.nix{modules_extra} ];\n"
            "    };\n"
            for h in ("alpha", "beta")
        )
        + "  };\n}\n"
    )
    return make_repo(
        root,
        {
            "flake.nix": flake,
            "common.nix": common,
            "overlays/llama-cpp.nix": overlay,
            "hosts/alpha.nix": host.replace("IMPORTS", alpha_imports).replace("NAME", "alpha"),
            "hosts/beta.nix": host.replace("IMPORTS", "").replace("NAME", "beta"),
        },
    )


def test_an_overlay_only_wired_machines_use_still_goes(tmp_path, capsys):
    root = two_hosts(
        tmp_path / "config", alpha_imports="{ nixpkgs.overlays = [ (import ../overlays/llama-cpp.nix) ]; }"
    )
    err = apply(root, capsys, "--host", "alpha=cpu", "--host", "beta=none")
    assert "kept" not in err
    assert not (root / "overlays/llama-cpp.nix").exists()
    assert "llama-cpp.nix" not in (root / "hosts/alpha.nix").read_text()
    assert "hosts/beta.nix" not in committed_paths(root)


def test_an_overlay_brought_in_where_no_machine_can_be_told_apart_is_kept(tmp_path, capsys):
    """Used from flake.nix itself: which machines use it is not known, so a machine left alone keeps it."""
    root = two_hosts(
        tmp_path / "config", modules_extra=" { nixpkgs.overlays = [ (import ./overlays/llama-cpp.nix) ]; }"
    )
    err = apply(root, capsys, "--host", "alpha=cpu")
    assert (
        "note: kept overlays/llama-cpp.nix (a hand-written llama-cpp overlay): the engine cannot tell whether "
        "beta uses it (flake.nix brings it in)"
    ) in err
    assert (root / "overlays/llama-cpp.nix").is_file()
    assert "llama-cpp.nix" in (root / "flake.nix").read_text()


def test_an_overlay_folder_imported_by_its_name_is_found_and_kept(tmp_path, capsys):
    """``import ../overlays`` names overlays/default.nix: beta uses it through common.nix."""
    root = two_hosts(tmp_path / "config", common="{ ... }:\n{\n  nixpkgs.overlays = [ (import ./overlays) ];\n}\n")
    (root / "overlays/llama-cpp.nix").rename(root / "overlays/default.nix")
    repo = git.Repo(root)
    repo.git.add("-A")
    repo.git.commit("-qm", "overlay folder")
    err = apply(root, capsys, "--host", "alpha=cpu")
    assert "note: kept overlays/default.nix (a hand-written llama-cpp overlay): beta uses it" in err
    assert (root / "overlays/default.nix").is_file()
    assert "common.nix" not in committed_paths(root)


def test_an_overlay_a_machine_left_alone_names_in_a_string_is_kept(tmp_path, capsys):
    """alpha imports it by a path literal, beta by a string the clean-up cannot edit: beta still uses it."""
    root = two_hosts(
        tmp_path / "config", alpha_imports="{ nixpkgs.overlays = [ (import ../overlays/llama-cpp.nix) ]; }"
    )
    beta = root / "hosts/beta.nix"
    beta.write_text(
        beta.read_text()
        .replace("{ ... }:", "{ inputs, ... }:")
        .replace("imports = [  ];", 'nixpkgs.overlays = [ (import "${inputs.self}/overlays/llama-cpp.nix") ];')
    )
    repo = git.Repo(root)
    repo.git.commit("-qam", "beta names the overlay in a string")
    err = apply(root, capsys, "--host", "alpha=cpu")
    assert "note: kept overlays/llama-cpp.nix (a hand-written llama-cpp overlay): beta uses it" in err
    assert (root / "overlays/llama-cpp.nix").is_file()
    assert "llama-cpp.nix" in (root / "hosts/alpha.nix").read_text()


def test_an_overlay_flake_nix_uses_for_another_output_is_kept_with_a_note(tmp_path, capsys):
    root = make_repo(tmp_path / "config", source=demo_source())
    flake = root / "flake.nix"
    text = flake.read_text()
    anchor = "    nixosConfigurations"
    assert anchor in text
    flake.write_text(
        text.replace(
            anchor,
            "    legacyPackages.x86_64-linux = import nixpkgs {\n"
            '      system = "x86_64-linux";\n'
            "      overlays = [ (import ./nixos/pkgs/llama-cpp-variants.nix) ];\n"
            "    };\n" + anchor,
            1,
        )
    )
    git.Repo(root).git.commit("-qam", "packages for the CI", "--no-verify")
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
            "--host",
            "boron=cpu",
            "--cleanup",
            "--no-nix",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert (root / "nixos/pkgs/llama-cpp-variants.nix").is_file()
    assert "(import ./nixos/pkgs/llama-cpp-variants.nix)" in flake.read_text()
    assert "kept nixos/pkgs/llama-cpp-variants.nix (a hand-written llama-cpp overlay): flake.nix:" in err
    assert "for a flake output that is not a machine" in err
