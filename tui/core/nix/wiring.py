"""Wiring a machine: where its llama.cpp settings attach, which files are its own, and the edits that do it.

One home for every question about a machine's wiring, so that ``hosts``, ``plan`` and the proof read the
same answers:

- **ownership by import closure**: a file is a machine's own only when that machine's modules reach it
  through ``imports`` and no other machine's do (a folder that links to another's shares its files);
- **the attach point** each machine gets while the machines are found (:func:`choose_attach`): its own
  ``modules`` list, the ``imports`` of its own file or host descriptor, or one **keyed entry**
  (``machines/${name}.nix``) in a list written once for machines keyed by their name; and how ``inputs``
  reaches its modules;
- **whole operations** on a found machine: whether it is wired and from which file (:func:`wired_from`),
  which other machines' settings it imports, a copy of another's (:func:`foreign_settings`), and the edits
  that attach its settings or give it its own (:func:`wiring_of`, the one answer for ``hosts`` and ``plan``) — or the
  **refusal**, with the lines to paste by hand (:func:`refusal_for`), where no place is its alone.

Edits are returned, never applied: the caller gathers them per file and shows them as a diff.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import NamedTuple

from tui.core.errors import LlamaflakeError
from tui.core.nix.edits import Edit, add_binding, add_inherited_name, append_to_list, bind_pattern
from tui.core.nix.evaluate import Evaluator
from tui.core.nix.imports import import_closure, imported_files, path_refs
from tui.core.nix.model import Access, AccessKind, Attach, Flake, Host, SourceFile, outputs_pattern
from tui.core.nix.paths import relative_path
from tui.core.nix.syntax import (
    Node,
    attrpath_names,
    bindings,
    inherited_names,
    inside,
    nix_comment,
    nix_keyed_path,
    nix_relative_path,
    path_expression_target,
    relative_path_literal,
    unwrap,
)
from tui.core.nix.values import AttrsValue, External, FlakeInputs, Lambda, PathValue, SystemCall, Thunk

GENERATED_FILES = {"hardware-configuration.nix"}


@dataclass
class HostFinding:
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


# ---- choosing where each machine attaches, while the machines are found -------------------------------------------------------------------


def choose_attach(flake: Flake, ev: Evaluator, found: list[HostFinding], names_unseen: bool = False) -> None:
    """Decide each found machine's own files, its attach point (or its refusal and snippet) and how ``inputs``
    reaches its modules."""
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
                attach_to_file(flake, host, rel)
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
            _give_access(flake, ev, item)
        _refusal_snippet(host, item)


def _descriptor_list(
    item: HostFinding, found: list[HostFinding], list_users: dict[tuple[str, int], int]
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


def _attach_keyed(flake: Flake, placed: list[HostFinding], found: list[HostFinding]) -> None:
    """Hosts left without a place of their own that share a ``modules`` list written once inside a function
    whose argument is each host's name get one entry there, ``machines/${name}.nix``; so do the other hosts of
    that list, so that it is their one place too. A list is keyed only when every host using it has its own
    name in that argument: then the entry loads each host's own file, never another's. A host whose files
    do not parse keeps its refusal: what it imports is not known."""
    users: dict[tuple[str, int], list[tuple[HostFinding, str | None]]] = {}
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


def _keyed_by(users: list[tuple[HostFinding, str | None]], key: str | None) -> bool:
    """Whether a list's users all hold their own name in ``key``, and none's name could leave the folder."""
    return key is not None and all(k == key and "/" not in item.host.name for item, k in users)


def _imported_by_others(item: HostFinding, found: list[HostFinding]) -> str | None:
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


def _follow_shared_modules(ev: Evaluator, found: list[HostFinding]) -> None:
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


def _reached_files(flake: Flake, ev: Evaluator, item: HostFinding) -> list[str]:
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


def _special_args(ev: Evaluator, item: HostFinding) -> Thunk:
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


def _own_files(item: HostFinding, uses: dict[str, int], several: bool) -> list[str]:
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
    attach_to_file(flake, probe, files[0])
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


def attach_to_file(flake: Flake, host: Host, rel: str) -> None:
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


def _give_access(flake: Flake, ev: Evaluator, item: HostFinding) -> None:
    """Decide how ``inputs`` will reach this host's modules: through ``specialArgs`` of its nixosSystem call."""
    host = item.host
    call = item.call
    assert call is not None, "only a host read from its nixosSystem call is given access"
    arg_node = unwrap(call.arg.node) if call.arg.node is not None else None
    file = flake.file_of(arg_node) if arg_node is not None else None
    if arg_node is None or file is None or arg_node.kind != "NODE_ATTR_SET":
        host.refusal = "`inputs` does not reach its modules, and its nixosSystem argument is not a set the engine can add `specialArgs` to"
        return
    special = [b for b in bindings(arg_node) if b.path and b.path[0] == "specialArgs"]
    inherited = [node for name, node in inherited_names(arg_node) if name == "specialArgs"]
    kind: AccessKind
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
    if file is not flake.file or outputs is None or not inside(at, outputs):
        return None, None
    param = outputs.nodes()[0]
    whole = None
    if param.kind == "NODE_IDENT_PARAM":
        whole = param.text
    elif param.kind == "NODE_PATTERN":
        bind = param.first("NODE_PAT_BIND")
        ident = bind.first("NODE_IDENT") if bind is not None else None
        whole = ident.text if ident is not None else None
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


def _refusal_snippet(host: Host, item: HostFinding) -> None:
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


# ---- whole operations on a found machine -------------------------------------------------------------

ATTACH_REASON = "attach llama.cpp settings to "


@dataclass
class Refusal:
    """A machine the engine will not wire itself, with the reason and what to paste by hand.

    ``file`` is the module file where the snippet goes (None: a module only that machine imports);
    ``requested`` says whether the user asked for this machine in this run.
    """

    host: str
    reason: str
    snippet: str
    file: str | None = None
    requested: bool = True


@dataclass(frozen=True)
class FileEdit:
    """One edit of one file and the reason for it; ``machine`` where it is that machine's alone (its review
    hunk is its own)."""

    file: str
    edit: Edit
    reason: str
    machine: str | None = None


class ForeignImport(NamedTuple):
    """A machine's import of another machine's settings: that machine, the file with the import, and the
    settings file it imports."""

    machine: str
    file: str
    settings: str


def wired_from(flake: Flake, host: Host, settings: str) -> str | None:
    """The file through which ``host`` already imports its settings file ``settings`` (one of its module
    files, its own ``modules`` list, or the keyed entry of its list), or None where it does not."""
    attach = host.attach
    naming = next((rel for rel in host.module_files if settings in path_refs(flake, rel)), None)
    if settings in host.module_files:
        return naming or (attach.file if attach is not None else host.file)
    if naming is not None:
        return naming
    if attach is not None and attach.kind == "keyed-entry":  # the entry is there, the file may not be yet
        return attach.file if keyed_path(attach, settings) in attach.node.text else None
    if attach is not None and attach.kind != "imports-new":
        for node in attach.node.walk():
            text = path_expression_target(node) if node.kind in ("NODE_PATH_REL", "NODE_BIN_OP") else None
            if text and relative_path(attach.file, text) == settings:
                return attach.file
    return None


def is_wired(flake: Flake, host: Host, settings: str) -> bool:
    """Whether ``host`` already imports its settings file ``settings``."""
    return wired_from(flake, host, settings) is not None


@dataclass
class Wiring:
    """What the engine says of one machine's wiring, the one answer ``hosts`` and ``plan`` show.

    ``wired_from``: the file through which it already imports its settings; ``foreign``: the other machines'
    settings it imports (a copied machine); ``edits``: what wires it (its own settings in place of another's,
    or the attach), none where it is wired already or refused; ``refusal``: why it cannot be wired
    automatically, with the lines to paste by hand, or None.
    """

    settings: str
    wired_from: str | None = None
    foreign: list[ForeignImport] = field(default_factory=list)
    edits: list[FileEdit] = field(default_factory=list)
    refusal: Refusal | None = None

    @property
    def can_wire(self) -> bool:
        return self.refusal is None


def wiring_of(flake: Flake, host: Host, settings: str, requested: bool = True) -> Wiring:
    """Whether and how ``host`` gets its settings file ``settings``: a machine that imports another machine's
    settings gets its own in their place (or is refused where that import is not its alone to change); any
    other machine is wired already, or gets the edits of :func:`attach`, or is refused."""
    foreign = foreign_settings(flake, host, settings.rpartition("/")[0])
    if foreign:
        swap = own_settings_edits(flake, host, foreign, settings)
        if swap is None:
            return Wiring(settings, foreign=foreign, refusal=copied_refusal(host, foreign, settings, requested))
        return Wiring(settings, foreign=foreign, edits=swap)
    wired = wired_from(flake, host, settings)
    if wired is not None:
        return Wiring(settings, wired_from=wired)
    if not host.can_wire:
        return Wiring(settings, refusal=refusal_for(flake, host, settings, requested))
    return Wiring(settings, edits=attach(flake, host, settings))


def takes_imports(flake: Flake, rel: str) -> bool:
    """Whether a file is a plain NixOS module (an attribute set, or a function returning one), where an
    ``imports = [ ... ];`` line is valid Nix."""
    try:
        return module_attrset(flake.source_file(rel))[0] is not None
    except LlamaflakeError:
        return False


def foreign_settings(flake: Flake, host: Host, settings_folder: str) -> list[ForeignImport]:
    """Other machines' settings files (in ``settings_folder``) that ``host``'s modules import."""
    prefix = settings_folder + "/"
    files = host.imported_files or import_closure(flake, host.module_files)
    found = []
    for target in files:
        name = target[len(prefix) : -len(".nix")] if target.startswith(prefix) and target.endswith(".nix") else ""
        if not name or name == host.name or "/" in name:
            continue
        importer = next((rel for rel in files if target in imported_files(flake, rel)), host.file)
        found.append(ForeignImport(name, importer, target))
    return found


def foreign_reason(foreign: list[ForeignImport]) -> str:
    """What a machine's imports of other machines' settings are, in one line."""
    return "; ".join(f"{file} imports {other}'s settings ({path})" for other, file, path in foreign)


def own_settings_edits(flake: Flake, host: Host, foreign: list[ForeignImport], settings: str) -> list[FileEdit] | None:
    """Edits that make ``host`` import its own ``settings`` where it imports another machine's (a copied
    machine), or None where an import is not a plain path in a file or list of that machine alone."""
    reason = f"{host.name} imports its own llama.cpp settings"
    edits = []
    for _other, importer, path in foreign:
        if (
            importer == host.file
            and host.attach is not None
            and host.attach.kind == "modules-list"
            and host.attach.file == importer
        ):
            search: Node | None = host.attach.node
        elif (
            any(
                importer in (o.imported_files or import_closure(flake, o.module_files))
                for o in flake.hosts
                if o is not host
            )
            or importer == host.file
        ):
            return None  # the file is another machine's too: changing it would change that machine
        else:
            search = unwrap(flake.source_file(importer).tree)
        if search is None:
            return None  # an empty file: nothing there to replace
        nodes = [
            node
            for node in search.walk()
            if node.kind == "NODE_PATH_REL"
            and (literal := relative_path_literal(node))
            and relative_path(importer, literal) == path
        ]
        if len(nodes) != 1:
            return None
        edit = Edit(nodes[0].start, nodes[0].end, nix_relative_path(importer, settings).encode())
        edits.append(FileEdit(importer, edit, reason, host.name))
    return edits


def copied_refusal(host: Host, foreign: list[ForeignImport], settings: str, requested: bool) -> Refusal:
    """A copied machine whose import of another machine's settings the engine cannot change: the line to
    change by hand."""
    importer, theirs = foreign[0].file, foreign[0].settings
    return Refusal(
        host.name,
        f"{foreign_reason(foreign)}, copied from that machine? Its own settings would be loaded next to them",
        f"# in {nix_comment(importer)}, replace\n{nix_relative_path(importer, theirs)}\n"
        f"# with\n{nix_relative_path(importer, settings)}",
        importer,
        requested=requested,
    )


def refusal_for(flake: Flake, host: Host, settings: str, requested: bool) -> Refusal:
    """A machine the engine cannot wire: the reason, and the lines to paste into a module only it imports
    (its own module file where that is a plain module, else a module the user picks)."""
    target = host.own_file if host.own_file and takes_imports(flake, host.own_file) else None
    literal = nix_relative_path(target or "flake.nix", settings)
    snippet = f"imports = [ {literal} ];"
    if target is None:
        snippet += (
            f"\n# in a module that only {nix_comment(host.name)} imports (the path above is from the flake's folder)"
        )
    if not host.inputs_in_modules:
        snippet += "\n# and in its nixosSystem call: specialArgs = { inherit inputs; };"
    reason = host.refusal or "the engine found no place to add the import"
    return Refusal(host.name, reason, snippet, target, requested)


def keyed_path(attach: Attach, settings: str) -> str:
    """The path of a keyed entry: the machine's settings folder, and the name that holds the machine's name."""
    assert attach.key is not None, "a keyed entry has the name that holds the machine's name"
    return nix_keyed_path(attach.file, settings.rpartition("/")[0], attach.key)


def attach(flake: Flake, host: Host, settings: str) -> list[FileEdit]:
    """The edits that import the machine's settings where the host's layout wants it, and make ``inputs``
    reach its modules.

    The import goes into the host's own ``modules`` list, or into the ``imports`` of the host's own module
    file (added as its first binding if it has none), or, for machines built by one function keyed by their
    name, into that function's list as one entry loading ``machines/${name}.nix`` where it exists. ``inputs`` is given the idiomatic way, through
    ``specialArgs = { inherit inputs; }`` of the host's nixosSystem call: the generated module reads the
    flake from ``inputs.<name>`` by default, and a ``specialArgs`` entry also works inside ``imports``,
    where ``_module.args`` would cause infinite recursion. A host the engine cannot wire is refused, with
    the exact lines to add by hand (:func:`refusal_for`).
    """
    point = host.attach
    if point is None:  # pragma: no cover - only a host that can be wired is attached
        raise LlamaflakeError(f"{host.name}: no place found to import its llama.cpp settings")
    file = flake.source_file(point.file)
    literal = nix_relative_path(point.file, settings).encode()
    reason = f"{ATTACH_REASON}{host.name}"
    edits: list[FileEdit] = []
    if point.kind in ("modules-list", "imports-list"):
        edits.append(FileEdit(point.file, append_to_list(file.source, point.node, literal), reason, host.name))
    elif point.kind == "keyed-entry":  # one entry for every machine of the list, each loading its own file
        path = keyed_path(point, settings)
        entry = f"(if builtins.pathExists {path} then {path} else {{ }})".encode()
        edit = append_to_list(file.source, point.node, entry)
        edits.append(FileEdit(point.file, edit, "attach each machine's llama.cpp settings"))
    elif point.kind == "imports-new":
        edit = add_binding(file.source, point.node, b"imports = [ " + literal + b" ];", first=True)
        edits.append(FileEdit(point.file, edit, reason, host.name))
    else:  # pragma: no cover - a kind the host finder does not produce
        raise LlamaflakeError(f"{host.name}: unknown way to attach ({point.kind})")
    access = host.access
    if access is not None and not host.inputs_in_modules:
        source = flake.source_file(access.file).source
        why = "let `inputs` reach the modules (the llama.cpp module reads the flake from it)"
        if access.pattern is not None:
            edits.append(
                FileEdit(
                    access.file, bind_pattern(access.pattern, "inputs"), "name the flake's inputs in outputs' arguments"
                )
            )
        if access.kind == "specialArgs-add":
            if access.expression == "inputs":
                edit = add_inherited_name(source, access.node, "inputs")
            else:
                edit = add_binding(source, access.node, f"inputs = {access.expression};".encode())
        else:
            edit = add_binding(source, access.node, access.snippet.encode())
        edits.append(FileEdit(access.file, edit, why, host.name))
    return edits
