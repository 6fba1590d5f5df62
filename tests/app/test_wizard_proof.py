"""The review step's proof with the real ``nix`` on stand-in flakes: every changed machine evaluated on a
scratch copy (never the user's tree), ✓ with its package, ✗ with the machine named, and the commit step's
choice between going back and committing anyway."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "git"))

import nix_flakes as flakes
from nix_flakes import _nix_env, stand_ins  # noqa: F401 - fixtures
from pilot_helpers import go_to_step, run_async, settle, steady_screen, step_called  # noqa: F401 - steady_screen is an autouse fixture
from repo_state import committed_paths, repo_state
from snapshot_app import make_app
from textual.widgets import Input

from tui.app.proof_source import ProofSource


def proof_text(app) -> str:
    return str(app.screen.query_one("#proof").render())


async def to_review(pilot, url: str, variants: dict[str, str] | None = None) -> None:
    """Through the steps to the review, with the llama.cpp input from ``url`` and the given variants."""
    await go_to_step(pilot, "Flake input")
    pilot.app.screen.query_one("#url", Input).value = url
    await settle(pilot)
    for name, variant in (variants or {}).items():
        pilot.app.state.machines[name].choice = variant
    await go_to_step(pilot, "Review")


@pytest.mark.slow
@run_async
async def test_review_proves_every_machine_on_a_scratch_copy_and_commits(tmp_path, stand_ins):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    before = repo_state(root)
    app = make_app(root, proof=ProofSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await to_review(pilot, f"path:{stand_ins['llama']}", {"alpha": "vulkan", "beta": "cpu"})
        text = proof_text(app)
        assert "✓ alpha: gets llama-cpp-vulkan-0.0.0" in text, text
        assert "✓ beta: gets llama-cpp-" in text, text
        assert "as chosen: vulkan, all CPU variants · from llama-cpp/machines/alpha.nix" in text, text
        assert repo_state(root).differences(before) == []  # evaluated on a scratch copy only
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert "Committed" in str(app.screen.query_one("#result-head").render())
    assert "flake.lock" in committed_paths(root)
    assert flakes_evaluated_name(root, "alpha") == "llama-cpp-vulkan-0.0.0"


def flakes_evaluated_name(root, host):
    from test_nix_proof import evaluated_name

    return evaluated_name(root, host)


@run_async
async def test_a_machine_that_does_not_evaluate_is_named_and_can_be_gone_back_from(tmp_path, stand_ins):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    before = repo_state(root)
    app = make_app(root, proof=ProofSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await to_review(pilot, f"path:{stand_ins['llama-no-vulkan']}", {"alpha": "vulkan", "beta": "cpu"})
        text = proof_text(app)
        assert "✗ alpha: does not evaluate" in text, text
        assert "vulkan" in text
        assert "✓ beta" in text
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+n")  # commit: the dialog offers going back or committing anyway
        await settle(pilot)
        assert "cannot evaluate alpha" in str(app.screen.query_one("#error-message").render())
        await pilot.click("#action-back")
        await settle(pilot)
        assert app.screen.step == step_called("Review")
    assert repo_state(root).differences(before) == []


@pytest.mark.slow
@run_async
async def test_commit_anyway_commits_what_does_not_evaluate(tmp_path, stand_ins):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    app = make_app(root, proof=ProofSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await to_review(pilot, f"path:{stand_ins['llama-no-vulkan']}", {"alpha": "vulkan", "beta": "cpu"})
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.click("#action-anyway")
        await settle(pilot)
        assert "Committed" in str(app.screen.query_one("#result-head").render())
    assert "llama-cpp/machines/alpha.nix" in committed_paths(root)


@run_async
async def test_nix_turned_off_says_not_evaluated(tmp_path, stand_ins):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    app = make_app(root, proof=ProofSource(evaluate=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await to_review(pilot, f"path:{stand_ins['llama']}", {"alpha": "vulkan", "beta": "cpu"})
        text = proof_text(app)
        assert "? alpha: not evaluated: evaluation is turned off for this run" in text, text
        assert "--no-eval" not in text


@pytest.mark.slow
@run_async
async def test_offline_inputs_say_not_verified(tmp_path, stand_ins):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    app = make_app(root, proof=ProofSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await to_review(pilot, "github:ggml-org/llama.cpp", {"alpha": "vulkan", "beta": "cpu"})
        text = proof_text(app)
        assert "? alpha: not verified: offline: an input could not be fetched" in text, text
        await pilot.press("ctrl+n")  # to the commit step
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert "Committed" in str(app.screen.query_one("#result-head").render())
        unchecked = str(app.screen.query_one("#unchecked").render())
        assert "? flake.lock was not updated (offline: an input could not be fetched" in unchecked, unchecked
        assert "the first rebuild locks the new input" in unchecked, unchecked
        assert "? no machine was verified: the flake's inputs are not locked" in unchecked, unchecked
    assert "flake.lock" not in committed_paths(root)
