"""nixos-unified (github:srid/nixos-unified, formerly nixos-flake): ``mkLinuxSystem { ... } module`` builds a
machine whose modules get ``flake = { inputs, self, config }`` as a special argument; the ``autoWire``
flake module makes ``nixosConfigurations.<name>`` of every ``configurations/nixos/<name>.nix`` (or
``<name>/default.nix``); ``lib.mkFlake { inputs; root; }`` is flake-parts over the modules in
``modules/flake`` (or ``nix/modules/flake``, ``modules/flake-parts``, ``nix/modules/flake-parts``)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from tui.core.nix.values import AttrsValue, Builtin, External, ListValue, PathValue, SystemCall, Thunk, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator

NAMES = ("nixos-unified", "nixos-flake")
FLAKE_MODULE_DIRS = ("nix/modules/flake", "modules/flake", "nix/modules/flake-parts", "modules/flake-parts")


def _ours(path: tuple[str, ...]) -> bool:
    return any(part in NAMES for part in path)


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if not _ours(fn.path):
        return None
    if fn.name == "mkLinuxSystem":
        return Builtin("mkLinuxSystem", 2, (arg,), fn.path, mk_linux_system)
    if fn.name == "mkFlake":
        return mk_flake(evaluator, arg)
    return None


def mk_linux_system(evaluator: Evaluator, options: Thunk, module: Thunk) -> Value:
    """``nixpkgs.lib.nixosSystem { specialArgs = { flake = { inputs, self, config }; }; modules = [ module ]; }``."""
    inputs = evaluator.inputs
    flake = AttrsValue(
        {
            "inputs": Thunk.const(inputs if inputs is not None else External(("inputs",), True)),
            "self": Thunk.lazy(lambda: evaluator.select(inputs, "self") if inputs is not None else External(("self",))),
        },
        open=True,
    )
    arg = AttrsValue(
        {
            "specialArgs": Thunk.const(AttrsValue({"flake": Thunk.const(flake)})),
            "modules": Thunk.const(ListValue([module])),
        }
    )
    return SystemCall(("nixpkgs", "lib", "nixosSystem"), Thunk.const(arg))


def machine_files(evaluator: Evaluator, folder: str) -> dict[str, str]:
    """``<folder>/<name>.nix`` and ``<folder>/<name>/default.nix`` by name, as nixos-unified lists them."""
    found = {}
    for entry, kind in (evaluator.read_dir(folder) or {}).items():
        if kind == "regular" and entry.endswith(".nix"):
            found[entry[: -len(".nix")]] = f"{folder}/{entry}"
        elif kind == "directory" and evaluator.nix_file(f"{folder}/{entry}") is not None:
            found[entry] = f"{folder}/{entry}"
    return found


def flake_module(evaluator: Evaluator, module: External, config: Thunk) -> Value | None:
    """The ``autoWire`` flake module: a machine per file in ``configurations/nixos``."""
    if not (_ours(module.path) and module.name == "autoWire"):
        return None

    def configurations() -> Value:
        hosts = {
            name: Thunk.lazy(
                partial(mk_linux_system, evaluator, Thunk.const(AttrsValue({})), Thunk.const(PathValue(rel)))
            )
            for name, rel in machine_files(evaluator, "configurations/nixos").items()
        }
        return AttrsValue(hosts)

    flake = AttrsValue({"nixosConfigurations": Thunk.lazy(configurations)}, open=True)
    return AttrsValue({"flake": Thunk.const(flake)})


def mk_flake(evaluator: Evaluator, arg: Thunk) -> Value:
    from tui.core.nix.recognisers.flake_parts import flake_parts_outputs

    args = evaluator.force_attrs(arg)
    root = evaluator.force(args.attrs["root"]) if args is not None and "root" in args.attrs else None
    base = root.rel if isinstance(root, PathValue) else "."
    prefix = "" if base == "." else base + "/"
    imports: list[Thunk] = []
    for candidate in FLAKE_MODULE_DIRS:
        entries = evaluator.read_dir(prefix + candidate)
        if entries is not None:
            imports = [Thunk.const(PathValue(f"{prefix}{candidate}/{name}")) for name in entries]
            break
    return flake_parts_outputs(evaluator, Thunk.const(AttrsValue({"imports": Thunk.const(ListValue(imports))})))
