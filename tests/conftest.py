"""Shared fixtures: real git repositories in temporary folders, real Nix parsing where nix exists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import git
import pytest

from tui.core.demo import demo_source

# Fixture trees are data, not tests (the fake /sys trees also hold symlink loops, as the real one does).
collect_ignore = ["fixtures"]
# The fake Hugging Face Hub (tests/models/hub_fake.py) is imported by the wizard's tests too.
sys.path.insert(0, str(Path(__file__).parent / "models"))

NIX_INSTANTIATE = shutil.which("nix-instantiate")
requires_nix = pytest.mark.skipif(NIX_INSTANTIATE is None, reason="nix-instantiate is not installed (Debian: nix-bin)")


@pytest.fixture(autouse=True)
def _isolated_git_config(tmp_path_factory, monkeypatch):
    """Keep the developer's git configuration (hooks, signing) out of the tests; give them an identity."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.org\n[init]\n\tdefaultBranch = main\n"
        "[commit]\n\tgpgsign = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # Nix: none of the developer's settings; inputs that need the network fail at once, without retries.
    monkeypatch.setenv("NIX_CONFIG", "download-attempts = 1\nflake-registry = ")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)
    # A test sees no git repository above its temporary folder (a stray /tmp/.git, a checkout around /tmp):
    # neither above pytest's (one per worker under pytest-xdist) nor above one made with ``tempfile``.
    monkeypatch.setenv(
        "GIT_CEILING_DIRECTORIES", os.pathsep.join([str(tmp_path_factory.getbasetemp()), tempfile.gettempdir()])
    )


@pytest.fixture(autouse=True, scope="session")
def _bytecode_for_child_processes(tmp_path_factory):
    """``python -m tui`` started by a test compiles the project once per test run (per worker), into a
    temporary folder, instead of in every child where the shell says not to write bytecode."""
    patch = pytest.MonkeyPatch()
    patch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    patch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path_factory.mktemp("bytecode")))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def _no_system_pci_ids(monkeypatch):
    """GPU names come from the project's own table unless a test gives a pci.ids file."""
    from tui.core.hardware.gpu_ids import system_pci_ids

    monkeypatch.setenv("LLAMAFLAKE_PCI_IDS", "")
    system_pci_ids.cache_clear()
    yield
    system_pci_ids.cache_clear()


def make_repo(path: Path, files: dict[str, str] | None = None, source: Path | None = None) -> Path:
    """A git repository with one commit holding ``files`` (or a copy of ``source``)."""
    if source is not None:
        shutil.copytree(source, path, symlinks=True)  # a host folder linked to another stays a link
    path.mkdir(parents=True, exist_ok=True)
    for rel, text in (files or {}).items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    repo = git.Repo.init(path)
    repo.git.add("-A")
    repo.git.commit("-m", "initial", "--no-verify")
    return path


COMPACT_FLAKE = """{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = { self, nixpkgs, ... }@inputs: {
    nixosConfigurations.carbon = nixpkgs.lib.nixosSystem {
      specialArgs = { inherit inputs; };
      modules = [
        ./carbon.nix
      ];
    };
    nixosConfigurations.boron = nixpkgs.lib.nixosSystem {
      modules = [
        ./boron.nix
      ];
    };
  };
}
"""


def compact_repo(path: Path) -> Path:
    """A repository of two machines whose ``modules`` lists are a few lines apart, below a dotted input."""
    host = '{ ... }: { networking.hostName = "%s"; nixpkgs.hostPlatform = "x86_64-linux"; }\n'
    return make_repo(path, {"flake.nix": COMPACT_FLAKE, "carbon.nix": host % "carbon", "boron.nix": host % "boron"})


@pytest.fixture
def demo_repo(tmp_path) -> Path:
    return make_repo(tmp_path / "config", source=demo_source())


def nix_parses(path: Path) -> tuple[bool, str]:
    result = subprocess.run([NIX_INSTANTIATE, "--parse", str(path)], capture_output=True, text=True)
    return result.returncode == 0, result.stderr


def assert_nix_parses(path: Path) -> None:
    if NIX_INSTANTIATE is None:
        return
    ok, err = nix_parses(path)
    assert ok, f"{path} does not parse: {err}"


def _nixpkgs_lib() -> str | None:
    """nixpkgs' ``lib`` folder: ``NIXPKGS_LIB``, else the copy in ``../shared/vendor`` beside the project."""
    if os.environ.get("NIXPKGS_LIB"):
        return os.environ["NIXPKGS_LIB"]
    vendored = Path(__file__).resolve().parents[2] / "shared" / "vendor" / "nixpkgs-lib" / "lib"
    return str(vendored) if (vendored / "default.nix").is_file() else None


NIXPKGS_LIB = _nixpkgs_lib()


def nar_hash(path: Path) -> str:
    """The NAR hash of a folder, as a flake.lock records it for every locked input."""
    result = subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command", "hash", "path", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def locked_path(path: Path) -> dict:
    """A ``path`` input of a flake.lock, locked as ``nix flake lock`` locks it."""
    return {"type": "path", "path": str(path), "narHash": nar_hash(path)}


def lock_to_fake_nixpkgs(flake: Path, nixpkgs: Path, cuda: str) -> None:
    """A flake.lock whose nixpkgs input is a local stand-in with nixpkgs' shape where it matters: it needs
    the system where evaluation is pure, as nixpkgs does."""
    nixpkgs.mkdir()
    (nixpkgs / "default.nix").write_text(
        "{ system ? builtins.currentSystem, config ? { }, overlays ? [ ], ... }:\n"
        f'assert builtins.isString system; {{ cudaPackages = {{ cudaMajorMinorVersion = "{cuda}"; }}; }}\n'
    )
    lock = {
        "version": 7,
        "root": "root",
        "nodes": {
            "root": {"inputs": {"nixpkgs": "nixpkgs_2"}},
            "nixpkgs_2": {"locked": locked_path(nixpkgs), "original": {"type": "path", "path": str(nixpkgs)}},
        },
    }
    (flake / "flake.lock").write_text(json.dumps(lock))
