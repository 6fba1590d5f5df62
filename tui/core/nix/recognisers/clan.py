"""clan (clan-core's ``lib.clan``, formerly ``lib.buildClan``): a machine for every folder in
``<directory>/machines`` (``directory`` defaults to ``self``, the flake root) and every name in
``machines`` or ``inventory.machines`` (but those of ``machineClass = "darwin"``); each gets ``machines.<name>`` and the files clan loads from its
folder (``configuration.nix``, ``hardware-configuration.nix``, ``disko.nix``), with the ``specialArgs``
given to clan over clan's own: ``self`` (the ``self`` given to clan) and ``clan-core``."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from tui.core.nix.values import AttrsValue, External, ListValue, PathValue, SystemCall, Thunk, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator

MACHINE_FILES = ("configuration.nix", "hardware-configuration.nix", "disko.nix")


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name not in ("clan", "buildClan") or not any("clan" in part for part in fn.path[:-1]):
        return None
    return build_clan(evaluator, fn, arg)


def _attrs(evaluator: Evaluator, value: AttrsValue | None, *path: str) -> AttrsValue | None:
    for name in path:
        if value is None or name not in value.attrs:
            return None
        value = evaluator.force_attrs(value.attrs[name])
    return value


def _is_darwin(evaluator: Evaluator, inventory: AttrsValue, name: str) -> bool:
    entry = _attrs(evaluator, inventory, name)
    return (
        entry is not None and "machineClass" in entry.attrs and evaluator.force(entry.attrs["machineClass"]) == "darwin"
    )


def _special_args(evaluator: Evaluator, given: AttrsValue | None, fn: External) -> Thunk:
    """``{ inherit clan-core; self = <clan's self>; } // specialArgs``, as clan builds every machine."""
    own = {"clan-core": Thunk.const(External(fn.path[:1], fn.bound))}
    if given is not None and "self" in given.attrs:
        own["self"] = given.attrs["self"]
    user = given.attrs.get("specialArgs") if given is not None else None
    if user is None:
        return Thunk.const(AttrsValue(own))
    return Thunk.lazy(lambda: evaluator.update(AttrsValue(own), evaluator.force(user)))


def build_clan(evaluator: Evaluator, fn: External, arg: Thunk) -> Value:
    given = evaluator.force_attrs(arg)
    directory = evaluator.force(given.attrs["directory"]) if given is not None and "directory" in given.attrs else None
    base = directory.rel if isinstance(directory, PathValue) else "."  # `self`, or not given: the flake root
    folder = "machines" if base == "." else f"{base}/machines"
    names = [entry for entry, kind in (evaluator.read_dir(folder) or {}).items() if kind == "directory"]
    declared = _attrs(evaluator, given, "machines")
    inventory = _attrs(evaluator, given, "inventory", "machines")
    for extra in (declared, inventory):
        for name in extra.attrs if extra is not None else {}:
            if name not in names:
                names.append(name)
    if inventory is not None:  # `machineClass = "darwin"`: a nix-darwin machine, not NixOS
        names = [n for n in names if not _is_darwin(evaluator, inventory, n)]
    special = _special_args(evaluator, given, fn)
    builder = fn.path[:-1] + ("nixosSystem",)

    def machine(name: str) -> Value:
        modules: list[Thunk] = []
        if declared is not None and name in declared.attrs:
            modules.append(declared.attrs[name])
        for file in MACHINE_FILES:
            rel = f"{folder}/{name}/{file}"
            if evaluator.nix_file(rel) == rel:
                modules.append(Thunk.const(PathValue(rel)))
        call_arg = AttrsValue(
            {
                "specialArgs": special,
                "modules": Thunk.const(ListValue(modules)),
            }
        )
        # The node is clan's own argument: `specialArgs` given to clan reach every machine.
        written = Thunk(arg.node, arg.file, arg.env)
        written._value = call_arg
        return SystemCall(builder, written)

    configurations = AttrsValue({name: Thunk.lazy(partial(machine, name)) for name in names})
    outputs = {"nixosConfigurations": Thunk.const(configurations)}
    outputs["config"] = Thunk.const(AttrsValue(dict(outputs), open=True))
    return AttrsValue(outputs, open=True)
