"""Plain-data views of what the engine found, for ``--json`` and the wizard."""

from __future__ import annotations

from dataclasses import asdict

from tui.core.answers import MachineAnswer, ServeChoice
from tui.core.boundary import name_problem
from tui.core.errors import LlamaflakeError
from tui.core.footprint import machine_path, module_file, read_left_alone
from tui.core.nix.flake import Flake
from tui.core.plan import Plan, existing_module_dir
from tui.core.read_back import read_machine_settings


def current_settings(flake: Flake) -> dict[str, dict]:
    module_dir = existing_module_dir(flake)
    found: dict[str, dict] = {}
    if module_dir is None:
        return found
    for host in flake.hosts:
        if name_problem(host.name) is not None:
            continue
        rel = machine_path(module_dir, host.name)
        if (flake.root / rel).is_file():
            try:
                settings = read_machine_settings(flake.source_file(rel).source, rel)
            except LlamaflakeError:
                continue
            if settings is not None:
                found[host.name] = {"file": rel, **machine_report(settings)}
    return found


def remembered_left_alone(flake: Flake) -> list[str]:
    """The machines the generated module remembers as left alone on purpose ([] without a module)."""
    module_dir = existing_module_dir(flake)
    if module_dir is None:
        return []
    rel = module_file(module_dir)
    try:
        return read_left_alone(flake.source_file(rel).source) if (flake.root / rel).is_file() else []
    except LlamaflakeError:
        return []


def llama_setup(flake: Flake) -> dict:
    """The llama.cpp set-up the repository already has, outside the files llamaflake owns.

    ``packages``: bindings that define or override a llama-cpp package (overlays, ``packages.<system>``);
    ``services``: ``services.llama-cpp`` settings; ``dead_caches``: substituters or keys known to be dead.
    Each entry has its file and line.
    """
    from tui.core.cleanup import dead_cache_strings, dead_cache_values, llama_package_binding
    from tui.core.nix.paths import nix_files
    from tui.core.nix.syntax import attrpath_names, string_value

    owned = existing_module_dir(flake)
    dead = dead_cache_values()
    packages, services, dead_caches = [], [], []
    for rel in nix_files(flake.root):
        if owned and rel.startswith(owned + "/"):
            continue
        try:
            file = flake.source_file(rel)
        except LlamaflakeError:
            continue
        for node in file.tree.walk():
            if node.kind == "NODE_ATTRPATH_VALUE":
                path = attrpath_names(node.nodes()[0]) or []
                if path[:2] == ["services", "llama-cpp"] or (path == ["services"] and _sets_llama_service(node)):
                    services.append({"file": rel, "line": file.line(node), "setting": ".".join(path)})
                elif rel != "flake.nix" and llama_package_binding(path):
                    packages.append({"file": rel, "line": file.line(node), "name": ".".join(path)})
        for node in dead_cache_strings(file.tree, dead):
            dead_caches.append({"file": rel, "line": file.line(node), "value": string_value(node)})
    return {"packages": packages, "services": services, "dead_caches": dead_caches}


def setup_entries(flake: Flake) -> list[tuple[str, str]]:
    """The llama.cpp set-up the repository already has, one ``(file:line, what it is)`` pair each, as the wizard
    lists it: the llama.cpp input, then what :func:`llama_setup` finds (what ``llamaflake hosts`` prints)."""
    entries = []
    llama = flake.llama_input()
    if llama is not None:
        file = flake.file_of(llama.nodes[0]) if llama.nodes else None
        where = f"{file.rel}:{file.line(llama.nodes[0])}" if file is not None else "flake.nix"
        follows = llama.follows.get("nixpkgs")
        entries.append(
            (
                where,
                f"llama.cpp flake input {llama.name} = {llama.url or '?'}"
                + (f", follows {follows}" if follows else ""),
            )
        )
    setup = llama_setup(flake)
    for item in setup["packages"]:
        entries.append((f"{item['file']}:{item['line']}", f"package {item['name']} (hand-written)"))
    for item in setup["services"]:
        entries.append((f"{item['file']}:{item['line']}", f"{item['setting']}, nixpkgs' llama.cpp service"))
    for item in setup["dead_caches"]:
        value = item["value"]
        if "://" in value:
            entries.append((f"{item['file']}:{item['line']}", f"dead cache {value}"))
        else:  # a public key: its name says which cache, the rest is the key itself
            entries.append((f"{item['file']}:{item['line']}", f"dead cache's key {value.split(':', 1)[0]}:…"))
    return entries


def _sets_llama_service(node) -> bool:
    from tui.core.nix.syntax import bindings, unwrap

    value = unwrap(node.nodes()[-1])
    return (
        value is not None
        and value.kind == "NODE_ATTR_SET"
        and any(b.path and b.path[0] == "llama-cpp" for b in bindings(value))
    )


def host_report(flake: Flake) -> dict:
    """Everything ``llamaflake hosts`` shows: the inputs, what llama.cpp set-up exists, and per host how it
    is built, its module files, whether it can be wired automatically (and if not why, with the snippet to
    add by hand) and its current llama.cpp settings. Where the module's folder is known, each machine's
    wiring is the engine's answer that ``plan`` acts on (:func:`tui.core.nix.wiring.wiring_of`)."""
    from tui.core.errors import AnswerError
    from tui.core.nix.wiring import wiring_of
    from tui.core.plan import choose_module_dir

    settings = current_settings(flake)
    left_alone = set(remembered_left_alone(flake))
    llama = flake.llama_input()
    setup = llama_setup(flake)
    try:
        module_dir = choose_module_dir(flake, None)
    except AnswerError:
        module_dir = None

    def wiring(h) -> dict:
        """Whether the host can be wired, why not, and what to add by hand and where: without the module's
        folder, what the host finder saw."""
        if module_dir is None:
            return {
                "can_wire": h.can_wire,
                "wired_from": None,
                "refusal": h.refusal,
                "snippet": None if h.can_wire else h.snippet,
                "snippet_file": None if h.can_wire else h.snippet_file,
                "imports_settings_of": [],
            }
        found = wiring_of(flake, h, machine_path(module_dir, h.name), requested=False)
        refusal = found.refusal
        return {
            "can_wire": found.can_wire,
            "wired_from": found.wired_from,
            "refusal": None if refusal is None else refusal.reason,
            "snippet": None if refusal is None else refusal.snippet,
            "snippet_file": None if refusal is None else refusal.file,
            "imports_settings_of": [
                {"machine": other, "file": file, "settings": path} for other, file, path in found.foreign
            ],
        }

    service_files = {entry["file"] for entry in setup["services"]}
    hosts = []
    for h in flake.hosts:
        wired = wiring(h)
        hosts.append(
            {
                "name": h.name,
                "builder": h.builder,
                "layout": h.layout,
                "file": h.file,
                "line": h.line,
                "system": h.system,
                "module_files": h.module_files,
                "own_file": h.own_file,
                "shared_module_files": h.shared_module_files,
                "hardware_modules": h.hardware_modules,
                "inputs_in_modules": h.inputs_in_modules,
                "can_wire": wired["can_wire"],
                "wired_from": wired["wired_from"],
                "attach": None if h.attach is None else {"kind": h.attach.kind, "file": h.attach.file},
                "gives_inputs": None
                if h.access is None or not h.can_wire
                else {
                    "file": h.access.file,
                    "add": h.access.snippet,
                },
                "refusal": wired["refusal"],
                "snippet": wired["snippet"],
                "snippet_file": wired["snippet_file"],
                "llama_cpp": settings.get(h.name),
                "left_alone": h.name in left_alone and h.name not in settings,
                "imports_settings_of": wired["imports_settings_of"],
                "llama_cpp_service_in": sorted(service_files.intersection(h.module_files)),
            }
        )
    return {
        "flake": str(flake.root),
        "llama_cpp_input": None
        if llama is None
        else {
            "name": llama.name,
            "url": llama.url,
            "follows": llama.follows,
            "style": llama.style,
        },
        "nixpkgs_inputs": flake.nixpkgs_inputs(),
        "llama_cpp_setup": setup,
        "notes": flake.notes,
        "hosts": hosts,
    }


def serve_report(serve: ServeChoice | None) -> dict | None:
    """A machine's served model as plain data: the repository, the commit, the file llama-server is given, its
    sha256 and size (null where it is not known: pinned without a look-up), every part of a split model."""
    if serve is None:
        return None
    model = serve.model
    return {
        "model": {
            "repo": model.repo,
            "revision": model.revision,
            "file": model.name,
            "sha256": model.files[0].sha256,
            "size": model.size or None,
            "files": [{"name": f.name, "sha256": f.sha256, "size": f.size or None} for f in model.files],
        },
        "host": serve.host,
        "port": serve.port,
        "open_firewall": serve.open_firewall,
        "context": serve.context,
    }


def machine_report(answer: MachineAnswer) -> dict:
    """One machine's answer as plain data; ``serve`` is null where it serves no model."""
    return asdict(answer) | {"serve": serve_report(answer.serve)}


def plan_report(plan: Plan) -> dict:
    from tui.core.diff import file_diff

    return {
        "flake": str(plan.flake.root),
        "input": {"name": plan.input_name, "follows": plan.follows},
        "module_dir": plan.module_dir,
        "machines": {name: machine_report(answer) for name, answer in plan.machines.items()},
        "caches": [{"name": c.name, "url": c.url, "key": c.key} for c in plan.caches],
        "changes": [
            {"path": c.path, "kind": c.kind, "reason": c.reason, "optional": c.optional, "diff": file_diff(c)}
            for c in plan.changes
        ],
        "refusals": [asdict(r) for r in plan.refusals],
        "offers": [asdict(o) for o in plan.offers],
        "notes": plan.notes,
        "warnings": plan.warnings,
    }
