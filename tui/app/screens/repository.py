"""The repository step: the flake found, its git state, its machines and how each is built, what exists already."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Label, Static

from tui.app.screens.base import StepScreen
from tui.app.state import NIX_ASKING, NIX_STOPPED
from tui.app.text import cell

if TYPE_CHECKING:
    from textual.widgets import DataTable


class RepositoryScreen(StepScreen):
    BINDINGS = [Binding("c", "stop_nix", "Stop Nix")]
    AUTO_FOCUS = (
        ""  # focusing restyles the screen before its first frame: the body takes the focus once the flake is read
    )
    DEFAULT_CSS = """
    #repo-summary {
        margin: 1 0 0 0;
    }

    #repo-warnings {
        margin: 1 0 0 0;
    }
    """

    def body(self) -> ComposeResult:
        yield Label("Repository", classes="step-title")
        yield Static("Reading the flake…", id="repo-summary")

    def ready_to_leave(self) -> bool:
        if self.state.flake is None:
            self.notify("The flake is still being read.", severity="warning")
            return False
        if not self.state.flake.hosts and self.state.nix_status == NIX_ASKING:
            self.notify(
                "No machines found yet: Nix is still asked which machines exist (c stops it).", severity="warning"
            )
            return False
        if not self.state.flake.hosts:
            self.notify("No machines found in this flake: there is nothing to wire.", severity="error")
            return False
        return True

    def show_state(self) -> None:
        state = self.state
        flake = state.flake
        if flake is None:
            return
        lines = [
            Content.from_markup("[b]Flake[/]      $path", path=f"{state.display_path}/flake.nix"),
            Content.from_markup("[b]Git[/]        $git", git=state.repo.summary() if state.repo else "…"),
        ]
        llama = flake.llama_input()
        if llama is None:
            found = ", a set-up by hand (below)" if state.llama_setup else ""
            lines.append(Content.from_markup("[b]llama.cpp[/]  not set up yet: no llama.cpp input$found", found=found))
        else:
            follows = llama.follows.get("nixpkgs")
            lines.append(
                Content.from_markup(
                    "[b]llama.cpp[/]  input [b]$name[/] = $url$follows",
                    name=llama.name,
                    url=llama.url or "?",
                    follows=f", follows {follows}" if follows else "",
                )
            )
        if state.settings:
            wired = ", ".join(f"{name} ({s['variant']})" for name, s in state.settings.items())
            lines.append(Content.from_markup("[b]Settings[/]   $wired", wired=wired))
        self.query_one("#repo-summary", Static).update(Content("\n").join(lines))

        table, warnings = self._machines_section()
        table.clear()
        shared = set.intersection(*(set(h.module_files) for h in flake.hosts)) if len(flake.hosts) > 1 else set()
        for host in flake.hosts:
            own = [m for m in host.module_files if m not in shared]
            modules = ", ".join(own) or "—"
            if shared & set(host.module_files):
                modules += f" +{len(shared & set(host.module_files))} shared"
            table.add_row(
                *map(cell, (host.name, host.builder, f"{host.file}:{host.line}", host.system or "?", modules)),
                key=host.name,
            )
        warnings.update(self._warnings())
        self.query_one("#repo-setup", Static).update(self._setup())

    def _machines_section(self) -> tuple[DataTable, Static]:
        """The table of machines and the warnings below it, made once the flake is read: the first screen
        is drawn sooner without them, and there is nothing to show in them before."""
        from textual.widgets import DataTable

        from tui.app.widgets.nix_machines import NixMachinesLine

        if self.query("#hosts"):
            self.query_one(NixMachinesLine).show()
            return self.query_one("#hosts", DataTable), self.query_one("#repo-warnings", Static)
        table: DataTable[Text] = DataTable(id="hosts", cursor_type="row", zebra_stripes=True)
        # Plain Text labels: a str label is read as markup, which loads rich's emoji table at start-up.
        table.add_columns(*map(Text, ("Machine", "Built with", "Defined in", "System", "Its modules")))
        warnings = Static("", id="repo-warnings")
        body = self.query_one("#body")
        body.mount(
            Label("Machines", classes="section-title"),
            NixMachinesLine(id="nix-machines"),
            table,
            warnings,
            Label("Existing llama.cpp set-up", classes="section-title"),
            Static("", id="repo-setup"),
        )
        self.call_after_refresh(self._focus_body_unless_focused)
        return table, warnings

    def _focus_body_unless_focused(self) -> None:
        if self.focused is None:
            self.query_one("#body").focus()

    def _setup(self) -> Content:
        """What llama.cpp set-up the repository has already, each with its file and line, as ``llamaflake hosts``
        lists it; found in the background, after the machines are shown."""
        entries = self.state.llama_setup
        if entries is None:
            return Content.from_markup("[$text-muted]⋯ looking through the files…[/]")
        if not entries:
            return Content.from_markup(
                "[$text-muted]none: no llama.cpp input, package, overlay, service setting "
                "or dead cache outside the files llamaflake writes[/]"
            )
        lines = [
            Content.from_markup("[$text-accent]$where[/]  $what", where=where, what=what) for where, what in entries
        ]
        if self.state.preliminary is not None and self.state.preliminary.offers:
            lines.append(
                Content.from_markup("[$text-muted]The caches step offers to remove what the module supersedes.[/]")
            )
        return Content("\n").join(lines)

    def _warnings(self) -> Content:
        state = self.state
        flake = state.loaded_flake
        parts: list[Content] = []
        if state.repo is not None and not state.repo.clean:
            touched = {c.path for c in state.preliminary.changes} if state.preliminary else {"flake.nix"}
            mine = [p for p in state.repo.changed + state.repo.untracked if p in touched]
            others = [p for p in state.repo.changed + state.repo.untracked if p not in touched]
            if others:
                parts.append(
                    Content.from_markup(
                        "[$text-warning]⚠[/] $summary: $detail — these stay as they are and are never committed",
                        summary=state.repo.summary(),
                        detail=", ".join(others[:4]),
                    )
                )
            if mine:
                parts.append(
                    Content.from_markup(
                        "[$text-warning]⚠[/] $detail: changed and not committed, and the change writes "
                        "$them too — the commit step asks whether to include your changes",
                        detail=", ".join(mine[:4]),
                        them="it" if len(mine) == 1 else "them",
                    )
                )
        refused = {r.host: r for r in (state.preliminary.refusals if state.preliminary else [])}
        for host in flake.hosts:
            if host.can_wire and host.name not in refused:
                continue
            refusal = refused.get(host.name)
            reason = refusal.reason if refusal else (host.refusal or "no place found to add the import")
            parts.append(
                Content.from_markup(
                    "[$text-warning]⚠[/] [b]$host[/] cannot be wired: $reason", host=host.name, reason=reason
                )
            )
            if refusal is not None:
                parts.append(
                    Content.from_markup(
                        "    add to $file by hand:  [b]$snippet[/]",
                        file=refusal.file or "its module",
                        snippet=refusal.snippet,
                    )
                )
        if not flake.hosts:
            engine = "; ".join(flake.notes) or "llamaflake's reading of flake.nix finds no nixosConfigurations"
            if state.nix_status == NIX_ASKING:
                parts.append(
                    Content.from_markup(
                        "[$text-muted]⋯[/] no machines found yet. $engine. Nix is asked which machines exist (above)",
                        engine=engine,
                    )
                )
                return Content("\n").join(parts)
            if not state.nix_asked:
                nix = "Nix was not asked (--no-nix): run without it to let Nix list the machines"
            elif state.nix_status == NIX_STOPPED:
                nix = "Nix was stopped before it answered: run llamaflake again to let Nix list the machines"
            elif state.nix_notes:
                nix = "Nix could not list them either: " + "; ".join(state.nix_notes)
            else:
                nix = "Nix lists none either"
            parts.append(
                Content.from_markup(
                    "[$text-error]✗[/] no machines found. $engine. $nix. Check that `nix eval .#nixosConfigurations "
                    "--apply builtins.attrNames` lists them, then run llamaflake again",
                    engine=engine,
                    nix=nix,
                )
            )
        if not parts:
            parts.append(Content.from_markup("[$text-success]✓[/] every machine can be wired"))
        return Content("\n").join(parts)
