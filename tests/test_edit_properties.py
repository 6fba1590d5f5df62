"""Property tests: whitespace and comments around every place the engine edits never break the edit.

Around the inputs block, the outputs pattern, a host's ``modules`` list and a host file's ``imports``
list, any mix of blanks, tabs, newlines, line comments (ASCII or not) and block comments is drawn. For
each: the plan parses, re-planning after applying it is empty, and the user's bytes are all still there
in order (the engine only inserts).
"""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path

import pytest
from conftest import assert_nix_parses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.core.answers import Answers, MachineAnswer
from tui.core.apply import apply_plan
from tui.core.diff import plan_diff
from tui.core.nix.flake import load_flake
from tui.core.nix.syntax import parse
from tui.core.plan import make_plan

PIECES = [" ", "  ", "\t", "\n", "\n\n", "\n    ", "# note\n", "# café ☕ 🚀\n", "/* c */", "/* é\n */"]
trivia = st.lists(st.sampled_from(PIECES), min_size=0, max_size=4).map(lambda parts: " " + "".join(parts) + " ")


def _insertions_only(old: bytes, new: bytes) -> bool:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return all(tag in ("equal", "insert") for tag, *_ in matcher.get_opcodes())


def _check(files: dict[str, str], hosts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(text.encode())
        flake = load_flake(root)
        assert [h.name for h in flake.hosts] == hosts
        assert all(h.can_wire for h in flake.hosts), [h.refusal for h in flake.hosts]
        answers = Answers(machines={h: MachineAnswer("cpu") for h in hosts})
        plan = make_plan(flake, answers)
        assert not plan.refusals
        for change in plan.changes:
            if change.old is not None:
                assert _insertions_only(change.old, change.new), change.path
        apply_plan(plan, commit=False)
        for change in plan.changes:
            if change.old is not None:  # the user's files; the generated ones are checked elsewhere
                parse((root / change.path).read_bytes(), change.path)
                assert_nix_parses(root / change.path)
        again = make_plan(load_flake(root), answers)
        assert again.is_empty, plan_diff(again)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    t=st.lists(trivia, min_size=24, max_size=24),
    ellipsis=st.booleans(),
    special_args=st.booleans(),
    dotted_inputs=st.booleans(),
    trailing_comma=st.booleans(),
)
def test_literal_host_edits_survive_any_trivia(t, ellipsis, special_args, dotted_inputs, trailing_comma):
    nixpkgs = (
        f'nixpkgs.url{t[0]}={t[1]}"github:nixos/nixpkgs/nixos-unstable"{t[2]};'
        if dotted_inputs
        else f'nixpkgs{t[0]}={t[1]}{{ url = "github:nixos/nixpkgs/nixos-unstable";{t[2]}}};'
    )
    pattern_tail = f",{t[9]}..." if ellipsis else ""
    comma = "," if trailing_comma and not ellipsis else ""
    special = f"specialArgs{t[12]}={t[13]}{{ inherit inputs; }};" if special_args else ""
    flake = (
        f"{{{t[3]}inputs{t[4]}={t[5]}{{{t[6]}{nixpkgs}{t[7]}}}{t[8]};"
        f"{t[10]}outputs = {{ self{t[11]}, nixpkgs{pattern_tail}{comma}{t[14]}}}@inputs{t[15]}:{t[16]}{{"
        f"{t[17]}nixosConfigurations.carbon = nixpkgs.lib.nixosSystem {{{t[18]}{special}"
        f"{t[19]}modules{t[20]}={t[21]}[{t[22]}./carbon.nix{t[23]}]; }}; }}; }}\n"
    )
    _check({"flake.nix": flake, "carbon.nix": "{ ... }: { }\n"}, ["carbon"])


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    t=st.lists(trivia, min_size=12, max_size=12),
    has_imports=st.booleans(),
    lambda_module=st.booleans(),
    empty_imports=st.booleans(),
)
def test_own_file_imports_survive_any_trivia(t, has_imports, lambda_module, empty_imports):
    flake = (
        '{ inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
        "  outputs = { nixpkgs, ... }@inputs: let\n"
        "    mkHost = name: nixpkgs.lib.nixosSystem { specialArgs = { inherit inputs; }; modules = [ ./hosts/${name}.nix ]; };\n"
        '  in { nixosConfigurations = { carbon = mkHost "carbon"; boron = mkHost "boron"; }; };\n}\n'
    )
    items = "" if empty_imports else f"./hw.nix{t[3]}"
    imports = f"imports{t[0]}={t[1]}[{t[2]}{items}]{t[4]};{t[5]}" if has_imports else ""
    head = f"{{ config,{t[6]}... }}:{t[7]}" if lambda_module else ""
    host = f'{head}{{{t[8]}{imports}networking.hostName{t[9]}= "x";{t[10]}}}{t[11]}\n'
    files = {"flake.nix": flake, "hosts/carbon.nix": host, "hosts/boron.nix": host, "hosts/hw.nix": "{ }\n"}
    _check(files, ["carbon", "boron"])
