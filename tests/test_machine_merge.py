"""Merging Nix's list of machines into the static reading's: what is added, removed, renamed, and the one line
that says so. Nix is a stand-in on PATH (the demo's inputs are on GitHub); the flakes are real git repositories."""

from __future__ import annotations

import threading
import time

import git
import pytest
from nix_stand_in import NixStandIn

from tui.core.judge import discover, merge_discovery
from tui.core.nix.flake import load_flake
from tui.core.nix_run import NixCancelled

NITROGEN = '{ ... }: {\n  networking.hostName = "nitrogen";\n}\n'


def merged(root, tmp_path, monkeypatch, machines, own_files=None, error=None):
    """The static reading of ``root``, then Nix's answer merged into a fresh reading, as the wizard does it."""
    shown = load_flake(root).hosts
    NixStandIn(tmp_path / "nix", monkeypatch, machines, own_files, error)
    flake = load_flake(root)
    change = merge_discovery(shown, flake, discover(flake))
    return change, flake


def test_nix_agreeing_changes_nothing_and_says_so(demo_repo, tmp_path, monkeypatch):
    change, flake = merged(demo_repo, tmp_path, monkeypatch, ["beryllium", "boron", "carbon"])
    assert not change.changed and change.answered
    assert (
        [h.name for h in flake.hosts] == change.machines == ["carbon", "beryllium", "boron"]
    )  # as shown, not Nix's order
    assert change.note() == "Nix agrees with the static reading: 3 machines"


def test_a_machine_only_nix_lists_is_added_after_the_others(demo_repo, tmp_path, monkeypatch):
    (demo_repo / "machines/nitrogen.nix").write_text(NITROGEN)
    git.Repo(demo_repo).git.add("-A")
    change, flake = merged(
        demo_repo,
        tmp_path,
        monkeypatch,
        ["beryllium", "boron", "carbon", "nitrogen"],
        {"nitrogen": "machines/nitrogen.nix"},
    )
    assert change.added == ["nitrogen"] and not change.removed and not change.renamed
    assert change.machines == ["carbon", "beryllium", "boron", "nitrogen"]
    nitrogen = flake.host("nitrogen")
    assert nitrogen.can_wire and nitrogen.own_file == "machines/nitrogen.nix"
    assert change.note() == "Nix: added nitrogen (the static reading did not find it)"


def test_a_machine_nix_does_not_list_is_removed(demo_repo, tmp_path, monkeypatch):
    change, flake = merged(demo_repo, tmp_path, monkeypatch, ["carbon", "beryllium"])
    assert change.removed == ["boron"] and not change.added
    assert [h.name for h in flake.hosts] == ["carbon", "beryllium"]
    assert change.note() == "Nix: removed boron (Nix does not list it)"


def test_a_machine_under_another_name_whose_file_nix_names_is_renamed_in_place(demo_repo, tmp_path, monkeypatch):
    change, _flake = merged(
        demo_repo, tmp_path, monkeypatch, ["beryllium", "boron-2024", "carbon"], {"boron-2024": "machines/boron.nix"}
    )
    assert change.renamed == {"boron": "boron-2024"} and not change.added and not change.removed
    assert change.machines == ["carbon", "beryllium", "boron-2024"]
    assert change.shown_before("boron-2024") == "boron" and change.shown_before("carbon") == "carbon"
    assert change.note() == "Nix: renamed boron to boron-2024"


def test_two_new_names_for_one_file_are_no_rename(demo_repo, tmp_path, monkeypatch):
    change, _flake = merged(
        demo_repo,
        tmp_path,
        monkeypatch,
        ["beryllium", "boron-a", "boron-b", "carbon"],
        {"boron-a": "machines/boron.nix", "boron-b": "machines/boron.nix"},
    )
    assert not change.renamed
    assert change.added == ["boron-a", "boron-b"] and change.removed == ["boron"]
    assert change.note() == (
        "Nix: added boron-a, boron-b (the static reading did not find them); removed boron (Nix does not list it)"
    )


def test_when_nix_cannot_answer_the_static_reading_stands(demo_repo, tmp_path, monkeypatch):
    change, flake = merged(demo_repo, tmp_path, monkeypatch, [], error="attribute 'nixosConfigurations' missing")
    assert not change.answered and not change.changed
    assert [h.name for h in flake.hosts] == change.machines == ["carbon", "beryllium", "boron"]
    assert change.note().startswith("Nix could not list the machines, the static reading stands: ")
    assert "attribute 'nixosConfigurations' missing" in change.note()


def test_stopping_discovery_stops_nix_at_once(demo_repo, tmp_path, monkeypatch):
    nix = NixStandIn(tmp_path / "nix", monkeypatch, ["carbon"], held=True)
    flake = load_flake(demo_repo)
    cancel = threading.Event()
    lines: list[str] = []
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(NixCancelled):
        discover(flake, cancel=cancel, progress=lines.append)
    assert time.monotonic() - started < 4
    assert nix.asked.exists() and nix.stopped.exists(), "nix was asked, then stopped"
    assert lines == ["evaluating the flake"]
    assert [h.name for h in flake.hosts] == ["carbon", "beryllium", "boron"]
