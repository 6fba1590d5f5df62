"""Finding every machine in ``nixosConfigurations``, how it is built, and where its settings can attach.

The flake's ``outputs`` are followed with the small evaluator in :mod:`tui.core.nix.evaluate`: literal
``nixosSystem`` calls, ``lib`` aliases, helper functions in ``flake.nix`` or imported files,
``mapAttrs``/``genAttrs``/``listToAttrs`` over literal lists or ``readDir``, flake-parts modules and
snowfall-lib's ``systems/<arch>/<host>`` tree. For each host the finder decides one place to attach
the machine's settings: its own ``modules`` list when the ``nixosSystem`` call is written for that host
alone, otherwise the ``imports`` of the module file that belongs to that host alone. A list shared by
every host is never used. Where it cannot be sure, the host is refused with the reason and the snippet.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TypeGuard

from tui.core.errors import LlamaflakeError
from tui.core.nix.evaluate import Evaluator
from tui.core.nix.imports import import_closure
from tui.core.nix.model import Access, AccessKind, Attach, Flake, Host, SourceFile, outputs_pattern
from tui.core.nix.paths import nix_files, relative_path
from tui.core.nix.recognisers.snowfall import SnowfallFlake, snowfall_hosts, uses_snowfall
from tui.core.nix.syntax import (
    Node,
    attrpath_names,
    bindings,
    inherited_names,
    nix_relative_path,
    select_path,
    string_value,
    unwrap,
)
from tui.core.nix.values import (
    AttrsValue,
    External,
    FlakeInputs,
    Lambda,
    ListValue,
    PathValue,
    SystemCall,
    Thunk,
    Unknown,
    as_path,
)

GENERATED_FILES = {"hardware-configuration.nix"}


@dataclass
class _Found:
    """What the finder learnt about one host before choosing where to attach."""

    host: Host
    call: SystemCall | None = None
    binding: Node | None = None  # the host's own binding in nixosConfigurations, if it has one
    literal_lists: list[tuple[SourceFile, Node]] = field(default_factory=list)  # per-host modules lists
    dynamic_paths: list[str] = field(default_factory=list)  # module paths built from the host's name
    missing_paths: list[str] = field(default_factory=list)
    # every list literal written in its nixosSystem call's `modules`, with the name there that holds the host's name
    module_lists: list[tuple[SourceFile, Node, str | None]] = field(default_factory=list)
    call_site_list: tuple[SourceFile, Node] | None = (
        None  # a modules list written for it where its unfollowed builder is called
    )
    # lists the builder splices into its modules from elsewhere: `++ (host.imports or [])` of a host descriptor
    spliced_lists: list[tuple[SourceFile, Node]] = field(default_factory=list)


def find_hosts(flake: Flake) -> list[Host]:
    """Every host the engine can see in the flake's outputs, in source order."""
    if flake.outputs is None:
        return []
    evaluator = Evaluator(flake)
    try:
        outputs = evaluator.outputs_of(flake.outputs, flake.file)
    except RecursionError:
        outputs = Unknown("the expressions nest too deeply")
    if isinstance(outputs, SnowfallFlake) or (not isinstance(outputs, AttrsValue) and uses_snowfall(flake)):
        root = outputs.root if isinstance(outputs, SnowfallFlake) else "."
        prefix = "" if root in (".", "") else root.rstrip("/") + "/"
        flake.auto_imported.append(prefix + "modules/nixos")  # every module there is in every system
        return _snowfall(flake, root)
    if not isinstance(outputs, AttrsValue):
        reason = outputs.reason if isinstance(outputs, Unknown) else "an expression"
        flake.notes.append(f"flake.nix: the engine cannot follow `outputs` ({reason})")
        return []
    configs_thunk = outputs.attrs.get("nixosConfigurations")
    if configs_thunk is None:
        flake.notes.append("the flake's outputs have no nixosConfigurations the engine can see")
        return []
    configs = evaluator.force(configs_thunk)
    configs_where = outputs.where.get("nixosConfigurations")
    if not isinstance(configs, AttrsValue):
        reason = configs.reason if isinstance(configs, Unknown) else "a value it cannot read"
        flake.notes.append(f"nixosConfigurations: the engine cannot list the hosts ({reason})")
        return []
    if configs.open:
        flake.notes.append("nixosConfigurations: some hosts may be missing (names the engine cannot see)")
    generated_by = _enumerator(configs_where)
    found: list[_Found] = []
    for name, thunk in configs.attrs.items():
        binding = configs.where.get(name)
        try:
            item = _read_host(flake, evaluator, name, thunk, binding, configs_where, generated_by)
        except RecursionError:
            file, line = _line(flake, binding or configs_where)
            host = Host(
                name=name,
                builder="unknown",
                file=file,
                line=line,
                layout="unknown",
                modules_known=False,
                refusal="the expressions that build this host nest too deeply for the engine to follow",
            )
            item = _Found(host)
        if item is not None:
            found.append(item)
    _choose_attach(flake, evaluator, found, names_unseen=configs.open)
    if getattr(outputs, "origin", None) == "flake-parts":
        for item in found:
            item.host.builder = f"flake-parts: {item.host.builder}"
    return [item.host for item in found]


def _enumerator(where: Node | None) -> str | None:
    """``mapAttrs``/``genAttrs``/... when nixosConfigurations is generated by such a call."""
    if where is None or where.kind != "NODE_ATTRPATH_VALUE":
        return None
    path = attrpath_names(where.nodes()[0]) or []
    if path[-1:] != ["nixosConfigurations"]:
        return None
    value = unwrap(where.nodes()[-1])
    fn, _args = apply_chain(value)
    fn_path = select_path(fn) if fn is not None else None
    return fn_path[-1] if fn_path else None


def apply_chain(node: Node | None) -> tuple[Node | None, list[Node]]:
    """``f a b`` as (f, [a, b])."""
    args: list[Node] = []
    node = unwrap(node)
    while node is not None and node.kind == "NODE_APPLY":
        fn, arg = node.nodes()[0], node.nodes()[1]
        args.insert(0, arg)
        node = unwrap(fn)
    return node, args


def _line(flake: Flake, node: Node | None) -> tuple[str, int]:
    if node is None:
        return "flake.nix", 1
    file = flake.file_of(node)
    if file is None:
        return "flake.nix", 1
    return file.rel, file.line(node)


def _inside(node: Node | None, container: Node | None) -> TypeGuard[Node]:
    return (
        node is not None
        and container is not None
        and node.source is container.source
        and container.start <= node.start
        and node.end <= container.end
    )


def _read_host(
    flake: Flake,
    ev: Evaluator,
    name: str,
    thunk: Thunk,
    binding: Node | None,
    configs_where: Node | None,
    generated_by: str | None,
) -> _Found | None:
    where: Node | None
    if binding is not None and binding.kind == "NODE_ATTRPATH_VALUE":
        where = binding
        if attrpath_names(binding.nodes()[0]) is None:
            binding = None  # `${name} = nixosSystem { ... }`: written once for every machine a function makes
    else:
        where = binding if binding is not None else configs_where
        binding = None if binding is None or binding.kind != "NODE_INHERIT" else binding
    file, line = _line(flake, where)
    host = Host(name=name, builder="unknown", file=file, line=line)
    item = _Found(host, binding=binding)
    value = ev.force(thunk)
    if not isinstance(value, SystemCall):
        host.modules_known = False
        helper = _helper_name(binding)
        host.layout = "helper" if helper else ("generated" if generated_by else "unknown")
        host.builder = f"{helper} (not followed)" if helper else (generated_by or "unknown")
        reason = value.reason if isinstance(value, Unknown) else f"a {type(value).__name__}"
        host.refusal = f"the engine cannot follow how this host is built to a nixosSystem call ({reason})"
        item.call_site_list = _call_site_list(flake, ev, item, thunk)
        return item
    item.call = value
    host.nixpkgs = built_from(flake, value.fn)
    fn = ".".join(value.fn)
    arg_node = unwrap(value.arg.node) if value.arg.node is not None else None
    if binding is not None and _inside(arg_node, binding):
        head, _args = apply_chain(unwrap(arg_node.parent) if arg_node.parent is not None else None)
        written = select_path(head) if head is not None else None
        host.layout, host.builder = "nixosSystem", ".".join(written) if written and written[-1] == "nixosSystem" else fn
    else:
        helper = _helper_name(binding)
        if helper:
            host.layout, host.builder = "helper", f"{helper} → {fn}"
        else:
            host.layout, host.builder = "generated", f"{generated_by or 'generated'} → {fn}"
    _read_call(flake, ev, item, value)
    if host.refusal is not None and not host.modules_known:
        item.call_site_list = _call_site_list(flake, ev, item, thunk)
    if binding is None and item.missing_paths and not item.dynamic_paths:
        flake.notes.append(f"skipped `{name}`: ./{item.missing_paths[0]} is not a Nix file, so it is not a host")
        return None  # an entry of a folder listing that is not a host (a README, a stray file)
    if binding is None and is_template_name(name) and item.dynamic_paths:
        flake.notes.append(f"skipped `{name}`: an entry of a generated host list named like a template, not a machine")
        return None
    return item


TEMPLATE_NAMES = re.compile(r"(?i)^_?(template|example|skeleton|sample)s?(-.*)?$")


def is_template_name(name: str) -> bool:
    """``template``, ``example-host``, ...: folders a generated host list picks up that are not machines.
    Upper-case names (``CORE-PW0D2M1A``, ``WSL``) are machines."""
    return bool(TEMPLATE_NAMES.match(name))


def built_from(flake: Flake, fn: tuple[str, ...]) -> str | None:
    """The nixpkgs a ``nixosSystem`` function builds with, as a ``follows`` path: ``nixpkgs`` for
    ``nixpkgs.lib.nixosSystem``, ``nixos-raspberrypi/nixpkgs`` for another flake's own builder."""
    path = fn[1:] if fn[:1] == ("inputs",) else fn
    source = flake.input(path[0]) if path else None
    if source is None:
        return None
    if source.is_nixpkgs:
        return source.name
    return source.follows.get("nixpkgs") or f"{source.name}/nixpkgs"


def machines_nixpkgs(flake: Flake) -> tuple[str | None, list[str]]:
    """The nixpkgs most machines are built from, and a note for each machine built from another one."""
    counts: dict[str, int] = {}
    for host in flake.hosts:
        if host.nixpkgs:
            counts[host.nixpkgs] = counts.get(host.nixpkgs, 0) + 1
    if not counts:
        return None, []
    chosen = max(counts, key=lambda name: (counts[name], name == "nixpkgs"))
    notes = [
        f"{host.name} is built from `{host.nixpkgs}`, not `{chosen}` (which most machines use): "
        f"llama.cpp follows `{chosen}`, so {host.name} evaluates a second nixpkgs for it"
        for host in flake.hosts
        if host.nixpkgs and host.nixpkgs != chosen
    ]
    return chosen, notes


def _helper_name(binding: Node | None) -> str | None:
    if binding is None or binding.kind != "NODE_ATTRPATH_VALUE":
        return None
    fn, args = apply_chain(binding.nodes()[-1])
    path = select_path(fn) if fn is not None else None
    if path and args and path[-1] != "nixosSystem":
        return ".".join(path)
    return None


def _read_call(flake: Flake, ev: Evaluator, item: _Found, call: SystemCall) -> None:
    host = item.host
    arg = ev.force(call.arg)
    if not isinstance(arg, AttrsValue):
        host.refusal = "the argument of nixosSystem is not an attribute set the engine can read"
        host.modules_known = False
        return
    system = ev.force(arg.attrs["system"]) if "system" in arg.attrs else None
    if isinstance(system, str):
        host.system = system
    special = ev.force(arg.attrs["specialArgs"]) if "specialArgs" in arg.attrs else None
    host.inputs_in_modules = isinstance(special, FlakeInputs) or (
        isinstance(special, AttrsValue)
        and (
            "inputs" in special.attrs
            or _inputs_under_flake(ev, special)
            or isinstance(special.base, FlakeInputs)  # `inputs // { ... }`: every input is an argument of its own
        )
    )
    modules = ev.force(arg.attrs["modules"]) if "modules" in arg.attrs else None
    if isinstance(modules, ListValue):
        written = arg.where.get("modules")
        for lst in modules.nodes:
            file = flake.file_of(lst) if lst is not None else None
            if file is None:
                continue
            if item.binding is not None and _inside(lst, item.binding):
                item.literal_lists.append((file, lst))
            if _inside(lst, written):
                key = _key_name(ev, lst, file, arg.attrs["modules"].env, host.name)
                item.module_lists.append((file, lst, key))
            elif item.binding is None or not _inside(lst, item.binding):
                item.spliced_lists.append((file, lst))
        for module in modules.items:
            _read_module(flake, ev, item, module)
    elif "modules" in arg.attrs:
        host.refusal = "its nixosSystem call has a `modules` value the engine cannot read"
        host.modules_known = False
    if host.system is None:  # hardware-configuration.nix is usually imported by the host's own file
        host.system = system_from_files(flake, import_closure(flake, host.module_files))


def _key_name(ev: Evaluator, lst: Node, file: SourceFile, env: dict, name: str) -> str | None:
    """The argument of a function around ``lst`` that holds the host's name there (``name`` of
    ``genAttrs names (name: ...)``, ``hostname`` of ``mkHost = hostname: ...``), or None."""
    for scope in lst.ancestors():
        if scope.kind != "NODE_LAMBDA":
            continue
        param = scope.nodes()[0]
        if param.kind == "NODE_IDENT_PARAM":
            names = [param.nodes()[0].text] if param.nodes() else []
        else:
            names = [
                entry.nodes()[0].text for entry in param.nodes() if entry.kind == "NODE_PAT_ENTRY" and entry.nodes()
            ]
        for candidate in names:
            value = ev.force(ev.lookup(lst, candidate, file, env))
            if type(value) is str and value == name:
                return candidate
    return None


def _call_site_list(flake: Flake, ev: Evaluator, item: _Found, thunk: Thunk) -> tuple[SourceFile, Node] | None:
    """The list written for this host where a builder the engine cannot follow is called
    (``installer = mkInstaller base [ ./installer.nix ];``): its own modules list, when it is the call's one
    list argument and every entry is the path of a plain module file."""
    binding = item.binding
    if binding is None or binding.kind != "NODE_ATTRPATH_VALUE":
        return None
    fn, args = apply_chain(binding.nodes()[-1])
    head = select_path(fn) if fn is not None else None
    lists = [n for n in map(unwrap, args) if n is not None and n.kind == "NODE_LIST"]
    file = flake.file_of(binding)
    if not head or head[-1] == "nixosSystem" or len(lists) != 1 or not lists[0].nodes() or file is None:
        return None
    files = []
    for entry in lists[0].nodes():
        path = as_path(ev.force(Thunk(entry, file, thunk.env)))
        rel = ev.nix_file(path.rel) if isinstance(path, PathValue) else None
        if rel is None or not rel.endswith(".nix"):
            return None
        try:
            if module_attrset(flake.source_file(rel))[0] is None:
                return None
        except LlamaflakeError:
            return None
        files.append(rel)
    host = item.host
    host.module_files.extend(rel for rel in files if rel not in host.module_files)
    host.system = host.system or system_from_files(flake, import_closure(flake, host.module_files))
    return file, lists[0]


def _inputs_under_flake(ev: Evaluator, special: AttrsValue) -> bool:
    """``flake = { inputs, ... }`` (nixos-unified's special argument, or ``_module.args.flake = self``) or
    ``self`` (``specialArgs.self = self``): the generated module reads ``flake.inputs`` and ``self.inputs`` too."""
    for name in ("flake", "self"):  # `specialArgs.self = self;` gives `self.inputs` as well
        given = ev.force_attrs(special.attrs[name]) if name in special.attrs else None
        if given is not None and isinstance(ev.force(given.attrs.get("inputs")), FlakeInputs):
            return True
    return False


def _platform_of(ev: Evaluator, module: AttrsValue) -> str | None:
    """``nixpkgs.hostPlatform`` (or ``nixpkgs.system``) of a module written in the list, as the evaluator sees
    it: ``{ nixpkgs.hostPlatform = system; }`` inside a function given each machine's system."""
    nixpkgs = ev.force_attrs(module.attrs["nixpkgs"]) if "nixpkgs" in module.attrs else None
    if nixpkgs is None:
        return None
    for name in ("hostPlatform", "system"):
        value = ev.force(nixpkgs.attrs[name]) if name in nixpkgs.attrs else None
        if isinstance(value, AttrsValue) and "system" in value.attrs:  # `hostPlatform = { system = ...; }`
            value = ev.force(value.attrs["system"])
        if type(value) is str:
            return value
    return None


def _read_module(flake: Flake, ev: Evaluator, item: _Found, thunk: Thunk, depth: int = 0) -> None:
    host = item.host
    value = as_path(ev.force(thunk))
    if isinstance(value, Unknown):
        host.modules_known = False
        return
    if isinstance(value, PathValue):
        rel = ev.nix_file(value.rel)
        if value.node is not None and not value.interpolated:
            host.modules_literal.append(value.node.text)
        if rel is None or not rel.endswith(".nix"):
            item.missing_paths.append(value.rel)
            return
        if rel not in host.module_files:
            host.module_files.append(rel)
        if value.interpolated:
            item.dynamic_paths.append(rel)
        return
    if isinstance(value, External):
        if "nixosModules" in value.path:
            written = select_path(thunk.node) if thunk.node is not None else None
            host.hardware_modules.append(".".join(written if written and "nixosModules" in written else value.path))
        return
    if isinstance(value, Lambda):
        value = ev.module_body(value)
    if isinstance(value, AttrsValue) and host.system is None:
        host.system = _platform_of(ev, value)
    if isinstance(value, AttrsValue) and "imports" in value.attrs and depth < 2:
        # a module written in the list itself, `{ imports = [ ./machines/${name}/physical.nix ]; }`: its files count
        imports = ev.force_list(value.attrs["imports"])
        for imported in imports.items if imports is not None else []:
            _read_module(flake, ev, item, imported, depth + 1)
    if isinstance(value, AttrsValue) and "_module" not in value.attrs and "config" in value.attrs:
        value = ev.force(value.attrs["config"])  # `config._module.args = { inherit inputs; }`
    if isinstance(value, AttrsValue) and "_module" in value.attrs:
        module = ev.force(value.attrs["_module"])
        args = ev.force(module.attrs["args"]) if isinstance(module, AttrsValue) and "args" in module.attrs else None
        if isinstance(args, AttrsValue) and ("inputs" in args.attrs or _inputs_under_flake(ev, args)):
            host.inputs_in_modules = True


# ---- choosing where to attach -------------------------------------------------------------------


def _choose_attach(flake: Flake, ev: Evaluator, found: list[_Found], names_unseen: bool = False) -> None:
    _follow_shared_modules(ev, found)
    # A file is a host's own only when no other host reaches it, through its modules or their imports.
    for item in found:
        item.host.imported_files = _reached_files(flake, ev, item)
    # Counted by real path: a host folder that is a symlink to another host's shares its files.
    real = {rel: os.path.realpath(os.path.join(flake.root, rel)) for item in found for rel in item.host.imported_files}
    by_real: dict[str, int] = {}
    for item in found:
        for target in {real[rel] for rel in item.host.imported_files}:
            by_real[target] = by_real.get(target, 0) + 1
    uses = {rel: by_real[target] for rel, target in real.items()}
    several = len(found) > 1
    # A modules list written once inside a function that builds several machines is none of theirs alone.
    list_users: dict[tuple[str, int], int] = {}
    for item in found:
        for key in {(file.rel, lst.start) for file, lst in item.literal_lists + item.spliced_lists}:
            list_users[key] = list_users.get(key, 0) + 1
    for item in found:
        item.literal_lists = [(file, lst) for file, lst in item.literal_lists if list_users[(file.rel, lst.start)] == 1]
    unread = {id(item) for item in found if item.host.refusal is not None or item.call is None}
    for item in found:
        host = item.host
        host.shared_module_files = [
            r for r in host.module_files if several and all(r in other.host.module_files for other in found)
        ]
        own_files = _own_files(item, uses, several)
        host.own_file = own_files[0] if own_files else None
        if id(item) in unread:
            if item.call_site_list is not None:
                file, lst = item.call_site_list
                host.refusal, host.attach = None, Attach("modules-list", file.rel, lst)
                if item.call is None or not host.inputs_in_modules:
                    flake.notes.append(
                        f"{host.name}: its builder is not followed, so its settings are imported in the list written "
                        f"for it ({file.rel}:{file.line(lst)}); that builder must pass `inputs` to its modules "
                        "(specialArgs = { inherit inputs; })"
                    )
            continue
        descriptor = _descriptor_list(item, found, list_users)
        if host.layout == "nixosSystem" and item.literal_lists:
            file, lst = item.literal_lists[-1]
            host.attach = Attach("modules-list", file.rel, lst)
        elif descriptor is not None:
            file, lst = descriptor
            host.attach = Attach("imports-list", file.rel, lst)
            host.own_file = file.rel
        elif own_files:
            for rel in own_files:  # the next owned file when one cannot take an import
                host.refusal = None
                _attach_to_file(flake, host, rel)
                if host.refusal is None:
                    host.own_file = rel
                    break
            else:
                host.refusal = _first_problem(flake, own_files) if len(own_files) > 1 else host.refusal
        elif item.literal_lists:
            file, lst = item.literal_lists[-1]
            host.attach = Attach("modules-list", file.rel, lst)
        else:
            host.refusal = (
                _linked_folder(flake, host.module_files)
                or _imported_by_others(item, found)
                or (
                    "no module file belongs to this host alone (its modules are shared with other hosts), "
                    "and its modules list is not written for it alone"
                )
            )
    if not names_unseen:  # a host the engine cannot see may use the same list with another name
        _attach_keyed(flake, [item for item in found if id(item) not in unread], found)
    for item in found:
        host = item.host
        if (
            host.refusal is None
            and host.attach is not None
            and item.call is not None
            and not host.inputs_in_modules
            and id(item) not in unread
        ):
            _give_access(flake, ev, item, item.call)
        _refusal_snippet(host, item)


def _descriptor_list(
    item: _Found, found: list[_Found], list_users: dict[tuple[str, int], int]
) -> tuple[SourceFile, Node] | None:
    """The ``imports`` list of the host's own descriptor file, which its builder splices into its modules
    (``hosts/ramen/default.nix`` returning ``{ system = ...; imports = [ ... ]; config = ...; }``, built with
    ``modules = [ ... ] ++ (host.imports or [])``): the host's entry file, named for it, whose list no other
    host's modules hold and which no other host reaches."""
    host = item.host
    for file, lst in reversed(item.spliced_lists):
        path = PurePosixPath(file.rel)
        if not (host.name in path.parts[:-1] and path.name in ENTRY_FILES) and path.stem != host.name:
            continue
        if list_users.get((file.rel, lst.start)) != 1:
            continue
        if any(other is not item and file.rel in other.host.imported_files for other in found):
            continue
        binding = lst.parent
        while binding is not None and binding.kind != "NODE_ATTRPATH_VALUE":
            binding = binding.parent
        if binding is None or attrpath_names(binding.nodes()[0]) != ["imports"]:
            continue
        return file, lst
    return None


def _attach_keyed(flake: Flake, placed: list[_Found], found: list[_Found]) -> None:
    """Hosts left without a place of their own that share a ``modules`` list written once inside a function
    whose argument is each host's name get one entry there, ``machines/${name}.nix``; so do the other hosts of
    that list, so that it is their one place too. A list is keyed only when every host using it has its own
    name in that argument: then the entry loads each host's own file, never another's. A host whose files
    do not parse keeps its refusal: what it imports is not known."""
    users: dict[tuple[str, int], list[tuple[_Found, str | None]]] = {}
    for item in found:
        for file, lst, key in item.module_lists:
            users.setdefault((file.rel, lst.start), []).append((item, key))
    placed = [item for item in placed if not _unreadable(flake, item.host.module_files)]
    placed_ids = {id(item) for item in placed}
    for item in placed:
        if item.host.attach is not None:
            continue
        keyed = [
            (file, lst, key) for file, lst, key in item.module_lists if _keyed_by(users[(file.rel, lst.start)], key)
        ]
        if not keyed:
            continue
        file, lst, key = keyed[-1]
        for other, _key in users[(file.rel, lst.start)]:
            if id(other) in placed_ids:
                other.host.refusal = None
                other.host.attach = Attach("keyed-entry", file.rel, lst, key)


def _unreadable(flake: Flake, files: list[str]) -> bool:
    for rel in files:
        try:
            flake.source_file(rel)
        except LlamaflakeError:
            return True
    return False


def _keyed_by(users: list[tuple[_Found, str | None]], key: str | None) -> bool:
    """Whether a list's users all hold their own name in ``key``, and none's name could leave the folder."""
    return key is not None and all(k == key and "/" not in item.host.name for item, k in users)


def _imported_by_others(item: _Found, found: list[_Found]) -> str | None:
    """Why a host's own-looking file is not its own: another host's imports reach it too."""
    host = item.host
    for rel in host.module_files:
        if rel in host.shared_module_files:
            continue
        others = [o.host.name for o in found if o is not item and rel in o.host.imported_files]
        if others:
            names = ", ".join(others)
            return (
                f"{rel} is imported by {names} too (through its imports): an import there would give "
                f"{names} this host's settings, and no other module file belongs to this host alone"
            )
    return None


def _linked_folder(flake: Flake, files: list[str]) -> str | None:
    """Why a host has no file of its own when its folder is a link to another host's (``nixos/crawler -> dagger``)."""
    for rel in files:
        parts = PurePosixPath(rel).parts[:-1]
        for depth in range(len(parts), 0, -1):
            folder = "/".join(parts[:depth])
            if os.path.islink(os.path.join(flake.root, folder)):
                target = os.path.relpath(
                    os.path.realpath(os.path.join(flake.root, folder)), os.path.realpath(flake.root)
                )
                return (
                    f"{folder} is a link to {target.replace(os.sep, '/')}: this host shares every file there with "
                    "another host, so none belongs to it alone"
                )
    return None


ENTRY_FILES = ("default.nix", "configuration.nix")
HOST_FOLDERS = {"hosts", "machines", "systems", "nixos-configurations", "configurations", "hosts-nixos"}
_NAME_TOKENS = re.compile(r"[-_.]+")


def _follow_shared_modules(ev: Evaluator, found: list[_Found]) -> None:
    """A module every host uses may pick each host's own folder by a name in ``specialArgs``
    (``imports = [ ./${hostname} ]``): those folders belong to the host they are picked for."""
    if len(found) < 2:
        return
    counts: dict[str, int] = {}
    for item in found:
        for rel in item.host.module_files:
            counts[rel] = counts.get(rel, 0) + 1
    for item in found:
        if item.call is None or item.host.refusal is not None:
            continue
        shared = [rel for rel in item.host.module_files if counts[rel] > 1]
        if not shared:
            continue
        call_arg = ev.force(item.call.arg)
        special = (
            ev.force_attrs(call_arg.attrs["specialArgs"])
            if isinstance(call_arg, AttrsValue) and "specialArgs" in call_arg.attrs
            else None
        )
        if special is None:
            continue
        args = Thunk.const(AttrsValue(dict(special.attrs), open=True))
        for rel in shared:
            for picked in _interpolated_imports(ev, rel, args):
                if picked not in item.host.module_files:
                    item.host.module_files.append(picked)
                    item.dynamic_paths.append(picked)


def _reached_files(flake: Flake, ev: Evaluator, item: _Found) -> list[str]:
    """Every file the host's modules reach through ``imports``: read from the text, and where an import is
    built (a ``let`` variable, ``../. + "/x"``, a ``map``), evaluated with the host's ``specialArgs``."""
    files = import_closure(flake, item.host.module_files)
    args = _special_args(ev, item)
    index = 0
    while index < len(files) and len(files) < 500:
        try:
            evaluated = _interpolated_imports(ev, files[index], args, every=True)
        except Exception:
            evaluated = []
        for rel in import_closure(flake, evaluated):
            if rel not in files:
                files.append(rel)
        index += 1
    return files


def _special_args(ev: Evaluator, item: _Found) -> Thunk:
    """The module arguments a host's modules are called with, as far as its ``specialArgs`` say."""
    special = None
    try:
        call_arg = ev.force(item.call.arg) if item.call is not None else None
        if isinstance(call_arg, AttrsValue) and "specialArgs" in call_arg.attrs:
            special = ev.force_attrs(call_arg.attrs["specialArgs"])
    except Exception:
        special = None
    return Thunk.const(AttrsValue(dict(special.attrs) if special is not None else {}, open=True))


def _interpolated_imports(ev: Evaluator, rel: str, args: Thunk, every: bool = False) -> list[str]:
    value = ev.import_path(PathValue(rel))
    if isinstance(value, Lambda):
        value = ev.apply(value, args)
    body = ev.module_body(value)
    imports = ev.force_list(body.attrs["imports"]) if isinstance(body, AttrsValue) and "imports" in body.attrs else None
    found = []
    for thunk in imports.items if imports is not None else []:
        path = ev.force(thunk)
        if isinstance(path, PathValue) and (path.interpolated or every):
            target = ev.nix_file(path.rel)
            if target is not None:
                found.append(target)
    return found


def _own_files(item: _Found, uses: dict[str, int], several: bool) -> list[str]:
    """The module files that belong to this host alone, best place for its import first: its entry file
    (``default.nix``, ``configuration.nix``, ``<host>.nix``), then other files in its folder, then the rest."""
    host = item.host
    candidates = [
        rel
        for rel in host.module_files
        if PurePosixPath(rel).name not in GENERATED_FILES
        and "llama-cpp/machines/" not in rel
        and (not several or uses[rel] == 1)
    ]

    def names_host(rel: str) -> bool:
        path = PurePosixPath(rel)
        return host.name in path.parts[:-1] or path.stem == host.name

    def is_entry(rel: str) -> bool:
        path = PurePosixPath(rel)
        return path.name in ENTRY_FILES or path.stem == host.name

    tokens = {t for t in _NAME_TOKENS.split(host.name.lower()) if t}

    def shares_a_word(rel: str) -> bool:  # `ai-niri` in hosts/idols-ai/, `akane` in hosts/idols-akane/
        path = PurePosixPath(rel.lower())
        return any(tokens & set(_NAME_TOKENS.split(part)) for part in path.parts[:-1] + (path.stem,))

    def in_hosts_folder(rel: str) -> bool:
        return any(part in HOST_FOLDERS for part in PurePosixPath(rel).parts[:-1])

    named = [r for r in candidates if names_host(r)]
    ranked = [r for r in named if is_entry(r)] + [r for r in named if not is_entry(r)]
    for rank in (shares_a_word, in_hosts_folder):
        near = [r for r in candidates if r in item.dynamic_paths and r not in ranked and rank(r)]
        ranked += [r for r in near if is_entry(r)] + [r for r in near if not is_entry(r)]
    ranked += [r for r in candidates if r in item.dynamic_paths and r not in ranked]
    if ranked:
        return ranked
    return candidates if several else []


def _first_problem(flake: Flake, files: list[str]) -> str:
    probe = Host(name="", builder="", file="", line=0)
    _attach_to_file(flake, probe, files[0])
    return probe.refusal or f"{files[0]}: cannot take an import"


def module_attrset(file: SourceFile) -> tuple[Node | None, str | None]:
    """The attribute set of a module file (``{ ... }``, ``args: { ... }``, ``args: let ... in { ... }``)."""
    node = unwrap(file.tree)
    if node is not None and node.kind == "NODE_LAMBDA":
        node = unwrap(node.nodes()[-1])
    while node is not None and node.kind in ("NODE_LET_IN", "NODE_WITH", "NODE_ASSERT"):
        node = unwrap(node.nodes()[-1])
    if node is None or node.kind != "NODE_ATTR_SET":
        return None, f"{file.rel} is not a plain module (an attribute set, or a function returning one)"
    return node, None


def _attach_to_file(flake: Flake, host: Host, rel: str) -> None:
    try:
        file = flake.source_file(rel)
    except LlamaflakeError as exc:
        host.refusal = str(exc)
        return
    attrset, problem = module_attrset(file)
    if attrset is None:
        host.refusal = problem
        return
    imports = [b for b in bindings(attrset) if b.path and b.path[0] == "imports"]
    if not imports:
        host.attach = Attach("imports-new", rel, attrset)
        return
    binding = imports[0]
    lists = list_literals(binding.value) if binding.path == ["imports"] else []
    if not lists:
        host.refusal = f"{rel}: its `imports` is not a list the engine can add to"
        return
    host.attach = Attach("imports-list", rel, lists[0])


def list_literals(node: Node | None) -> list[Node]:
    """The list literals of ``[ ... ]`` or ``[ ... ] ++ [ ... ] ++ shared``."""
    node = unwrap(node)
    if node is None:
        return []
    if node.kind == "NODE_LIST":
        return [node]
    if node.kind == "NODE_BIN_OP" and any(t.kind == "TOKEN_CONCAT" for t in node.tokens()):
        found = []
        for part in node.nodes():
            found.extend(list_literals(part))
        return found
    return []


def _give_access(flake: Flake, ev: Evaluator, item: _Found, call: SystemCall) -> None:
    """Decide how ``inputs`` will reach this host's modules: through ``specialArgs`` of its nixosSystem call."""
    host = item.host
    arg_node = unwrap(call.arg.node) if call.arg.node is not None else None
    file = flake.file_of(arg_node) if arg_node is not None else None
    if arg_node is None or file is None or arg_node.kind != "NODE_ATTR_SET":
        host.refusal = "`inputs` does not reach its modules, and its nixosSystem argument is not a set the engine can add `specialArgs` to"
        return
    special = [b for b in bindings(arg_node) if b.path and b.path[0] == "specialArgs"]
    kind: AccessKind
    inherited = [node for name, node in inherited_names(arg_node) if name == "specialArgs"]
    if inherited:  # `inherit specialArgs;`: add to the set it names, when that is a literal set
        if inherited[0].first("NODE_INHERIT_FROM") is not None:
            host.refusal = "`inputs` does not reach its modules, and its `specialArgs` is inherited from a set the engine cannot edit"
            return
        named = ev.lookup(inherited[0], "specialArgs", file, call.arg.env)
        value = unwrap(named.node) if named.node is not None else None
        file = flake.file_of(value) if value is not None else None
        if value is None or file is None or value.kind != "NODE_ATTR_SET":
            host.refusal = (
                "`inputs` does not reach its modules, and its `specialArgs` is not a set the engine can add to"
            )
            return
        kind, target = "specialArgs-add", value
    elif special:
        value = _update_literal(special[0].value)
        if special[0].path != ["specialArgs"] or value is None or value.kind != "NODE_ATTR_SET":
            host.refusal = (
                "`inputs` does not reach its modules, and its `specialArgs` is not a set the engine can add to"
            )
            return
        kind, target = "specialArgs-add", value
    else:
        kind, target = "specialArgs-new", arg_node
    expression, pattern = _inputs_expression(flake, ev, call, target, file)
    if expression is None:
        host.refusal = (
            f"`inputs` does not reach its modules, and no name for the flake's inputs is in scope in {file.rel} "
            f"where its nixosSystem call is"
        )
        return
    host.access = Access(kind, file.rel, target, expression, pattern)


def _update_literal(node: Node | None) -> Node | None:
    """The set to add to in ``{ ... }`` or ``x // { ... }`` (the last literal set of a ``//`` chain)."""
    node = unwrap(node)
    if node is None or node.kind == "NODE_ATTR_SET":
        return node
    if node.kind == "NODE_BIN_OP" and any(t.kind == "TOKEN_UPDATE" for t in node.tokens()):
        for part in reversed(node.nodes()):
            found = _update_literal(part)
            if found is not None and found.kind == "NODE_ATTR_SET":
                return found
    return None


def _inputs_expression(flake: Flake, ev: Evaluator, call: SystemCall, at: Node, file: SourceFile):
    """What names the flake's inputs at ``at``: ``inputs`` in scope, or the outputs' ``@name``; else
    ``inputs`` after adding ``@inputs`` to the outputs pattern (only inside flake.nix's outputs)."""
    env = call.arg.env
    value = ev.force(ev.lookup(at, "inputs", file, env))
    if isinstance(value, External) and value.bound and value.path[-1:] == ("inputs",):
        return "inputs", None
    outputs = unwrap(flake.outputs)
    if file is not flake.file or outputs is None or not _inside(at, outputs):
        return None, None
    param = outputs.nodes()[0]
    whole = None
    if param.kind == "NODE_IDENT_PARAM":
        whole = param.text
    elif param.kind == "NODE_PATTERN":
        bind = param.first("NODE_PAT_BIND")
        ident = bind.first("NODE_IDENT") if bind is not None else None
        whole = ident.text if ident else None
    if whole is not None:
        named = ev.force(ev.lookup(at, whole, file, env))
        if isinstance(named, FlakeInputs):
            return whole, None
        return None, None
    if isinstance(value, External) and not value.bound and value.path == ("inputs",):
        pattern = outputs_pattern(flake)
        if pattern is not None:
            return "inputs", pattern
    return None, None


def _refusal_snippet(host: Host, item: _Found) -> None:
    """The exact lines to add by hand for a refused host."""
    if host.refusal is None:
        return
    target = host.own_file
    machine = "<module dir>/llama-cpp/machines/" + host.name + ".nix"
    literal = nix_relative_path(target or "flake.nix", machine)
    lines = [f"imports = [ {literal} ];"]
    if target is None:
        lines.append(
            f"# in a module that only {host.name} imports (path from the flake folder): all its modules are shared"
        )
    if not host.inputs_in_modules and item.call is not None:
        lines.append("# and, in its nixosSystem call: specialArgs = { inherit inputs; };")
    host.snippet = "\n".join(lines)
    host.snippet_file = target


# Functions that load every module file below a folder: import-tree, nixpkgs' listFilesRecursive, and
# home-grown importers named for what they do (importModulesRecursive, importDir, loadModules, ...).
_IMPORTER_NAME = re.compile(
    r"(?i)^(import-?tree|listFilesRecursive|rakeLeaves|(import|load|list|get|read|find)\w*"
    r"(recursive|tree|dir|dirs|folder|all|modules|nixfiles|files)\w*)$"
)
_IMPORTER_HINT = re.compile(rb"readDir|[Rr]ecursive|import-tree|importTree|[Ii]mport[A-Z]\w*|load[A-Z]\w*|rakeLeaves")


def auto_imported_dirs(flake: Flake) -> list[str]:
    """Folders whose module files the repository loads wholesale (into every machine, or as flake-parts modules).

    Seen statically: snowfall-lib's ``modules/nixos``, the folder given to ``import-tree`` or to an importer
    function (``importModulesRecursive ./modules``), and ``readDir`` of a folder whose entries become paths
    (``map (x: ./modules + "/${x}") (attrNames (readDir ./modules))``). A module placed there would be loaded twice.
    """
    found = list(flake.auto_imported)
    texts: dict[str, bytes] = {}
    for rel in nix_files(flake.root, limit=3000):
        try:
            texts[rel] = (flake.root / rel).read_bytes()
        except OSError:
            continue
    importers = _importer_functions(flake, texts)
    names = [re.escape(name.encode()) + rb"\s" for name in sorted(importers)]
    hint = re.compile(_IMPORTER_HINT.pattern + b"".join(b"|" + n for n in names))
    for rel, head in texts.items():
        if not hint.search(head):
            continue
        try:
            source = flake.source_file(rel)
        except LlamaflakeError:
            continue
        for folder in _importer_folders(source, importers):
            if folder not in found:
                found.append(folder)
    return found


def _importer_functions(flake: Flake, texts: dict[str, bytes]) -> set[str]:
    """The names of the repository's own functions that list a folder (``mapModulesRec' = dir: fn: ...
    (readDir dir)``), or call one that does: whatever name it has, a call on a folder loads what is there."""
    defined: dict[str, str] = {}  # name -> the text of its function
    for rel, text in texts.items():
        if b"readDir" not in text:  # the wrappers of such a function are written next to it
            continue
        try:
            source = flake.source_file(rel)
        except LlamaflakeError:
            continue
        for node in source.tree.walk():
            if node.kind != "NODE_ATTRPATH_VALUE" or len(node.nodes()) < 2:
                continue
            value = unwrap(node.nodes()[-1])
            names = attrpath_names(node.nodes()[0]) or []
            if value is not None and value.kind == "NODE_LAMBDA" and names:
                defined[names[-1]] = value.text
    listing = {name for name, body in defined.items() if "readDir" in body}
    while True:
        more = {
            name
            for name, body in defined.items()
            if name not in listing and any(re.search(rf"(?<![\w'-]){re.escape(n)}(?![\w'-])", body) for n in listing)
        }
        if not more:
            return listing
        listing |= more


def _importer_folders(source: SourceFile, importers: set[str] = frozenset()) -> list[str]:
    found = []
    text = source.source
    for node in source.tree.walk():
        if node.kind != "NODE_APPLY":
            continue
        fn, args = apply_chain(node)
        outer = unwrap(node.parent)
        if outer is not None and outer.kind == "NODE_APPLY" and outer.nodes()[0] is node:
            continue  # only the whole call `f a b`, not its head `f a`
        path = select_path(fn) if fn is not None else None
        if not path:
            continue
        folders = [n for n in map(unwrap, args) if n is not None and n.kind == "NODE_PATH_REL"]
        if not folders:
            continue
        name = path[-1]
        if name == "readDir":
            literal = folders[0].text.encode()
            # entries turned back into paths: `./modules + "/${x}"`, `"${./modules}/${x}"`
            if not (
                re.search(re.escape(literal) + rb"\s*\+\s*\"", text)
                or b"${" + literal + b"}/" in text
                or _inside_binding(node, ("imports", "modules"))
            ):
                continue
        elif not _IMPORTER_NAME.match(name) and name not in importers:
            continue
        rel = relative_path(source.rel, folders[0].text)
        if rel is not None:
            found.append(rel)
    return found


def _inside_binding(node: Node, names: tuple[str, ...]) -> bool:
    for scope in node.ancestors():
        if scope.kind == "NODE_ATTRPATH_VALUE":
            path = attrpath_names(scope.nodes()[0]) or []
            if path[-1:] and path[-1] in names:
                return True
    return False


# ---- snowfall-lib ---------------------------------------------------------------------------------


def _snowfall(flake: Flake, root: str) -> list[Host]:
    base = flake.root if root in (".", "") else flake.root / root
    prefix = "" if root in (".", "") else root.rstrip("/") + "/"
    hosts = []
    for name, arch, rel in snowfall_hosts(base):
        rel = prefix + rel
        host = Host(
            name=name,
            builder="snowfall-lib",
            file=rel,
            line=1,
            system=arch,
            module_files=[rel],
            inputs_in_modules=True,
            layout="snowfall",
            own_file=rel,
        )
        _attach_to_file(flake, host, rel)
        if host.refusal is not None:
            host.snippet = f"imports = [ {'<path to>'}/llama-cpp/machines/{name}.nix ];"
            host.snippet_file = rel
        hosts.append(host)
    return hosts


# ---- the host's system ------------------------------------------------------------------------------


def system_from_files(flake: Flake, files: list[str]) -> str | None:
    """``nixpkgs.hostPlatform`` set in one of the host's own files (``lib.mkDefault "..."`` too)."""
    cache = flake.platforms
    for rel in files:
        if rel not in cache:
            cache[rel] = _platform_in(flake, rel)
        if cache[rel]:
            return cache[rel]
    return None


def _platform_in(flake: Flake, rel: str) -> str | None:
    try:
        source = flake.source_file(rel)
    except LlamaflakeError:
        return None
    for node in source.tree.walk():
        if node.kind != "NODE_ATTRPATH_VALUE":
            continue
        parts = node.nodes()
        path = attrpath_names(parts[0]) if parts and parts[0].kind == "NODE_ATTRPATH" else None
        if path in (
            ["nixpkgs", "hostPlatform"],
            ["hostPlatform"],
            ["nixpkgs", "system"],
            ["nixpkgs", "hostPlatform", "system"],
        ):
            value = unwrap(parts[1]) if len(parts) > 1 else None
            while value is not None and value.kind == "NODE_APPLY":  # lib.mkDefault "…", lib.systems.elaborate "…"
                value = unwrap(value.nodes()[-1])
            if value is not None and value.kind == "NODE_ATTR_SET":  # nixpkgs.hostPlatform = { system = "…"; }
                value = next((unwrap(b.value) for b in bindings(value) if b.path == ["system"]), None)
            text = string_value(value)
            if text:
                return text
    return None


__all__ = ["apply_chain", "find_hosts", "list_literals", "module_attrset", "relative_path", "system_from_files"]
