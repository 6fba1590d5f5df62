"""Hardware detection (this machine, saved reports, SSH, configuration hints) and the build it suggests.

The public functions are imported on first use, so that ``llamaflake detect`` starts fast.
"""

from __future__ import annotations

from tui.core.hardware.model import CpuInfo, GpuInfo, HardwareReport, Hint, Recommendation

_LAZY = {
    "detect_this_machine": "tui.core.hardware.this_machine",
    "load_report": "tui.core.hardware.reports",
    "report_from_data": "tui.core.hardware.reports",
    "scan_over_ssh": "tui.core.hardware.ssh",
    "hints_from_config": "tui.core.hardware.hints",
    "recommend": "tui.core.hardware.recommendation",
}

__all__ = ["CpuInfo", "GpuInfo", "HardwareReport", "Hint", "Recommendation", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
