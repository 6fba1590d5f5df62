"""flakelight (github:nix-community/flakelight): ``flakelight ./. module``. Machines are the module's
``nixosConfigurations`` and the files in ``<nixDir>/nixos`` or ``<nixDir>/nixosConfigurations``
(``<name>.nix`` or ``<name>/default.nix``; ``nixDir`` defaults to ``./nix``). Each is either a built
system or the arguments of ``nixpkgs.lib.nixosSystem``, which flakelight gives
``specialArgs = { inputs, hostname }``; either may be a function of the module arguments."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from tui.core.nix.values import AttrsValue, Builtin, External, Lambda, PathValue, SystemCall, Thunk, Unknown, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator
    from tui.core.nix.syntax import Node

HOST_FOLDERS = ("nixosConfigurations", "nixos")


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.path[-1:] == ("flakelight",) or ("flakelight" in fn.path and fn.name == "mkFlake"):
        return Builtin("flakelight", 2, (arg,), fn.path, mk_flake)
    return None


def mk_flake(evaluator: Evaluator, src: Thunk, module: Thunk) -> Value:
    source = evaluator.force(src)
    if not isinstance(source, PathValue):
        return Unknown("flakelight's source is not a path in the repository")
    module_args = AttrsValue(
        {
            "inputs": Thunk.const(evaluator.inputs if evaluator.inputs is not None else External(("inputs",), True)),
            "src": Thunk.const(source),
        },
        open=True,
    )
    body = evaluator.force(module)
    if isinstance(body, Lambda):
        body = evaluator.apply(body, Thunk.const(module_args))
    if not isinstance(body, AttrsValue):
        return Unknown("flakelight's module is not a set the engine can read")

    def with_args(value: Value) -> Value:
        return evaluator.apply(value, Thunk.const(module_args)) if isinstance(value, Lambda) else value

    def host_file(rel: str) -> Value:
        return with_args(evaluator.import_path(PathValue(rel)))

    def configuration(name: str, thunk: Thunk) -> Value:
        return system(evaluator, name, with_args(evaluator.force(thunk)))

    hosts: dict[str, Thunk] = {}
    where: dict[str, Node] = {}
    if "nixosConfigurations" in body.attrs:
        given = with_args(evaluator.force(body.attrs["nixosConfigurations"]))
        if isinstance(given, AttrsValue):
            hosts.update(given.attrs)
            where.update(given.where)
    nix_dir = (
        evaluator.force(body.attrs["nixDir"])
        if "nixDir" in body.attrs
        else PathValue("nix" if source.rel == "." else f"{source.rel}/nix")
    )
    if isinstance(nix_dir, PathValue):
        for name, rel in host_files(evaluator, nix_dir.rel).items():
            hosts.setdefault(name, Thunk.lazy(partial(host_file, rel)))
    configurations = AttrsValue(
        {name: Thunk.lazy(partial(configuration, name, thunk)) for name, thunk in hosts.items()},
        node=body.node,
        where=where,
        file=body.file,
    )
    return AttrsValue({"nixosConfigurations": Thunk.const(configurations)}, open=True)


def host_files(evaluator: Evaluator, nix_dir: str) -> dict[str, str]:
    """``<nixDir>/nixos/<name>.nix`` and ``<nixDir>/nixos/<name>/default.nix`` (or ``nixosConfigurations``), by name."""
    found: dict[str, str] = {}
    for folder in HOST_FOLDERS:
        base = f"{nix_dir}/{folder}" if nix_dir != "." else folder
        for entry, kind in (evaluator.read_dir(base) or {}).items():
            if kind == "regular" and entry.endswith(".nix"):
                found.setdefault(entry[: -len(".nix")], f"{base}/{entry}")
            elif kind == "directory" and evaluator.nix_file(f"{base}/{entry}") is not None:
                found.setdefault(entry, f"{base}/{entry}")
    return found


def system(evaluator: Evaluator, name: str, value: Value) -> Value:
    """A built system as it is; the arguments of nixosSystem with flakelight's ``specialArgs`` added."""
    if not isinstance(value, AttrsValue):
        return value
    given = evaluator.force(value.attrs["specialArgs"]) if "specialArgs" in value.attrs else AttrsValue({})
    special = evaluator.update(
        AttrsValue(
            {
                "inputs": Thunk.const(
                    evaluator.inputs if evaluator.inputs is not None else External(("inputs",), True)
                ),
                "hostname": Thunk.const(name),
            }
        ),
        given,
    )
    attrs = dict(value.attrs)
    attrs["specialArgs"] = Thunk.const(special)
    arg = AttrsValue(attrs, value.open, value.node, value.where, value.file, value.base)
    return SystemCall(("nixpkgs", "lib", "nixosSystem"), Thunk.const(arg))
