"""The core is usable without a terminal: none of it imports Textual; the wizard starts without the engine."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "tui.core.plan",
    "tui.core.apply",
    "tui.core.hunks",
    "tui.core.input_preview",
    "tui.core.next_steps",
    "tui.core.repo_status",
    "tui.core.report",
    "tui.core.cleanup",
    "tui.core.verify",
    "tui.core.hardware.model",
    "tui.cli",
]


def loaded_after(imports: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in imports) + "print('\\n'.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_core_never_imports_textual():
    modules = loaded_after(CORE_MODULES)
    assert not {m for m in modules if m == "textual" or m.startswith("textual.")}


def test_wizard_start_up_leaves_the_engine_for_later():
    modules = loaded_after(["tui.app.main", "tui.app.app", "tui.app.screens.repository"])
    heavy_modules = (
        "jinja2",
        "git",
        "tui.core.plan",
        "tui.core.nix.syntax",
        "textual_diff_view",
        "textual.widgets._data_table",
    )  # the table of machines is made once the flake is read
    for heavy in heavy_modules:
        assert heavy not in modules, f"{heavy} is imported before the first screen"
    from tui.app.steps import STEPS

    for step in STEPS[1:]:  # a later step's screen is imported when it is first shown
        module = step.screen.partition(":")[0]
        assert module not in modules, f"{module} is imported before its step"
