"""Core helpers the wizard shows: repository state, the input on its own, and the next commands."""

from __future__ import annotations

import git
import pytest

from tui.core.answers import Answers, MachineAnswer
from tui.core.apply import apply_plan
from tui.core.caches import cache_by_name
from tui.core.errors import AnswerError
from tui.core.input_preview import input_change
from tui.core.next_steps import new_caches, rebuild_commands, substituter_options, undo_commands
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan
from tui.core.repo_status import repo_status


def test_repo_status_clean_dirty_detached_and_not_a_repo(demo_repo, tmp_path):
    status = repo_status(demo_repo)
    assert status.clean and status.branch in ("main", "master")
    assert status.summary().endswith(", clean")
    (demo_repo / "flake.nix").write_text((demo_repo / "flake.nix").read_text() + "\n")
    (demo_repo / "notes.txt").write_text("x")
    status = repo_status(demo_repo)
    assert status.changed == ["flake.nix"] and status.untracked == ["notes.txt"]
    assert "dirty (1 changed, 1 untracked)" in status.summary()
    repo = git.Repo(demo_repo)
    repo.git.checkout("--detach")
    assert repo_status(demo_repo).detached_at == repo.head.commit.hexsha[:12]
    plain = tmp_path / "plain"
    plain.mkdir()
    assert not repo_status(plain).is_repo
    assert "not a git repository" in repo_status(plain).summary()


def test_input_change_shows_only_the_input(demo_repo):
    flake = load_flake(demo_repo)
    change = input_change(flake)
    assert 'llama-cpp.url = "github:ggml-org/llama.cpp";' in change.new.decode()
    assert b"llama-cpp/machines" not in change.new
    pinned = input_change(flake, follows="nixpkgs-stable", ref="b5000").new.decode()
    assert 'llama-cpp.url = "github:ggml-org/llama.cpp/b5000";' in pinned
    assert 'llama-cpp.inputs.nixpkgs.follows = "nixpkgs-stable";' in pinned
    with pytest.raises(AnswerError, match="malformed ref"):
        input_change(flake, ref="b5000; rm -rf")


def test_input_change_is_none_once_the_input_exists(demo_repo):
    apply_plan(make_plan(load_flake(demo_repo), Answers(machines={"boron": MachineAnswer("cpu")})))
    assert input_change(load_flake(demo_repo)) is None


def test_rebuild_lines_carry_new_caches_only_the_first_time(demo_repo):
    answers = Answers(
        machines={"carbon": MachineAnswer("cuda", cuda_capabilities=["8.6"]), "boron": MachineAnswer("cpu")},
        caches=[cache_by_name("nixos-cuda")],
    )
    plan = make_plan(load_flake(demo_repo), answers)
    assert [c.name for c in new_caches(plan)] == ["nixos-cuda"]
    assert (
        rebuild_commands(plan)["boron"] == "sudo nixos-rebuild switch --flake .#boron"
    )  # a CUDA cache has nothing for it
    line = rebuild_commands(plan)["carbon"]
    assert line == (
        "sudo nixos-rebuild switch --flake .#carbon --option extra-substituters https://cache.nixos-cuda.org"
        " --option extra-trusted-public-keys cache.nixos-cuda.org:74DUi4Ye579gUqzH4ziL9IyiJBlDpMRn9MBN8oNan9M="
    )
    result = apply_plan(plan)
    same = make_plan(load_flake(demo_repo), Answers(machines={"boron": MachineAnswer("cpu")}))
    assert same.is_empty and rebuild_commands(same) == {}  # nothing changes, nothing to switch
    again = make_plan(load_flake(demo_repo), Answers(machines={"boron": MachineAnswer("vulkan")}))
    assert new_caches(again) == []
    assert rebuild_commands(again) == {"boron": "sudo nixos-rebuild switch --flake .#boron"}
    assert undo_commands(result.commit, plan)[0] == "llamaflake undo"


def test_substituter_options_quote_several_caches():
    options = substituter_options([cache_by_name("nixos-cuda"), cache_by_name("flox")])
    assert "--option extra-substituters 'https://cache.nixos-cuda.org https://cache.flox.dev'" in options
    assert substituter_options([]) == ""


def test_undo_without_commit_names_the_files(demo_repo):
    plan = make_plan(load_flake(demo_repo), Answers(machines={"boron": MachineAnswer("cpu")}))
    lines = undo_commands(None, plan)
    assert lines[0].startswith("git restore --source=HEAD -- flake.nix")
    assert lines[1].startswith("rm -- nixos/llama-cpp/default.nix")
