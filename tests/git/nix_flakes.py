"""Stand-in flakes for tests that run the real ``nix``: a nixpkgs flake (nixpkgs' real ``lib`` with the reduced
``lib.nixosSystem`` of tests/nix/nixpkgs), a llama.cpp flake (tests/nix/llama-cpp-flake) and user flakes in
layouts that only Nix itself can read. Each lives in a temporary folder and is used through a ``path:`` input,
so that locking and evaluating work offline.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import NIXPKGS_LIB, make_repo

MODEL = Path(__file__).resolve().parent.parent / "nix"

NIXPKGS_FLAKE = """{
  outputs = { self }:
    let
      baseLib = import ./lib;
      nixpkgsFun = import ./nixpkgs { lib = baseLib; };
      nixos = import ./nixpkgs/nixos { lib = baseLib; inherit nixpkgsFun; };
    in
    {
      lib = baseLib // { inherit (nixos) nixosSystem; };
      inherit nixpkgsFun;
      nixosModules.readOnlyPkgs = nixos.readOnlyPkgs;
    };
}
"""

# `import "${nixpkgs}/nixos/lib/eval-config.nix" { ... }`: the stand-in's nixosSystem, as nixpkgs' own is that file.
EVAL_CONFIG = """args:
let
  lib = import ../../lib;
  nixos = import ../../nixpkgs/nixos { inherit lib; nixpkgsFun = import ../../nixpkgs { inherit lib; }; };
in
nixos.nixosSystem args
"""

LLAMA_FLAKE = """{
  inputs.nixpkgs.url = "path:NIXPKGS";
  outputs = { self, nixpkgs }:
    let
      upstream = import ./llama-cpp-flake { inherit (nixpkgs) lib nixpkgsFun; };
      drop = DROP;
    in
    { packages = builtins.mapAttrs (system: packages: removeAttrs packages drop) upstream.packages; };
}
"""


def nixpkgs_flake(where: Path) -> Path:
    """The stand-in nixpkgs flake in ``where``."""
    target = where / "nixpkgs-flake"
    if not target.exists():
        shutil.copytree(NIXPKGS_LIB, target / "lib")
        shutil.copytree(MODEL / "nixpkgs", target / "nixpkgs")
        (target / "flake.nix").write_text(NIXPKGS_FLAKE)
        (target / "nixos" / "lib").mkdir(parents=True)
        (target / "nixos" / "lib" / "eval-config.nix").write_text(EVAL_CONFIG)
    return target


def llama_flake(where: Path, nixpkgs: Path, *, without: tuple[str, ...] = (), name: str = "llama-flake") -> Path:
    """The stand-in llama.cpp flake; ``without`` leaves packages out (a pin from before they existed)."""
    target = where / name
    if not target.exists():
        shutil.copytree(MODEL / "llama-cpp-flake", target / "llama-cpp-flake")
        drop = "[ " + " ".join(f'"{p}"' for p in without) + " ]"
        (target / "flake.nix").write_text(LLAMA_FLAKE.replace("NIXPKGS", str(nixpkgs)).replace("DROP", drop))
    return target


def host_module(name: str) -> str:
    return (
        "{ ... }:\n{\n"
        '  nixpkgs.hostPlatform = "x86_64-linux";\n'
        f'  networking.hostName = "{name}";\n'
        '  system.stateVersion = "24.05";\n'
        "}\n"
    )


COMMON = "{ ... }:\n{\n  # shared by every machine\n  services.llama-cpp.enable = false;\n}\n"


def outputs_elsewhere(path: Path, nixpkgs: Path, hosts=("alpha", "beta")) -> Path:
    """``outputs = inputs: import ./outputs.nix inputs;``: the machines are in a file ``flake.nix`` only imports."""
    entries = "".join(
        f"  nixosConfigurations.{h} = nixpkgs.lib.nixosSystem {{\n"
        f"    specialArgs = {{ inherit inputs; }};\n"
        f"    modules = [ ./common.nix ./hosts/{h}.nix ];\n"
        "  };\n"
        for h in hosts
    )
    files = {
        "flake.nix": "{\n  inputs = {\n"
        f'    nixpkgs.url = "path:{nixpkgs}";\n'
        "  };\n\n  outputs = inputs: import ./outputs.nix inputs;\n}\n",
        "outputs.nix": "{ self, nixpkgs, ... }@inputs:\nlet\n  build = x: x;\nin\nbuild {\n" + entries + "}\n",
        "common.nix": COMMON,
    }
    files.update({f"hosts/{h}.nix": host_module(h) for h in hosts})
    return make_repo(path, files)


def extensible_readdir(path: Path, nixpkgs: Path, hosts=("gamma", "delta", "epsilon")) -> Path:
    """A ``makeExtensible`` library whose ``mkHosts`` builds one machine per folder of ``machines/``, through a
    builtin (``genericClosure``) the static reading does not follow."""
    files = {
        "flake.nix": "{\n"
        f'  inputs.nixpkgs.url = "path:{nixpkgs}";\n'
        "  outputs = { self, nixpkgs, ... }@inputs:\n"
        "    let\n"
        "      my = nixpkgs.lib.makeExtensible (final: {\n"
        "        system = name: nixpkgs.lib.nixosSystem {\n"
        "          specialArgs = { inherit inputs; };\n"
        '          modules = [ ./common.nix (./machines + "/${name}") ];\n'
        "        };\n"
        # genericClosure: a builtin the static reading does not follow, so only nix sees the machines.
        "        mkHosts = dir: builtins.listToAttrs (map (entry: { name = entry.key; value = final.system entry.key; })\n"
        "          (builtins.genericClosure { startSet = map (key: { inherit key; }) (builtins.attrNames (builtins.readDir dir));\n"
        "            operator = _: [ ]; }));\n"
        "      });\n"
        "    in\n"
        "    { nixosConfigurations = my.mkHosts ./machines; };\n"
        "}\n",
        "common.nix": COMMON,
    }
    for h in hosts:
        files[f"machines/{h}/default.nix"] = (
            "{ ... }:\n{\n  imports = [ ./hardware.nix ];\n"
            f'  networking.hostName = "{h}";\n  system.stateVersion = "24.05";\n}}\n'
        )
        files[f"machines/{h}/hardware.nix"] = '{ ... }:\n{\n  nixpkgs.hostPlatform = "x86_64-linux";\n}\n'
    return make_repo(path, files)


def name_in_special_args(path: Path, nixpkgs: Path, hosts=("zeta", "eta")) -> Path:
    """One shared module list; each machine's own file is chosen by the ``hostName`` passed in ``specialArgs``."""
    files = {
        "flake.nix": "{\n"
        f'  inputs.nixpkgs.url = "path:{nixpkgs}";\n'
        "  outputs = { self, nixpkgs, ... }@inputs:\n"
        "    let\n"
        "      names = [ " + " ".join(f'"{h}"' for h in hosts) + " ];\n"
        "      make = hostName: nixpkgs.lib.nixosSystem {\n"
        "        specialArgs = { inherit inputs hostName; };\n"
        "        modules = [ ./common.nix ./select.nix ];\n"
        "      };\n"
        "    in\n"
        "    { nixosConfigurations = nixpkgs.lib.genAttrs names make; };\n"
        "}\n",
        "select.nix": '{ hostName, ... }:\n{\n  imports = [ (./hosts + "/${hostName}.nix") ];\n}\n',
        "common.nix": COMMON,
    }
    files.update({f"hosts/{h}.nix": host_module(h) for h in hosts})
    return make_repo(path, files)


def _skip_without_nix_and_lib() -> None:
    if shutil.which("nix") is None:
        pytest.skip("nix is not installed (Debian: nix-bin)")
    if not NIXPKGS_LIB:
        pytest.skip("nixpkgs' lib not found: set NIXPKGS_LIB to a copy of nixpkgs' lib folder")


@pytest.fixture(autouse=True)
def _nix_env(monkeypatch):
    """Nothing from the developer's nix.conf, and no flake registry look-ups over the network."""
    _skip_without_nix_and_lib()
    monkeypatch.setenv("NIX_CONFIG", "download-attempts = 1\nflake-registry = \nexperimental-features = ")


@pytest.fixture(scope="session")
def stand_ins(tmp_path_factory):
    """The stand-in nixpkgs flake, a llama.cpp flake, and one pinned before it had Vulkan."""
    _skip_without_nix_and_lib()  # session fixtures are set up before the autouse skip above
    where = tmp_path_factory.mktemp("stand-ins")
    nixpkgs = nixpkgs_flake(where)
    return {
        "nixpkgs": nixpkgs,
        "llama": llama_flake(where, nixpkgs),
        "llama-no-vulkan": llama_flake(where, nixpkgs, without=("vulkan",), name="llama-no-vulkan"),
    }
