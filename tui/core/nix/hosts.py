"""Finding every machine in ``nixosConfigurations`` and how it is built."""

from __future__ import annotations

from tui.core.errors import LlamaflakeError
from tui.core.nix.flake import Attach, Flake, Host, SourceFile, relative_path
from tui.core.nix.syntax import Node, bindings, inherited_names, relative_path_literal, select_path, string_value, unwrap


def find_hosts(flake: Flake) -> list[Host]:
    """Every host the engine can see in the flake's outputs, in source order."""
    hosts: list[Host] = []
    if flake.outputs is None:
        return hosts
    file = flake.file
    for node in flake.outputs.walk():
        if node.kind not in ("NODE_ATTRPATH_VALUE",):
            continue
        parts = node.nodes()
        if not parts or parts[0].kind != "NODE_ATTRPATH":
            continue
        from tui.core.nix.syntax import attrpath_names

        path = attrpath_names(parts[0])
        if not path or "nixosConfigurations" not in path:
            continue
        rest = path[path.index("nixosConfigurations") + 1 :]
        value = parts[1] if len(parts) > 1 else None
        if len(rest) == 1:
            hosts.append(host_from_expression(flake, file, rest[0], value, node))
        elif not rest:
            inner = unwrap(value)
            if inner is not None and inner.kind in ("NODE_ATTR_SET",):
                for b in bindings(inner):
                    if b.path and len(b.path) == 1:
                        hosts.append(host_from_expression(flake, file, b.path[0], b.value, b.node))
    return hosts


def apply_chain(node: Node | None) -> tuple[Node | None, list[Node]]:
    """``f a b`` as (f, [a, b])."""
    args: list[Node] = []
    node = unwrap(node)
    while node is not None and node.kind == "NODE_APPLY":
        fn, arg = node.nodes()[0], node.nodes()[1]
        args.insert(0, arg)
        node = unwrap(fn)
    return node, args


def host_from_expression(flake: Flake, file: SourceFile, name: str, value: Node | None, where: Node) -> Host:
    fn, args = apply_chain(value)
    fn_path = select_path(fn) if fn is not None else None
    host = Host(name=name, builder="unknown", file=file.rel, line=file.line(where))
    if fn_path and fn_path[-1] == "nixosSystem" and args:
        host.builder = ".".join(fn_path)
        read_nixos_system_args(flake, file, host, unwrap(args[-1]))
        return host
    if fn_path:
        host.builder = f"helper {'.'.join(fn_path)}"
        host.refusal = f"built by the function `{'.'.join(fn_path)}`, which the engine does not read yet"
    else:
        host.refusal = "built by an expression the engine does not understand"
    return host


def read_nixos_system_args(flake: Flake, file: SourceFile, host: Host, arg: Node | None) -> None:
    """Fill ``host`` from the attribute set given to ``nixosSystem``."""
    if arg is None or arg.kind != "NODE_ATTR_SET":
        host.refusal = "the argument of nixosSystem is not an attribute set the engine can read"
        return
    modules_lists: list[Node] = []
    for b in bindings(arg):
        if b.path == ["system"]:
            host.system = string_value(b.value)
        elif b.path == ["modules"]:
            modules_lists = list_literals(b.value)
        elif b.path == ["specialArgs"]:
            host.inputs_in_modules = passes_inputs(b.value)
        elif b.path and b.path[0] == "specialArgs" and b.path[1:] == ["inputs"]:
            host.inputs_in_modules = True
    for lst in modules_lists:
        for item in lst.nodes():
            read_module_item(flake, file, host, item)
    if host.inputs_in_modules is None:
        host.inputs_in_modules = False
    if modules_lists:
        host.attach = Attach("modules-list", file.rel, modules_lists[-1])
    else:
        host.refusal = "its nixosSystem call has no `modules = [ ... ];` list the engine can add to"
    if host.system is None:
        host.system = system_from_files(flake, host.module_files)


def list_literals(node: Node | None) -> list[Node]:
    """The list literals of ``[ ... ]`` or ``[ ... ] ++ [ ... ] ++ shared``."""
    node = unwrap(node)
    if node is None:
        return []
    if node.kind == "NODE_LIST":
        return [node]
    if node.kind == "NODE_BIN_OP":
        found = []
        for part in node.nodes():
            found.extend(list_literals(part))
        return found
    return []


def passes_inputs(node: Node | None) -> bool:
    node = unwrap(node)
    if node is None or node.kind != "NODE_ATTR_SET":
        return False
    if any(name == "inputs" for name, _ in inherited_names(node)):
        return True
    return any(b.path == ["inputs"] for b in bindings(node))


def read_module_item(flake: Flake, file: SourceFile, host: Host, item: Node) -> None:
    item = unwrap(item)
    if item is None:
        return
    if relative_path_literal(item):
        rel = relative_path(file.rel, item.text)
        if rel is None:
            return
        target = flake.root / rel
        if target.is_dir():
            rel = f"{rel}/default.nix"
        host.modules_literal.append(item.text)
        if (flake.root / rel).is_file():
            host.module_files.append(rel)
        return
    path = select_path(item)
    if path and "nixosModules" in path:
        host.hardware_modules.append(".".join(path))
        return
    if item.kind == "NODE_ATTR_SET":
        for b in bindings(item):
            if b.path and b.path[:2] == ["_module", "args"]:
                if b.path[2:] == ["inputs"] or (len(b.path) == 2 and passes_inputs(b.value)):
                    host.inputs_in_modules = True


def system_from_files(flake: Flake, files: list[str]) -> str | None:
    """``nixpkgs.hostPlatform`` set in one of the host's own files (``lib.mkDefault "..."`` too)."""
    for rel in files:
        try:
            source = flake.source_file(rel)
        except LlamaflakeError:
            continue
        for node in source.tree.walk():
            if node.kind != "NODE_ATTRPATH_VALUE":
                continue
            parts = node.nodes()
            from tui.core.nix.syntax import attrpath_names

            path = attrpath_names(parts[0]) if parts and parts[0].kind == "NODE_ATTRPATH" else None
            if path in (["nixpkgs", "hostPlatform"], ["hostPlatform"], ["nixpkgs", "system"]):
                value = unwrap(parts[1]) if len(parts) > 1 else None
                text = string_value(value)
                if text is None and value is not None and value.kind == "NODE_APPLY":
                    text = string_value(value.nodes()[-1])
                if text:
                    return text
    return None
