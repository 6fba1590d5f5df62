"""The wizard: the steps of :data:`tui.app.steps.STEPS` over the core, each a screen; slow work runs in thread
workers, which post what they found; the app owns navigation and changes the state on its own thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from tui.app.hardware_source import HardwareSource
from tui.app.messages import (
    DetectHardware,
    HardwareFailed,
    HardwareFound,
    ImportReport,
    LlamaSetupFound,
    NextStep,
    NixMachinesListed,
    NixProgress,
    PreviousStep,
    RepositoryFailed,
    RepositoryLoaded,
    ScanSsh,
    StateChanged,
    StopAskingNix,
)
from tui.app.proof_source import ProofSource
from tui.app.state import NIX_ANSWERED, NIX_ASKING, NIX_FAILED, NIX_STOPPED, SOURCE_WORDS, MachineState, WizardState
from tui.app.steps import STEPS
from tui.core.errors import LlamaflakeError

if TYPE_CHECKING:
    from tui.core.hardware.model import HardwareReport
    from tui.core.nix.flake import Host


def display_path(path: Path) -> str:
    """``path`` as the user would write it: relative to the home folder where it is inside it."""
    resolved = path.resolve()
    try:
        return "~/" + resolved.relative_to(Path.home().resolve()).as_posix()
    except ValueError:
        return str(resolved)


def wizard_commands():
    """The command palette provider, imported when the palette first opens."""
    from tui.app.commands import WizardCommands

    return WizardCommands


class LlamaflakeApp(App[int]):
    """The llamaflake wizard on the flake repository at ``path``."""

    CSS_PATH = "app.tcss"
    TITLE = "llamaflake"
    COMMANDS = App.COMMANDS | {wizard_commands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help"),
    ]

    def __init__(
        self,
        path: Path,
        *,
        hardware: HardwareSource | None = None,
        proof: ProofSource | None = None,
        shown_path: str | None = None,
        theme: str | None = None,
        on_first_screen: Callable[[LlamaflakeApp], None] | None = None,
    ) -> None:
        super().__init__()
        self.hardware = hardware or HardwareSource()
        self.proof = proof or ProofSource()
        self.state = WizardState(path=path, display_path=shown_path or display_path(path))
        self.on_first_screen = on_first_screen
        self.nix_cancel = threading.Event()  # set: stop asking Nix which machines exist
        self.nix_line_posted = threading.Event()  # set: a NixProgress is on its way, with the latest line Nix wrote
        self.nix_latest_line = ""
        if theme:
            self.theme = theme

    def get_default_screen(self) -> Screen:
        """The first step is the app's own first screen (no blank screen under it to draw)."""
        self.step_index = 0
        return STEPS[0].screen_class()()

    def on_mount(self) -> None:
        if self.on_first_screen is not None:
            self.call_after_refresh(self.on_first_screen, self)
        # Reading the flake imports the engine; start it once the first screen is drawn.
        self.call_after_refresh(self.load_repository)

    # ---- steps ----------------------------------------------------------------------------

    @on(NextStep)
    def next_step(self) -> None:
        """Show the step after the current one (its screen is imported now, the first time)."""
        if self.step_index + 1 < len(STEPS):
            self.step_index += 1
            self.push_screen(STEPS[self.step_index].screen_class()())

    @on(PreviousStep)
    def previous_step(self) -> None:
        if self.step_index > 0:
            self.step_index -= 1
            self.pop_screen()

    def broadcast(self) -> None:
        """Tell every step screen that the state changed."""
        for screen in self.screen_stack:
            screen.post_message(StateChanged())

    # ---- reading the repository -----------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="load", exclusive=True, description="Reading the flake")
    def load_repository(self) -> None:
        """The static reading of the flake, shown at once; Nix is asked which machines exist afterwards."""
        from tui.core.nix.flake import load_flake
        from tui.core.plan import existing_module_dir
        from tui.core.read_back import read_module_caches
        from tui.core.repo_status import repo_status
        from tui.core.report import current_settings, remembered_left_alone

        try:
            flake = load_flake(self.state.path)
            repo = repo_status(flake.root)
            settings = current_settings(flake)
            left_alone = remembered_left_alone(flake)
            module_dir = existing_module_dir(flake)
            existing_caches = None
            if module_dir is not None:
                module = flake.root / module_dir / "default.nix"
                existing_caches = read_module_caches(module.read_bytes(), f"{module_dir}/default.nix")
            preliminary = _wiring_everything(flake)
        except LlamaflakeError as exc:
            self.post_message(RepositoryFailed(exc))
            return
        except OSError as exc:
            self.post_message(RepositoryFailed(LlamaflakeError(f"cannot read the repository: {exc}")))
            return
        self.post_message(RepositoryLoaded(flake, repo, settings, preliminary, existing_caches, left_alone))
        self.post_message(LlamaSetupFound(_setup_entries(flake)))  # every file is read: after the flake is shown

    @on(LlamaSetupFound)
    def llama_setup_found(self, message: LlamaSetupFound) -> None:
        self.state.llama_setup = message.entries
        self.broadcast()

    @on(RepositoryLoaded)
    def repository_loaded(self, message: RepositoryLoaded) -> None:
        state = self.state
        state.flake = message.flake
        state.repo = message.repo
        state.settings = message.settings
        state.preliminary = message.preliminary
        state.existing_caches = message.existing_caches
        state.left_alone = set(message.left_alone)
        state.nix_asked = self.proof.use_nix
        for host in message.flake.hosts:
            state.machines[host.name] = MachineState(
                host,
                existing=_existing_answer(message.settings, host.name),
                left_alone_before=host.name in state.left_alone,
            )
        if self.proof.use_nix:  # Nix's list of machines is the truth; it is asked once the machines are shown
            state.nix_status, state.nix_since, state.nix_line = NIX_ASKING, time.monotonic(), ""
            self.call_after_refresh(self.ask_nix_for_machines, list(message.flake.hosts), self.nix_cancel)
        self.broadcast()
        self.gather_hints()
        self.detect_this_machine()

    # ---- asking Nix which machines exist ------------------------------------------------------

    @work(
        thread=True,
        exit_on_error=False,
        group="nix-machines",
        exclusive=True,
        description="Asking Nix which machines exist",
    )
    def ask_nix_for_machines(self, shown: list[Host], cancel: threading.Event) -> None:
        """Nix's list of machines, merged into a fresh reading of the flake (the one ``shown`` is not touched here);
        setting ``cancel`` (:class:`StopAskingNix`) stops Nix and posts nothing."""
        from tui.core.judge import discover, merge_discovery
        from tui.core.nix.flake import load_flake
        from tui.core.nix_run import NixCancelled
        from tui.core.report import current_settings

        options = {"timeout": self.proof.timeout} if self.proof.timeout else {}

        def progress(line: object) -> None:
            # Nix may write thousands of lines (warnings, traces): a message each would stall the screen. One is on
            # its way at a time, and shows the latest line when it arrives.
            self.nix_latest_line = str(line)
            if not self.nix_line_posted.is_set():
                self.nix_line_posted.set()
                self.post_message(NixProgress(self.nix_latest_line))

        try:
            flake = load_flake(self.state.path)
            discovery = discover(flake, progress=progress, cancel=cancel, **options)
            change = merge_discovery(shown, flake, discovery)
            settings = current_settings(flake)
            preliminary = _wiring_everything(flake)
        except NixCancelled:
            return
        except (LlamaflakeError, OSError) as exc:
            message = exc.message if isinstance(exc, LlamaflakeError) else f"cannot read the repository: {exc}"
            from tui.core.judge import Discovery, MachineListChange

            self.post_message(
                NixMachinesListed(
                    None,
                    MachineListChange([h.name for h in shown], answered=False, error=message),
                    Discovery(None, message).notes(),
                    {},
                    None,
                )
            )
            return
        if not cancel.is_set():
            self.post_message(NixMachinesListed(flake, change, discovery.notes(), settings, preliminary))

    @on(NixProgress)
    def nix_progress(self, message: NixProgress) -> None:
        """Nix's last line, under the line that counts its seconds (the screens below show it on return)."""
        from tui.app.widgets.nix_machines import NixMachinesLine

        self.nix_line_posted.clear()  # before the line is read: a later one posts again
        if self.state.nix_status == NIX_ASKING:
            self.state.nix_line = self.nix_latest_line or message.line
            for line in self.screen.query(NixMachinesLine):
                line.show()

    @on(StopAskingNix)
    def stop_asking_nix(self) -> None:
        """Stop Nix; the machines stay as the static reading found them, and the screen says so."""
        state = self.state
        if state.nix_status != NIX_ASKING:
            return
        self.nix_cancel.set()
        state.nix_status = NIX_STOPPED
        state.nix_note = (
            f"Nix was stopped after {time.monotonic() - state.nix_since:.0f} s: the machines are "
            "llamaflake's own reading of your files, not checked by Nix"
        )
        self.broadcast()

    @on(NixMachinesListed)
    def nix_machines_listed(self, message: NixMachinesListed) -> None:
        """Merge Nix's answer: machines it adds, renames or does not list change; every answer given so far stays
        with its machine."""
        state = self.state
        if state.nix_status != NIX_ASKING:
            return  # stopped meanwhile: the static reading stands
        change = message.change
        state.nix_notes = list(message.notes)
        state.nix_note = change.note()
        if not change.answered:
            state.nix_status = NIX_FAILED
            self.broadcast()
            self._say_elsewhere(state.nix_note, severity="warning")
            return
        state.nix_status = NIX_ANSWERED
        state.flake = message.flake
        state.settings = message.settings
        state.preliminary = message.preliminary
        before, state.machines = state.machines, {}
        fresh: list[str] = []
        for host in state.loaded_flake.hosts:
            machine = before.get(change.shown_before(host.name))
            existing = _existing_answer(message.settings, host.name)
            if machine is None:
                machine = MachineState(host, existing=existing, left_alone_before=host.name in state.left_alone)
                fresh.append(host.name)
            elif host.name in change.renamed.values():
                machine.existing = existing  # its settings file goes by its name
            machine.host = host
            state.machines[host.name] = machine
        if change.changed and state.plan is not None:
            state.replan = True  # the review's plan was made from the static reading: it is made again
        self.broadcast()
        if change.changed:
            self._say_elsewhere(state.nix_note)
        if fresh:
            self.gather_hints(fresh)
            if not any(m.this_machine for m in state.machines.values()):
                self.detect_this_machine()  # this machine may be one Nix added

    @on(RepositoryFailed)
    def repository_failed(self, message: RepositoryFailed) -> None:
        from tui.app.screens.dialogs import ErrorDialog

        error = message.error
        where = str(self.state.path.resolve())
        text = error.message.replace(where, self.state.display_path)  # the path as the user knows it
        self.push_screen(
            ErrorDialog("Cannot open this repository", text, error.hint, actions=[("quit", "Quit")]),
            lambda _: self.exit(return_code=2, message=Text(f"llamaflake: {text}")),
        )

    def _say_elsewhere(self, note: str, severity: str = "information") -> None:
        """Nix's word on the machines, as a notification where the screen shown has no line for it."""
        if not self.screen.query("#nix-machines"):
            self.notify(note, title="Machines, as Nix lists them", severity=severity, timeout=10)

    # ---- hardware ---------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="hardware", description="Reading hardware hints")
    def gather_hints(self, hosts: list[str] | None = None) -> None:
        flake = self.state.loaded_flake
        for host in flake.hosts:
            if hosts is not None and host.name not in hosts:
                continue
            try:
                report = self.hardware.hints(flake, host.name)
                recommendation = self._recommend(report, host.system)
            except Exception as exc:
                self.post_message(HardwareFailed(host.name, _as_error(exc)))
                continue
            self.post_message(
                HardwareFound(host.name, report, recommendation, SOURCE_WORDS.get(report.source, report.source))
            )

    @work(thread=True, exit_on_error=False, group="hardware", description="Detecting this machine")
    def detect_hardware(self, host: str | None = None) -> None:
        """Detect this machine; give it to ``host``, or to the machine whose name is this machine's hostname."""
        try:
            report = self.hardware.this_machine()
        except Exception as exc:
            self.post_message(HardwareFailed(host, _as_error(exc)))
            return
        target = host or _host_named(self.state, report)
        if target is None:
            return
        system = self._system_of(target) or report.system
        recommendation = self._recommend(report, system)
        self.post_message(
            HardwareFound(
                target,
                report,
                recommendation,
                SOURCE_WORDS["detected"],
                chosen_by_user=host is not None,
                this_machine=True,
                mismatches=self._mismatches(target, report),
            )
        )

    def _system_of(self, name: str) -> str | None:
        """The system the flake builds machine ``name`` for, where the flake says."""
        host = self.state.loaded_flake.host(name)
        return host.system if host is not None else None

    def _mismatches(self, host: str, report: HardwareReport) -> list[str]:
        """Where ``report`` disagrees with ``host``'s own configuration (on a worker thread)."""
        from tui.core.hardware.mismatch import report_mismatches

        try:
            config = self.hardware.hints(self.state.loaded_flake, host)
        except Exception:
            return []
        return report_mismatches(config, report, host)

    def _recommend(self, report: HardwareReport, system: str | None):
        """The build for a machine (on a worker thread); an NVIDIA GPU's under the CUDA release of the
        nixpkgs llama.cpp will follow, where Nix may be asked."""
        cuda_version = None
        if self.proof.evaluate and any(gpu.vendor == "nvidia" for gpu in report.gpus):
            cuda_version = self.hardware.cuda_release(self.state.loaded_flake, self.state.follows)
        return self.hardware.recommend(report, system, cuda_version)

    def detect_this_machine(self) -> None:
        self.detect_hardware(None)

    @on(DetectHardware)
    def detect_for(self, message: DetectHardware) -> None:
        self.detect_hardware(message.host)

    @on(ImportReport)
    def import_report(self, message: ImportReport) -> None:
        path = message.path
        self.hardware_from(message.host, lambda: self.hardware.import_report(path), f"imported {path.name}")

    @on(ScanSsh)
    def scan_ssh(self, message: ScanSsh) -> None:
        target = message.target
        self.hardware_from(message.host, lambda: self.hardware.scan_ssh(target), f"SSH {target}")

    @work(thread=True, exit_on_error=False, group="hardware", description="Reading a machine's hardware")
    def hardware_from(self, host: str, read, source: str) -> None:
        """Read another machine's hardware (a report, an SSH scan) and recommend its build."""
        try:
            report = read()
            recommendation = self._recommend(report, self._system_of(host) or report.system)
        except Exception as exc:
            self.post_message(HardwareFailed(host, _as_error(exc)))
            return
        self.post_message(
            HardwareFound(
                host, report, recommendation, source, chosen_by_user=True, mismatches=self._mismatches(host, report)
            )
        )

    @on(HardwareFound)
    def hardware_found(self, message: HardwareFound) -> None:
        machine = self.state.machines.get(message.host)
        if machine is None:
            return
        if message.source == SOURCE_WORDS["hints"] and machine.report is not None and machine.report.source != "hints":
            return  # hints never replace what was detected, imported or scanned
        if message.this_machine:
            for other in self.state.machines.values():
                if other.this_machine and other is not machine:
                    other.this_machine = False
                    other.report = None
                    self.gather_hints([other.name])
            machine.this_machine = True
        machine.report = message.report
        machine.recommendation = message.recommendation
        machine.source = message.source
        machine.scanning = False
        machine.mismatches = list(message.mismatches)
        if message.mismatches:
            self.notify(
                "\n".join(message.mismatches),
                title=f"{message.host}: the report and its configuration disagree",
                severity="warning",
                timeout=12,
            )
        if message.chosen_by_user:  # the new facts decide, as a fresh suggestion
            machine.follow_hardware = True
            machine.choice = None
            machine.own_cpu_flags = machine.own_cuda = machine.own_rocm = None
        self.broadcast()

    @on(HardwareFailed)
    def hardware_failed(self, message: HardwareFailed) -> None:
        from tui.app.screens.dialogs import ErrorDialog

        if message.host in self.state.machines:
            self.state.machines[message.host].scanning = False
            self.broadcast()
        error = message.error
        if message.host is None:  # detection at start-up: say so, without stopping the user
            self.notify(error.message, title="Hardware of this machine", severity="warning", timeout=8)
            return
        self.push_screen(
            ErrorDialog(f"Hardware of {message.host}", error.message, error.hint, getattr(error, "output", None))
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if (
            event.state == WorkerState.ERROR
            and event.worker.group == "nix-machines"
            and self.state.nix_status == NIX_ASKING
        ):
            self.state.nix_status = NIX_FAILED  # said by the notification below; the static reading stands
            self.state.nix_note = f"Nix could not list the machines, the static reading stands: {event.worker.error}"
            self.broadcast()
        if event.state == WorkerState.ERROR:
            self.notify(
                f"{event.worker.description or event.worker.name} failed: {event.worker.error}",
                severity="error",
                timeout=10,
            )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity="information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A notification in plain text, whatever the caller asks: what it quotes (a machine's name, Nix's
        notes, an error) comes from outside and is never markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # ---- commands ---------------------------------------------------------------------------

    def action_rescan_hardware(self) -> None:
        if self.state.flake is None:
            return
        current = next((m.name for m in self.state.machines.values() if m.this_machine), None)
        for machine in self.state.machines.values():
            if machine.report is not None and machine.report.source == "hints":
                machine.report = None
            machine.scanning = True
        self.gather_hints()
        self.detect_hardware(current)
        self.notify("Rescanning hardware…")

    async def action_toggle_split(self) -> None:
        # The screen showing diffs toggles them itself; elsewhere the choice waits for the review.
        if not await self.run_action("screen.toggle_split"):
            self.state.split_diff = not self.state.split_diff
            self.notify("Review diffs: " + ("split" if self.state.split_diff else "unified"))

    def exit(self, result: int | None = None, return_code: int = 0, message=None) -> None:
        """Exit, stopping Nix where it is still asked which machines exist (quitting waits for no answer)."""
        self.nix_cancel.set()
        super().exit(result, return_code, message)

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    async def action_quit(self) -> None:
        """Quit, never leaving an apply half-way without a word: a refused commit is put back first, and a
        quit while writing and committing is asked twice and says what the next run does."""
        from tui.app.screens.commit import CommitScreen
        from tui.core.write import ChangedMeanwhile

        commit = next((s for s in self.screen_stack if isinstance(s, CommitScreen)), None)
        if commit is not None and commit.busy and not getattr(self, "quit_asked", False):
            self.quit_asked = True
            self.notify(
                "Writing and committing: wait until it is done. ctrl+q again quits now, and the next "
                "`llamaflake apply` or `llamaflake undo` finishes the apply or puts every file back.",
                title="Still committing",
                severity="warning",
            )
            return
        message = None
        if commit is not None and commit.busy:
            message = (
                "quit while committing: run `llamaflake apply` or `llamaflake undo` to finish the apply or "
                "put every file back (its journal is in .git/llamaflake)"
            )
        elif commit is not None and commit.pending is not None:
            pending, commit.pending = commit.pending, None
            try:
                pending.abort()
                message = "quit: nothing was committed; every file and the index are back as they were"
            except ChangedMeanwhile as exc:
                message = f"quit: {exc.message}"
        self.exit(return_code=1 if message else 0, message=Text(f"llamaflake: {message}") if message else None)

    def action_help(self) -> None:
        from tui.app.screens.dialogs import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def _wiring_everything(flake):
    """A plan wiring every machine (on a worker thread): it shows what cannot be wired, and what could be cleaned
    up; None where no plan can be made."""
    from tui.core.answers import Answers, MachineAnswer
    from tui.core.plan import make_plan

    try:
        return make_plan(
            flake, Answers(machines={h.name: MachineAnswer("cpu", all_variants=True) for h in flake.hosts})
        )
    except LlamaflakeError:
        return None


def _setup_entries(flake) -> list[tuple[str, str]]:
    """The llama.cpp set-up found (on a worker thread); a file that cannot be read is left out, as ``hosts`` does."""
    from tui.core.report import setup_entries

    try:
        return setup_entries(flake)
    except (LlamaflakeError, OSError):
        return []


def _existing_answer(settings: dict[str, dict], name: str):
    """The answer the repository's settings file of machine ``name`` holds, or None."""
    from tui.core.answers import MachineAnswer
    from tui.core.serve_settings import serve_from_dict

    found = settings.get(name)
    if not found:
        return None
    fields = ("variant", "cpu_flags", "all_variants", "cuda_capabilities", "rocm_targets", "notes")
    return MachineAnswer(**{k: found[k] for k in fields}, serve=serve_from_dict(found.get("serve")))


def _as_error(exc: Exception) -> LlamaflakeError:
    return exc if isinstance(exc, LlamaflakeError) else LlamaflakeError(f"{type(exc).__name__}: {exc}")


def _host_named(state: WizardState, report: HardwareReport) -> str | None:
    """The machine whose name is this machine's hostname (without a domain), if any."""
    if not report.hostname:
        return None
    short = report.hostname.split(".")[0].lower()
    return next((name for name in state.machines if name.lower() == short), None)
