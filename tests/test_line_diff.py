"""Line diffs as people read them: an added block of Nix shows as the block, not shifted by one line."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.diff import file_diff
from tui.core.hunks import apply_hunks, split_hunks
from tui.core.line_diff import grouped_opcodes, line_opcodes
from tui.core.plan import FileChange

INPUTS_BEFORE = b"""{
  inputs = {
    website = {
      url = "github:misterio77/website";
    };
  };
  outputs = { self }: {
    packages = {
      site = 1;
    };
  };
}
"""
ADDED = b"""    llama-cpp = {
      url = "github:ggml-org/llama.cpp";
    };
""".splitlines(keepends=True)
INPUTS_AFTER = INPUTS_BEFORE.replace(b"    };\n  };\n  outputs", b"    };\n" + b"".join(ADDED) + b"  };\n  outputs")


def added_lines(old: bytes, new: bytes) -> list[bytes]:
    new_lines = new.splitlines(keepends=True)
    return [
        line
        for tag, _, _, j1, j2 in line_opcodes(old.splitlines(True), new_lines)
        if tag == "insert"
        for line in new_lines[j1:j2]
    ]


def test_an_added_input_block_is_shown_as_the_block():
    after = INPUTS_AFTER.splitlines(True)
    plain = difflib.SequenceMatcher(None, INPUTS_BEFORE.splitlines(True), after, autojunk=False).get_opcodes()
    [(_, _, _, j1, j2)] = [op for op in plain if op[0] == "insert"]
    assert after[j1:j2] == [b"    };\n", *ADDED[:-1]]  # difflib alone: "};" first, the block's own "};" as context
    assert added_lines(INPUTS_BEFORE, INPUTS_AFTER) == ADDED
    diff = file_diff(FileChange("flake.nix", INPUTS_BEFORE, INPUTS_AFTER, "why"))
    assert "".join("+" + line.decode() for line in ADDED) in diff
    [hunk] = split_hunks(FileChange("flake.nix", INPUTS_BEFORE, INPUTS_AFTER, "why"))
    assert (hunk.added, hunk.removed) == (len(ADDED), 0)


def test_a_removed_block_is_shown_as_the_block():
    assert [
        line
        for tag, i1, i2, _, _ in line_opcodes(INPUTS_AFTER.splitlines(True), INPUTS_BEFORE.splitlines(True))
        if tag == "delete"
        for line in INPUTS_AFTER.splitlines(True)[i1:i2]
    ] == ADDED


def test_a_blank_line_goes_at_the_end_of_an_added_paragraph():
    old = b"a = 1;\n\nb = 2;\n"
    new = b"a = 1;\n\nc = 3;\n\nb = 2;\n"
    assert added_lines(old, new) == [b"c = 3;\n", b"\n"]


lines = st.lists(st.sampled_from([b"};\n", b"  x = {\n", b"    y = 1;\n", b"\n", b"]\n", b"z\n"]), max_size=14)


@settings(max_examples=400, deadline=None)
@given(lines, lines)
def test_the_opcodes_rebuild_the_new_text_and_group_as_difflib_does(old, new):
    opcodes = line_opcodes(old, new)
    rebuilt, i, j = [], 0, 0
    for tag, i1, i2, j1, j2 in opcodes:
        assert (i1, j1) == (i, j)  # contiguous, in order
        if tag == "equal":
            assert old[i1:i2] == new[j1:j2]
        rebuilt += new[j1:j2]
        i, j = i2, j2
    assert (i, j) == (len(old), len(new)) and rebuilt == new
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    if [tuple(op) for op in matcher.get_opcodes()] == opcodes:
        assert grouped_opcodes(opcodes) == [list(g) for g in matcher.get_grouped_opcodes(3)]
    text = b"".join(old), b"".join(new)
    change = FileChange("a.nix", text[0], text[1], "why")
    hunks = split_hunks(change)
    if hunks:  # every hunk accepted gives the new text; none gives nothing to change
        assert apply_hunks(change, {h.index for h in hunks}).new == text[1]
        assert apply_hunks(change, set()) is None


def test_the_unified_diff_matches_difflib_where_nothing_moves():
    old = [f"line {n}\n" for n in range(20)]
    new = old[:5] + ["new\n"] + old[6:15] + old[16:]
    ours = file_diff(FileChange("a.nix", "".join(old).encode(), "".join(new).encode(), "why")).splitlines(True)[1:]
    assert ours == list(difflib.unified_diff(old, new, "a/a.nix", "b/a.nix"))


def test_the_plan_diff_applies_with_git_where_a_line_holds_a_carriage_return_or_form_feed(tmp_path):
    import subprocess

    old = b"a = 1;\n# made on a Mac\rclassic\n\x0c\nb = 2;\n"
    new = old.replace(b"b = 2;\n", b"c = 3;\nb = 2;\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.nix").write_bytes(old)
    (tmp_path / "change.diff").write_text(file_diff(FileChange("a.nix", old, new, "why")))
    subprocess.run(["git", "apply", "change.diff"], cwd=tmp_path, check=True)
    assert (tmp_path / "a.nix").read_bytes() == new


def test_an_added_block_after_a_blank_line_starts_at_the_blank_not_at_the_closing_line_above():
    # Blank lines between the inputs: difflib, and sliding that only avoids a closing first line, show
    # "};", the blank, and the new block without its own "};".
    old = INPUTS_BEFORE.replace(
        b"    website = {", b'    nixos-hardware.url = "github:NixOS/nixos-hardware";\n\n    website = {'
    )
    new = old.replace(b"    };\n  };\n  outputs", b"    };\n\n" + b"".join(ADDED) + b"  };\n  outputs")
    assert added_lines(old, new) == [b"\n", *ADDED]
    [hunk] = split_hunks(FileChange("flake.nix", old, new, "why"))
    assert (hunk.added, hunk.removed) == (len(ADDED) + 1, 0)


def test_an_added_block_next_to_one_of_the_same_shape_is_the_new_block():
    # Both blocks end with the same "follows" line and "};": the added lines are llama-cpp's four.
    follows = b'      inputs.nixpkgs.follows = "nixpkgs";\n'
    old = INPUTS_BEFORE.replace(
        b'      url = "github:misterio77/website";\n', b'      url = "github:misterio77/website";\n' + follows
    )
    block = [ADDED[0], ADDED[1], follows, ADDED[2]]
    new = old.replace(b"    };\n  };\n  outputs", b"    };\n\n" + b"".join(block) + b"  };\n  outputs")
    assert added_lines(old, new) == [b"\n", *block]


def git_added_range(tmp_path, old: list[bytes], new: list[bytes]) -> tuple[int, int] | None:
    """The lines ``git diff --no-index`` (indent heuristic on) shows as added, when it shows one hunk."""
    import re
    import subprocess

    (tmp_path / "a").write_bytes(b"".join(old))
    (tmp_path / "b").write_bytes(b"".join(new))
    out = subprocess.run(
        [
            "git",
            "-c",
            "diff.indentHeuristic=true",
            "-c",
            "diff.algorithm=myers",
            "diff",
            "--no-index",
            "--no-color",
            "--no-ext-diff",
            "-U0",
            "a",
            "b",
        ],
        cwd=tmp_path,
        capture_output=True,
    ).stdout.decode()
    hunks = re.findall(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", out, re.M)
    if len(hunks) != 1:
        return None
    start, count = int(hunks[0][0]), int(hunks[0][1] or 1)
    return start - 1, start - 1 + count


nix_lines = st.sampled_from(
    [b"{\n", b"  x = 1;\n", b"}\n", b"\n", b"  y = {\n", b"    z = 2;\n", b"  };\n", b"\tq\n", b"  \n"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(nix_lines, max_size=8), st.lists(nix_lines, min_size=1, max_size=4), st.data())
def test_an_added_block_lands_where_git_puts_it(tmp_path_factory, old, added, data):
    position = data.draw(st.integers(0, len(old)))
    new = old[:position] + added + old[position:]
    changed = [op for op in line_opcodes(old, new) if op[0] != "equal"]
    expected = git_added_range(tmp_path_factory.mktemp("git"), old, new)
    if expected is not None and len(changed) == 1 and changed[0][0] == "insert":
        assert changed[0][3:] == expected
