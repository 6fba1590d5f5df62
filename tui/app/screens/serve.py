"""The serve step (optional): a GGUF model from Hugging Face per machine, served by nixpkgs' services.llama-cpp."""

from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable, Label, Static

from tui.app.screens.base import StepScreen
from tui.app.screens.serve_picker import PickedModel, ServePicker, memory_unknown
from tui.app.state import MachineState, WizardState
from tui.app.text import cell
from tui.core.answers import ServeChoice
from tui.core.variants import NO_VARIANT

INTRO = (
    "[b]Optional.[/] A machine can serve a GGUF model from Hugging Face with nixpkgs' [b]services.llama-cpp[/], "
    "pinned to a commit and its sha256, on 127.0.0.1. [b]enter[/] picks one; [b]ctrl+n[/] goes on, and a "
    "machine without a model serves nothing."
)
MODEL_WIDTH = 40  # the Model column, so that the table fits 80 columns
LEGEND = "[$text-muted]Model [$text-accent]✎[/] chosen now · = as in the repository[/]"


def model_text(serve: ServeChoice) -> str:
    """``QUANT owner/name`` without its ``-GGUF`` (the file's path where its name shows no quantisation),
    shortened to the column."""
    from tui.core.models import quant_of

    model = serve.model
    quant = quant_of(model.name)
    repo = re.sub(r"[-_.]gguf$", "", model.repo, flags=re.IGNORECASE)  # every model here is one
    text = f"{quant} {repo}" if quant else f"{model.name} {repo}"
    return text if len(text) <= MODEL_WIDTH else text[: MODEL_WIDTH - 1] + "…"


def fit_of(state: WizardState, machine: MachineState, serve: ServeChoice) -> tuple[bool | None, str]:
    """Whether the served model fits the machine's memory for its build, and that in words; None where the
    machine's memory or the model's size is not known."""
    from tui.core.models import choice_needs, memory_for, size_text

    memory = memory_for(machine.report, machine.variant)
    found = state.model_repo_at(serve.model.repo, serve.model.revision)
    needs = choice_needs(serve.model, serve.context, found.parameters if found else None)
    if needs is None:
        return None, "its size is not known (pinned without a look-up)"
    need = f"needs about {size_text(needs)} with {serve.context} tokens of context"
    if memory is None:
        return None, f"{need}; {memory_unknown(machine)}"
    left = f"{memory.where} leaves {size_text(memory.usable)}"
    return needs <= memory.usable, f"{need}; {left}"


class ServeScreen(StepScreen):
    DEFAULT_CSS = """
    #serve-intro, #serve-legend, #serve-left-alone {
        height: auto;
    }
    #serve-intro {
        margin: 0 0 1 0;
    }
    #serve-detail {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $accent;
        height: auto;
    }
    """
    BINDINGS = [
        Binding("enter", "pick_model", "Pick", priority=True),  # over the table's own enter, shown in the footer
        Binding("x", "remove_model", "Remove"),
    ]
    MAIN_CONTROL = "#serve-machines"

    def body(self) -> ComposeResult:
        yield Label("Serve a model", classes="step-title")
        yield Static(Content.from_markup(INTRO), id="serve-intro")
        table: DataTable[str] = DataTable(id="serve-machines", cursor_type="row", zebra_stripes=True)
        table.add_column("Machine", key="machine")
        table.add_column("Build", key="build")
        # Styled cells are not measured by the table: their columns have their width.
        table.add_column("Model", key="model", width=MODEL_WIDTH + 2)
        table.add_column("Size", key="size")
        table.add_column("Fits", key="fits", width=len("Fits"))
        yield table
        yield Static(Content.from_markup(LEGEND), id="serve-legend")
        yield Static("", id="serve-left-alone")
        yield Static("", id="serve-detail")

    def machines(self) -> list[MachineState]:
        """The machines that get (or keep) a llama.cpp build: only they can serve a model."""
        return [m for m in self.state.machines.values() if m.variant != NO_VARIANT]

    def selected(self) -> MachineState | None:
        table = self.query_one("#serve-machines", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.state.machines.get(key) if key is not None else None

    def show_state(self) -> None:
        table = self.query_one("#serve-machines", DataTable)
        cursor = table.cursor_row
        table.clear()
        for machine in self.machines():
            table.add_row(*self._cells(machine), key=machine.name)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        alone = [m.name for m in self.state.machines.values() if m.variant == NO_VARIANT]
        left_alone = self.query_one("#serve-left-alone", Static)
        left_alone.display = bool(alone)
        left_alone.update(
            Content.from_markup("[$text-muted]Left alone, so no model: $names[/]", names=", ".join(alone))
        )
        self.show_detail()

    def _cells(self, machine: MachineState) -> list:
        from tui.core.models import size_text

        serve = machine.served
        if serve is None:
            return [cell(machine.name), cell(machine.variant), cell("—"), cell(""), cell("")]
        mark = "[$text-accent]✎[/]" if machine.serve is not None else "[dim]=[/]"
        fits, _why = fit_of(self.state, machine, serve)
        fit = {True: "[$text-success]yes[/]", False: "[$text-error]no[/]", None: "[dim]?[/]"}[fits]
        return [
            cell(machine.name),
            cell(machine.variant),
            Content.from_markup(f"$model {mark}", model=model_text(serve)),
            cell(size_text(serve.model.size)),
            Content.from_markup(fit),
        ]

    @on(DataTable.RowHighlighted, "#serve-machines")
    def show_detail(self) -> None:
        from tui.core.models import size_text

        machine = self.selected()
        detail = self.query_one("#serve-detail", Static)
        if machine is None:
            detail.update("No machine gets a llama.cpp build, so none can serve a model.")
            return
        serve = machine.served
        if serve is None:
            detail.update(
                Content.from_markup(
                    "[b]$name[/] serves no model ($variant build). [b]enter[/] picks one from Hugging Face.",
                    name=machine.name,
                    variant=machine.variant,
                )
            )
            return
        model = serve.model
        parts = f", {len(model.files)} parts" if len(model.files) > 1 else ""
        lines = [
            Content.from_markup(
                "[b]$name[/] serves [b]$file[/] of $repo$where",
                name=machine.name,
                file=model.name,
                repo=model.repo,
                where="" if machine.serve is not None else " (as in the repository)",
            ),
            Content.from_markup(
                "[b]Pinned[/] commit $commit · sha256 $sha · $size$parts · on $host:$port, $context tokens of context",
                commit=model.revision[:12],
                sha=model.files[0].sha256[:12] + "…",
                size=size_text(model.size),
                parts=parts,
                host=serve.host,
                port=str(serve.port),
                context=str(serve.context),
            ),
        ]
        fits, why = fit_of(self.state, machine, serve)
        verdict = {True: "[$text-success]fits[/]: ", False: "[$text-error]too big[/]: ", None: ""}[fits]
        lines.append(Content.from_markup(f"[b]Memory[/] {verdict}$why", why=why))
        if machine.serve is not None and machine.serve_reason:
            lines.append(Content.from_markup("[b]Why[/] $reason", reason=machine.serve_reason))
        detail.update(Content("\n").join(lines))

    @on(DataTable.RowSelected, "#serve-machines")
    def action_pick_model(self) -> None:
        """The model picker for the machine under the cursor (``enter``, or a click on its row)."""
        machine = self.selected()
        if machine is None:
            return

        def picked(answer: PickedModel | None) -> None:
            if answer is not None:
                machine.serve, machine.serve_reason, machine.serve_text = answer.serve, answer.reason, answer.text
                machine.stop_serving = False
                self.show_state()

        self.app.push_screen(ServePicker(self.state, machine), picked)

    def action_remove_model(self) -> None:
        machine = self.selected()
        if machine is None:
            return
        if machine.serve is not None:
            machine.serve, machine.serve_reason = None, ""
            self.show_state()
        elif machine.served is not None:
            machine.stop_serving = True
            self.notify(
                f"{machine.name} will serve no model: its service goes with the commit (enter picks one again).",
                title="Removed",
            )
            self.show_state()
