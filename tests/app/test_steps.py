"""The step registry is the one place the wizard's steps are listed: the screens, the row of steps and the help follow it."""

from __future__ import annotations

from tui.app.screens.base import StepScreen
from tui.app.screens.dialogs import HELP_TEXT
from tui.app.steps import STEPS, count_word, step_number, steps_help


def test_every_step_is_a_step_screen_that_knows_its_place():
    for number, step in enumerate(STEPS, 1):
        screen = step.screen_class()
        assert issubclass(screen, StepScreen)
        assert step_number(screen) == number
    assert step_number(StepScreen) == 0


def _words(keys: tuple[str, ...]) -> set[str]:
    """The keys a step's help names: the first word of each `` · ``-separated part."""
    return {part.split()[0] for line in keys for part in line.split(" · ") if part.split()}


def test_every_key_a_step_binds_is_in_its_help():
    """A key bound on a step's screen and left out of its help is a key nobody finds."""
    checked = set()
    for step in STEPS:
        screen = step.screen_class()
        bound = {
            binding.key.split(",")[0]
            for binding in screen.__dict__.get("BINDINGS", [])
            if binding.show and binding.key.split(",")[0] not in ("ctrl+n", "escape")
        }
        missing = bound - _words(step.keys)
        assert not missing, f"{step.title}: {sorted(missing)} bound but not in its help"
        checked |= bound
    # The steps' own keys were seen (a check that finds no binding at all would pass for any help).
    assert {"t", "v", "x", "ctrl+o", "ctrl+s"} <= checked, checked


def test_the_help_lists_every_step_with_its_keys():
    assert steps_help() in HELP_TEXT
    for number, step in enumerate(STEPS, 1):
        assert f"{number} {step.title}" in HELP_TEXT
        for keys in step.keys:
            assert keys in HELP_TEXT
    assert f"in {count_word(len(STEPS))} steps" in HELP_TEXT
