"""The commit step: the commit message, committing only the accepted changes, then the next commands and how to undo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Label, LoadingIndicator, Static, TextArea

from tui.app.messages import ApplyFailed, PlanApplied
from tui.app.screens.base import StepScreen
from tui.app.screens.dialogs import ConfirmDialog, ErrorDialog
from tui.app.text import plain
from tui.core.errors import LlamaflakeError
from tui.core.hunks import accepted_plan
from tui.core.plan import Plan

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.apply import PendingApply


def unexpected_failure(exc: Exception, commit: bool) -> LlamaflakeError:
    """An error the core did not word itself (git refusing the commit, most often), with git's own output."""
    stderr = getattr(exc, "stderr", None)
    if isinstance(stderr, str) and stderr.strip():
        output = stderr.strip().removeprefix("stderr:").strip().strip("'").strip()
        error = LlamaflakeError(
            "git commit failed, nothing was committed" if commit else "writing failed",
            hint="the files may be written but are not committed: `git status` shows them",
        )
    else:
        output = f"{type(exc).__name__}: {exc}"
        error = LlamaflakeError(f"{'committing' if commit else 'writing'} failed")
    error.output = output
    return error


class CommitScreen(StepScreen):
    DEFAULT_CSS = """
    #message {
        height: 10;
    }

    #commit-buttons {
        height: auto;
        margin: 1 0 0 0;
    }

    #commit-buttons Button {
        margin: 0 1 0 0;
    }

    #progress {
        height: 3;
    }

    #result {
        height: auto;
    }

    #result-head {
        margin: 1 0 0 0;
    }
    """
    BINDINGS = [
        Binding("ctrl+n", "next_step", "Commit", priority=True),
        Binding("ctrl+s", "write_only", "Write only", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.final: Plan = accepted_plan(self.state.made_plan, self.state.accepted)
        self.busy = False
        self.done = False
        self.pending: PendingApply | None = None  # a written, uncommitted apply whose commit a hook refused
        self.wanted_commit = True  # what the last write asked for: commit, or write only

    def body(self) -> ComposeResult:
        from tui.core.apply import commit_message

        yield Label("Commit", classes="step-title")
        yield Static("", id="commit-files")
        yield Label("Commit message", classes="section-title")
        yield TextArea(commit_message(self.final), id="message", show_line_numbers=False)
        with Horizontal(id="commit-buttons"):
            yield Button("Commit", id="commit", variant="primary")
            yield Button("Write without committing", id="write-only")
        yield LoadingIndicator(id="progress")
        yield Vertical(id="result")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#progress").display = False
        if self.state.repo is not None and not self.state.repo.is_repo:
            self.query_one("#commit", Button).disabled = True
        self.query_one("#commit", Button).focus()

    def show_state(self) -> None:
        if self.done:
            return
        lines = [
            Content.from_markup("These files are written and committed; nothing else in the working tree is touched:")
        ]
        for change in self.final.changes:
            lines.append(
                Content.from_markup(
                    "  $kind $path", kind={"create": "A", "modify": "M", "delete": "D"}[change.kind], path=change.path
                )
            )
        self.query_one("#commit-files", Static).update(Content("\n").join(lines))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("write_only", "next_step"):
            return not self.done
        if action == "back":
            return not self.done and not self.busy
        return super().check_action(action, parameters)

    def out_of_date(self) -> bool:
        """Whether Nix changed the list of machines after the review made the plan: then back to the review,
        which makes it again, and True."""
        if not self.state.replan or self.pending is not None:
            return False
        self.notify(
            "Nix changed the list of machines after the review was made: review the new plan.",
            title="The plan is out of date",
            severity="warning",
        )
        self.action_back()
        return True

    def action_next_step(self) -> None:
        if self.busy or self.done or self.out_of_date():
            return
        if self.query_one("#commit", Button).disabled:
            self.action_write_only()
            return
        failed = self.failed_machines()
        if failed:
            self.wanted_commit = True
            self.offer_back_or_anyway(failed)
            return
        count = len(self.final.changes)
        self.app.push_screen(
            ConfirmDialog("Commit", f"Write {count} file{'s' if count != 1 else ''} and commit them?", yes="Commit"),
            lambda yes: self.start(commit=True) if yes else None,
        )

    def failed_machines(self) -> list:
        """The machines that Nix said do not evaluate with exactly these changes (in the review step)."""
        state = self.state
        if state.proof is None or state.proof_of != tuple((c.path, c.new) for c in self.final.changes):
            return []
        return list(state.proof.failed)  # a machine, or a step every machine needs (locking the inputs)

    def offer_back_or_anyway(self, failed: list) -> None:
        """A machine does not evaluate: go back to the review, or commit anyway."""
        from tui.app.widgets.proof import _error_lines

        names = ", ".join(c.host or f"“{c.subject}”" for c in failed)
        details = "\n\n".join(f"{c.host or c.subject}:\n" + "\n".join(_error_lines(c.detail)) for c in failed)
        self.app.push_screen(
            ErrorDialog(
                "A machine does not evaluate",
                f"With this change, Nix cannot evaluate {names}."
                if all(c.host for c in failed)
                else f"With this change, Nix fails at {names}.",
                "go back and change the choice (a variant the pinned llama.cpp has), or commit it as it is",
                details,
                actions=[
                    ("back", "Go back to the review"),
                    ("anyway", "Commit anyway" if self.wanted_commit else "Write anyway"),
                    ("close", "Cancel"),
                ],
            ),
            self.after_failed_proof,
        )

    def after_failed_proof(self, choice: str | None) -> None:
        if choice == "back":
            self.action_back()
        elif choice == "anyway":
            self.start(commit=self.wanted_commit, allow_failed=True)

    def action_write_only(self) -> None:
        if self.busy or self.done or self.out_of_date():
            return
        self.app.push_screen(
            ConfirmDialog("Write without committing", "Write the files but leave committing to you?", yes="Write"),
            lambda yes: self.start(commit=False) if yes else None,
        )

    @on(Button.Pressed, "#commit")
    def commit_pressed(self) -> None:
        self.action_next_step()

    @on(Button.Pressed, "#write-only")
    def write_pressed(self) -> None:
        self.action_write_only()

    def start(self, commit: bool, allow_failed: bool = False, allow_dirty: bool = False) -> None:
        if self.out_of_date():
            return
        self.wanted_commit = commit
        self.busy = True
        self.query_one("#progress").display = True
        self.query_one("#commit-buttons").display = False
        self.query_one("#message", TextArea).read_only = True
        self.apply(commit, self.query_one("#message", TextArea).text, allow_failed, allow_dirty)

    @work(thread=True, exit_on_error=False, group="apply", description="Writing and committing")
    def apply(self, commit: bool, message: str, allow_failed: bool = False, allow_dirty: bool = False) -> None:
        from dataclasses import replace

        from tui.core.apply import CommitRejected, apply_plan

        try:
            if self.pending is not None:
                result = self.pending.commit(message)
            else:
                options = replace(
                    self.proof.apply_options(),
                    commit=commit,
                    message=message,
                    keep_on_reject=True,
                    allow_failed_machines=allow_failed,
                    allow_dirty=allow_dirty,
                )
                result = apply_plan(self.final, options)
        except CommitRejected as exc:
            if exc.pending is not None:
                self.pending = exc.pending
            self.post_message(ApplyFailed(exc))
        except LlamaflakeError as exc:
            self.post_message(ApplyFailed(exc))
        except Exception as exc:
            self.post_message(ApplyFailed(unexpected_failure(exc, commit)))
        else:
            from tui.core.apply import AFTER_COMMIT
            from tui.core.next_steps import unchecked_lines

            self.pending = None
            after = [str(f) for f in result.findings if f.code in AFTER_COMMIT]
            self.post_message(PlanApplied(result.paths, result.commit, after, unchecked_lines(result.checks)))

    @work(thread=True, exit_on_error=False, group="apply", description="Putting everything back")
    def abort_pending(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.abort()
        self.app.call_from_thread(self.notify, "Every file and the index are back as they were.", title="Aborted")

    @on(ApplyFailed)
    def failed(self, message: ApplyFailed) -> None:
        self.busy = False
        self.query_one("#progress").display = False
        self.query_one("#commit-buttons").display = True
        self.query_one("#message", TextArea).read_only = False
        error = message.error
        from tui.core.validate import ValidationError

        if isinstance(error, ValidationError):
            failed = [c for c in error.checks if c.failed]
            if failed and all(c.host is not None for c in failed):
                self.offer_back_or_anyway(failed)  # everything is back as it was; the user decides
                return
        from tui.core.preflight import PreflightError
        from tui.core.write import StalePlan

        findings = error.findings if isinstance(error, PreflightError) else []
        dirty = [f for f in findings if f.code == "dirty" and f.level == "error"]
        if dirty and len([f for f in findings if f.level == "error"]) == 1:
            self.app.push_screen(
                ErrorDialog(
                    "Files with changes of yours",
                    dirty[0].message,
                    "include them: the commit then holds your changes of these files too, and says so "
                    "(undo refuses to drop them); or cancel, and commit or stash them first",
                    actions=[("include", "Include my changes in the commit"), ("close", "Cancel")],
                ),
                self.after_dirty,
            )
            return
        if isinstance(error, StalePlan):
            self.app.push_screen(
                ErrorDialog(
                    "The plan is out of date",
                    error.message,
                    "the file changed after the plan was made (a commit, a checkout): plan again from the "
                    "files as they are now, with the same answers",
                    actions=[("replan", "Review the new plan"), ("close", "Close")],
                ),
                self.after_stale,
            )
            return
        if self.pending is not None:
            # A hook refused the commit: the files stay written until the user retries or aborts.
            self.query_one("#commit-buttons").display = False
            self.app.push_screen(
                ErrorDialog(
                    "The commit was refused",
                    error.message,
                    error.hint,
                    getattr(error, "output", None),
                    actions=[("retry", "Retry the commit"), ("abort", "Abort and put everything back")],
                ),
                self.after_refusal,
            )
            return
        self.app.push_screen(
            ErrorDialog(
                "The commit did not happen",
                error.message,
                error.hint,
                getattr(error, "output", None),
            )
        )

    def after_dirty(self, choice: str | None) -> None:
        if choice == "include":
            self.start(commit=self.wanted_commit, allow_dirty=True)

    def after_stale(self, choice: str | None) -> None:
        """Plan again from the repository as it is now: back to the review, which makes the plan afresh."""
        if choice != "replan":
            return
        from tui.core.nix.flake import load_flake

        try:
            self.state.flake = load_flake(self.state.path)
        except LlamaflakeError as exc:
            self.app.push_screen(ErrorDialog("Cannot read the repository again", exc.message, exc.hint))
            return
        self.state.replan = True
        self.action_back()

    def after_refusal(self, choice: str | None) -> None:
        """Retry the refused commit (after fixing what the hook said), or abort it."""
        if choice == "retry" and self.pending is not None:
            self.start(commit=True)
            return
        self.abort_pending()
        self.query_one("#commit-buttons").display = True

    @on(PlanApplied)
    def applied(self, message: PlanApplied) -> None:
        from tui.core.next_steps import rebuild_commands, undo_commands, verify_line

        self.busy = False
        self.done = True
        self.query_one("#progress").display = False
        self.query_one("#message").display = False
        self.query_one("#commit-files").display = False
        for label in self.query(".section-title"):
            label.display = False
        result = self.query_one("#result", Vertical)
        if message.commit:
            head = Content.from_markup(
                "[$text-success]✓ Committed[/] [b]$sha[/]: $n files", sha=message.commit[:12], n=len(message.paths)
            )
        else:
            head = Content.from_markup("[$text-success]✓ Written[/] (not committed): $n files", n=len(message.paths))
        result.mount(Static(head, id="result-head"))
        if message.after_commit:
            result.mount(Static(plain("\n".join(message.after_commit)), id="after-commit"))
        if message.unchecked:
            result.mount(
                Static(
                    Content("\n").join(
                        Content.from_markup("[$text-warning]?[/] $line", line=line) for line in message.unchecked
                    ),
                    id="unchecked",
                )
            )
        result.mount(Label("Next: on each machine, in this repository: switch, then verify", classes="section-title"))
        commands = rebuild_commands(self.final)
        lines = []
        for host, line in commands.items():
            lines.append(Content.from_markup("[dim]# on $host[/]", host=host))
            lines.append(Content(line))
            lines.append(Content(verify_line(host)))
        if any("--option" in line for line in commands.values()):
            lines.append(Content.from_markup("[dim]# the --option part is needed for the first switch only[/]"))
        result.mount(Static(Content("\n").join(lines) if lines else "no machines", id="rebuild", classes="commands"))
        result.mount(Label("To undo", classes="section-title"))
        result.mount(Static(plain("\n".join(undo_commands(message.commit, self.final))), id="undo", classes="commands"))
        result.mount(Static(Content.from_markup("[dim]ctrl+q quits.[/]")))
        self.refresh_bindings()
        self.notify("Done." if message.commit is None else f"Committed {message.commit[:12]}", title="llamaflake")
