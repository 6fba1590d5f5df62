"""Benchmark: read and plan a synthetic repository with many machines (the target is under 2 s for 500).

    python benchmarks/plan_many_hosts.py [--hosts 500] [--layout literal|helper|readdir]

Builds the repository in a temporary folder, then times ``load_flake`` + ``make_plan`` with an answer for
every machine (the slowest case: every machine gets its settings file and its import).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.core.answers import Answers, MachineAnswer
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan

HOST = '{ config, pkgs, ... }:\n{\n  imports = [ ./hardware-configuration.nix ];\n  networking.hostName = "%s";\n}\n'
HARDWARE = '{ lib, ... }: {\n  nixpkgs.hostPlatform = lib.mkDefault "x86_64-linux";\n}\n'
COMMON = "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.git ];\n}\n"
HEAD = '{\n  inputs = {\n    nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n  };\n\n  outputs = { self, nixpkgs, ... }@inputs:\n'


def build(root: Path, hosts: int, layout: str) -> None:
    names = [f"host{i:04d}" for i in range(hosts)]
    (root / "nixos").mkdir(parents=True)
    (root / "nixos/default.nix").write_text(COMMON)
    for name in names:
        folder = root / "hosts" / name
        folder.mkdir(parents=True)
        (folder / "default.nix").write_text(HOST % name)
        (folder / "hardware-configuration.nix").write_text(HARDWARE)
    if layout == "literal":
        body = "".join(
            f"      {n} = nixpkgs.lib.nixosSystem {{\n        specialArgs = {{ inherit inputs; }};\n"
            f"        modules = [\n          ./nixos\n          ./hosts/{n}\n        ];\n      }};\n"
            for n in names
        )
        flake = HEAD + "  {\n    nixosConfigurations = {\n" + body + "    };\n  };\n}\n"
    elif layout == "helper":
        body = "".join(f'      {n} = mkHost "{n}";\n' for n in names)
        flake = (
            HEAD + "  let\n    mkHost = name: nixpkgs.lib.nixosSystem {\n      specialArgs = { inherit inputs; };\n"
            "      modules = [ ./nixos ./hosts/${name} ];\n    };\n  in {\n    nixosConfigurations = {\n"
            + body
            + "    };\n  };\n}\n"
        )
    else:
        flake = (
            HEAD + "  {\n    nixosConfigurations = builtins.mapAttrs (name: _: nixpkgs.lib.nixosSystem {\n"
            "      specialArgs = { inherit inputs; };\n      modules = [ ./nixos ./hosts/${name} ];\n"
            "    }) (builtins.readDir ./hosts);\n  };\n}\n"
        )
    (root / "flake.nix").write_text(flake)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--layout", choices=["literal", "helper", "readdir"], default=None)
    args = parser.parse_args()
    worst = 0.0
    for layout in [args.layout] if args.layout else ["literal", "helper", "readdir"]:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            build(root, args.hosts, layout)
            start = time.perf_counter()
            flake = load_flake(root)
            loaded = time.perf_counter()
            plan = make_plan(flake, Answers(machines={h.name: MachineAnswer("cpu") for h in flake.hosts}))
            done = time.perf_counter()
            assert len(flake.hosts) == args.hosts and not plan.refusals
            print(
                f"{layout:8} {args.hosts} hosts: load {loaded - start:.3f}s, plan {done - loaded:.3f}s, "
                f"total {done - start:.3f}s, {len(plan.changes)} file changes"
            )
            worst = max(worst, done - start)
    print(f"worst total: {worst:.3f}s (target < 2 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
