"""Plain-data views of what the engine found, for ``--json`` and the wizard."""

from __future__ import annotations

from dataclasses import asdict

from tui.core.errors import LlamaflakeError
from tui.core.nix.flake import Flake
from tui.core.nix.settings import read_machine_settings
from tui.core.plan import Plan, existing_module_dir, machine_path


def current_settings(flake: Flake) -> dict[str, dict]:
    module_dir = existing_module_dir(flake)
    found: dict[str, dict] = {}
    if module_dir is None:
        return found
    for host in flake.hosts:
        rel = machine_path(module_dir, host.name)
        if (flake.root / rel).is_file():
            try:
                settings = read_machine_settings(flake.source_file(rel).source, rel)
            except LlamaflakeError:
                continue
            if settings is not None:
                found[host.name] = {"file": rel, **asdict(settings)}
    return found


def host_report(flake: Flake) -> dict:
    settings = current_settings(flake)
    llama = flake.llama_input()
    return {
        "flake": str(flake.root),
        "llama_cpp_input": None if llama is None else {"name": llama.name, "url": llama.url, "follows": llama.follows},
        "nixpkgs_inputs": flake.nixpkgs_inputs(),
        "hosts": [
            {
                "name": h.name,
                "builder": h.builder,
                "file": h.file,
                "line": h.line,
                "system": h.system,
                "module_files": h.module_files,
                "hardware_modules": h.hardware_modules,
                "inputs_in_modules": h.inputs_in_modules,
                "can_wire": h.can_wire,
                "refusal": h.refusal,
                "llama_cpp": settings.get(h.name),
            }
            for h in flake.hosts
        ],
    }


def plan_report(plan: Plan) -> dict:
    from tui.core.diff import file_diff

    return {
        "flake": str(plan.flake.root),
        "input": {"name": plan.input_name, "follows": plan.follows},
        "module_dir": plan.module_dir,
        "machines": {name: asdict(answer) for name, answer in plan.machines.items()},
        "caches": [{"name": c.name, "url": c.url, "key": c.key} for c in plan.caches],
        "changes": [
            {"path": c.path, "kind": c.kind, "reason": c.reason, "optional": c.optional, "diff": file_diff(c)}
            for c in plan.changes
        ],
        "refusals": [asdict(r) for r in plan.refusals],
        "offers": [asdict(o) for o in plan.offers],
        "notes": plan.notes,
    }
