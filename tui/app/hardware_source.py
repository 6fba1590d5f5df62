"""The one place the wizard reaches the hardware API: this machine, reports, SSH scans, config hints.

The app takes a :class:`HardwareSource` in its constructor, so tests and screenshots can give it
fixed hardware. The default one imports ``tui.core.hardware`` only when first asked, and where that
API is missing it answers with empty reports that say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.core.hardware.model import HardwareReport, Recommendation, ReportSource
    from tui.core.nix.flake import Flake

MISSING = "hardware detection is not available in this build"
_CUDA_RELEASES: dict[tuple[Path, str | None], str | None] = {}  # (flake folder, follows) -> CUDA release


class HardwareSource:
    """Hardware facts for the wizard, from ``tui.core.hardware``."""

    @staticmethod
    def _empty(source: ReportSource) -> HardwareReport:
        from tui.core.hardware.model import HardwareReport

        return HardwareReport(source=source, notes=[MISSING])

    def _api(self, name: str):
        try:
            from tui.core import hardware
        except ImportError:  # pragma: no cover - the package is always there; its API may not be
            return None
        return getattr(hardware, name, None)

    def this_machine(self) -> HardwareReport:
        """Detect the machine the wizard runs on."""
        detect = self._api("detect_this_machine")
        if detect is None:
            return self._empty("detected")
        return detect()

    def hints(self, flake: Flake, host: str) -> HardwareReport:
        """What the machine ``host``'s own configuration says about its hardware."""
        hints = self._api("hints_from_config")
        found = flake.host(host)
        if hints is None or found is None:
            return self._empty("hints")
        return hints(flake, found)

    def import_report(self, path: Path) -> HardwareReport:
        """A hardware report file (llamaflake's own, or nixos-facter's)."""
        load = self._api("load_report")
        if load is None:
            return self._empty("report")
        return load(path)

    def scan_ssh(self, host: str) -> HardwareReport:
        """Scan another machine over SSH."""
        scan = self._api("scan_over_ssh")
        if scan is None:
            return self._empty("ssh")
        return scan(host)

    def cuda_release(self, flake: Flake, follows: str | None) -> str | None:
        """The CUDA release of the nixpkgs llama.cpp will follow (``follows`` as the user answered it),
        read with Nix once per answer; None where Nix cannot tell."""
        key = (flake.root, follows)
        if key not in _CUDA_RELEASES:
            from tui.core.plan import follows_cuda_release

            _CUDA_RELEASES[key] = follows_cuda_release(flake, follows)[0]
        return _CUDA_RELEASES[key]

    def recommend(
        self, report: HardwareReport | None, system: str | None, cuda_version: str | None = None
    ) -> Recommendation:
        """The llama.cpp build for what is known of a machine (``cuda_version``: its nixpkgs' CUDA release)."""
        recommend = self._api("recommend")
        if recommend is None:
            from tui.core.hardware.model import Recommendation

            return Recommendation(
                variant="cpu",
                all_variants=True,
                reasons=["hardware not known: portable CPU build (every variant, picked at run time)"],
                confidence="none",
            )
        return recommend(report, system, cuda_version)
