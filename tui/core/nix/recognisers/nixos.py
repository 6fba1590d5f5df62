"""nixpkgs' ``nixosSystem`` (``nixpkgs.lib.nixosSystem``, ``lib.nixosSystem``, another flake's own
``nixos-raspberrypi.lib.nixosSystem``): a machine."""

from __future__ import annotations

from tui.core.nix.values import External, SystemCall, Thunk, Value


def call(evaluator, fn: External, arg: Thunk) -> Value | None:
    if fn.name == "nixosSystem":
        return SystemCall(fn.path, arg)
    return None
