"""What the commit holds: every file the apply wrote, the trailers undo needs, and undo only of those."""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest
from hostile_repos import run_cli, small_repo

APPLY = ["--host", "boron=cpu", "--cpu-flags", "boron=avx2,fma", "--yes"]


def test_allow_dirty_commits_the_untracked_file_it_overwrites(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    mine = root / "llama-cpp/machines/boron.nix"
    mine.parent.mkdir(parents=True)
    settings = '# my own notes, never committed\n{\n  local.llama-cpp.variant = "vulkan";\n}\n'
    mine.write_text(settings)
    refused = run_cli(["apply", "--flake", str(root), *APPLY])
    assert refused.returncode == 2 and "untracked" in refused.stderr
    assert mine.read_text() == settings

    result = run_cli(["apply", "--flake", str(root), "--allow-dirty", *APPLY])
    assert result.returncode == 0, result.stderr
    repo = git.Repo(root)
    committed = repo.git.show("--name-only", "--format=", "HEAD").split()
    assert "llama-cpp/machines/boron.nix" in committed
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""
    assert mine.read_text().startswith("# my own notes, never committed\n")  # changed where it sets llama.cpp only


def test_an_untracked_file_that_is_not_a_settings_file_is_never_written_over(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    mine = root / "llama-cpp/machines/boron.nix"
    mine.parent.mkdir(parents=True)
    mine.write_text("# my own notes, never committed\n{ }\n")
    for flags in ([], ["--allow-dirty"]):
        refused = run_cli(["apply", "--flake", str(root), *flags, *APPLY])
        assert refused.returncode == 2 and "not a llama.cpp settings file" in refused.stderr
        assert mine.read_text() == "# my own notes, never committed\n{ }\n"


def test_a_custom_message_keeps_the_trailers_and_undo_finds_the_commit(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    result = run_cli(["apply", "--flake", str(root), "--message", "my own words", *APPLY])
    assert result.returncode == 0, result.stderr
    repo = git.Repo(root)
    message = repo.head.commit.message
    assert message.startswith("my own words\n\n")
    assert "Generated-by: llamaflake" in message
    assert "Generated-file: llama-cpp/machines/boron.nix" in message
    undo = run_cli(["undo", "--flake", str(root), "--yes"])
    assert undo.returncode == 0, undo.stderr
    assert repo.head.commit.message == "initial\n"


def test_undo_refuses_a_commit_the_user_amended_with_their_own_file(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    (root / "mine.txt").write_text("my work\n")
    repo.git.add("mine.txt")
    repo.git.commit("--amend", "--no-edit")
    amended = repo.head.commit.hexsha
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 2, result.stderr
    assert "mine.txt" in result.stderr and "Traceback" not in result.stderr
    assert repo.head.commit.hexsha == amended
    assert (root / "mine.txt").read_text() == "my work\n"
    assert "mine.txt" in repo.git.ls_files().split()


def test_undo_refuses_a_commit_that_holds_the_users_own_edits_of_a_written_file(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    flake = root / "flake.nix"
    flake.write_text("# my own comment, not committed yet\n" + flake.read_text())
    result = run_cli(["apply", "--flake", str(root), "--allow-dirty", *APPLY])
    assert result.returncode == 0, result.stderr
    repo = git.Repo(root)
    assert "Generated-with-your-changes: flake.nix" in repo.head.commit.message
    assert "Generated-with-your-changes: llama-cpp" not in repo.head.commit.message
    committed = repo.head.commit.hexsha
    undo = run_cli(["undo", "--flake", str(root), "--yes"])
    assert undo.returncode == 2, undo.stderr
    assert "flake.nix" in undo.stderr and "git revert --no-commit" in undo.stderr and "Traceback" not in undo.stderr
    assert repo.head.commit.hexsha == committed
    assert flake.read_text().startswith("# my own comment, not committed yet\n")


def test_a_clean_apply_records_no_changes_of_the_user(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    assert "Generated-with-your-changes" not in git.Repo(root).head.commit.message


MY_INPUT = '    nixpkgs-stable.url = "github:nixos/nixpkgs/nixos-25.11";\n'


def _add_my_input(root) -> None:
    """The user's own input in flake.nix, staged."""
    flake = root / "flake.nix"
    text = flake.read_text()
    at = text.index("\n", text.index("nixpkgs.url")) + 1
    flake.write_text(text[:at] + MY_INPUT + text[at:])
    git.Repo(root).git.add("flake.nix")


def test_the_commit_records_what_it_wrote_in_each_file(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    blobs = dict(
        reversed(line.split(" ", 2)[1:])
        for line in repo.head.commit.message.splitlines()
        if line.startswith("Generated-blob: ")
    )
    written = [
        line.split(" ", 1)[1] for line in repo.head.commit.message.splitlines() if line.startswith("Generated-file: ")
    ]
    assert sorted(blobs) == sorted(written) and "flake.nix" in blobs
    assert blobs == {path: repo.git.rev_parse(f"HEAD:{path}") for path in blobs}


def test_undo_refuses_a_commit_whose_written_file_the_user_amended(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    _add_my_input(root)
    repo.git.commit("--amend", "--no-edit")
    amended = repo.head.commit.hexsha
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 2, result.stderr
    assert "flake.nix is not what llamaflake wrote" in result.stderr, result.stderr
    assert f"git revert --no-commit {amended[:12]}" in result.stderr and "Traceback" not in result.stderr
    assert repo.head.commit.hexsha == amended
    assert MY_INPUT in (root / "flake.nix").read_text()
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""


def test_undo_takes_back_a_commit_a_hook_reformatted(tmp_path):
    """A formatter in pre-commit changes what llamaflake wrote as it commits: the commit is still its own."""
    root = small_repo(tmp_path / "repo", ["boron"])
    hook = Path(git.Repo(root).git_dir) / "hooks/pre-commit"
    hook.write_text("#!/bin/sh\nsed -i 's/  */ /g' flake.nix && git add flake.nix\n")
    hook.chmod(0o755)
    assert run_cli(["apply", "--flake", str(root), "--no-eval", *APPLY]).returncode == 0
    repo = git.Repo(root)
    assert "  " not in repo.git.show("HEAD:flake.nix")
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 0, result.stderr
    assert repo.head.commit.message == "initial\n"


@pytest.mark.parametrize("amended", [False, True], ids=["as-written", "amended"])
def test_undo_of_a_commit_without_blob_trailers_judges_by_path_and_change(tmp_path, amended):
    """Made by a version that wrote ``Generated-file`` trailers alone: undone as before, but an input of the
    user's in flake.nix is still seen."""
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    if amended:
        _add_my_input(root)
    message = "".join(
        line for line in repo.head.commit.message.splitlines(keepends=True) if not line.startswith("Generated-blob:")
    )
    repo.git.commit("--amend", "-m", message)
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    if amended:
        assert result.returncode == 2, result.stderr
        assert "changes llamaflake did not write: flake.nix" in result.stderr
        assert MY_INPUT in (root / "flake.nix").read_text()
    else:
        assert result.returncode == 0, result.stderr
        assert repo.head.commit.message == "initial\n"


def _drop_file_trailers(repo: git.Repo) -> None:
    """The commit as an earlier version wrote it: ``Generated-by`` without ``Generated-file`` trailers."""
    message = "".join(
        line
        for line in repo.head.commit.message.splitlines(keepends=True)
        if not line.startswith(("Generated-file:", "Generated-blob:"))
    )
    repo.git.commit("--amend", "-m", message)


def test_undo_without_file_trailers_refuses_an_input_the_user_added_to_flake_nix(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    _add_my_input(root)
    _drop_file_trailers(repo)
    amended = repo.head.commit.hexsha
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 2, result.stderr
    assert "changes llamaflake did not write: flake.nix" in result.stderr and "Traceback" not in result.stderr
    assert repo.head.commit.hexsha == amended
    assert MY_INPUT in (root / "flake.nix").read_text()


def _lock(*nodes: tuple[str, str]) -> str:
    """A flake.lock with the flake's inputs ``nodes`` (name, locked revision)."""
    entries = {
        name: {
            "locked": {"type": "github", "owner": "o", "repo": name, "rev": rev},
            "original": {"type": "github", "owner": "o", "repo": name},
        }
        for name, rev in nodes
    }
    entries["root"] = {"inputs": {name: name for name, _ in nodes}}
    return json.dumps({"nodes": entries, "root": "root", "version": 7}, indent=2) + "\n"


@pytest.mark.parametrize("nixpkgs_after, code", [("aaaa", 0), ("bbbb", 2)], ids=["input-added", "updated-since"])
def test_undo_without_file_trailers_takes_back_only_an_added_input_in_flake_lock(tmp_path, nixpkgs_after, code):
    root = small_repo(tmp_path / "repo", ["boron"], files={"flake.lock": _lock(("nixpkgs", "aaaa"))})
    assert run_cli(["apply", "--flake", str(root), "--no-eval", *APPLY]).returncode == 0
    repo = git.Repo(root)
    (root / "flake.lock").write_text(_lock(("nixpkgs", nixpkgs_after), ("llama-cpp", "cccc")))
    repo.git.add("flake.lock")
    _drop_file_trailers(repo)
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == code, result.stderr
    if code:
        assert "changes llamaflake did not write: flake.lock" in result.stderr
        assert '"bbbb"' in (root / "flake.lock").read_text()
    else:
        assert (root / "flake.lock").read_text() == _lock(("nixpkgs", "aaaa"))


def test_undo_without_file_trailers_refuses_a_file_llamaflake_never_writes(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    (root / "mine.txt").write_text("my work\n")
    repo.git.add("mine.txt")
    _drop_file_trailers(repo)
    amended = repo.head.commit.hexsha
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 2, result.stderr
    assert "mine.txt" in result.stderr and "Traceback" not in result.stderr
    assert repo.head.commit.hexsha == amended
    assert (root / "mine.txt").read_text() == "my work\n"


def test_undo_without_file_trailers_refuses_other_edits_of_a_host_file(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    host = root / "hosts/h0.nix"
    host.write_text(host.read_text().replace('"x"', '"renamed"'))
    repo.git.add("hosts/h0.nix")
    _drop_file_trailers(repo)
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 2, result.stderr
    assert "hosts/h0.nix" in result.stderr
    assert '"renamed"' in host.read_text()


def test_undo_without_file_trailers_takes_back_what_llamaflake_writes(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    host = root / "hosts/h0.nix"
    # An import line of the module's folder in a machine's own file, as llamaflake writes in other layouts.
    host.write_text(host.read_text().replace("{\n", "{\n  imports = [\n    ../llama-cpp/machines/boron.nix\n  ];\n", 1))
    repo.git.add("hosts/h0.nix")
    _drop_file_trailers(repo)
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 0, result.stderr
    assert repo.head.commit.message == "initial\n"
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""
