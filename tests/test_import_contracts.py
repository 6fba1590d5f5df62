"""The layers of the code, checked on every import between its files (top-level or inside a function):
no circles, the core never reaches up into the wizard or the command line, the Nix engine knows nothing of
plans, templates or hardware, and hardware detection knows nothing of answers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_graph() -> dict[str, set[str]]:
    """Each module of ``tui`` and the modules of ``tui`` it imports (imports under TYPE_CHECKING are not run)."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "tui").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        for block in [
            n for n in ast.walk(tree) if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"
        ]:
            block.body = []
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([module] if module else []))
                if module.startswith("tui"):
                    targets.add(module)
                    targets.update(f"{module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("tui"))
        graph[name] = targets
    modules = set(graph)
    return {m: {t for t in ts if t in modules and t != m} for m, ts in graph.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or around a circle (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def imports_of(graph: dict[str, set[str]], layer: str) -> dict[str, set[str]]:
    return {m: ts for m, ts in graph.items() if m == layer or m.startswith(layer + ".")}


def breaches(graph: dict[str, set[str]], layer: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{m} -> {t}"
        for m, ts in imports_of(graph, layer).items()
        for t in ts
        if any(t == f or t.startswith(f + ".") for f in forbidden)
    )


def test_no_module_is_part_of_an_import_circle():
    assert circles(import_graph()) == []


def test_the_core_never_imports_the_wizard_or_the_command_line():
    assert breaches(import_graph(), "tui.core", ("tui.app", "tui.commands", "tui.cli", "tui.__main__")) == []


def test_the_nix_engine_imports_only_itself_and_the_errors():
    graph = import_graph()
    outside = sorted(
        f"{m} -> {t}"
        for m, ts in imports_of(graph, "tui.core.nix").items()
        for t in ts
        if not t.startswith("tui.core.nix") and t not in ("tui", "tui.core", "tui.core.errors")
    )
    assert outside == []


def test_hardware_detection_knows_nothing_of_answers_plans_or_templates():
    forbidden = ("tui.core.answers", "tui.core.plan", "tui.core.render", "tui.core.read_back", "tui.core.apply")
    assert breaches(import_graph(), "tui.core.hardware", forbidden) == []


def test_the_checks_see_circles_and_breaches():
    """The checks above would fail on a circle or a breach (they cannot pass vacuously)."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert breaches({"tui.core.x": {"tui.app.app"}}, "tui.core", ("tui.app",)) == ["tui.core.x -> tui.app.app"]
    real = import_graph()
    assert "tui.core.nix.syntax" in real["tui.core.plan"] and "tui.core.plan" in real["tui.core.report"]
