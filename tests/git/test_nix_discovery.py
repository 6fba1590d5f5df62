"""Discovery with the real ``nix``: every machine ``nix eval`` lists, each wired through the file that Nix says
belongs to it alone, in layouts the static reading cannot follow."""

from __future__ import annotations

import json

import git
import nix_flakes as flakes
from conftest import make_repo
from nix_flakes import _nix_env, stand_ins  # noqa: F401 - fixtures
from repo_state import committed_paths
from test_nix_proof import evaluated_name

from tui.cli import main
from tui.core.judge import own_files, repository_file


def hosts_json(root, capsys, *extra) -> tuple[dict, str]:
    assert main(["hosts", "--flake", str(root), "--json", *extra]) == 0
    out = capsys.readouterr()
    return json.loads(out.out), out.err


def test_hosts_lists_every_machine_nix_lists(tmp_path, stand_ins, capsys):
    root = flakes.extensible_readdir(tmp_path / "config", stand_ins["nixpkgs"])
    report, err = hosts_json(root, capsys)
    assert sorted(h["name"] for h in report["hosts"]) == ["delta", "epsilon", "gamma"]
    assert report["nix"]["machines"] == ["delta", "epsilon", "gamma"]
    assert report["nix"]["only_nix"] == ["delta", "epsilon", "gamma"]
    assert "nix lists machines the static reading did not find: delta, epsilon, gamma" in err
    assert report["nix"]["own_files"]["gamma"] == "machines/gamma/default.nix"
    assert all(h["can_wire"] for h in report["hosts"])
    assert not (root / "flake.lock").exists(), "discovery writes nothing"
    assert git.Repo(root).git.status("--porcelain") == ""


def test_no_nix_keeps_the_static_reading(tmp_path, stand_ins, capsys):
    root = flakes.extensible_readdir(tmp_path / "config", stand_ins["nixpkgs"])
    report, _err = hosts_json(root, capsys, "--no-nix")
    assert report["hosts"] == [] and "nix" not in report


def test_machines_only_nix_sees_are_wired_through_their_own_files_and_proven(tmp_path, stand_ins, capsys):
    root = flakes.extensible_readdir(tmp_path / "config", stand_ins["nixpkgs"])
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "gamma=vulkan",
            "--host",
            "delta=cpu",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "✓ gamma: llama-cpp-vulkan-0.0.0" in err and "✓ delta: llama-cpp-blas-0.0.0" in err
    assert (
        "./../../llama-cpp/machines/gamma.nix" in (root / "machines/gamma/default.nix").read_text()
        or "llama-cpp/machines/gamma.nix" in (root / "machines/gamma/default.nix").read_text()
    )
    assert "llama-cpp" not in (root / "machines/epsilon/default.nix").read_text()
    assert "common.nix" not in committed_paths(root)
    assert evaluated_name(root, "gamma") == "llama-cpp-vulkan-0.0.0"
    assert evaluated_name(root, "delta") == "llama-cpp-blas-0.0.0"
    assert evaluated_name(root, "epsilon") == "llama-cpp-nixpkgs-7000", "a machine not chosen is left alone"


def test_a_host_chosen_by_a_special_arg_is_wired_through_its_own_file(tmp_path, stand_ins, capsys):
    root = flakes.name_in_special_args(tmp_path / "config", stand_ins["nixpkgs"])
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "zeta=cpu",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "llama-cpp/machines/zeta.nix" in (root / "hosts/zeta.nix").read_text()
    assert "not wired" not in err
    assert evaluated_name(root, "zeta") == "llama-cpp-blas-0.0.0"
    assert evaluated_name(root, "eta") == "llama-cpp-nixpkgs-7000"


def test_a_machine_without_a_file_of_its_own_is_refused_with_the_snippet(tmp_path, stand_ins, capsys):
    root = flakes.name_in_special_args(tmp_path / "config", stand_ins["nixpkgs"], hosts=("zeta",))
    # Both machines are the same host file: neither owns a file, and their one modules list is not written in
    # a function of the machine's name, so no entry there can be one machine's either.
    (root / "flake.nix").write_text(
        (root / "flake.nix")
        .read_text()
        .replace('names = [ "zeta" ];', 'names = [ "zeta" "zeta2" ];')
        .replace("make = hostName: nixpkgs", "make = nixpkgs")
        .replace("genAttrs names make", "genAttrs names (_: make)")
        .replace("specialArgs = { inherit inputs hostName; };", 'specialArgs = { inherit inputs; hostName = "zeta"; };')
    )
    git.Repo(root).git.commit("-am", "two machines, one file")
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "zeta2=cpu",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3, err  # a machine asked for and not wired: not done
    assert "'zeta2': not done" in err and "imports = [" in err
    assert "evaluating zeta2" not in err, "a machine not attached is not evaluated"
    assert "llama-cpp" not in (root / "hosts/zeta.nix").read_text()


def test_two_machines_on_one_host_file_get_their_own_settings_from_the_keyed_list(tmp_path, stand_ins, capsys):
    """The same two machines, built by a function of their name: one entry in its list, each its own file."""
    root = flakes.name_in_special_args(tmp_path / "config", stand_ins["nixpkgs"], hosts=("zeta",))
    (root / "flake.nix").write_text(
        (root / "flake.nix")
        .read_text()
        .replace('names = [ "zeta" ];', 'names = [ "zeta" "zeta2" ];')
        .replace("specialArgs = { inherit inputs hostName; };", 'specialArgs = { inherit inputs; hostName = "zeta"; };')
    )
    git.Repo(root).git.commit("-am", "two machines, one file")
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "zeta2=cpu",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "as chosen: cpu, all CPU variants · from llama-cpp/machines/zeta2.nix" in err
    assert "llama-cpp" not in (root / "hosts/zeta.nix").read_text()
    assert evaluated_name(root, "zeta2") == "llama-cpp-blas-0.0.0"
    assert evaluated_name(root, "zeta") == "llama-cpp-nixpkgs-7000"  # no settings file yet: left as it was


def test_store_paths_map_back_to_the_flake_folder(tmp_path):
    (tmp_path / "hosts").mkdir()
    (tmp_path / "hosts" / "a.nix").write_text("{ }")
    (tmp_path / "shared.nix").write_text("{ }")
    store = "/nix/store/" + "a" * 32 + "-source/"
    assert repository_file(store + "sub/hosts/a.nix", "sub/") == "hosts/a.nix"
    assert repository_file(store + "other/x.nix", "sub/") is None
    assert repository_file("/etc/nixos/x.nix", "") is None
    where = {
        "a": {"files": [[store + "hosts/a.nix", store + "shared.nix"]]},
        "b": {"files": [[store + "shared.nix"]]},
    }
    assert own_files(where, "", tmp_path) == {"a": "hosts/a.nix", "b": None}


def test_hosts_eval_timeout_bounds_the_question_to_nix(tmp_path, stand_ins, capsys):
    root = flakes.extensible_readdir(tmp_path / "config", stand_ins["nixpkgs"])
    report, err = hosts_json(root, capsys, "--eval-timeout", "0.001")
    assert report["nix"]["machines"] is None
    assert "did not finish in 0.001 s" in report["nix"]["error"]
    assert "not verified with nix" in err


def test_an_offline_discovery_says_so_in_a_few_lines(tmp_path, capsys):
    """Inputs that cannot be fetched: one plain reason, not Nix's retries."""
    from tui.core.judge import discover
    from tui.core.nix.flake import load_flake

    root = make_repo(
        tmp_path / "config",
        {
            "flake.nix": '{\n  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";\n'
            "  outputs = { self, nixpkgs }: { nixosConfigurations = { }; };\n}\n",
        },
    )
    found = discover(load_flake(root), timeout=120)
    assert found.machines is None
    assert found.error.startswith("offline: an input could not be fetched: ")
    assert "github" in found.error or "cache.nixos.org" in found.error  # Nix's own word on what it could not reach
    assert "retrying in" not in found.error and "--show-trace" not in found.error
    assert len(found.error.splitlines()) == 1
