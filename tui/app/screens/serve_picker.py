"""The model picker of the serve step: a Hugging Face repository looked up in a worker thread, its GGUF models
with their sizes and whether each fits the machine, the suggestion preselected, and the context and port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.app.screens.dialogs import DialogScreen
from tui.app.screens.variant_picker import VariantList
from tui.app.text import plain
from tui.core.answers import ServeChoice
from tui.core.errors import LlamaflakeError

if TYPE_CHECKING:
    from tui.app.state import MachineState, WizardState
    from tui.core.models import GgufModel, Memory, ModelRepo, ModelSpec, Suggestion

DEFAULT_PORT = 8080


@dataclass
class PickedModel:
    """What the picker answers: the model to serve, why that file, and the repository as typed."""

    serve: ServeChoice
    reason: str
    text: str


class LookedUp(Message):
    """A look-up finished (posted from the worker thread): the repository, or why not in one line."""

    def __init__(self, generation: int, key: str, spec: ModelSpec, repo: ModelRepo | None, error: str | None):
        super().__init__()
        self.generation = generation
        self.key = key
        self.spec = spec
        self.repo = repo
        self.error = error


def memory_unknown(machine: MachineState) -> str:
    """That the memory a machine's build loads its model into is not known, and how to make it known."""
    what = "GPU memory" if machine.variant in ("cuda", "rocm", "vulkan") else "RAM"
    return f"{machine.name}'s {what} is not known (detect, import or scan its hardware in the machines step)"


def whole_number(text: str, what: str) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise LlamaflakeError(f"{what}: give a whole number, not {text!r}")
    return int(value)


class ServePicker(DialogScreen[PickedModel | None]):
    """Choose the model a machine serves; OK (or ``enter`` on a model) takes it, ``escape`` changes nothing."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    #serve-dialog {
        width: 90;
        padding: 0 1;
    }

    #serve-dialog .dialog-title {
        margin: 0;
    }

    .serve-field {
        height: 1;
    }

    .serve-field Label {
        width: 12;
    }

    .serve-field Input {
        background: $boost;
    }

    #serve-repo {
        width: 1fr;
    }

    #serve-lookup {
        margin: 0 0 0 1;
    }

    #serve-context, #serve-port {
        width: 10;
    }

    #serve-port-label {
        margin: 0 0 0 4;
        width: 6;
    }

    #serve-status, #serve-memory {
        color: $text-muted;
    }

    #serve-status.-error {
        color: $text-error;
    }

    #serve-models {
        height: auto;
        max-height: 8;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }

    #serve-reason {
        color: $text-muted;
        margin: 0 0 1 0;
    }
    """

    def __init__(self, state: WizardState, machine: MachineState) -> None:
        super().__init__()
        self.wizard = state
        self.machine = machine
        self.repo: ModelRepo | None = None  # the repository whose models are listed
        self.suggestion: Suggestion | None = None
        self.generation = 0  # of the look-up whose answer counts; an older one's is dropped
        served = machine.served
        self.text = machine.serve_text or (served.model.repo if served else "") or state.model_text
        self.context_text = str(served.context) if served else None
        self.port_text = str(served.port) if served else str(DEFAULT_PORT)

    @property
    def memory(self) -> Memory | None:
        from tui.core.models import memory_for

        return memory_for(self.machine.report, self.machine.variant)

    def compose(self) -> ComposeResult:
        from tui.core.models import DEFAULT_CONTEXT

        machine = self.machine
        with Vertical(id="serve-dialog", classes="dialog"):
            yield Label(plain(f"Model for {machine.name} ({machine.variant} build)"), classes="dialog-title")
            with Horizontal(classes="serve-field"):
                yield Label("Repository")
                yield Input(
                    self.text,
                    placeholder="owner/name or owner/name@revision, e.g. bartowski/Qwen2.5-7B-Instruct-GGUF",
                    id="serve-repo",
                    compact=True,
                )
                yield Button("Look up", id="serve-lookup", compact=True)
            yield Static("enter looks the repository up on Hugging Face", id="serve-status")
            yield Static(self._memory_line(), id="serve-memory")
            yield VariantList(id="serve-models", markup=False, compact=True)
            yield Static("", id="serve-reason")
            with Horizontal(classes="serve-field"):
                yield Label("Context")
                yield Input(self.context_text or str(DEFAULT_CONTEXT), id="serve-context", compact=True)
                yield Label("Port", id="serve-port-label")
                yield Input(self.port_text, id="serve-port", compact=True)
            yield Static("", id="serve-problem", classes="problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="serve-ok", variant="primary", compact=True)
                yield Button("Cancel", id="serve-cancel", compact=True)

    def _memory_line(self) -> Content:
        from tui.core.models import size_text

        memory = self.memory
        if memory is None:
            return plain(f"Memory: {memory_unknown(self.machine)}; no suggestion, choose by size")
        return plain(f"Memory: {memory.where}; {size_text(memory.usable)} for the model and its context")

    def on_mount(self) -> None:
        self.query_one("#serve-models").display = False
        key = self._key(self.text)
        if key is not None and key in self.wizard.model_repos:  # looked up before in this run: no need to ask again
            spec = self._spec(self.text)
            self._show_repo(self.wizard.model_repos[key], spec)
        else:
            self.query_one("#serve-repo", Input).focus()

    # ---- the look-up ------------------------------------------------------------------------

    @staticmethod
    def _spec(text: str) -> ModelSpec:
        from tui.core.models import parse_model_spec

        return parse_model_spec(text)

    def _key(self, text: str) -> str | None:
        """What a look-up of ``text`` is kept under: the repository and the revision asked (no file)."""
        try:
            spec = self._spec(text)
        except LlamaflakeError:
            return None
        return spec.repo + (f"@{spec.revision}" if spec.revision else "")

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#serve-status", Static)
        status.update(plain(text))
        status.set_class(error, "-error")

    @on(Input.Submitted, "#serve-repo")
    @on(Button.Pressed, "#serve-lookup")
    def look_up(self) -> None:
        """Look the repository up (from the run's looked-up ones where it is there), in a worker thread."""
        text = self.query_one("#serve-repo", Input).value.strip()
        self.generation += 1  # whatever is under way no longer counts
        self._show_models(None)
        if not text:
            self._status("give a repository: owner/name, or owner/name@revision", error=True)
            return
        try:
            spec = self._spec(text)
        except LlamaflakeError as exc:
            self._status(exc.message, error=True)
            return
        key = self._key(text)
        if key in self.wizard.model_repos:
            self._show_repo(self.wizard.model_repos[key], spec)
            return
        self._status(f"looking up {key} on Hugging Face…")
        self._look_up(self.generation, key, spec)

    @work(thread=True, exclusive=True, group="model-lookup", exit_on_error=False, description="Looking up a model")
    def _look_up(self, generation: int, key: str, spec: ModelSpec) -> None:
        from tui.core.models import lookup_repo

        try:
            repo = lookup_repo(spec.repo, spec.revision)
        except LlamaflakeError as exc:
            self.post_message(LookedUp(generation, key, spec, None, exc.message))
            return
        except Exception as exc:  # a failure of the Hub's client itself: one line, never a traceback
            self.post_message(LookedUp(generation, key, spec, None, f"{type(exc).__name__}: {exc}".splitlines()[0]))
            return
        self.post_message(LookedUp(generation, key, spec, repo, None))

    @on(LookedUp)
    def looked_up(self, message: LookedUp) -> None:
        if message.generation != self.generation:
            return  # the user asked for another meanwhile
        if message.repo is None:
            self._status(message.error or "the look-up failed", error=True)
            self.query_one("#serve-repo", Input).focus()
            return
        self.wizard.model_repos[message.key] = message.repo
        self.wizard.model_text = self.query_one("#serve-repo", Input).value.strip()  # offered next time
        self._show_repo(message.repo, message.spec)

    # ---- the models -------------------------------------------------------------------------

    def _show_repo(self, repo: ModelRepo, spec: ModelSpec) -> None:
        """List the repository's models and highlight one: the file asked for, the one served, or the suggestion."""
        from tui.core.models import ModelLookupError

        where = f"{repo.repo} at {repo.revision[:12]}"
        if repo.asked_revision:
            where += f" ({repo.asked_revision})"
        notes = [f"{len(repo.models)} model{'s' if len(repo.models) != 1 else ''}"]
        if repo.gated:
            notes.append("gated: downloading it needs HF_TOKEN")
        self._status(f"{where} · {' · '.join(notes)}")
        self._show_models(repo)
        wanted: GgufModel | None = None
        served = self.machine.served
        try:
            if spec.file:
                wanted = repo.find(spec.file)
            elif served is not None and (served.model.repo, served.model.revision) == (repo.repo, repo.revision):
                wanted = next((m for m in repo.models if m.name == served.model.name), None)
        except ModelLookupError as exc:
            self._status(exc.message, error=True)
        if wanted is None and self.suggestion is not None:
            wanted = self.suggestion.model
        if wanted is None:
            wanted = next((m for m in repo.models if m.complete), repo.models[0])
        options = self.query_one("#serve-models", OptionList)
        options.highlighted = repo.models.index(wanted)
        options.focus()
        self._show_reason()

    def _show_models(self, repo: ModelRepo | None) -> None:
        self.repo = repo
        options = self.query_one("#serve-models", OptionList)
        options.clear_options()
        options.display = repo is not None
        self.query_one("#serve-reason", Static).update("")
        if repo is None:
            self.suggestion = None
            return
        self._suggest()
        options.add_options(
            Option(self._prompt(m), id=str(i), disabled=not m.complete) for i, m in enumerate(repo.models)
        )

    def _context_tokens(self) -> int | None:
        try:
            return whole_number(self.query_one("#serve-context", Input).value, "context")
        except LlamaflakeError:
            return None

    def _suggest(self) -> None:
        from tui.core.models import DEFAULT_CONTEXT, ModelLookupError, suggest

        memory = self.memory
        self.suggestion = None
        if self.repo is None or memory is None:
            return
        try:
            self.suggestion = suggest(self.repo, memory, self._context_tokens() or DEFAULT_CONTEXT)
        except ModelLookupError as exc:  # no complete model at all
            self._status(exc.message, error=True)

    def _fit(self, model: GgufModel) -> tuple[bool | None, str]:
        """Whether ``model`` fits the machine's memory with the context asked, and how much it needs."""
        from tui.core.models import DEFAULT_CONTEXT, memory_needed, size_text

        context = self._context_tokens() or DEFAULT_CONTEXT
        assert self.repo is not None, "models are listed once their repository is looked up"
        needs = memory_needed(model, self.repo, context)
        memory = self.memory
        return (None if memory is None else needs <= memory.usable), f"needs about {size_text(needs)}"

    def _prompt(self, model: GgufModel) -> Content:
        from tui.core.models import size_text

        if not model.complete:
            return plain(f"{model.describe()}: cannot be served")
        fits, needs = self._fit(model)
        verdict = {True: "[$text-success]fits[/]", False: "[$text-error]too big[/]", None: "[dim]?[/]"}[fits]
        suggested = self.suggestion is not None and self.suggestion.model == model
        return Content.from_markup(
            f"[b]$label[/] $size  {verdict} [dim]$needs[/]$mark",
            label=f"{model.label:<14}",
            size=f"{size_text(model.size):>9}",
            needs=f"({needs})",
            mark="  ← suggested" if suggested else "",
        )

    @property
    def model(self) -> GgufModel | None:
        """The model highlighted; None before a look-up."""
        if self.repo is None:
            return None
        highlighted = self.query_one("#serve-models", OptionList).highlighted
        return self.repo.models[highlighted] if highlighted is not None else None

    def reason(self, model: GgufModel) -> str:
        """Why ``model``, in one line: the suggestion's own reason, or its size against the machine's memory."""
        from tui.core.models import DEFAULT_CONTEXT, size_text

        if self.suggestion is not None and self.suggestion.model == model:
            return "suggested: " + self.suggestion.reason
        fits, needs = self._fit(model)
        line = f"{model.label}, {size_text(model.size)}: {needs} with {self._context_tokens() or DEFAULT_CONTEXT} tokens of context"
        memory = self.memory
        if memory is None:
            return f"{line}; {memory_unknown(self.machine)}"
        if fits:
            return f"{line}; {memory.where} leaves {size_text(memory.usable)}"
        return f"{line}, more than {memory.where} leaves ({size_text(memory.usable)})"

    @on(OptionList.OptionHighlighted, "#serve-models")
    def _show_reason(self) -> None:
        model = self.model
        self.query_one("#serve-reason", Static).update(plain(self.reason(model) if model is not None else ""))

    @on(Input.Changed, "#serve-context")
    def context_changed(self) -> None:
        """The sizes needed follow the context: the marks, the suggestion and the reason are made again."""
        if self.repo is None:
            return
        self._suggest()
        options = self.query_one("#serve-models", OptionList)
        for index, model in enumerate(self.repo.models):
            options.replace_option_prompt_at_index(index, self._prompt(model))
        self._show_reason()

    # ---- the answer -------------------------------------------------------------------------

    def picked(self) -> PickedModel:
        """The model highlighted, with the context and port typed; a :class:`LlamaflakeError` says what is wrong."""
        model = self.model
        if self.repo is None or model is None:
            raise LlamaflakeError("look a repository up first (enter in its field), then choose a model")
        context = whole_number(self.query_one("#serve-context", Input).value, "context")
        port = whole_number(self.query_one("#serve-port", Input).value, "port")
        serve = ServeChoice(self.repo.choice(model), port=port, context=context)
        serve.validate(self.machine.name)
        reason = self.reason(model)
        if self.suggestion is None or self.suggestion.model != model:
            reason = "chosen by hand: " + reason
        return PickedModel(serve, reason, self.query_one("#serve-repo", Input).value.strip())

    @on(OptionList.OptionSelected, "#serve-models")
    @on(Input.Submitted, "#serve-context, #serve-port")
    @on(Button.Pressed, "#serve-ok")
    def submitted(self) -> None:
        try:
            picked = self.picked()
        except LlamaflakeError as exc:
            self.query_one("#serve-problem", Static).update(plain(exc.message))
            return
        self.wizard.model_text = picked.text
        self.dismiss(picked)

    @on(Button.Pressed, "#serve-cancel")
    def cancelled(self) -> None:
        self.dismiss(None)
