"""Modal dialogs: an error with its hint and long output, a question for a path or a host, a confirmation."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, ScreenResultType
from textual.widgets import Button, Input, Label, Static, TextArea

from tui.app.steps import STEPS, count_word, steps_help
from tui.app.text import plain


class DialogScreen(ModalScreen[ScreenResultType]):
    """A box in the middle of the screen, the step dimmed behind it (``.dialog-screen`` in app.tcss)."""

    DEFAULT_CLASSES = "dialog-screen"
    DEFAULT_CSS = """
    .dialog {
        width: 80;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        background: $surface;
        border: thick $primary;
    }

    #error-dialog {
        border: thick $error;
    }

    .dialog-title {
        text-style: bold;
        margin: 0 0 1 0;
    }

    .dialog-title.error {
        color: $text-error;
    }

    #error-hint {
        margin: 1 0 0 0;
        color: $text-muted;
    }

    #error-details {
        height: 12;
        margin: 1 0 0 0;
    }

    .dialog-buttons {
        height: auto;
        margin: 1 0 0 0;
        align-horizontal: right;
    }

    .dialog-buttons Button {
        margin: 0 0 0 1;
    }

    #help-dialog {
        width: 86;
    }
    """


class ErrorDialog(DialogScreen[str]):
    """An expected failure: the message, a hint, and any long output (hook output) to scroll through.

    ``actions`` are (id, label) pairs; the dialog dismisses with the id of the button pressed.
    """

    BINDINGS = [Binding("escape", "dismiss('close')", "Close")]

    def __init__(
        self,
        title: str,
        message: str,
        hint: str | None = None,
        details: str | None = None,
        actions: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        # Where the long output comes separately, the message's first line says enough.
        self.message = message.splitlines()[0] if details and message.strip() else message
        self.hint = hint
        self.details = details
        self.actions = actions or [("close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="error-dialog", classes="dialog"):
            yield Label(plain(self.title_text), classes="dialog-title error")
            yield Static(self.message, id="error-message", markup=False)
            if self.hint:
                yield Static(f"Hint: {self.hint}", id="error-hint", markup=False)
            if self.details:
                yield TextArea(self.details, read_only=True, id="error-details", show_line_numbers=False)
            with Horizontal(classes="dialog-buttons"):
                for index, (action, label) in enumerate(self.actions):
                    yield Button(label, id=f"action-{action}", variant="primary" if index == 0 else "default")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    @on(Button.Pressed)
    def chosen(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "action-close").removeprefix("action-"))


class AskDialog(DialogScreen[str | None]):
    """Ask for one line (a report's path, an SSH host); ``check`` returns why the text is not usable."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self, title: str, prompt: str, placeholder: str = "", check: Callable[[str], str | None] | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.placeholder = placeholder
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-dialog", classes="dialog"):
            yield Label(plain(self.title_text), classes="dialog-title")
            yield Static(self.prompt, markup=False)
            yield Input(placeholder=self.placeholder, id="ask-input")
            yield Static("", id="ask-problem", classes="problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="ask-ok", variant="primary")
                yield Button("Cancel", id="ask-cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ask-ok")
    def submitted(self) -> None:
        value = self.query_one(Input).value.strip()
        problem = "give a value" if not value else (self.check(value) if self.check else None)
        if problem:
            self.query_one("#ask-problem", Static).update(plain(problem))
            return
        self.dismiss(value)

    @on(Button.Pressed, "#ask-cancel")
    def cancelled(self) -> None:
        self.dismiss(None)


class ConfirmDialog(DialogScreen[bool]):
    """One question; ``enter`` answers yes."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("enter", "yes", "Confirm", priority=True)]

    def __init__(self, title: str, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Label(plain(self.title_text), classes="dialog-title")
            yield Static(self.question, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, id="confirm-yes", variant="primary")
                yield Button("Cancel", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-yes", Button).focus()

    def action_yes(self) -> None:
        focused = self.focused
        self.dismiss(not (isinstance(focused, Button) and focused.id == "confirm-no"))

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


HELP_TEXT = f"""\
llamaflake wires the official llama.cpp flake into this repository in {count_word(len(STEPS))} steps.
Nothing is written before the commit step.

  ctrl+n   next step            escape   previous step
  ctrl+p   command palette      f1       this help
  ctrl+q   quit without writing

{steps_help()}"""


class HelpScreen(DialogScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            yield Static(HELP_TEXT, markup=False)
