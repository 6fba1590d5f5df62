"""The machines step: each machine's hardware, where it came from, the recommended build and the user's choice."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable, Label, Static

from tui.app.messages import DetectHardware, ImportReport, ScanSsh
from tui.app.screens.base import StepScreen
from tui.app.screens.dialogs import AskDialog
from tui.app.state import MachineState
from tui.app.text import cell
from tui.app.widgets.nix_machines import NixMachinesLine
from tui.core import ggml
from tui.core.hardware.model import HardwareReport
from tui.core.hardware.vendors import vendor_label


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def hardware_summary(report: HardwareReport | None) -> str:
    """CPU model and GPUs in a few words."""
    if report is None:
        return "…"
    parts = []
    if report.cpu is not None and (report.cpu.model or report.cpu.vendor):
        parts.append(report.cpu.model or f"{vendor_label(report.cpu.vendor)} CPU")
    for gpu in report.gpus:
        parts.append(gpu.display_name)
    if not parts and report.hints:
        parts.append(report.hints[0].text)
    return " · ".join(parts) or "unknown"


def ggml_summary(flags: list[str]) -> str:
    options = [name.removeprefix("GGML_") for name, on_ in ggml.ggml_options(flags).items() if on_]
    return " ".join(options) or "none"


CHOICE_WIDTH = len("vulkan ✎")  # the longest variant with its mark
CHOICE_LEGEND = "[$text-muted]Choice [$text-accent]✎[/] yours · = as in the repository · ● this machine[/]"


class MachinesScreen(StepScreen):
    DEFAULT_CSS = """
    #choice-legend {
        height: auto;
    }
    #machine-detail {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $accent;
        height: auto;
    }
    """
    BINDINGS = [
        Binding("t", "this_machine", "This one"),
        Binding("i", "import_report", "Import"),
        Binding("s", "scan_ssh", "SSH"),
        Binding("enter", "pick_variant", "Pick", priority=True),  # over the table's own enter, shown in the footer
        Binding("v", "cycle_variant", "Cycle"),
        Binding("x", "skip", "Skip"),
        Binding("c", "stop_nix", "Stop Nix"),
    ]
    MAIN_CONTROL = "#machines"

    def body(self) -> ComposeResult:
        yield Label("Machines", classes="step-title")
        yield NixMachinesLine(id="nix-machines")
        table: DataTable[object] = DataTable(id="machines", cursor_type="row", zebra_stripes=True)  # text and marks
        # Fits 80 columns: the machine's files are in the detail below. Choice has room for its marks.
        table.add_column("Machine", key="machine")
        table.add_column("Hardware", key="hardware")
        table.add_column("Source", key="source")
        table.add_column("Suggested", key="recommended")
        table.add_column("Choice", key="choice", width=CHOICE_WIDTH)
        table.add_column("CUDA", key="cuda")
        yield table
        yield Static(Content.from_markup(CHOICE_LEGEND), id="choice-legend")
        yield Static("", id="machine-detail")

    def selected(self) -> MachineState | None:
        table = self.query_one("#machines", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.state.machines.get(key) if key is not None else None

    def show_state(self) -> None:
        self.query_one(NixMachinesLine).show()
        table = self.query_one("#machines", DataTable)
        cursor = table.cursor_row
        table.clear()
        for machine in self.state.machines.values():
            table.add_row(*self._cells(machine), key=machine.name)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self.show_detail()

    def _cells(self, machine: MachineState) -> list:
        rec = machine.recommendation
        choice = machine.variant
        if machine.variant == "none":
            choice_text = Content.from_markup("[$text-muted]skip[/]")
        elif machine.set_by_hand:
            choice_text = Content.from_markup("[b]$v[/] [$text-accent]✎[/]", v=choice)
        elif machine.keeps_existing:
            choice_text = Content.from_markup("[b]$v[/] [dim]=[/]", v=choice)
        else:
            choice_text = Content.from_markup("[b]$v[/]", v=choice)
        answer = machine.answer()
        caps = answer.cuda_capabilities if answer else (machine.existing.cuda_capabilities if machine.existing else [])
        name = f"{machine.name} ●" if machine.this_machine else machine.name
        return [
            cell(name),
            cell(
                "scanning…"
                if machine.scanning and machine.report is None
                else shorten(hardware_summary(machine.report), 24)
            ),
            cell(machine.report.source if machine.report else "—"),
            cell(rec.variant if rec else "…"),
            choice_text,
            cell(" ".join(caps) or "—"),
        ]

    @on(DataTable.RowHighlighted, "#machines")
    def show_detail(self) -> None:
        machine = self.selected()
        detail = self.query_one("#machine-detail", Static)
        if machine is None:
            detail.update("")
            return
        report = machine.report
        lines = [
            Content.from_markup(
                "[b]$name[/]  built by $builder in $file:$line · config $config\n[b]Hardware[/] $source",
                name=machine.name,
                builder=machine.host.builder,
                file=machine.host.file,
                line=machine.host.line,
                config=", ".join(machine.host.module_files) or "—",
                source=(machine.source or "not known yet") + (" · this machine" if machine.this_machine else ""),
            )
        ]
        if report is not None and report.cpu is not None:
            cpu = report.cpu
            lines.append(
                Content.from_markup(
                    "[b]CPU[/]   $model$cores · flags $flags",
                    model=cpu.model or f"{vendor_label(cpu.vendor)} CPU",
                    cores=f", {cpu.cores} cores" if cpu.cores else "",
                    flags=" ".join(ggml.filter_flags(cpu.flags)) or "none that ggml uses",
                )
            )
        if report is not None:
            for gpu in report.gpus:
                lines.append(Content.from_markup("[b]GPU[/]   $facts", facts=gpu.summary()))
            for hint in report.hints:  # every clue behind the suggestion, so that it can be checked
                lines.append(
                    Content.from_markup(
                        "[b]Hint[/]  $text [dim]($file:$line)[/]", text=hint.text, file=hint.file, line=hint.line
                    )
                )
            conflicts = [n for n in report.notes if n.startswith("conflicting")]
            for note in conflicts + [n for n in report.notes if n not in conflicts][:2]:
                style = "$text-warning" if note in conflicts else "dim"
                lines.append(Content.from_markup(f"[{style}]$note[/]", note=note))
        for line in machine.mismatches:
            lines.append(Content.from_markup("[$text-warning]Disagrees[/] $line", line=line))
        rec = machine.recommendation
        if rec is not None:
            why = "; ".join(rec.reasons) or "no reason given"
            lines.append(Content.from_markup("[b]Recommended[/] $v: $why", v=rec.variant, why=why))
        answer = machine.answer()
        if machine.variant == "none" and machine.left_alone_before and machine.choice is None:
            lines.append(
                Content.from_markup(
                    "[b]Choice[/] skip: left alone on an earlier run, as the module "
                    "remembers (x or v to give it a build)"
                )
            )
        elif machine.variant == "none":
            lines.append(Content.from_markup("[b]Choice[/] skip: this machine is left as it is"))
        elif answer is None and machine.existing is not None:
            lines.append(
                Content.from_markup("[b]Choice[/] keep what the repository has: $v", v=machine.existing.variant)
            )
        elif answer is not None:
            lines.append(self._choice_line(machine))
        detail.update(Content("\n").join(lines))

    @staticmethod
    def _choice_line(machine: MachineState) -> Content:
        """The build chosen: variant, CPU options, and the CUDA capabilities or ROCm targets, "yours" where set by hand."""
        variant = machine.variant
        cpu_flags, cuda, rocm = machine.shown_settings(variant)
        yours = {
            "cpu": machine.own_cpu_flags is not None,
            "cuda": machine.own_cuda is not None,
            "rocm": machine.own_rocm is not None,
        }
        parts = [Content.from_markup("[b]Choice[/] $v", v=variant)]
        cpu = f"ggml {ggml_summary(cpu_flags)}" if cpu_flags else "every CPU variant, picked at run time"
        parts.append(Content.from_markup("$cpu$mine", cpu=cpu, mine=" (yours)" if yours["cpu"] else ""))
        if variant == "cuda":
            parts.append(
                Content.from_markup(
                    "CUDA $caps$mine",
                    caps=", ".join(cuda) or "nixpkgs' default list",
                    mine=" (yours)" if yours["cuda"] else "",
                )
            )
        if variant == "rocm":
            parts.append(
                Content.from_markup(
                    "ROCm $targets$mine",
                    targets=", ".join(rocm) or "the flake's default targets",
                    mine=" (yours)" if yours["rocm"] else "",
                )
            )
        return Content(" · ").join(parts)

    @on(DataTable.RowSelected, "#machines")
    def action_pick_variant(self) -> None:
        """The variant picker for the machine under the cursor (``enter``, or a click on its row)."""
        from tui.app.screens.variant_picker import Picked, VariantPicker

        machine = self.selected()
        if machine is None:
            return

        def picked(answer: Picked | None) -> None:
            if answer is not None:
                machine.pick(answer.variant, answer.cpu_flags, answer.cuda_capabilities, answer.rocm_targets)
                self.show_state()

        self.app.push_screen(VariantPicker(machine), picked)

    def action_cycle_variant(self) -> None:
        machine = self.selected()
        if machine is None:
            return
        choices = [c for c in machine.choices() if c != "none"]
        current = machine.variant if machine.variant in choices else choices[-1]
        following = choices[(choices.index(current) + 1) % len(choices)]
        machine.choice = None if following == machine.default_variant else following
        self.show_state()

    def action_skip(self) -> None:
        machine = self.selected()
        if machine is None:
            return
        if machine.variant != "none":
            machine.choice = "none"
        elif machine.default_variant != "none":
            machine.choice = None  # back to the suggested build
        else:  # left alone by default (remembered, an installer image): the build it would get
            machine.choice = machine.suggested_build
        self.show_state()

    def action_this_machine(self) -> None:
        machine = self.selected()
        if machine is not None:
            self.post_message(DetectHardware(machine.name))
            self.notify(f"Detecting this machine's hardware for {machine.name}…")

    def action_import_report(self) -> None:
        machine = self.selected()
        if machine is None:
            return

        def check(text: str) -> str | None:
            path = Path(text).expanduser()
            return None if path.is_file() else f"no such file: {path}"

        def imported(path: str | None) -> None:
            if path:
                self.post_message(ImportReport(machine.name, Path(path).expanduser()))

        self.app.push_screen(
            AskDialog(
                f"Import a hardware report for {machine.name}",
                "A report made by `llamaflake detect --json` or by nixos-facter (facter.json) on that machine:",
                "~/boron-hardware.json",
                check,
            ),
            imported,
        )

    def action_scan_ssh(self) -> None:
        machine = self.selected()
        if machine is None:
            return

        def scan(target: str | None) -> None:
            if target:
                self.post_message(ScanSsh(machine.name, target))
                self.notify(f"Scanning {target} over SSH…")

        self.app.push_screen(
            AskDialog(
                f"Scan {machine.name} over SSH",
                "The SSH destination (read-only: it needs only a shell there, nothing installed):",
                f"root@{machine.name}",
            ),
            scan,
        )
