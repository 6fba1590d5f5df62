"""``llamaflake undo`` on real repositories: drop a local commit, revert a pushed one, keep the user's work."""

from __future__ import annotations

import io
import json
import sys

import git
import pytest
from repo_state import demo_plan, repo_state

from tui.cli import main
from tui.core.answers import MachineAnswer
from tui.core.apply import apply_plan
from tui.core.errors import RepositoryError
from tui.core.undo import plan_undo, undo


def unrelated_work(root) -> None:
    repo = git.Repo(root)
    (root / "notes.txt").write_text("staged\n")
    repo.git.add("notes.txt")
    with (root / "README.md").open("a") as handle:
        handle.write("\nunstaged\n")


def files_without(state, *names):
    return {k: v for k, v in state.files.items() if k not in names}


def test_undo_drops_a_local_commit_and_keeps_unrelated_work(demo_repo):
    unrelated_work(demo_repo)
    before = repo_state(demo_repo)
    plan = demo_plan(demo_repo)
    apply_plan(plan)
    assert repo_state(demo_repo).head != before.head

    undo_plan = plan_undo(demo_repo)
    assert undo_plan.method == "reset"
    assert sorted(undo_plan.paths) == sorted(c.path for c in plan.changes)
    result = undo(undo_plan)
    after = repo_state(demo_repo)
    assert result.head == before.head == after.head
    assert after.files == before.files
    assert after.staged == before.staged
    assert after.stage_entries == before.stage_entries
    assert not (demo_repo / "nixos/llama-cpp").exists()
    assert sorted(git.Repo(demo_repo).git.status("--porcelain").splitlines()) == [" M README.md", "A  notes.txt"]


def test_undo_reverts_a_pushed_commit(demo_repo, tmp_path):
    origin = tmp_path / "origin.git"
    git.Repo.clone_from(demo_repo, origin, bare=True)
    repo = git.Repo(demo_repo)
    repo.create_remote("origin", str(origin))
    repo.git.fetch("origin")
    before = repo_state(demo_repo)
    apply_plan(demo_plan(demo_repo))
    applied = repo.head.commit.hexsha
    repo.git.push("origin", "main")
    repo.git.fetch("origin")

    with (demo_repo / "README.md").open("a") as handle:
        handle.write("\nunstaged, kept through the revert\n")
    undo_plan = plan_undo(demo_repo)
    assert undo_plan.method == "revert" and "origin/main" in undo_plan.reason
    result = undo(undo_plan)
    assert repo.head.commit.parents[0].hexsha == applied
    assert repo.head.commit.tree.hexsha == repo.commit(before.head).tree.hexsha
    assert f"This reverts commit {applied}" in repo.head.commit.message
    after = repo_state(demo_repo)
    assert files_without(after, "README.md") == files_without(before, "README.md")
    assert after.files["README.md"][0].endswith(b"kept through the revert\n")
    assert result.method == "revert" and result.head == repo.head.commit.hexsha

    with pytest.raises(RepositoryError, match="already reverted"):
        plan_undo(demo_repo)


def test_undo_reverts_when_commits_follow(demo_repo):
    before = repo_state(demo_repo)
    apply_plan(demo_plan(demo_repo))
    repo = git.Repo(demo_repo)
    (demo_repo / "other.txt").write_text("later work\n")
    repo.git.add("other.txt")
    repo.git.commit("-m", "later work")
    undo_plan = plan_undo(demo_repo)
    assert undo_plan.method == "revert" and undo_plan.reason == "commits follow it"
    undo(undo_plan)
    assert files_without(repo_state(demo_repo), "other.txt") == before.files


def test_undo_refuses_when_the_commit_files_changed_since(demo_repo):
    apply_plan(demo_plan(demo_repo))
    with (demo_repo / "flake.nix").open("a") as handle:
        handle.write("# edited after the apply\n")
    with pytest.raises(RepositoryError, match=r"flake.nix \(unstaged changes\)"):
        plan_undo(demo_repo)


def test_undo_refuses_without_a_llamaflake_commit(demo_repo):
    with pytest.raises(RepositoryError, match="no commit made by llamaflake"):
        plan_undo(demo_repo)


def test_cli_undo_needs_yes_without_a_terminal_and_reports_json(demo_repo, capsys, monkeypatch):
    before = repo_state(demo_repo)
    apply_plan(demo_plan(demo_repo))
    applied = repo_state(demo_repo)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal: nothing to read
    assert main(["undo", "--flake", str(demo_repo)]) == 2
    out, err = capsys.readouterr()
    assert "needs --yes" in err and out == ""
    assert repo_state(demo_repo).head == applied.head

    assert main(["undo", "--flake", str(demo_repo), "--yes", "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["done"] is True and data["method"] == "reset" and data["head"] == before.head
    assert "nixos/llama-cpp/default.nix" in data["paths"]
    assert "remove nixos/llama-cpp/default.nix" in err
    assert repo_state(demo_repo).files == before.files


def test_undo_brings_back_files_the_clean_up_removed(demo_repo):
    before = repo_state(demo_repo)
    plan = demo_plan(
        demo_repo,
        cleanup=True,
        carbon=MachineAnswer("cuda"),
        beryllium=MachineAnswer("vulkan"),
        boron=MachineAnswer("cpu"),
    )  # every machine: they all use the overlay
    removed = [c.path for c in plan.changes if c.new is None]
    assert removed == ["nixos/pkgs/llama-cpp-variants.nix"]
    apply_plan(plan)
    assert not (demo_repo / removed[0]).exists()
    assert removed[0] not in git.Repo(demo_repo).git.ls_files()
    undo(plan_undo(demo_repo))
    after = repo_state(demo_repo)
    assert after.files == before.files and after.stage_entries == before.stage_entries
