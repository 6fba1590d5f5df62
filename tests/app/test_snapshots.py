"""SVG snapshots of every step at 120x40 with fixed hardware, in the dark theme and (twice) the light one, and
of every step at 80x24, a laptop's default terminal.

Regenerate with ``pytest tests/app --snapshot-update`` and look at the pictures before committing them.
"""

from __future__ import annotations

import pytest
from conftest import make_repo
from hub_fake import QWEN_7B, hub  # noqa: F401 - hub is a fixture
from pilot_helpers import go_to_step, settle, steady_screen  # noqa: F401 - steady_screen is an autouse fixture
from snapshot_app import make_app

SIZE = (120, 40)
LAPTOP = (80, 24)


def at_step(step: str, *keys: str):
    async def run_before(pilot) -> None:
        await go_to_step(pilot, step)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


def test_step_1_repository(snap_compare, demo_repo):
    assert snap_compare(make_app(demo_repo), terminal_size=SIZE, run_before=at_step("Repository"))


def test_step_1_repository_light(snap_compare, demo_repo):
    assert snap_compare(
        make_app(demo_repo, theme="textual-light"), terminal_size=SIZE, run_before=at_step("Repository")
    )


def test_step_2_flake_input(snap_compare, demo_repo):
    assert snap_compare(make_app(demo_repo), terminal_size=SIZE, run_before=at_step("Flake input"))


def test_step_3_caches(snap_compare, demo_repo):
    assert snap_compare(make_app(demo_repo), terminal_size=SIZE, run_before=at_step("Caches"))


def test_step_4_machines(snap_compare, demo_repo):
    assert snap_compare(make_app(demo_repo), terminal_size=SIZE, run_before=at_step("Machines"))


def test_step_4_variant_picker_at_80x24(snap_compare, demo_repo):
    """boron's picker, cuda highlighted: its capabilities field open to edit."""
    assert snap_compare(
        make_app(demo_repo), terminal_size=LAPTOP, run_before=at_step("Machines", "down", "down", "enter", "down")
    )


def test_step_5_serve(snap_compare, demo_repo, hub):
    """carbon serves the model suggested for its GPU; the cursor on boron, which serves none."""

    async def run_before(pilot) -> None:
        await at_step("Serve", "enter", *QWEN_7B, "enter")(pilot)  # looked up
        await pilot.press("enter", "down", "down")
        await settle(pilot)

    assert snap_compare(make_app(demo_repo), terminal_size=SIZE, run_before=run_before)


def test_step_5_serve_picker_at_80x24(snap_compare, demo_repo, hub):
    """carbon's picker: Qwen2.5 7B's models with their sizes, the suggestion for its 4 GiB GPU highlighted."""
    assert snap_compare(
        make_app(demo_repo), terminal_size=LAPTOP, run_before=at_step("Serve", "enter", *QWEN_7B, "enter")
    )


@pytest.mark.slow
def test_step_6_review(snap_compare, demo_repo):
    assert snap_compare(
        make_app(demo_repo), terminal_size=SIZE, run_before=at_step("Review", "tab", "tab", "tab", "tab", "space")
    )


def test_step_6_review_split_light(snap_compare, demo_repo):
    app = make_app(demo_repo, theme="textual-light")
    assert snap_compare(app, terminal_size=SIZE, run_before=at_step("Review", "d"))


def test_step_7_commit(snap_compare, demo_repo):
    assert snap_compare(make_app(demo_repo), terminal_size=SIZE, run_before=at_step("Commit"))


def test_step_7_committed(snap_compare, demo_repo):
    assert snap_compare(make_app(demo_repo), terminal_size=SIZE, run_before=at_step("Commit", "ctrl+n", "enter"))


@pytest.mark.parametrize(
    "step",
    ["Repository", "Flake input", "Caches", "Machines", "Serve", "Review", "Commit"],
    ids=["1-repository", "2-flake-input", "3-caches", "4-machines", "5-serve", "6-review", "7-commit"],
)
def test_every_step_at_80x24(snap_compare, demo_repo, step):
    assert snap_compare(make_app(demo_repo), terminal_size=LAPTOP, run_before=at_step(step))


def test_error_dialog_for_a_folder_without_a_flake(snap_compare, tmp_path):
    repo = make_repo(tmp_path / "plain", {"README.md": "no flake here\n"})
    app = make_app(repo)

    async def run_before(pilot) -> None:
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
