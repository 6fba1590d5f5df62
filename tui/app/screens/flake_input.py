"""The flake-input step: the llama.cpp flake input to add (or "already present"), the nixpkgs it follows, a pinned ref."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from tui.app.screens.base import StepScreen
from tui.app.text import plain
from tui.core.answers import LLAMA_CPP_URL, Answers
from tui.core.errors import LlamaflakeError
from tui.core.plan import choose_follows
from tui.core.variants import VARIANTS, flake_package

NO_FOLLOW = "(none: use llama.cpp's own nixpkgs)"


class FlakeInputScreen(StepScreen):
    MAIN_CONTROL = "#follows"
    DEFAULT_CSS = """
    #input-options {
        height: auto;
    }

    .option-column {
        width: 1fr;
        height: auto;
    }

    RadioSet {
        width: 1fr;
    }

    #input-preview {
        height: auto;
    }
    """

    def body(self) -> ComposeResult:
        flake = self.state.loaded_flake
        yield Label("Flake input", classes="step-title")
        yield Static("", id="input-status")
        with Horizontal(id="input-options"):
            with Vertical(classes="option-column"):
                yield Label("Follow this nixpkgs", classes="section-title")
                current = choose_follows(flake, self.state.follows)
                with RadioSet(id="follows"):
                    for name in flake.nixpkgs_inputs():
                        yield RadioButton(plain(name), value=name == current, name=name)
                    yield RadioButton(NO_FOLLOW, value=current is None, name="")
            with Vertical(classes="option-column"):
                yield Label("Pin llama.cpp (optional)", classes="section-title")
                yield Input(self.state.ref, placeholder="a tag, branch or commit, e.g. b6500", id="ref")
                yield Static("", id="ref-problem", classes="problem")
                yield Label(f"From (default {LLAMA_CPP_URL})", classes="section-title")
                yield Input(self.state.url, placeholder="a fork, or path:/local/llama.cpp", id="url")
                yield Static("", id="url-problem", classes="problem")
        yield Label("What flake.nix gains", classes="section-title")
        yield Vertical(id="input-preview")

    def show_state(self) -> None:
        self.show_preview()

    def ref_problem(self, ref: str, url: str | None = None) -> str | None:
        try:
            Answers(ref=ref or None, url=url if url is not None else self.state.url or None).validate()
        except LlamaflakeError as exc:
            return exc.message
        return None

    def url_problem(self, url: str) -> str | None:
        """Why ``url`` cannot be the input's URL (with the pinned ref as it is), or None."""
        return self.ref_problem(self.state.ref, url or None)

    @on(RadioSet.Changed, "#follows")
    def follows_changed(self, event: RadioSet.Changed) -> None:
        name = event.pressed.name or ""
        if self.state.follows is None and name == (choose_follows(self.state.loaded_flake, None) or ""):
            return  # the default, shown as selected when the step opened
        self.state.follows = name
        self.show_preview()

    @on(Input.Changed, "#ref")
    def ref_changed(self, event: Input.Changed) -> None:
        problem = self.ref_problem(event.value.strip())
        self.query_one("#ref-problem", Static).update(plain(problem or ""))
        if problem is None:
            self.state.ref = event.value.strip()
            self.show_preview()

    @on(Input.Changed, "#url")
    def url_changed(self, event: Input.Changed) -> None:
        url = event.value.strip()
        problem = self.url_problem(url)
        self.query_one("#url-problem", Static).update(plain(problem or ""))
        if problem is None:
            self.state.url = url
            self.show_preview()

    def ready_to_leave(self) -> bool:
        url = self.query_one("#url", Input).value.strip()
        problem = self.ref_problem(self.query_one("#ref", Input).value.strip(), url or None)
        if problem:
            self.notify(problem, severity="error", title="llama.cpp input")
            return False
        return True

    def show_preview(self) -> None:
        from tui.core.input_preview import input_change

        shown = (self.state.follows, self.state.ref, self.state.url)
        if getattr(self, "_shown", None) == shown:
            return
        self._shown = shown
        flake = self.state.loaded_flake
        llama = flake.llama_input()
        status = self.query_one("#input-status", Static)
        if llama is None:
            status.update(
                Content.from_markup(
                    "The official flake [b]github:ggml-org/llama.cpp[/] becomes an input of your flake. "
                    "Its packages ($packages) are then built from it, for each machine.",
                    packages=", ".join(flake_package(v) for v in VARIANTS),
                )
            )
        else:
            status.update(
                Content.from_markup(
                    "[$text-success]✓ Already present:[/] input [b]$name[/] = $url",
                    name=llama.name,
                    url=llama.url or "?",
                )
            )
        preview = self.query_one("#input-preview", Vertical)
        preview.remove_children()
        try:
            change = input_change(flake, self.state.follows, self.state.ref or None, self.state.url or None)
        except LlamaflakeError as exc:
            preview.mount(Static(plain(exc.message), classes="problem"))
            return
        if change is None:
            preview.mount(Static("Nothing to change in flake.nix for the input.", classes="muted"))
            return
        from tui.app.widgets.hunk_view import ChangeDiff

        preview.mount(ChangeDiff(change, split=False, wrap=False))
