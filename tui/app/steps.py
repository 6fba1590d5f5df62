"""The wizard's steps, in order: the one place that says which screens there are and what each is called.

Adding a step is one new screen file (a :class:`tui.app.screens.base.StepScreen`) and one line here.
Screens are imported when first shown, so the first screen starts without the later ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class Step:
    """One step: its title in the row of steps, its screen (``module:Class``), and its keys for the help."""

    title: str
    screen: str
    keys: tuple[str, ...] = ()

    def screen_class(self) -> type:
        """The screen class, imported on first use."""
        module, _, name = self.screen.partition(":")
        return getattr(import_module(module), name)


STEPS: tuple[Step, ...] = (
    Step(
        "Repository",
        "tui.app.screens.repository:RepositoryScreen",
        ("the flake, its machines and what exists already", "c stops asking Nix which machines exist"),
    ),
    Step(
        "Flake input",
        "tui.app.screens.flake_input:FlakeInputScreen",
        ("the input to add, the nixpkgs it follows, a pinned ref",),
    ),
    Step(
        "Caches",
        "tui.app.screens.caches:CachesScreen",
        ("space toggles a cache · ctrl+o adds the custom one (URL and key)",),
    ),
    Step(
        "Machines",
        "tui.app.screens.machines:MachinesScreen",
        (
            "t this machine · i import a report · s scan over SSH",
            "enter picks the variant and its CUDA, ROCm and CPU settings",
            "v cycles the variant · x skip the machine",
            "c stops asking Nix which machines exist",
        ),
    ),
    Step(
        "Serve",
        "tui.app.screens.serve:ServeScreen",
        ("enter picks a machine's model on Hugging Face (optional)", "x removes the model chosen now"),
    ),
    Step(
        "Review",
        "tui.app.screens.review:ReviewScreen",
        ("space accepts or rejects a hunk (on the file list: the file)", "f the whole file · d unified or split diff"),
    ),
    Step("Commit", "tui.app.screens.commit:CommitScreen", ("ctrl+n commits (enter confirms) · ctrl+s writes only",)),
)


def step_number(screen_class: type) -> int:
    """The 1-based place of a screen class in :data:`STEPS` (0 for a screen that is not a step)."""
    name = f"{screen_class.__module__}:{screen_class.__qualname__}"
    return next((n for n, step in enumerate(STEPS, 1) if step.screen == name), 0)


def steps_help() -> str:
    """The steps and their keys, one block per step, for the help screen."""
    lines = []
    for number, step in enumerate(STEPS, 1):
        keys = step.keys or ("",)
        lines.append(f"{number} {step.title:<13}{keys[0]}".rstrip())
        lines.extend(" " * 15 + more for more in keys[1:])
    return "\n".join(lines) + "\n"


def count_word(count: int) -> str:
    """A small count in words (``six``), as the help says it."""
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    return words[count] if count < len(words) else str(count)
