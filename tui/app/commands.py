"""Command palette entries for what has no key of its own: rescan hardware, split diff, theme, help."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app.app import LlamaflakeApp


class WizardCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: LlamaflakeApp = self.app  # type: ignore[assignment]  # Textual types self.app as App; this palette is LlamaflakeApp's
        return [
            (
                "Rescan hardware",
                "detect this machine again and re-read every machine's config hints",
                app.action_rescan_hardware,
            ),
            ("Toggle split diff", "show the review's diffs side by side, or unified", app.action_toggle_split),
            ("Toggle light/dark theme", "switch between the light and the dark theme", app.action_toggle_dark),
            ("Help", "the keys of every step", app.action_help),
        ]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(callback), help=help_text)
