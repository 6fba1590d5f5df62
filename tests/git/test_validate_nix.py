"""Validation with the real ``nix``: flakes off says "not checked"; with flakes on, lock and evaluate per machine.

The evaluation tests use a small flake whose ``nixpkgs`` input is a local stand-in (its ``lib.nixosSystem``
merges the modules' attribute sets), so that ``nix flake lock`` and ``nix eval`` run offline in milliseconds.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import git
import pytest
from conftest import make_repo
from repo_state import committed_paths, repo_state

from tui.core.answers import Answers, MachineAnswer
from tui.core.apply import ValidationError, apply_plan
from tui.core.nix.flake import load_flake
from tui.core.nix_run import nix_support, run_streaming
from tui.core.plan import FileChange, make_plan
from tui.core.validate import Check, validate

requires_nix_command = pytest.mark.skipif(shutil.which("nix") is None, reason="nix is not installed (Debian: nix-bin)")

FAKE_NIXPKGS = """{
  outputs = { self }: {
    lib.nixosSystem = { modules, ... }: rec {
      config = builtins.foldl' (acc: m: acc // import m) { } modules;
      # What the overlay makes of pkgs.llama-cpp; a machine file may break it.
      pkgs.llama-cpp.drvPath = config.pkgsLlamaCpp or "/nix/store/cccc-llama-cpp.drv";
    };
  };
}
"""

GOOD = b'{ local.llama-cpp.package.drvPath = "/nix/store/aaaa-llama-cpp.drv"; }\n'


@pytest.fixture
def flakes_on(monkeypatch):
    monkeypatch.setenv("NIX_CONFIG", "experimental-features = nix-command flakes")
    support = nix_support()
    if not support.flakes:
        pytest.skip(f"nix cannot run with flakes here: {support.reason}")
    return support


@pytest.fixture
def tiny_flake(tmp_path) -> Path:
    fake = tmp_path / "fake-nixpkgs"
    fake.mkdir()
    (fake / "flake.nix").write_text(FAKE_NIXPKGS)
    flake = (
        "{\n"
        f'  inputs.nixpkgs.url = "path:{fake}";\n'
        "  outputs = { self, nixpkgs, ... }@inputs: {\n"
        "    nixosConfigurations.alpha = nixpkgs.lib.nixosSystem {\n"
        "      modules = [ ./machines/alpha.nix ];\n"
        "    };\n"
        "  };\n"
        "}\n"
    )
    return make_repo(tmp_path / "config", {"flake.nix": flake, "machines/alpha.nix": GOOD.decode()})


def machine_plan(root: Path, new: bytes):
    """A real plan for the flake, narrowed to one edit of alpha's own file (the llama.cpp input would need the network)."""
    plan = make_plan(load_flake(root), Answers(machines={"alpha": MachineAnswer("cpu")}))
    plan.changes = [FileChange("machines/alpha.nix", GOOD, new, "test edit")]
    return plan


@requires_nix_command
def test_flakes_off_in_nix_conf_still_evaluates(tiny_flake, monkeypatch):
    """Flakes are turned on per command, so a nix.conf without them does not stop the proof."""
    monkeypatch.setenv("NIX_CONFIG", "experimental-features =")
    assert nix_support().flakes
    checks = validate(tiny_flake, ["machines/alpha.nix"], ["alpha"], evaluate=True)
    assert [c.status for c in checks if c.host == "alpha"] == ["ok"]


def test_nix_absent_says_what_was_not_checked(demo_repo, monkeypatch):
    monkeypatch.setenv("PATH", str(demo_repo))  # neither nix nor nix-instantiate there
    checks = validate(demo_repo, ["flake.nix"], ["carbon"], evaluate=True)
    by_subject = {c.subject: c for c in checks}
    assert by_subject["parse flake.nix"].status == "ok"
    assert "own parser" in by_subject["parse flake.nix"].detail
    assert by_subject["Nix's own parser"].status == "not checked"
    assert by_subject["lock the flake and evaluate the machines"].detail == "not evaluated: nix is not installed"


@requires_nix_command
def test_eval_locks_evaluates_each_machine_and_commits_the_new_lock_file(tiny_flake, flakes_on):
    events = []
    new = GOOD.replace(b"aaaa", b"bbbb")
    result = apply_plan(machine_plan(tiny_flake, new), evaluate=True, progress=events.append)
    checks = {c.subject: c for c in result.checks}
    assert checks["lock the flake's inputs"].status == "ok"
    assert checks["evaluate alpha"].status == "ok"
    assert checks["evaluate alpha"].detail == "/nix/store/bbbb-llama-cpp.drv"
    assert checks["evaluate alpha"].machine_line().startswith("✓ alpha")
    assert "evaluating alpha ..." in events, "progress is passed on as it comes"
    assert [e.subject for e in events if isinstance(e, Check)][-1] == "evaluate alpha"
    assert committed_paths(tiny_flake) == ["flake.lock", "machines/alpha.nix"]
    assert git.Repo(tiny_flake).git.status("--porcelain") == ""


@requires_nix_command
def test_failed_evaluation_aborts_and_removes_the_new_lock_file(tiny_flake, flakes_on):
    before = repo_state(tiny_flake)
    broken = b'{ local.llama-cpp.package.drvPath = throw "no llama for alpha"; }\n'
    with pytest.raises(ValidationError) as caught:
        apply_plan(machine_plan(tiny_flake, broken), evaluate=True)
    failed = [c for c in caught.value.checks if c.failed]
    assert [c.subject for c in failed] == ["evaluate alpha"]
    assert "no llama for alpha" in failed[0].detail
    assert not (tiny_flake / "flake.lock").exists()
    assert repo_state(tiny_flake).differences(before) == []


@requires_nix_command
def test_evaluation_goes_through_pkgs(tiny_flake, flakes_on):
    """A package set the overlay breaks fails the check even where the module's package evaluates."""
    broken = GOOD.replace(b" }", b' pkgsLlamaCpp = throw "infinite recursion in pkgs"; }')
    with pytest.raises(ValidationError) as caught:
        apply_plan(machine_plan(tiny_flake, broken), evaluate=True)
    failed = [c for c in caught.value.checks if c.failed]
    assert [c.subject for c in failed] == ["evaluate alpha"]
    assert "infinite recursion in pkgs" in failed[0].detail


def test_a_command_past_its_time_limit_is_stopped():
    started = time.monotonic()
    lines = []
    result = run_streaming(
        [sys.executable, "-c", "import sys, time; print('working', file=sys.stderr, flush=True); time.sleep(30)"],
        Path.cwd(),
        1.0,
        lines.append,
    )
    assert result.timed_out and result.returncode is None
    assert lines == ["working"]
    assert time.monotonic() - started < 15


def fake_nix(tmp_path, monkeypatch, body: str) -> None:
    """A ``nix`` first on PATH that says it is 2.18 and runs ``body`` for anything else."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "nix"
    script.write_text('#!/bin/sh\nif [ "$1" = --version ]; then echo "nix (Nix) 2.18.1"; exit 0; fi\n' + body + "\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


def test_a_killed_evaluation_is_not_cached(tiny_flake, monkeypatch, tmp_path):
    from tui.core import eval_cache
    from tui.core.validate import evaluate_machines

    fake_nix(tmp_path, monkeypatch, "kill -9 $$")
    first = evaluate_machines(tiny_flake, ["alpha"], 30)
    assert first[0].status == "failed" and "killed by signal 9" in first[0].detail
    assert not eval_cache.cache_dir().exists() or not list(eval_cache.cache_dir().iterdir())


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2]",
        '{"subject": 3}',
        '{"subject": "s", "status": "ok", "detail": 4}',
        '{"subject": "s", "status": "maybe", "detail": ""}',
        '{"subject": "s", "status": "ok", "detail": "", "warnings": [1]}',
        "\udcff garbage",
    ],
)
def test_an_entry_of_the_wrong_shape_is_taken_as_absent(tiny_flake, monkeypatch, tmp_path, text):
    from tui.core import eval_cache
    from tui.core.validate import EVAL_APPLY, evaluate_machines

    fake_nix(tmp_path, monkeypatch, 'echo "error: evaluation failed for real" >&2; exit 1')
    digest = eval_cache.source_digest(tiny_flake, "2.18.1")
    entry = eval_cache.cache_dir() / f"{eval_cache.key(digest, 'alpha', EVAL_APPLY)}.json"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_bytes(text.encode(errors="surrogateescape"))
    check = evaluate_machines(tiny_flake, ["alpha"], 30)[0]
    assert not check.cached and "evaluation failed for real" in check.detail
    again = evaluate_machines(tiny_flake, ["alpha"], 30)[0]
    assert again.cached and "(cached)" in again.machine_line()
    assert not evaluate_machines(tiny_flake, ["alpha"], 30, refresh=True)[0].cached


def test_a_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    from tui.core import eval_cache

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert eval_cache.cache_dir() == Path.home() / ".cache" / "llamaflake" / "eval"
