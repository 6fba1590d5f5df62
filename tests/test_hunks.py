"""Hunks of a change, and the change rebuilt from the accepted hunks only."""

from __future__ import annotations

from itertools import combinations

from conftest import COMPACT_FLAKE, assert_nix_parses, compact_repo
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.answers import Answers, MachineAnswer
from tui.core.hunks import accepted_plan, apply_hunks, split_hunks, validate_changes, wiring_checks
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


def rebuilt_from_hunks(old: bytes, new: bytes, hunks, chosen: set[int]) -> bytes:
    """The text made from the hunks alone: the old lines, each change of a chosen hunk taking its new lines."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    changes = sorted(
        (i1, i2, j1, j2, hunk.index) for hunk in hunks for tag, i1, i2, j1, j2 in hunk.opcodes if tag != "equal"
    )
    out, at = [], 0
    for i1, i2, j1, j2, index in changes:
        assert i1 >= at, "two hunks change the same lines"
        out += old_lines[at:i1] + (new_lines[j1:j2] if index in chosen else old_lines[i1:i2])
        at = i2
    return b"".join(out + old_lines[at:])


LINES = [b"a\n", b"b\n", b"c\n", b"\n"]


@st.composite
def edited_text(draw) -> tuple[list[bytes], list[bytes]]:
    """Old and new lines: runs of unchanged lines (that repeat, so that the diff has choices) with one line
    dropped, changed or added between two runs, so that edits are far apart (separate hunks) and close (one)."""

    def unchanged() -> list[bytes]:
        shift = draw(st.integers(0, len(LINES) - 1))
        length = draw(st.sampled_from([0, 1, 3, 7, 9, 12]))  # more than six apart: a hunk each
        return [LINES[(shift + i) % len(LINES)] for i in range(length)]

    old, new = unchanged(), []
    new += old
    for _ in range(draw(st.integers(1, 5))):
        edit = draw(st.sampled_from(["drop", "change", "add"]))
        line, other = draw(st.sampled_from(LINES)), draw(st.sampled_from([b"x\n", b"a\n", b"\n"]))
        old += [] if edit == "add" else [line]
        new += [] if edit == "drop" else [other]
        run = unchanged()
        old += run
        new += run
    return old, new


# Two texts drawn apart, which mostly differ everywhere, or a text and its edited copy, which has a few hunks.
texts = st.one_of(
    st.tuples(
        st.lists(st.sampled_from([b"a\n", b"b\n", b"c\n", b"d\n", b"\n"]), max_size=30),
        st.lists(st.sampled_from([b"a\n", b"b\n", b"x\n", b"d\n", b"\n"]), max_size=30),
    ),
    edited_text(),
)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_rebuilt_text_is_made_of_whole_hunks(lines):
    old_lines, new_lines = lines
    old, new = b"".join(old_lines), b"".join(new_lines)
    change = FileChange("p.nix", old, new, "r")
    hunks = split_hunks(change)
    every = {h.index for h in hunks}
    # The hunks hold every change, once: all of them rebuild the new text, none the old one.
    assert rebuilt_from_hunks(old, new, hunks, every) == new
    assert rebuilt_from_hunks(old, new, hunks, set()) == old
    assert apply_hunks(change, set()) is None
    assert apply_hunks(change, every | {len(hunks)}) is (change if hunks else None)  # no hunk's index: ignored
    # Every other choice of hunks: the old text with exactly the chosen hunks' changes.
    for size in range(1, len(hunks)):
        for chosen in map(set, combinations(every, size)):
            kept = apply_hunks(change, chosen | {len(hunks) + 1})
            assert kept is not None and kept.new == rebuilt_from_hunks(old, new, hunks, chosen), chosen
            assert (kept.path, kept.old, kept.reason, kept.parts) == ("p.nix", old, "r", ())


def test_plan_from_accepted_hunks_drops_rejected_lines(demo_repo):
    flake = load_flake(demo_repo)
    plan = make_plan(flake, Answers(machines={"carbon": MachineAnswer("cuda"), "boron": MachineAnswer("cpu")}))
    flake_change = plan.change("flake.nix")
    hunks = split_hunks(flake_change)
    assert len(hunks) >= 2  # the input, and the attach lines further down
    boron_line = b"./nixos/llama-cpp/machines/boron.nix"
    boron_hunk = next(
        h
        for h in hunks
        if any(
            boron_line in line
            for tag, _, _, j1, j2 in h.opcodes
            if tag != "equal"
            for line in flake_change.new.splitlines()[j1:j2]
        )
    )
    keep = {h.index for h in hunks} - {boron_hunk.index}
    machine_file = "nixos/llama-cpp/machines/carbon.nix"
    reduced = accepted_plan(plan, {"flake.nix": keep, machine_file: set()})
    assert boron_line not in reduced.change("flake.nix").new
    assert b"./nixos/llama-cpp/machines/carbon.nix" in reduced.change("flake.nix").new
    assert reduced.change(machine_file) is None
    assert len(reduced.changes) == len(plan.changes) - 1
    assert all(check.ok for check in validate_changes(reduced.changes))


def test_validation_reports_a_file_that_does_not_parse():
    checks = validate_changes(
        [
            FileChange("good.nix", None, b"{ a = 1; }\n", "r"),
            FileChange("bad.nix", b"{ }\n", b"{ a = ; }\n", "r"),
            FileChange("gone.nix", b"{ }\n", None, "r"),
        ]
    )
    assert [c.ok for c in checks] == [True, False, True]
    assert "bad.nix:1" in checks[1].text and "syntax error" in checks[1].text


def test_wiring_checks_catch_what_rejected_hunks_break(demo_repo):
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
    carbon_attach = next(
        h
        for h in hunks
        if any(
            b"machines/carbon.nix" in line
            for tag, _, _, j1, j2 in h.opcodes
            if tag != "equal"
            for line in flake_change.new.splitlines()[j1:j2]
        )
    )
    final = accepted_plan(plan, {"flake.nix": {h.index for h in hunks} - {carbon_attach.index}}).changes
    assert [(c.path, c.ok) for c in wiring_checks(plan, final)] == [(carbon_file, True)]


def changed_lines(change, hunk) -> list[bytes]:
    new = change.new.splitlines(keepends=True)
    return [line for tag, _, _, j1, j2 in hunk.opcodes if tag != "equal" for line in new[j1:j2]]


def test_each_machine_s_lines_are_a_hunk_of_their_own_however_close(tmp_path):
    repo = compact_repo(tmp_path / "compact")
    plan = make_plan(
        load_flake(repo), Answers(machines={"carbon": MachineAnswer("cpu"), "boron": MachineAnswer("cpu")})
    )
    change = plan.change("flake.nix")
    hunks = split_hunks(change)
    # Three hunks within six lines of each other: the input, and each machine's import (boron's with
    # the `specialArgs` that lets its modules reach the input).
    assert [h.part for h in hunks] == ["add the `llama-cpp` flake input", "carbon", "boron"]
    assert changed_lines(change, hunks[1]) == [b"        ./llama-cpp/machines/carbon.nix\n"]
    assert b"./llama-cpp/machines/boron.nix" in b"".join(changed_lines(change, hunks[2]))
    assert b"specialArgs" in b"".join(changed_lines(change, hunks[2]))
    # The hunks share the unchanged lines between them as context, as `git add -p` splits them.
    assert hunks[0].opcodes[-1][0] == hunks[1].opcodes[0][0] == "equal"
    assert all(h.opcodes[0][0] == h.opcodes[-1][0] == "equal" for h in hunks)
    assert len(FileChange("f", change.old, change.new, "no parts").parts) == 0
    assert len(split_hunks(FileChange("f", change.old, change.new, "no parts"))) == 1  # as plain diff hunks


def test_every_choice_of_machine_hunks_is_valid_nix_and_wires_what_it_says(tmp_path):
    from itertools import combinations

    repo = compact_repo(tmp_path / "compact")
    plan = make_plan(
        load_flake(repo), Answers(machines={"carbon": MachineAnswer("cpu"), "boron": MachineAnswer("cpu")})
    )
    hunks = split_hunks(plan.change("flake.nix"))
    for size in range(len(hunks) + 1):
        for chosen in combinations(hunks, size):
            reduced = accepted_plan(plan, {"flake.nix": {h.index for h in chosen}})
            flake_nix = reduced.change("flake.nix")
            text = flake_nix.new if flake_nix is not None else COMPACT_FLAKE.encode()
            parts = {h.part for h in chosen}
            assert (b"machines/carbon.nix" in text) == ("carbon" in parts)
            assert (b"machines/boron.nix" in text) == ("boron" in parts)
            assert (b"github:ggml-org/llama.cpp" in text) == ("add the `llama-cpp` flake input" in parts)
            assert all(check.ok for check in validate_changes(reduced.changes))
            (tmp_path / "check.nix").write_bytes(text)
            assert_nix_parses(tmp_path / "check.nix")
    only_carbon = accepted_plan(plan, {"flake.nix": {h.index for h in hunks if h.part != "boron"}})
    assert [(c.ok, c.text) for c in wiring_checks(plan, only_carbon.changes)] == [
        (True, "nothing imports llama-cpp/machines/boron.nix yet: boron keeps its old build")
    ]


def test_lines_written_for_two_parts_in_one_insertion_are_two_hunks():
    old = b"modules = [\n  ./a.nix\n];\n"
    new = b"modules = [\n  ./a.nix\n  ./one.nix\n  ./two.nix\n];\n"
    one, two = new.index(b"\n  ./one"), new.index(b"\n  ./two")
    change = FileChange("m.nix", old, new, "why", parts=((one, two, "one"), (two, two + 12, "two")))
    hunks = split_hunks(change)
    assert [(h.part, changed_lines(change, h)) for h in hunks] == [
        ("one", [b"  ./one.nix\n"]),
        ("two", [b"  ./two.nix\n"]),
    ]
    assert apply_hunks(change, {hunks[1].index}).new == old.replace(b"];", b"  ./two.nix\n];")
    assert apply_hunks(change, {hunks[0].index}).parts == ()  # its ranges were of the whole new text
    assert apply_hunks(change, {0, 1}) is change
