"""ez-configs (github:ehllie/ez-configs), a flake-parts module: every ``<name>.nix`` or ``<name>/default.nix``
in ``ezConfigs.nixos.configurationsDirectory`` (default ``<ezConfigs.root>/nixos-configurations``) is a
machine, built with ``specialArgs = ezConfigs.nixos.specialArgs`` (default ``ezConfigs.globalArgs``) and,
unless the host sets ``importDefault = false``, the ``default`` module of ``nixos-modules``."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from tui.core.nix.values import AttrsValue, External, ListValue, PathValue, SystemCall, Thunk, Unknown, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


def flake_module(evaluator: Evaluator, module: External, config: Thunk) -> Value | None:
    if not ("ez-configs" in module.path and module.name in ("flakeModule", "default")):
        return None
    flake = AttrsValue({"nixosConfigurations": Thunk.lazy(lambda: configurations(evaluator, config))}, open=True)
    return AttrsValue({"flake": Thunk.const(flake)})


def _get(evaluator: Evaluator, value: Value, *path: str) -> Value | None:
    for name in path:
        if not isinstance(value, AttrsValue) or name not in value.attrs:
            return None
        value = evaluator.force(value.attrs[name])
    return value


def read_modules(evaluator: Evaluator, folder: str) -> dict[str, str]:
    """ez-configs' ``readModules``: ``<name>.nix`` files and folders with a ``default.nix``, by name."""
    found = {}
    for entry, kind in (evaluator.read_dir(folder) or {}).items():
        if kind == "regular" and entry.endswith(".nix"):
            found[entry[: -len(".nix")]] = f"{folder}/{entry}"
        elif kind == "directory" and evaluator.nix_file(f"{folder}/{entry}") == f"{folder}/{entry}/default.nix":
            found[entry] = f"{folder}/{entry}/default.nix"
    return found


def configurations(evaluator: Evaluator, config: Thunk) -> Value:
    settings = _get(evaluator, evaluator.force(config), "ezConfigs")
    if not isinstance(settings, AttrsValue):
        return Unknown("ezConfigs is not a set the engine can read")
    root = _get(evaluator, settings, "root")
    prefix = root.rel if isinstance(root, PathValue) else None

    def folder(option: str, default: str) -> str | None:
        given = _get(evaluator, settings, "nixos", option)
        if isinstance(given, PathValue):
            return given.rel
        if prefix is None:
            return None
        return default if prefix == "." else f"{prefix}/{default}"

    hosts_dir = folder("configurationsDirectory", "nixos-configurations")
    modules_dir = folder("modulesDirectory", "nixos-modules")
    if hosts_dir is None:
        return Unknown("ezConfigs sets neither root nor nixos.configurationsDirectory")
    special = _get(evaluator, settings, "nixos", "specialArgs")
    if special is None:
        special = _get(evaluator, settings, "globalArgs")
    if special is None:
        special = AttrsValue({})
    default_module = read_modules(evaluator, modules_dir).get("default") if modules_dir else None

    def build(name: str, rel: str) -> Value:
        modules = [Thunk.const(PathValue(rel))]
        import_default = _get(evaluator, settings, "nixos", "hosts", name, "importDefault")
        if default_module is not None and import_default is not False:
            modules.append(Thunk.const(PathValue(default_module)))
        arg = AttrsValue({"specialArgs": Thunk.const(special), "modules": Thunk.const(ListValue(modules))})
        return SystemCall(("nixpkgs", "lib", "nixosSystem"), Thunk.const(arg))

    return AttrsValue(
        {name: Thunk.lazy(partial(build, name, rel)) for name, rel in read_modules(evaluator, hosts_dir).items()}
    )
