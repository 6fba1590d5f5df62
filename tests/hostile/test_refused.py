"""A machine the engine cannot wire is reported as not done: nothing written for it, exit status 3."""

from __future__ import annotations

import git
from conftest import NIX_INSTANTIATE, requires_nix
from hostile_repos import LAYOUTS, layout_repo, run_cli


def test_a_refused_machine_alone_writes_nothing_and_exits_3(tmp_path):
    root = layout_repo(tmp_path, "host-file-not-a-module")
    head = git.Repo(root).head.commit.hexsha
    result = run_cli(["apply", "--flake", str(root), "--host", "carbon=cpu", "--yes"])
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "not done" in result.stderr and "nixos-rebuild" not in result.stderr
    assert git.Repo(root).head.commit.hexsha == head
    assert git.Repo(root).git.status("--porcelain", "--untracked-files=all") == ""
    # The snippet is not offered for the file that is not a module.
    assert "add to hosts/carbon.nix" not in result.stderr
    assert "a module that only 'carbon' imports" in result.stderr


def test_a_refused_machine_next_to_a_wired_one(tmp_path):
    root = layout_repo(tmp_path, "host-file-not-a-module")
    result = run_cli(["apply", "--flake", str(root), "--host", "carbon=cpu", "--host", "boron=cpu", "--yes"])
    assert result.returncode == 3, result.stderr
    rebuilds = [line.strip() for line in result.stderr.splitlines() if "nixos-rebuild" in line]
    assert rebuilds == ["sudo nixos-rebuild switch --flake .#boron"]
    committed = git.Repo(root).git.show("--name-only", "--format=", "HEAD").split()
    assert "llama-cpp/machines/boron.nix" in committed
    assert not any("carbon" in path for path in committed)
    assert not (root / "llama-cpp/machines/carbon.nix").exists()
    assert "- carbon" not in git.Repo(root).head.commit.message


def test_write_refused_writes_the_settings_file_and_still_exits_3(tmp_path):
    root = layout_repo(tmp_path, "host-file-not-a-module")
    result = run_cli(["apply", "--flake", str(root), "--host", "carbon=cpu", "--write-refused", "--yes"])
    assert result.returncode == 3, result.stderr
    assert "nixos-rebuild" not in result.stderr
    committed = git.Repo(root).git.show("--name-only", "--format=", "HEAD").split()
    assert "llama-cpp/machines/carbon.nix" in committed
    subject = git.Repo(root).head.commit.message.splitlines()[0]
    assert subject == "llama-cpp: llama.cpp settings for carbon, to import by hand"
    assert (root / "hosts/carbon.nix").read_bytes() == (
        LAYOUTS / "host-file-not-a-module/hosts/carbon.nix"
    ).read_bytes()


@requires_nix
def test_the_snippet_is_valid_nix_where_it_is_offered(tmp_path):
    import subprocess

    root = layout_repo(tmp_path, "no-inputs-in-lib-helper")
    result = run_cli(["plan", "--flake", str(root), "--host", "carbon=cpu", "--json"])
    assert result.returncode == 3, result.stderr
    import json

    (refusal,) = json.loads(result.stdout)["refusals"]
    target = root / refusal["file"]
    text = target.read_text()
    # Put the snippet's first line into the module the refusal names: the file still parses.
    assert ":\n{" in text
    patched = text.replace(":\n{", ":\n{\n  " + refusal["snippet"].splitlines()[0], 1)
    (tmp_path / "patched.nix").write_text(patched)
    check = subprocess.run([NIX_INSTANTIATE, "--parse", str(tmp_path / "patched.nix")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_plan_exits_3_for_a_refused_machine(tmp_path):
    root = layout_repo(tmp_path, "host-file-not-a-module")
    assert run_cli(["plan", "--flake", str(root), "--host", "carbon=cpu"]).returncode == 3
    assert run_cli(["plan", "--flake", str(root), "--host", "boron=cpu"]).returncode == 0
