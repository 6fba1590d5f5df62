"""Helpers for the wizard's tests: steady cursors, commits with fixed dates, and waiting for workers."""

from __future__ import annotations

import asyncio
import functools

import pytest
from textual.widgets import Input, TextArea


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


async def go_to_step(pilot, step: int) -> None:
    """From the first step, press ctrl+n until ``step`` is shown."""
    await settle(pilot)
    for _ in range(step - 1):
        await pilot.press("ctrl+n")
        await settle(pilot)
    assert pilot.app.screen.step == step


def run_async(test):
    """Run an ``async def`` test in its own event loop (keeps the test dependencies to pytest alone)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper
