"""Machines left alone on purpose are remembered in the module's header, and a later run keeps them so."""

from __future__ import annotations

import git

from tui.cli import main
from tui.core.answers import Answers, MachineAnswer
from tui.core.apply import apply_plan, commit_message
from tui.core.footprint import LEFT_ALONE, left_alone_comment, read_left_alone
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan
from tui.core.render import render_module

MODULE = "nixos/llama-cpp/default.nix"


def module_text(root) -> bytes:
    return (root / MODULE).read_bytes()


def test_a_skipped_machine_is_remembered_and_a_later_run_changes_only_the_new_answer(demo_repo, capsys):
    assert (
        main(
            [
                "apply",
                "--flake",
                str(demo_repo),
                "--no-nix",
                "--yes",
                "--host",
                "carbon=cuda",
                "--host",
                "beryllium=none",
            ]
        )
        == 0
    )
    assert read_left_alone(module_text(demo_repo)) == ["beryllium"]
    assert f'# {LEFT_ALONE} ["beryllium"]' in module_text(demo_repo).decode()
    message = git.Repo(demo_repo).head.commit.message
    assert "Left alone (no build suggested for them):\n- beryllium" in message

    later = make_plan(load_flake(demo_repo), Answers(machines={"boron": MachineAnswer("cpu")}))
    assert later.left_alone == ["beryllium"]
    assert "beryllium" not in later.machines
    assert later.changed_builds() == ["boron"]
    assert commit_message(later).startswith("llama-cpp: add boron (cpu)\n")
    assert MODULE not in [c.path for c in later.changes]  # still remembered: the module stays as it is


def test_an_answer_for_a_machine_left_alone_ends_it(demo_repo):
    apply_plan(
        make_plan(load_flake(demo_repo), Answers(machines={"carbon": MachineAnswer("cuda")}, skip=["boron"])),
        evaluate=False,
    )
    assert read_left_alone(module_text(demo_repo)) == ["boron"]
    plan = make_plan(load_flake(demo_repo), Answers(machines={"boron": MachineAnswer("cpu")}))
    assert plan.left_alone == []
    module = next(c for c in plan.changes if c.path == MODULE)
    assert read_left_alone(module.new) == [] and LEFT_ALONE not in module.new.decode()


def test_leaving_one_more_machine_alone_is_a_change_of_the_header_only(demo_repo):
    apply_plan(make_plan(load_flake(demo_repo), Answers(machines={"carbon": MachineAnswer("cuda")})), evaluate=False)
    plan = make_plan(load_flake(demo_repo), Answers(skip=["boron"]))
    assert [c.path for c in plan.changes] == [MODULE]
    assert not plan.module_rebuilds and plan.changed_builds() == []
    assert commit_message(plan).startswith("llama-cpp: leave boron alone\n")
    again_same = make_plan(load_flake(demo_repo), Answers(machines={"carbon": MachineAnswer("cuda")}))
    assert again_same.is_empty


def test_names_round_trip_exactly_and_a_damaged_line_is_ignored():
    names = ['we"ird', "two\nlines", "ünï", "a]b"]
    module = render_module("llama-cpp", [], left_alone=names)
    assert read_left_alone(module) == sorted(names)
    assert module.decode().count("\n") == render_module("llama-cpp", []).decode().count("\n") + 1
    damaged = module.replace(b'["', b"[", 1)
    assert read_left_alone(damaged) == []
    assert left_alone_comment([]) == ""
    # Further down the file, the line is the user's text, not the record.
    assert read_left_alone(render_module("llama-cpp", []) + left_alone_comment(["x"]).encode()) == []


def test_hosts_shows_a_machine_left_alone(demo_repo, capsys):
    import json

    apply_plan(
        make_plan(load_flake(demo_repo), Answers(machines={"carbon": MachineAnswer("cuda")}, skip=["boron"])),
        evaluate=False,
    )
    capsys.readouterr()
    assert main(["hosts", "--flake", str(demo_repo), "--no-nix", "--json"]) == 0
    hosts = {h["name"]: h for h in json.loads(capsys.readouterr().out)["hosts"]}
    assert (hosts["boron"]["left_alone"], hosts["carbon"]["left_alone"], hosts["beryllium"]["left_alone"]) == (
        True,
        False,
        False,
    )
    assert main(["hosts", "--flake", str(demo_repo), "--no-nix"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "boron" in line)
    assert "left alone" in row


def test_a_commit_of_the_header_alone_asks_for_no_rebuild(demo_repo, capsys):
    assert main(["apply", "--flake", str(demo_repo), "--no-nix", "--yes", "--host", "carbon=cpu"]) == 0
    capsys.readouterr()
    assert main(["apply", "--flake", str(demo_repo), "--no-nix", "--yes", "--host", "boron=none"]) == 0
    err = capsys.readouterr().err
    assert git.Repo(demo_repo).head.commit.message.startswith("llama-cpp: leave boron alone\n")
    assert "next, on each machine" not in err and "nixos-rebuild" not in err, err


def test_a_damaged_line_is_said_and_written_anew_when_a_machine_is_left_alone_again(demo_repo):
    apply_plan(
        make_plan(load_flake(demo_repo), Answers(machines={"carbon": MachineAnswer("cuda")}, skip=["boron"])),
        evaluate=False,
    )
    module = demo_repo / MODULE
    module.write_bytes(module.read_bytes().replace(b'["boron"]', b'["boron", ]'))
    plan = make_plan(load_flake(demo_repo), Answers())
    assert any(
        "the header's list of machines left alone cannot be read (line 5 is not a JSON list" in n for n in plan.notes
    ), plan.notes
    again = make_plan(load_flake(demo_repo), Answers(skip=["boron"]))
    change = next(c for c in again.changes if c.path == MODULE)
    assert read_left_alone(change.new) == ["boron"]


def test_a_line_break_in_a_machines_name_stays_inside_its_line_of_the_commit_message(demo_repo):
    flake = load_flake(demo_repo)
    plan = make_plan(flake, Answers(machines={"carbon": MachineAnswer("cuda")}, skip=["boron"]))
    plan.left_alone = ["two\nlines"]
    message = commit_message(plan)
    assert "- two\\nlines" in message and "\nlines\n" not in message
