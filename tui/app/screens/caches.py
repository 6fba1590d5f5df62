"""The caches step: the known binary caches with what each provides and whether it still works, a custom one."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from tui.app.screens.base import StepScreen
from tui.app.text import plain
from tui.core.caches import Cache, custom_cache, key_problem, known_caches, url_problem
from tui.core.errors import LlamaflakeError

NOTE = (
    "No cache has llama.cpp itself: it is always built on your machine (minutes for CPU and Vulkan, "
    "longer for CUDA). A cache can only save building its dependencies, such as the CUDA toolkit. "
    "New substituters apply only after the first switch, so the first rebuild needs them on its command line."
)

STATUS_STYLE = {
    "current": "$text-success",
    "no-cuda": "$text-warning",
    "dead": "$text-error",
    "custom": "$text-primary",
}


def cache_prompt(cache: Cache) -> Content:
    style = STATUS_STYLE.get(cache.status, "$text-muted")
    mark = "✗ " if cache.status == "dead" else ""
    return Content.from_markup(
        f"[b]$title[/]  [dim]$url[/]  [{style}]$mark$status[/]",
        title=cache.title or cache.name,
        url=cache.url,
        mark=mark,
        status=cache.status_words,
    )


class CachesScreen(StepScreen):
    DEFAULT_CSS = """
    #caches {
        height: auto;
        max-height: 12;
    }

    #custom-cache {
        height: auto;
    }

    .custom-field {
        width: 1fr;
        height: auto;
    }

    #custom-add {
        min-width: 8;
        margin: 0 0 0 1;
    }

    #offers {
        height: auto;
    }
    """
    BINDINGS = [Binding("ctrl+o", "add_custom", "Add cache", priority=True)]
    MAIN_CONTROL = "#caches"

    def body(self) -> ComposeResult:
        yield Label("Binary caches", classes="step-title")
        yield Static(NOTE, id="cache-note", classes="note")
        yield SelectionList[str](id="caches")
        yield Static("", id="cache-detail")
        yield Label("Custom cache", classes="section-title")
        with Horizontal(id="custom-cache"):
            with Vertical(classes="custom-field"):
                yield Input(placeholder="https://example.cachix.org", id="custom-url")
                yield Static("", id="url-problem", classes="problem")
            with Vertical(classes="custom-field"):
                yield Input(placeholder="example.cachix.org-1:BASE64…", id="custom-key")
                yield Static("", id="key-problem", classes="problem")
            yield Button("Add", id="custom-add")
        yield Label("First rebuild", classes="section-title")
        yield Static("", id="first-rebuild")
        yield Vertical(id="offers")

    def on_mount(self) -> None:
        self._filling = True
        self._fill_list()
        self._show_offers()
        super().on_mount()  # focuses the list once it has its caches: the first one is highlighted
        self._show_detail(self._all_caches()[0].url)
        self.call_after_refresh(self._done_filling)

    def _done_filling(self) -> None:
        self._filling = False

    def _all_caches(self) -> list[Cache]:
        caches = known_caches()
        known_urls = {c.url for c in caches}
        for cache in [*self.state.custom_caches, *self.state.chosen_caches()]:
            if cache.url not in known_urls:
                caches.append(cache)
                known_urls.add(cache.url)
        return caches

    def _fill_list(self) -> None:
        chosen = {c.url for c in self.state.chosen_caches()}
        if self.state.caches is None:  # the defaults, which follow the machines: remembered to say when they change
            self.state.caches_shown = sorted(chosen)
        selection_list = self.query_one("#caches", SelectionList)
        highlighted = selection_list.highlighted or 0
        selection_list.clear_options()
        selection_list.add_options(
            [
                Selection(cache_prompt(c), c.url, c.url in chosen and c.usable, disabled=not c.usable)
                for c in self._all_caches()
            ]
        )
        selection_list.highlighted = min(highlighted, selection_list.option_count - 1)  # the cache the detail shows
        self._show_first_rebuild()

    def _show_offers(self) -> None:
        offers = self.state.preliminary.offers if self.state.preliminary else []
        box = self.query_one("#offers", Vertical)
        if not offers:
            return
        box.mount(Label("Found in your configuration", classes="section-title"))
        lines = Content("\n").join(Content.from_markup("[$text-warning]⚠[/] $t", t=o.title) for o in offers)
        box.mount(Static(lines, id="offer-list"))
        box.mount(
            Checkbox("Remove these too (shown as their own changes in the review)", self.state.cleanup, id="cleanup")
        )

    @on(SelectionList.SelectionHighlighted, "#caches")
    def cache_highlighted(self, event: SelectionList.SelectionHighlighted) -> None:
        self._show_detail(event.selection.value)

    def _show_detail(self, url: str) -> None:
        cache = next((c for c in self._all_caches() if c.url == url), None)
        if cache is not None:
            self.query_one("#cache-detail", Static).update(
                Content.from_markup(
                    "[b]$title[/]: $provides\n[dim]key $key[/]",
                    title=cache.title or cache.name,
                    provides=cache.provides or "—",
                    key=cache.key,
                )
            )

    @on(Checkbox.Changed, "#cleanup")
    def cleanup_changed(self, event: Checkbox.Changed) -> None:
        self.state.cleanup = event.value

    @on(SelectionList.SelectedChanged, "#caches")
    def selection_changed(self) -> None:
        if getattr(self, "_filling", False):
            return
        selected = set(self.query_one("#caches", SelectionList).selected)
        self.state.caches = [c for c in self._all_caches() if c.url in selected]
        self._show_first_rebuild()

    def _show_first_rebuild(self) -> None:
        from tui.core.next_steps import caches_serving, rebuild_line

        caches = self.state.chosen_caches()
        widget = self.query_one("#first-rebuild", Static)
        if not caches:
            widget.update(Content.from_markup("[dim]No caches chosen: the first rebuild needs no extra options.[/]"))
            return
        # The example is a machine that uses a chosen cache: its variant is one the cache serves.
        machine = next((m for m in self.state.machines.values() if caches_serving(caches, m.variant)), None)
        if machine is None:
            served = sorted({v for c in caches for v in c.variants})
            widget.update(
                Content.from_markup(
                    "[dim]No machine uses these caches as the machines are now (they serve $variants builds).[/]",
                    variants=" and ".join(served) or "all",
                )
            )
            return
        widget.update(
            Content.from_markup(
                "Until the first switch, rebuild $host ($variant) with:\n[b]$line[/]",
                host=machine.name,
                variant=machine.variant,
                line=rebuild_line(machine.name, machine.variant, caches),
            )
        )

    @on(Input.Changed, "#custom-url")
    def url_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.query_one("#url-problem", Static).update(plain((url_problem(value) or "✓") if value else ""))

    @on(Input.Changed, "#custom-key")
    def key_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.query_one("#key-problem", Static).update(plain((key_problem(value) or "✓") if value else ""))

    @on(Input.Submitted, "#custom-key")
    @on(Button.Pressed, "#custom-add")
    def action_add_custom(self) -> None:
        url = self.query_one("#custom-url", Input).value.strip()
        key = self.query_one("#custom-key", Input).value.strip()
        try:
            cache = custom_cache(f"{url}={key}")
        except LlamaflakeError as exc:
            self.notify(exc.message, severity="error", title="Custom cache")
            return
        if cache.url not in {c.url for c in self.state.custom_caches}:
            self.state.custom_caches.append(cache)
        chosen = self.state.chosen_caches()
        if cache.url not in {c.url for c in chosen}:
            self.state.caches = [*chosen, cache]
        self._filling = True
        self._fill_list()
        self.call_after_refresh(self._done_filling)
        self.query_one("#custom-url", Input).value = ""
        self.query_one("#custom-key", Input).value = ""
        self.notify(f"Added {cache.url}", title="Custom cache")

    def ready_to_leave(self) -> bool:
        url = self.query_one("#custom-url", Input).value.strip()
        key = self.query_one("#custom-key", Input).value.strip()
        if url or key:
            self.notify("Add the custom cache (ctrl+o) or clear its fields first.", severity="warning")
            return False
        return True
