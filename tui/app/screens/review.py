"""The review step: every file change as a diff, accepted or rejected per file and per hunk, with validation."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.app.messages import ProofFinished, ProofProgress
from tui.app.screens.base import StepScreen
from tui.app.widgets.hunk_view import HunkBlock
from tui.app.widgets.proof import ProofView
from tui.core.changes import FileChange
from tui.core.errors import LlamaflakeError
from tui.core.hunks import Hunk, accepted_plan, split_hunks, validate_changes, wiring_checks

KIND_MARK = {"create": "A", "modify": "M", "delete": "D"}


class FileList(OptionList):
    """The changed files; ``space`` here accepts or rejects the highlighted file, as the footer says."""

    BINDINGS = [Binding("space", "screen.toggle_file", "File ✓/✗")]


class ReviewScreen(StepScreen):
    DEFAULT_CSS = """
    /* The body does not scroll; the file list and the hunks scroll on their own */
    ReviewScreen #body {
        overflow-y: hidden;
    }

    #review {
        height: 1fr;
        min-height: 8;
    }

    #files {
        width: 34;
        height: 1fr;
    }

    #hunks {
        width: 1fr;
        height: 1fr;
        padding: 0 0 0 1;
    }

    .file-reason {
        color: $text-muted;
    }

    #validation {
        height: auto;
        max-height: 6;
        margin: 1 0 0 0;
    }

    #proof-scroll {
        height: auto;
        max-height: 8;
    }

    #proof {
        height: auto;
    }
    """
    BINDINGS = [
        Binding("space", "toggle_hunk", "Hunk ✓/✗"),
        # The file list's space runs this same action: on the list, the footer shows that key alone for it.
        Binding("f", "screen.toggle_file", "File ✓/✗"),
        Binding("d", "toggle_split", "Split"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.hunks: dict[str, list[Hunk]] = {}
        self.problem: str | None = None
        self.current: str | None = None
        self.generation = 0  # of the proof asked for last; older answers are dropped
        self.proof_timer: Timer | None = None

    def body(self) -> ComposeResult:
        yield Label("Review", classes="step-title")
        yield Static("", id="review-summary")
        with Horizontal(id="review"):
            yield FileList(id="files")
            hunks = VerticalScroll(id="hunks")
            hunks.can_focus = False  # tab goes from the file list straight to the hunks
            yield hunks
        yield Static("", id="validation")
        with VerticalScroll(id="proof-scroll"):  # many machines: the list scrolls (tab to it, then the arrows)
            yield ProofView("", id="proof")

    def on_mount(self) -> None:
        self.make_plan()
        super().on_mount()
        self.query_one("#files", OptionList).focus()
        self.start_proof()

    # ---- proof with Nix ---------------------------------------------------------------------

    def proof_subject(self) -> tuple[tuple, list[str]]:
        """The accepted changes (as a comparable key) and the machines they can affect."""
        from tui.core.apply import changed_machines

        final = accepted_plan(self.state.made_plan, self.state.accepted)
        return tuple((c.path, c.new) for c in final.changes), changed_machines(final)

    def start_proof(self) -> None:
        """Evaluate the accepted change in the background, unless that exact change has its proof already."""
        plan = self.state.plan
        view = self.query_one("#proof", ProofView)
        if self.problem or plan is None or plan.is_empty or not self.final_changes():
            view.update("")
            return
        key, hosts = self.proof_subject()
        if self.state.proof is not None and self.state.proof_of == key:
            view.show_proof(self.state.proof, hosts)
            return
        self.generation += 1
        self.state.proof, self.state.proof_of = None, None
        off = self.proof.off_reason()
        if off is not None or not hosts:
            from tui.core.proof import Proof

            self.proof_done(
                ProofFinished(self.generation, Proof(not_evaluated=off or "no machine changes", nix_ran=False), key)
            )
            return
        view.show_running(hosts)
        self.prove(self.generation, key, hosts)

    @work(thread=True, exclusive=True, exit_on_error=False, group="proof", description="Evaluating with Nix")
    def prove(self, generation: int, key: tuple, hosts: list[str]) -> None:
        final = accepted_plan(self.state.made_plan, self.state.accepted)

        def progress(event: object) -> None:
            self.post_message(ProofProgress(generation, str(event).splitlines()[0] if str(event) else ""))

        from tui.core.apply import intended

        proof = self.proof.prove(self.state.loaded_flake.root, final.changes, hosts, progress, intended(final))
        self.post_message(ProofFinished(generation, proof, key))

    @on(ProofProgress)
    def proof_progress(self, message: ProofProgress) -> None:
        if message.generation == self.generation and self.state.proof is None:
            self.query_one("#proof", ProofView).show_running(self.proof_subject()[1], message.line)

    @on(ProofFinished)
    def proof_done(self, message: ProofFinished) -> None:
        if message.generation != self.generation:
            return
        self.state.proof, self.state.proof_of = message.proof, message.key
        self.query_one("#proof", ProofView).show_proof(message.proof, self.proof_subject()[1])

    def on_screen_resume(self) -> None:
        """Coming back from a dialog or a later step changes nothing here, unless the plan is out of date."""
        self.replan_if_out_of_date()

    def on_state_changed(self, _message) -> None:
        """The plan is made once, when the step is entered from the one before; again only where it is out of
        date (Nix's list of machines changed them), and while this step is shown."""
        if self.app.screen is self:
            self.replan_if_out_of_date()

    def replan_if_out_of_date(self) -> None:
        if not self.state.replan:
            return
        self.state.replan = False
        self.make_plan()
        self.current = None  # the file shown may have changed too
        self.show_state()
        self.start_proof()

    def make_plan(self) -> None:
        from tui.core.plan import make_plan

        state = self.state
        try:
            plan = make_plan(state.loaded_flake, state.answers())
        except LlamaflakeError as exc:
            self.problem = exc.message + (f"\nHint: {exc.hint}" if exc.hint else "")
            state.plan = None
            return
        self.problem = None
        same = state.plan is not None and [(c.path, c.new) for c in state.plan.changes] == [
            (c.path, c.new) for c in plan.changes
        ]
        self.hunks = {c.path: split_hunks(c) for c in plan.changes}
        if not same:
            state.accepted = {path: {h.index for h in hunks} for path, hunks in self.hunks.items()}
        state.plan = plan

    def final_changes(self) -> list[FileChange]:
        return accepted_plan(self.state.plan, self.state.accepted).changes if self.state.plan else []

    def show_state(self) -> None:
        state = self.state
        summary = self.query_one("#review-summary", Static)
        files = self.query_one("#files", OptionList)
        if self.problem or state.plan is None:
            summary.update(Content.from_markup("[$text-error]✗ $p[/]", p=self.problem or "no plan"))
            files.clear_options()
            return
        if state.plan.is_empty:
            summary.update("Nothing to change: the repository already has this set-up.")
            files.clear_options()
            self.query_one("#validation", Static).update("")
            return
        highlighted = files.highlighted
        files.clear_options()
        for change in state.plan.changes:
            files.add_option(Option(self._file_label(change), id=change.path))
        files.highlighted = highlighted if highlighted is not None else 0
        self._show_summary()
        self._show_validation()

    def _file_label(self, change: FileChange) -> Content:
        total = len(self.hunks[change.path])
        taken = len(self.state.accepted.get(change.path, set()))
        if taken == total:
            mark = "[$text-success]✓[/]"
        elif taken == 0:
            mark = "[$text-error]✗[/]"
        else:
            mark = "[$text-warning]◐[/]"
        folder, _, name = change.path.rpartition("/")
        return Content.from_markup(
            f"{mark} $kind $name [dim]$taken/$total[/]\n    [dim]$folder[/]",
            kind=KIND_MARK[change.kind],
            name=name,
            folder=(folder + "/") if folder else "./",
            taken=taken,
            total=total,
        )

    def _show_summary(self) -> None:
        plan = self.state.made_plan
        taken = sum(len(v) for v in self.state.accepted.values())
        total = sum(len(v) for v in self.hunks.values())
        split = "split" if self.state.split_diff else "unified"
        text = Content.from_markup(
            "$files files, $taken of $total hunks accepted · $split diff · nothing is written before the commit step",
            files=len(plan.changes),
            taken=taken,
            total=total,
            split=split,
        )
        change = self.state.caches_change()
        if change:
            text = Content("\n").join([text, Content.from_markup("[$text-warning]⚠[/] $change", change=change)])
        self.query_one("#review-summary", Static).update(text)

    def _show_validation(self) -> None:
        plan = self.state.made_plan
        lines: list[Content] = []
        final = self.final_changes()
        checks = validate_changes(final)
        parsed = [c for c in checks if c.ok]
        if parsed:
            lines.append(
                Content.from_markup(
                    "[$text-success]✓[/] $n accepted file(s) checked: every Nix file parses",
                    n=len(parsed),
                )
            )
        for check in checks:
            if not check.ok:
                lines.append(Content.from_markup("[$text-error]✗[/] $text", text=check.text))
        for check in wiring_checks(plan, final):
            mark = "[$text-warning]⚠[/]" if check.ok else "[$text-error]✗[/]"
            lines.append(Content.from_markup(f"{mark} $text", text=check.text))
        if not final:
            lines.append(Content.from_markup("[$text-warning]⚠[/] every change is rejected: nothing would be written"))
        for refusal in plan.refusals:
            lines.append(
                Content.from_markup(
                    "[$text-warning]⚠[/] $host not wired ($reason); add to $file: $snippet",
                    host=refusal.host,
                    reason=refusal.reason,
                    file=refusal.file or "its module",
                    snippet=refusal.snippet,
                )
            )
        for note in plan.notes:
            lines.append(Content.from_markup("[dim]note: $note[/]", note=note))
        for warning in plan.warnings:
            lines.append(Content.from_markup("[$text-warning]⚠ warning:[/] $w", w=warning))
        self.query_one("#validation", Static).update(Content("\n").join(lines))

    @on(OptionList.OptionHighlighted, "#files")
    def file_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_file(event.option.id)

    def show_file(self, path: str | None, focus_hunk: int | None = None, *, again: bool = False) -> None:
        plan = self.state.plan
        change = plan.change(path) if plan and path else None
        if plan is None or change is None or path is None or (path == self.current and not again):
            return
        self.current = path
        box = self.query_one("#hunks", VerticalScroll)
        box.remove_children()
        hunks = self.hunks[path]
        accepted = self.state.accepted.get(path, set())
        blocks = [
            HunkBlock(
                change,
                hunk,
                number,
                len(hunks),
                accepted=hunk.index in accepted,
                split=self.state.split_diff,
                machine=hunk.part if hunk.part in plan.machines else None,
            )
            for number, hunk in enumerate(hunks, 1)
        ]
        box.mount(
            Static(
                Content.from_markup("[b]$path[/] [dim]— $reason[/]", path=path, reason=change.reason),
                classes="file-reason",
            )
        )
        box.mount_all(blocks)
        if focus_hunk is not None and focus_hunk < len(blocks):
            self.call_after_refresh(blocks[focus_hunk].focus)

    def _refresh_after_toggle(self) -> None:
        files = self.query_one("#files", OptionList)
        plan = self.state.made_plan
        for index, change in enumerate(plan.changes):
            files.replace_option_prompt_at_index(index, self._file_label(change))
        self._show_summary()
        self._show_validation()
        # Evaluate the new choice once the user stops toggling for a moment.
        if self.proof_timer is not None:
            self.proof_timer.stop()
        self.proof_timer = self.set_timer(0.8, self.start_proof)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``space`` toggles a hunk only where one has focus (the footer shows it dimmed elsewhere); on the
        file list, the list's own ``space`` toggles the file."""
        if action == "toggle_hunk" and not isinstance(self.focused, HunkBlock):
            return None
        return super().check_action(action, parameters)

    def action_toggle_hunk(self) -> None:
        focused = self.focused
        if isinstance(focused, HunkBlock):
            accepted = self.state.accepted.setdefault(focused.change.path, set())
            accepted.symmetric_difference_update({focused.hunk.index})
            focused.accepted = focused.hunk.index in accepted
            self._refresh_after_toggle()

    def action_toggle_file(self) -> None:
        if self.current is None:
            return
        everything = {h.index for h in self.hunks[self.current]}
        accepted = self.state.accepted.get(self.current, set())
        self.state.accepted[self.current] = set() if accepted == everything else set(everything)
        for block in self.query(HunkBlock):
            block.accepted = block.hunk.index in self.state.accepted[self.current]
        self._refresh_after_toggle()

    def action_toggle_split(self) -> None:
        self.state.split_diff = not self.state.split_diff
        focused = self.focused
        index = list(self.query(HunkBlock)).index(focused) if isinstance(focused, HunkBlock) else None
        self.show_file(self.current, index, again=True)
        self._show_summary()

    def ready_to_leave(self) -> bool:
        if self.problem or self.state.plan is None:
            self.notify(self.problem or "There is no plan.", severity="error")
            return False
        if self.state.plan.is_empty:
            self.notify("Nothing to change.", severity="information")
            return False
        final = self.final_changes()
        if not final:
            self.notify("Every change is rejected: accept at least one hunk, or quit.", severity="warning")
            return False
        broken = [c for c in [*validate_changes(final), *wiring_checks(self.state.plan, final)] if not c.ok]
        if broken:
            self.notify(broken[0].text, severity="error", title="This would not build")
            return False
        return True
