"""snowfall-lib (github:snowfallorg/lib): ``mkFlake`` (or ``mkLib`` then ``mkFlake``) builds every
``systems/<arch>/<host>/default.nix`` below the snowfall root, and loads every ``modules/nixos/<name>``
into every system."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.nix.values import Builtin, External, Opaque, PathValue, Thunk, Unknown, Value

if TYPE_CHECKING:  # pragma: no cover
    from tui.core.nix.evaluate import Evaluator


@dataclass(eq=False)
class SnowfallFlake(Opaque):
    """The flake snowfall-lib makes: hosts come from ``systems/<arch>/<host>`` under ``root``."""

    root: str  # the snowfall root, relative to the flake root
    arg: Thunk | None = None

    def select(self, name: str) -> Value:
        if name == "mkFlake":  # `lib = mkLib { snowfall.root = ...; }; in lib.mkFlake { ... }` keeps mkLib's root

            def mk_flake(evaluator: Evaluator, arg: Thunk) -> Value:
                return SnowfallFlake(self.root, arg)

            return Builtin("mkFlake", 1, (), ("snowfall-lib", "mkFlake"), mk_flake)
        return External(("snowfall-lib", name))

    def call(self, evaluator: Evaluator, arg: Thunk) -> Value:
        return Unknown("snowfall-lib")


def call(evaluator: Evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name in ("mkFlake", "mkLib") and any("snowfall" in part for part in fn.path):
        return SnowfallFlake(snowfall_root(evaluator, arg), arg)
    return None


def snowfall_root(evaluator: Evaluator, arg: Thunk) -> str:
    """``snowfall.root`` when set, else ``src``, else the flake root."""
    value = evaluator.force_attrs(arg)
    if value is None:
        return "."
    snowfall = value.attrs.get("snowfall")
    if snowfall is not None:
        config = evaluator.force_attrs(snowfall)
        if config is not None and "root" in config.attrs:
            root = evaluator.force(config.attrs["root"])
            if isinstance(root, PathValue):
                return root.rel
    src = value.attrs.get("src")
    if src is not None:
        root = evaluator.force(src)
        if isinstance(root, PathValue):
            return root.rel
    return "."


def uses_snowfall(flake) -> bool:
    """A snowfall-lib input and a ``systems`` folder, for flakes whose ``outputs`` the engine cannot follow."""
    named = any("snowfall" in i.name or (i.url and "snowfall" in i.url) for i in flake.inputs)
    return named and (flake.root / "systems").is_dir()


def snowfall_hosts(root_dir: Path) -> list[tuple[str, str, str]]:
    """(host, arch, file relative to the snowfall root) for ``systems/<arch>/<host>/default.nix``.

    Only ``*-linux`` folders hold NixOS systems (``*-darwin`` are nix-darwin, ``*-iso`` and the like are
    images); a folder without ``default.nix`` is not a system.
    """
    found: list[tuple[str, str, str]] = []
    systems = root_dir / "systems"
    if not systems.is_dir():
        return found
    for arch in sorted(p for p in systems.iterdir() if p.is_dir() and p.name.endswith("-linux")):
        for host in sorted(p for p in arch.iterdir() if p.is_dir()):
            if (host / "default.nix").is_file():
                found.append((host.name, arch.name, f"systems/{arch.name}/{host.name}/default.nix"))
    return found
