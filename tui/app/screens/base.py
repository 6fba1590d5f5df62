"""What every step screen shares: the header, the row of steps, the footer and the step keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header

from tui.app.messages import NextStep, PreviousStep, StateChanged, StopAskingNix
from tui.app.state import NIX_ASKING
from tui.app.steps import step_number
from tui.app.widgets.steps import StepIndicator

if TYPE_CHECKING:
    from tui.app.proof_source import ProofSource
    from tui.app.state import WizardState


WIDE_FOOTER = 100  # columns from which the footer also shows ctrl+p for the command palette


class StepScreen(Screen[None]):
    """One step of the wizard. Subclasses compose ``body()`` and refresh in ``show_state()``.

    A screen reads the app's state and posts requests (:class:`NextStep`, :class:`PreviousStep`, ...);
    the app owns navigation and the workers. Its place in the wizard comes from :data:`tui.app.steps.STEPS`.
    """

    BINDINGS = [
        Binding("ctrl+n", "next_step", "Next", priority=True),
        Binding("escape", "back", "Back"),
    ]
    MAIN_CONTROL = ""  # a selector: the control focused on arrival and on return from a later step
    _left_for_step = False  # the screen was covered by a later step (not by a dialog, which gives the focus back)

    @property
    def step(self) -> int:
        """This screen's place in the wizard, from 1."""
        return step_number(type(self))

    @property
    def state(self) -> WizardState:
        return self.app.state  # type: ignore[attr-defined]  # Textual types self.app as App; these screens run only in LlamaflakeApp

    @property
    def proof(self) -> ProofSource:
        """Where the review and commit steps ask Nix about the change."""
        return self.app.proof  # type: ignore[attr-defined]  # Textual types self.app as App; these screens run only in LlamaflakeApp

    def compose(self) -> ComposeResult:
        self.sub_title = self.state.display_path  # before the header is there: no refresh of it to wait for
        yield Header(show_clock=False, icon="λ")
        yield StepIndicator(self.step)
        with VerticalScroll(id="body"):
            yield from self.body()
        yield Footer(compact=True, show_command_palette=self.app.size.width >= WIDE_FOOTER)

    def body(self) -> ComposeResult:
        yield from ()

    def on_resize(self, event) -> None:
        # On a narrow terminal (80 columns) the step's keys and f1 Help come first; ctrl+p still opens the palette.
        self.query_one(Footer).show_command_palette = event.size.width >= WIDE_FOOTER

    def on_mount(self) -> None:
        self.show_state()
        self.focus_main_control()

    def on_screen_resume(self) -> None:
        self.show_state()
        if self._left_for_step:
            self._left_for_step = False
            self.focus_main_control()

    def on_screen_suspend(self) -> None:
        self._left_for_step = isinstance(self.app.screen, StepScreen)

    def focus_main_control(self) -> None:
        """Focus :attr:`MAIN_CONTROL`, so that the arrow keys move within it rather than scroll the step."""
        controls = self.query(self.MAIN_CONTROL) if self.MAIN_CONTROL else None
        if controls:
            controls.first().focus()

    def on_state_changed(self, _message: StateChanged) -> None:
        self.show_state()
        self.refresh_bindings()  # keys that depend on the state (stopping Nix) come and go

    def show_state(self) -> None:
        """Show what the state holds now (called on mount, on return, and when workers report)."""

    def ready_to_leave(self) -> bool:
        """Whether ``ctrl+n`` may go on; say why not (notify) when it may not."""
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.step > 1
        if action == "stop_nix":  # a key of the screens that show the machines, while Nix is asked about them
            return self.state.nix_status == NIX_ASKING  # hidden otherwise
        return True

    def action_next_step(self) -> None:
        if self.ready_to_leave():
            self.post_message(NextStep())

    def action_back(self) -> None:
        self.post_message(PreviousStep())

    def action_stop_nix(self) -> None:
        self.post_message(StopAskingNix())
