"""Finding what the new set-up supersedes: hand-written llama-cpp overlays and dead binary caches.

The one scanner for an existing llama.cpp set-up: :func:`tui.core.report.llama_setup` lists what these find.
"""

from __future__ import annotations

from collections.abc import Sequence

from tui.core.caches import known_caches
from tui.core.changes import FileChange, Offer
from tui.core.errors import LlamaflakeError
from tui.core.nix.edits import Edit, remove_list_item
from tui.core.nix.flake import Flake, Host, relative_path
from tui.core.nix.imports import files_reached
from tui.core.nix.paths import nix_files
from tui.core.nix.syntax import Node, attrpath_names, relative_path_literal, string_value, unwrap
from tui.core.variants import LLAMA_PACKAGE_NAMES


def _defines_llama_overlay(tree: Node) -> bool:
    """A file whose value is an overlay (``final: prev: { llama-cpp... = ...; }``) defining llama-cpp packages."""
    node = unwrap(tree)
    depth = 0
    while node is not None and node.kind == "NODE_LAMBDA" and depth < 3:
        node = unwrap(node.nodes()[-1])
        depth += 1
    if depth < 2 or node is None or node.kind != "NODE_ATTR_SET":
        return False
    for child in node.nodes():
        if child.kind == "NODE_ATTRPATH_VALUE":
            path = attrpath_names(child.nodes()[0]) or []
            if path and path[0] in LLAMA_PACKAGE_NAMES:
                return True
    return False


def _list_item_of(node: Node) -> Node | None:
    """The list element that contains ``node`` (through parentheses and ``import``), if any."""
    child = node
    for parent in node.ancestors():
        if parent.kind == "NODE_LIST":
            return child
        if parent.kind not in ("NODE_PAREN", "NODE_APPLY"):
            return None
        child = parent
    return None


def dead_cache_values() -> set[str]:
    """The substituter URLs and keys of the caches known to be dead."""
    dead = [c for c in known_caches() if c.status == "dead"]
    return {c.url for c in dead} | {c.key for c in dead}


def dead_cache_strings(tree: Node, dead: set[str]) -> list[Node]:
    """The strings of ``tree`` that are list items naming a dead cache (a substituter or its key)."""
    found = []
    for node in tree.walk():
        if node.kind == "NODE_STRING" and node.parent is not None and node.parent.kind == "NODE_LIST":
            value = string_value(node)
            if value is not None and value.rstrip("/") in dead:
                found.append(node)
    return found


def llama_package_binding(path: list[str]) -> bool:
    """Whether a binding's attribute path defines or overrides a llama.cpp package."""
    return bool(path) and path[-1] in LLAMA_PACKAGE_NAMES


def _under_machines(node: Node) -> bool:
    """Whether a node of ``flake.nix`` is inside its ``nixosConfigurations``."""
    for ancestor in node.ancestors():
        if ancestor.kind == "NODE_ATTRPATH_VALUE":
            parts = ancestor.nodes()
            names = attrpath_names(parts[0]) if parts and parts[0].kind == "NODE_ATTRPATH" else None
            if names and "nixosConfigurations" in names:
                return True
    return False


class _LeftAlone:
    """The machines a plan leaves alone, and the files each one's configuration reads (found once, when asked)."""

    def __init__(self, flake: Flake, hosts: list[Host]) -> None:
        self.flake = flake
        self.hosts = hosts
        self._reached: dict[str, set[str] | None] | None = None

    def reached(self) -> dict[str, set[str] | None]:
        if self._reached is None:
            every = nix_files(self.flake.root)
            self._reached = {h.name: files_reached(self.flake, h, every) for h in self.flake.hosts}
        return self._reached

    def keeps(self, subject: str, files: list[str], brought_in_by: list[str], plural: bool = False) -> str | None:
        """Why ``subject`` (the clean-up of ``files``, named by ``brought_in_by``) must wait, naming the machines
        left alone that use or may use it; None where none does."""
        if not self.hosts:
            return None
        reached = self.reached()
        it = "them" if plural else "it"
        users = [h.name for h in self.hosts if (seen := reached[h.name]) is not None and seen & set(files)]
        if users:
            return (
                f"kept {subject}: {_names(users)} {_verb(users, 'uses', 'use')} {it} and "
                f"{_verb(users, 'is', 'are')} left alone by this change; wire {_names(users)} too to remove {it}"
            )
        seen = set().union(*(r for r in reached.values() if r is not None))
        unseen = [rel for rel in brought_in_by if rel not in seen]
        if not brought_in_by or unseen:
            maybe = [h.name for h in self.hosts]
            why = f"{', '.join(unseen)} brings {it} in" if unseen else "no file the engine reads names it"
        else:
            maybe = [h.name for h in self.hosts if reached[h.name] is None]
            why = f"how {_verb(maybe, 'it is', 'they are')} built is not followed"
        if not maybe:
            return None
        return (
            f"kept {subject}: the engine cannot tell whether {_names(maybe)} {_verb(maybe, 'uses', 'use')} {it} "
            f"({why}), and {_verb(maybe, 'it is', 'they are')} left alone by this change; "
            f"wire {_names(maybe)} too to remove {it}"
        )


def _verb(names: list[str], one: str, several: str) -> str:
    return one if len(names) == 1 else several


def _names(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def _names_file(literal: str, base: str, rel: str) -> bool:
    """Whether a path literal written in ``base`` names ``rel`` (a folder names its ``default.nix``)."""
    target = relative_path(base, literal)
    return target == rel or (rel.endswith("/default.nix") and target == rel[: -len("/default.nix")])


def _in_nix_config(rel: str, node: Node) -> bool:
    """A node inside flake.nix's ``nixConfig``: the flake's own settings, read by no machine."""
    if rel != "flake.nix":
        return False
    for scope in node.ancestors():
        if scope.kind == "NODE_ATTRPATH_VALUE" and (attrpath_names(scope.nodes()[0]) or [])[:1] == ["nixConfig"]:
            return True
    return False


def cleanup_offers(flake: Flake, module_dir: str, left_alone: Sequence[Host] = ()):
    """(offers, edits per file, file removals, notes) for superseded overlays and dead caches.

    A clean-up that would change what a machine in ``left_alone`` reads is neither offered nor done: a note
    names the machines instead.
    """
    offers: list[Offer] = []
    notes: list[str] = []
    per_file: dict[str, list[Edit]] = {}
    deletes: list[FileChange] = []
    alone = _LeftAlone(flake, list(left_alone))
    files = [rel for rel in nix_files(flake.root) if not rel.startswith(module_dir + "/")]
    dead = dead_cache_values()
    # Only files that mention llama, a dead cache, or (below) an overlay's file name are parsed: a big
    # repository has hundreds of files that cannot matter here.
    raw: dict[str, bytes] = {}
    for rel in files:
        try:
            raw[rel] = (flake.root / rel).read_bytes()
        except OSError:
            continue
    needles = [b"llama", *(d.encode() for d in dead)]
    parsed: dict[str, Node | None] = {}

    def tree_of(rel: str) -> Node | None:
        if rel not in parsed:
            try:
                parsed[rel] = flake.source_file(rel).tree
            except LlamaflakeError:
                parsed[rel] = None
        return parsed[rel]

    for rel, data in raw.items():
        if any(needle in data for needle in needles):
            tree_of(rel)

    # Hand-written overlays, and the list elements that bring them in.
    for rel, tree in list(parsed.items()):
        if tree is None or rel == "flake.nix" or not _defines_llama_overlay(tree):
            continue
        references: list[tuple[str, Node]] = []
        parts = rel.split("/")
        # `./overlays` names overlays/default.nix: the folder's name is what is written
        folder = parts[-1] == "default.nix" and len(parts) > 1
        name = (parts[-2] if folder else parts[-1]).encode()
        for other, data in raw.items():
            other_tree = tree_of(other) if name in data else None
            if other_tree is None:
                continue
            for node in other_tree.walk():
                literal = relative_path_literal(node)
                if literal and _names_file(literal, other, rel):
                    references.append((other, node))
        naming = list(dict.fromkeys(other for other, _ in references))
        # Named some other way (`"${self}/overlays/x.nix"`): a use too, though not one the clean-up can remove.
        mention = b"/" + name if folder else name
        unread = [other for other, data in raw.items() if other != rel and other not in naming and mention in data]
        kept = alone.keeps(f"{rel} (a hand-written llama-cpp overlay)", [rel, *naming, *unread], [*naming, *unread])
        if kept:
            notes.append(kept)
            continue
        outside = [
            f"{other}:{flake.source_file(other).line(node)}"
            for other, node in references
            if other == "flake.nix" and not _under_machines(node)
        ]
        if outside:  # another flake output (`legacyPackages`, `packages`) is built with it: not the machines' own
            notes.append(
                f"kept {rel} (a hand-written llama-cpp overlay): {', '.join(outside)} uses it for a flake "
                "output that is not a machine; remove it by hand where nothing needs it"
            )
            continue
        items = [(other, _list_item_of(node)) for other, node in references]
        removals = [(other, item) for other, item in items if item is not None]
        if len(removals) != len(items):
            offers.append(
                Offer(f"{rel} defines llama-cpp packages the new module replaces; remove it and its use by hand", [rel])
            )
            continue
        for other, item in removals:
            per_file.setdefault(other, []).append(remove_list_item(flake.source_file(other).source, item))
        deletes.append(
            FileChange(rel, flake.source_file(rel).source, None, "superseded llama-cpp overlay", optional=True)
        )
        offers.append(
            Offer(
                f"remove {rel}, a hand-written llama-cpp overlay the new module supersedes",
                [rel, *[o for o, _ in items]],
            )
        )

    # Dead caches in substituter and key lists.
    for rel, tree in parsed.items():
        if tree is None:
            continue
        found = dead_cache_strings(tree, dead)
        if not found:
            continue
        if not all(_in_nix_config(rel, node) for node in found):
            kept = alone.keeps(f"the dead binary caches in {rel}", [rel], [rel], plural=True)
            if kept:
                notes.append(kept)
                continue
        for node in found:
            per_file.setdefault(rel, []).append(remove_list_item(flake.source_file(rel).source, node))
        offers.append(Offer(f"remove dead binary caches from {rel}", [rel]))

    return offers, per_file, deletes, notes
