"""The variant picker of the machines step: the builds a machine can have, each with its reason, and the CUDA
capabilities, ROCm targets and CPU flags it is built for, checked as the command line checks its flags."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.app.screens.dialogs import DialogScreen
from tui.app.state import MachineState
from tui.app.text import plain
from tui.core.answers import MachineAnswer, split_list
from tui.core.errors import LlamaflakeError
from tui.core.variants import NO_VARIANT, VARIANT_WORDS

CHOICE_NAMES = {NO_VARIANT: "skip"}  # as the table of machines says it


@dataclass
class Picked:
    """What the picker answers: the variant and the settings shown for it."""

    variant: str
    cpu_flags: list[str]
    cuda_capabilities: list[str]
    rocm_targets: list[str]


def variant_reason(machine: MachineState, variant: str, whole: bool = False) -> str:
    """Why (or what for) ``variant`` on this machine: the recommendation's own reason where it suggests this
    variant (its first, or with ``whole`` all of them), what the repository has, or what the build is for."""
    rec = machine.recommendation
    if rec is not None and rec.variant == variant and rec.reasons:
        return "suggested: " + ("; ".join(rec.reasons) if whole else rec.reasons[0])
    if machine.existing is not None and machine.existing.variant == variant:
        return f"as in the repository; {VARIANT_WORDS[variant]}"
    if variant == NO_VARIANT and machine.left_alone_before:
        return "left alone on an earlier run, as the module remembers"
    return VARIANT_WORDS[variant]


class VariantList(OptionList):
    """The variants: a click highlights one, and a click on the highlighted one (or ``enter``) takes it, as in
    the table of machines, so that the mouse can reach the fields of the variant first."""

    async def _on_click(self, event: events.Click) -> None:
        clicked = event.style.meta.get("option")
        if clicked is not None and clicked != self.highlighted and not self.get_option_at_index(clicked).disabled:
            self.highlighted = clicked
            event.prevent_default()


class VariantPicker(DialogScreen[Picked | None]):
    """Choose a machine's build; ``enter`` (or OK) takes it when its settings are well-formed, ``escape`` cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    #picker-dialog {
        padding: 0 1;
    }

    #picker-dialog .dialog-title {
        margin: 0;
    }

    #picker-variants {
        height: auto;
        max-height: 7;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }

    #picker-reason {
        color: $text-muted;
        margin: 0 0 1 0;
    }

    .picker-field {
        height: 1;
    }

    .picker-field Label {
        width: 19;
    }

    .picker-field Input {
        width: 1fr;
        background: $boost;
    }

    .picker-field.-off Label, .picker-field.-off Input {
        color: $text-disabled;
        background: transparent;
    }
    """

    def __init__(self, machine: MachineState) -> None:
        super().__init__()
        self.machine = machine
        self.variants = machine.choices()
        # What each field would build with, the settings set by hand included (the CPU's are every variant's).
        self.cpu = machine.shown_settings(machine.variant if machine.variant != NO_VARIANT else "cpu")[0]
        self.cuda = machine.shown_settings("cuda")[1]
        self.rocm = machine.shown_settings("rocm")[2] if "rocm" in self.variants else []

    def compose(self) -> ComposeResult:
        machine = self.machine
        with Vertical(id="picker-dialog", classes="dialog"):
            yield Label(plain(f"Build for {machine.name}"), classes="dialog-title")
            yield VariantList(
                *(
                    Option(
                        Content.from_markup(
                            "[b]$name[/] $reason",
                            name=f"{CHOICE_NAMES.get(v, v):<7}",
                            reason=variant_reason(machine, v),
                        ),
                        id=v,
                    )
                    for v in self.variants
                ),
                id="picker-variants",
                markup=False,
                compact=True,
            )
            yield Static("", id="picker-reason")
            detected = machine.shown_settings("cuda", own=False)[1]
            yield self._field(
                "CUDA capabilities",
                "picker-cuda",
                self.cuda,
                "e.g. 8.6 or 8.6,12.0a; empty: " + ("as detected" if detected else "nixpkgs' default list"),
            )
            if "rocm" in self.variants:
                detected = machine.shown_settings("rocm", own=False)[2]
                yield self._field(
                    "ROCm targets",
                    "picker-rocm",
                    self.rocm,
                    "e.g. gfx1100; empty: " + ("as detected" if detected else "the flake's default targets"),
                )
            yield self._field("CPU flags", "picker-cpu", self.cpu, "empty: every CPU variant, picked at run time")
            yield Static("", id="picker-problem", classes="problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="picker-ok", variant="primary", compact=True)
                yield Button("Cancel", id="picker-cancel", compact=True)

    @staticmethod
    def _field(label: str, id: str, values: list[str], placeholder: str) -> Horizontal:
        return Horizontal(
            Label(label), Input(",".join(values), placeholder=placeholder, id=id, compact=True), classes="picker-field"
        )

    def on_mount(self) -> None:
        options = self.query_one("#picker-variants", OptionList)
        options.highlighted = self.variants.index(self.machine.variant) if self.machine.variant in self.variants else 0
        options.focus()
        self._show_fields()

    @property
    def variant(self) -> str:
        options = self.query_one("#picker-variants", OptionList)
        return self.variants[options.highlighted or 0]

    def picked(self) -> Picked:
        """The variant highlighted and the settings typed, those of other variants left out."""
        variant = self.variant

        def values(id: str, used: bool) -> list[str]:
            return split_list(self.query_one(f"#{id}", Input).value) if used and self.query(f"#{id}") else []

        return Picked(
            variant,
            values("picker-cpu", variant != NO_VARIANT),
            values("picker-cuda", variant == "cuda"),
            values("picker-rocm", variant == "rocm"),
        )

    def problem(self) -> str | None:
        """Why the settings cannot be built, in the command line's words; None where they can."""
        picked = self.picked()
        if picked.variant == NO_VARIANT:
            return None
        answer = MachineAnswer(
            picked.variant, picked.cpu_flags, not picked.cpu_flags, picked.cuda_capabilities, picked.rocm_targets
        )
        try:
            answer.validate(self.machine.name)
        except LlamaflakeError as exc:
            return exc.message
        return None

    @on(OptionList.OptionHighlighted, "#picker-variants")
    @on(Input.Changed)
    def _show_fields(self) -> None:
        """The highlighted variant's whole reason; only its settings can be edited, and a problem with them is
        said at once."""
        variant = self.variant
        self.query_one("#picker-reason", Static).update(plain(variant_reason(self.machine, variant, whole=True)))
        for id, used in (
            ("picker-cuda", variant == "cuda"),
            ("picker-rocm", variant == "rocm"),
            ("picker-cpu", variant != NO_VARIANT),
        ):
            for field in self.query(f"#{id}"):
                field.disabled = not used
                if field.parent is not None:
                    field.parent.set_class(not used, "-off")
        self.query_one("#picker-problem", Static).update(plain(self.problem() or ""))

    @on(OptionList.OptionSelected, "#picker-variants")
    @on(Input.Submitted)
    @on(Button.Pressed, "#picker-ok")
    def submitted(self) -> None:
        problem = self.problem()
        if problem:
            self.query_one("#picker-problem", Static).update(plain(problem))
            return
        self.dismiss(self.picked())

    @on(Button.Pressed, "#picker-cancel")
    def cancelled(self) -> None:
        self.dismiss(None)
