"""The core is usable without a terminal: none of it imports Textual; the wizard starts without the engine."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "tui.core.plan", "tui.core.apply", "tui.core.hunks", "tui.core.input_preview", "tui.core.next_steps",
    "tui.core.repo_status", "tui.core.report", "tui.core.cleanup", "tui.core.hardware.model", "tui.cli",
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
    for heavy in ("jinja2", "git", "tui.core.plan", "tui.core.nix.syntax", "textual_diff_view"):
        assert heavy not in modules, f"{heavy} is imported before the first screen"


def test_the_nix_engine_has_no_import_cycle():
    """Every import between the engine's modules, top-level or inside a function, points one way."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    package = root / "tui" / "core" / "nix"
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        targets = set()
        tree = ast.parse(path.read_text())
        for block in [n for n in ast.walk(tree) if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"]:
            block.body = []  # imports for type annotations only are not run
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tui.core.nix"):
                targets.add(node.module)
                targets.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("tui.core.nix"))
        graph[name] = targets
    modules = set(graph)
    graph = {m: {t for t in ts if t in modules and t != m} for m, ts in graph.items()}

    def cycle_from(start: str, seen: tuple[str, ...]) -> tuple[str, ...] | None:
        for target in sorted(graph[start]):
            if target in seen:
                return seen[seen.index(target):] + (target,)
            found = cycle_from(target, seen + (target,))
            if found:
                return found
        return None

    for module in sorted(graph):
        assert cycle_from(module, (module,)) is None, " -> ".join(cycle_from(module, (module,)))
