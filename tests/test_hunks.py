"""Hunks of a change, and the change rebuilt from the accepted hunks only."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.hunks import accepted_plan, apply_hunks, split_hunks, validate_changes
from tui.core.answers import Answers, MachineAnswer
from tui.core.nix.flake import load_flake
from tui.core.plan import FileChange, make_plan

OLD = b"".join(b"line %d\n" % i for i in range(1, 31))


def edited(*replacements: tuple[int, bytes]) -> bytes:
    lines = OLD.splitlines(keepends=True)
    for number, text in sorted(replacements, reverse=True):
        lines[number - 1] = text
    return b"".join(lines)


def test_far_apart_edits_are_separate_hunks():
    change = FileChange("a.nix", OLD, edited((3, b"three\n"), (25, b"twenty-five\n")), "why")
    hunks = split_hunks(change)
    assert len(hunks) == 2
    assert [(h.added, h.removed) for h in hunks] == [(1, 1), (1, 1)]
    assert hunks[0].header() == "@@ -1,6 +1,6 @@"


def test_near_edits_share_a_hunk():
    change = FileChange("a.nix", OLD, edited((3, b"three\n"), (6, b"six\n")), "why")
    assert len(split_hunks(change)) == 1


def test_rejecting_one_hunk_keeps_the_other_and_the_rest_of_the_file():
    change = FileChange("a.nix", OLD, edited((3, b"three\n"), (25, b"twenty-five\n")), "why")
    second = split_hunks(change)[1].index
    kept = apply_hunks(change, {second})
    assert kept.new == edited((25, b"twenty-five\n"))
    assert kept.old == OLD and kept.path == "a.nix" and kept.reason == "why"


def test_all_accepted_is_the_change_and_none_accepted_drops_the_file():
    change = FileChange("a.nix", OLD, edited((3, b"three\n"), (25, b"twenty-five\n")), "why")
    indexes = {h.index for h in split_hunks(change)}
    assert apply_hunks(change, indexes) is change
    assert apply_hunks(change, set()) is None


def test_new_and_removed_files_are_one_hunk():
    created = FileChange("new.nix", None, b"{ }\n", "new")
    removed = FileChange("old.nix", b"{ }\n", None, "gone")
    for change in (created, removed):
        hunks = split_hunks(change)
        assert len(hunks) == 1
        assert apply_hunks(change, {hunks[0].index}) is change
        assert apply_hunks(change, set()) is None


def test_no_newline_at_end_and_crlf_survive():
    old = b"a\r\nb\r\nc\r\nd\r\ne\r\nf\r\ng\r\nh\r\ni\r\nj"
    new = b"A\r\nb\r\nc\r\nd\r\ne\r\nf\r\ng\r\nh\r\ni\r\nJ"
    change = FileChange("x.nix", old, new, "r")
    hunks = split_hunks(change)
    assert len(hunks) == 2
    assert apply_hunks(change, {hunks[1].index}).new == old[:-1] + b"J"
    assert apply_hunks(change, {hunks[0].index}).new == b"A" + old[1:]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([b"a\n", b"b\n", b"c\n", b"d\n", b"\n"]), max_size=30),
    st.lists(st.sampled_from([b"a\n", b"b\n", b"x\n", b"d\n", b"\n"]), max_size=30),
    st.sets(st.integers(0, 10)),
)
def test_rebuilt_text_is_made_of_whole_hunks(old_lines, new_lines, accepted):
    old, new = b"".join(old_lines), b"".join(new_lines)
    change = FileChange("p.nix", old, new, "r")
    hunks = split_hunks(change)
    kept = apply_hunks(change, accepted)
    chosen = {h.index for h in hunks} & accepted
    if not chosen:
        assert kept is None
        return
    if chosen == {h.index for h in hunks}:
        assert kept.new == new
        return
    # Each accepted hunk changes the line count by exactly its own additions and removals.
    expected = len(old_lines) + sum(h.added - h.removed for h in hunks if h.index in chosen)
    assert kept is None or len(kept.new.splitlines(keepends=True)) == expected


def test_plan_from_accepted_hunks_drops_rejected_lines(demo_repo):
    flake = load_flake(demo_repo)
    plan = make_plan(flake, Answers(machines={"carbon": MachineAnswer("cuda"), "boron": MachineAnswer("cpu")}))
    flake_change = plan.change("flake.nix")
    hunks = split_hunks(flake_change)
    assert len(hunks) >= 2  # the input, and the attach lines further down
    boron_line = b"./nixos/llama-cpp/machines/boron.nix"
    boron_hunk = next(h for h in hunks if any(
        boron_line in line for tag, _, _, j1, j2 in h.opcodes if tag != "equal"
        for line in flake_change.new.splitlines()[j1:j2]))
    keep = {h.index for h in hunks} - {boron_hunk.index}
    machine_file = "nixos/llama-cpp/machines/carbon.nix"
    reduced = accepted_plan(plan, {"flake.nix": keep, machine_file: set()})
    assert boron_line not in reduced.change("flake.nix").new
    assert b"./nixos/llama-cpp/machines/carbon.nix" in reduced.change("flake.nix").new
    assert reduced.change(machine_file) is None
    assert len(reduced.changes) == len(plan.changes) - 1
    assert all(check.ok for check in validate_changes(reduced.changes))


def test_validation_reports_a_file_that_does_not_parse():
    checks = validate_changes([
        FileChange("good.nix", None, b"{ a = 1; }\n", "r"),
        FileChange("bad.nix", b"{ }\n", b"{ a = ; }\n", "r"),
        FileChange("gone.nix", b"{ }\n", None, "r"),
    ])
    assert [c.ok for c in checks] == [True, False, True]
    assert "bad.nix:1" in checks[1].text and "syntax error" in checks[1].text


def test_wiring_checks_catch_what_rejected_hunks_break(demo_repo):
    from tui.core.hunks import wiring_checks

    flake = load_flake(demo_repo)
    plan = make_plan(flake, Answers(machines={"carbon": MachineAnswer("cuda"), "boron": MachineAnswer("cpu")}))
    assert wiring_checks(plan, plan.changes) == []
    flake_change = plan.change("flake.nix")
    hunks = split_hunks(flake_change)
    input_hunk = hunks[0]
    boron_file = "nixos/llama-cpp/machines/boron.nix"
    carbon_file = "nixos/llama-cpp/machines/carbon.nix"
    everything_else = {h.index for h in hunks} - {input_hunk.index}
    final = accepted_plan(plan, {"flake.nix": everything_else, boron_file: set()}).changes
    checks = {c.text: c.ok for c in wiring_checks(plan, final)}
    assert checks == {
        "nixos/llama-cpp/default.nix needs the llama.cpp flake input, and its hunk is rejected": False,
        f"boron imports {boron_file}, which is rejected and will not exist": False,
    }
    carbon_attach = next(h for h in hunks if any(
        b"machines/carbon.nix" in line for tag, _, _, j1, j2 in h.opcodes if tag != "equal"
        for line in flake_change.new.splitlines()[j1:j2]))
    final = accepted_plan(plan, {"flake.nix": {h.index for h in hunks} - {carbon_attach.index}}).changes
    assert [(c.path, c.ok) for c in wiring_checks(plan, final)] == [(carbon_file, True)]
