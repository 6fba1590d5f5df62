"""Helpers for the wizard's tests: steady cursors, commits with fixed dates, and waiting for workers."""

from __future__ import annotations

import asyncio
import functools

import pytest
from textual.widgets import Input, TextArea

from tui.app.steps import STEPS


@pytest.fixture(autouse=True)
def steady_screen(monkeypatch):
    """No blinking cursors (snapshots stay the same) and fixed commit dates (so do commit ids)."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-01-01T12:00:00+00:00")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-01-01T12:00:00+00:00")


async def settle(pilot) -> None:
    """Wait until every worker has finished and the screen shows what they found."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def step_called(title: str) -> int:
    """The number of the step with this title. Tests name their steps, so adding a step renumbers none of them."""
    return next(number for number, step in enumerate(STEPS, 1) if step.title == title)


async def go_to_step(pilot, title: str) -> None:
    """From the step shown, press ctrl+n until the step with this title is shown."""
    await settle(pilot)
    number = step_called(title)
    for _ in range(number - pilot.app.screen.step):
        await pilot.press("ctrl+n")
        await settle(pilot)
    assert pilot.app.screen.step == number


async def write_without_committing(pilot) -> None:
    """Walk to the Commit step and write the files there without committing (ctrl+s, then confirm)."""
    await go_to_step(pilot, "Commit")
    await pilot.press("ctrl+s")
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot)


def run_async(test):
    """Run an ``async def`` test in its own event loop (keeps the test dependencies to pytest alone)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper
