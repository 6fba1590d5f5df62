"""Nix as the judge of what machines a flake has and where each lives.

The static engine reads the repository's files; ``nix eval`` of ``nixosConfigurations`` is the truth. For a
machine the static engine cannot see or cannot wire, Nix says which files define its host-specific options
(``options.<opt>.files``); a file of the repository that no other machine's definitions include is that
machine's own file, and the machine's settings are imported there.

Nothing here writes to the repository: evaluations run with ``--no-write-lock-file``.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tui.core.data import nix_expression
from tui.core.errors import LlamaflakeError
from tui.core.nix.flake import Flake, Host
from tui.core.nix_run import (
    NixCancelled,
    Progress,
    nix_argv,
    nix_support,
    offline_reason,
    run_streaming,
    short_message,
    too_large,
)

DEFAULT_DISCOVERY_TIMEOUT = 300

# For every machine: the files defining each option every machine sets in a file of its own, whether `inputs`
# reaches its modules, its system (tui/core/data/host_option_files.nix).
_WHERE_APPLY = nix_expression("host_option_files")
_STORE_SOURCE = re.compile(r"^/nix/store/[0-9a-z]{32}-source/(.*)$")


@dataclass
class Discovery:
    """What Nix says about the machines, next to the static engine: who agrees, who does not, and why not."""

    machines: list[str] | None  # None: Nix was not asked or could not answer (``error`` says why)
    error: str | None = None
    only_nix: list[str] = field(default_factory=list)
    only_static: list[str] = field(default_factory=list)
    wired_by_nix: dict[str, str] = field(default_factory=dict)  # machine -> its own file, found by Nix

    def as_dict(self) -> dict:
        return {
            "machines": self.machines,
            "error": self.error,
            "only_nix": self.only_nix,
            "only_static": self.only_static,
            "own_files": self.wired_by_nix,
        }

    def notes(self) -> list[str]:
        """The disagreements, one sentence each."""
        notes = []
        if self.error:
            notes.append(f"not verified with nix: {self.error}")
        if self.only_nix:
            notes.append("nix lists machines the static reading did not find: " + ", ".join(self.only_nix))
        if self.only_static:
            notes.append("the static reading found machines nix does not list: " + ", ".join(self.only_static))
        for name, rel in self.wired_by_nix.items():
            notes.append(f"{name}: its own file {rel} was found by nix")
        return notes


def machine_names(
    root: Path,
    timeout: float = DEFAULT_DISCOVERY_TIMEOUT,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[str]:
    """``nix eval``'s list of ``nixosConfigurations``; raises :class:`LlamaflakeError` with Nix's message
    (:class:`NixCancelled` once ``cancel`` is set)."""
    return _eval_json(root, "nixosConfigurations", "builtins.attrNames", timeout, progress, cancel)


def _eval_json(
    root: Path,
    attr: str,
    apply: str,
    timeout: float,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
):
    result = run_streaming(
        nix_argv("eval", "--json", "--no-write-lock-file", f".#{attr}", "--apply", apply),
        root,
        timeout,
        progress,
        cancel=cancel,
    )
    if result.timed_out:
        raise LlamaflakeError(f"`nix eval` did not finish in {timeout:g} s")
    if result.too_large:
        raise LlamaflakeError(too_large("nix eval"))
    if result.returncode != 0:
        offline = offline_reason(result.stderr, root)
        if offline:
            raise LlamaflakeError(offline)
        raise LlamaflakeError(short_message(result.stderr, root, 6) or f"`nix eval` failed ({result.returncode})")
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise LlamaflakeError(
            f"`nix eval` printed something unexpected: {short_message(result.stdout, root, 3)}"
        ) from None


def _source_prefix(root: Path) -> str:
    """The flake folder's path inside the store copy of its source (the git repository's top, for a git flake)."""
    from tui.core import gitrepo

    repo = gitrepo.find_repo(root)
    return gitrepo.repo_prefix(repo, root) if repo is not None else ""


def repository_file(store_path: str, prefix: str) -> str | None:
    """A store path of the flake's source as a path relative to the flake folder, or None if it is not one."""
    match = _STORE_SOURCE.match(store_path)
    if match is None or not match.group(1).startswith(prefix):
        return None
    return match.group(1)[len(prefix) :]


def own_files(where: dict, prefix: str, root: Path) -> dict[str, str | None]:
    """Per machine, the first repository file among its host-option definitions that no other machine includes."""
    per_machine: dict[str, list[str]] = {}
    for name, info in where.items():
        seen: list[str] = []
        for files in info.get("files") or []:
            for path in files:
                rel = repository_file(path, prefix)
                if rel is not None and (root / rel).is_dir():  # a folder imported as a module: its default.nix
                    rel = f"{rel.rstrip('/')}/default.nix"
                if rel is not None and rel.endswith(".nix") and rel not in seen and (root / rel).is_file():
                    seen.append(rel)
        per_machine[name] = seen
    result: dict[str, str | None] = {}
    for name, files in per_machine.items():
        others = {rel for other, rels in per_machine.items() if other != name for rel in rels}
        result[name] = next((rel for rel in files if rel not in others and rel != "flake.nix"), None)
    return result


def discover(
    flake: Flake,
    *,
    timeout: float = DEFAULT_DISCOVERY_TIMEOUT,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Discovery:
    """Ask Nix which machines exist; add those the static engine missed to ``flake.hosts`` and wire, through their
    own file, those it could not wire. Where Nix cannot answer, the static result stands and ``error`` says why.
    Setting ``cancel`` stops Nix and raises :class:`NixCancelled`."""
    support = nix_support()
    if not support.flakes:
        return Discovery(None, support.reason)
    try:
        names = machine_names(flake.root, timeout, progress, cancel)
    except NixCancelled:
        raise
    except LlamaflakeError as exc:
        return Discovery(None, exc.message)
    static = [h.name for h in flake.hosts]
    discovery = Discovery(
        names, only_nix=[n for n in names if n not in static], only_static=[n for n in static if n not in names]
    )
    needs = [n for n in names if n in discovery.only_nix or not _can_wire(flake.host(n))]
    if not needs:
        return discovery
    try:
        where = _eval_json(flake.root, "nixosConfigurations", _WHERE_APPLY, timeout, progress, cancel)
    except NixCancelled:
        raise
    except LlamaflakeError as exc:
        discovery.error = f"could not ask nix where the machines live: {exc.message}"
        where = {}
    owned = own_files(where, _source_prefix(flake.root), flake.root) if where else {}
    for name in needs:
        host = flake.host(name)
        info = where.get(name) or {}
        if host is None:
            host = Host(
                name,
                "found by nix",
                owned.get(name) or "flake.nix",
                1,
                system=info.get("system"),
                layout="nix",
                modules_known=False,
            )
            host.refusal = "the static reading cannot see this machine"
            flake.hosts.append(host)
        _wire_through_own_file(flake, host, owned.get(name), bool(info.get("inputs")))
        if host.can_wire and host.own_file is not None:  # wired here: through its own file
            discovery.wired_by_nix[name] = host.own_file
    return discovery


def _can_wire(host: Host | None) -> bool:
    return host is not None and host.can_wire


def _wire_through_own_file(flake: Flake, host: Host, rel: str | None, inputs: bool) -> None:
    from tui.core.nix.hosts import _attach_to_file

    if rel is None:
        if host.refusal is None:
            host.refusal = "nix found no file that belongs to this machine alone"
        return
    previous = (host.refusal, host.attach, host.own_file)
    host.refusal, host.attach = None, None
    _attach_to_file(flake, host, rel)
    if host.attach is None:
        host.refusal, host.attach = previous[0] or host.refusal, previous[1]
        return
    host.own_file = host.snippet_file = rel
    host.module_files = list(dict.fromkeys([*host.module_files, rel]))
    host.inputs_in_modules = inputs
    if not inputs:
        host.attach = None
        host.refusal = (
            "`inputs` does not reach this machine's modules (nix says); pass specialArgs = { inherit inputs; }"
        )


@dataclass
class MachineListChange:
    """What Nix's answer changes in the list of machines the static reading showed, for the wizard to merge."""

    machines: list[str]  # the machines after the merge, in the order shown
    answered: bool = True  # False: Nix could not list the machines, and the static reading stands
    added: list[str] = field(default_factory=list)  # Nix lists them; the static reading did not find them
    removed: list[str] = field(default_factory=list)  # the static reading found them; Nix does not list them
    renamed: dict[str, str] = field(default_factory=dict)  # the static reading's name -> Nix's, same machine
    wired: dict[str, str] = field(default_factory=dict)  # machine -> its own file, found by Nix
    error: str | None = None  # why Nix could not answer, or the part of the answer that is missing

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.renamed or self.wired)

    def shown_before(self, name: str) -> str:
        """The name the static reading showed this machine under (its own name unless Nix renamed it)."""
        return next((old for old, new in self.renamed.items() if new == name), name)

    def note(self) -> str:
        """One line saying what changed, or that Nix agrees with the static reading."""
        if not self.answered:
            return f"Nix could not list the machines, the static reading stands: {self.error}"
        parts = []
        if self.added:
            parts.append(f"added {', '.join(self.added)} (the static reading did not find {_them(self.added)})")
        if self.removed:
            parts.append(f"removed {', '.join(self.removed)} (Nix does not list {_them(self.removed)})")
        parts.extend(f"renamed {old} to {new}" for old, new in self.renamed.items())
        parts.extend(f"{name} is wired through its own file {rel}" for name, rel in self.wired.items())
        count = len(self.machines)
        text = (
            "Nix: " + "; ".join(parts)
            if parts
            else f"Nix agrees with the static reading: {count} machine{'' if count == 1 else 's'}"
        )
        return text + (f" (not verified with nix: {self.error})" if self.error else "")


def _them(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"


def merge_discovery(static: list[Host], flake: Flake, discovery: Discovery) -> MachineListChange:
    """Merge Nix's answer into ``flake`` (read afresh and given to :func:`discover`), against ``static``, the machines
    the static reading showed: the machines Nix does not list leave ``flake.hosts``, and those it adds follow the
    others. A machine only the static reading found and one only Nix lists are the same machine, renamed, when
    Nix's own file of the one is among the other's files (and no other pair shares it). Where Nix could not
    answer, ``flake.hosts`` stays as read."""
    if discovery.machines is None:
        return MachineListChange([h.name for h in flake.hosts], answered=False, error=discovery.error)
    listed = discovery.machines
    static_names = [h.name for h in static]
    only_static = [h for h in static if h.name not in listed]
    only_nix = [h for h in flake.hosts if h.name in listed and h.name not in static_names]
    renamed = _renames(only_static, only_nix)
    new_names = set(renamed.values())
    change = MachineListChange(
        [],
        added=[h.name for h in only_nix if h.name not in new_names],
        removed=[h.name for h in only_static if h.name not in renamed],
        renamed=renamed,
        wired={n: rel for n, rel in discovery.wired_by_nix.items() if n in static_names},
        error=discovery.error,
    )
    place = {name: i for i, name in enumerate(static_names)}
    place.update({new: place[old] for old, new in renamed.items()})
    kept = [h for h in flake.hosts if h.name in listed]
    kept.sort(key=lambda h: place.get(h.name, len(place) + listed.index(h.name)))
    flake.hosts = kept
    change.machines = [h.name for h in kept]
    return change


def _renames(only_static: list[Host], only_nix: list[Host]) -> dict[str, str]:
    """Pairs of one machine under two names: Nix's own file of the one is among the other's files, for one pair only."""

    def files_of(host: Host) -> set[str]:
        return {f for f in (host.own_file, host.file, *host.module_files) if f and f != "flake.nix"}

    def own_of(host: Host) -> set[str]:
        return {f for f in (host.own_file, host.file) if f and f != "flake.nix"}

    pairs = [(s.name, n.name) for s in only_static for n in only_nix if own_of(n) & files_of(s)]
    olds = [old for old, _ in pairs]
    news = [new for _, new in pairs]
    return {old: new for old, new in pairs if olds.count(old) == 1 and news.count(new) == 1}
