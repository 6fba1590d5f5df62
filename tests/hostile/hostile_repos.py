"""Small flake repositories for hostile-input tests, and running the real command in a child process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import make_repo

from tui.core.nix.syntax import nix_attr_name

HOST_FILE = '{ ... }:\n{\n  networking.hostName = "x";\n}\n'


def flake_text(hosts: list[str], extra_inputs: str = "") -> str:
    """A flake with one literal nixosSystem per host, each with its own module file ``hosts/<index>.nix``."""
    entries = []
    for index, name in enumerate(hosts):
        entries.append(
            f"    nixosConfigurations.{nix_attr_name(name)} = nixpkgs.lib.nixosSystem {{\n"
            f"      specialArgs = {{ inherit inputs; }};\n"
            f"      modules = [ ./hosts/h{index}.nix ];\n"
            f"    }};\n"
        )
    return (
        '{\n  inputs = {\n    nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n' + extra_inputs + "  };\n\n"
        "  outputs = { self, nixpkgs, ... }@inputs: {\n" + "".join(entries) + "  };\n}\n"
    )


def small_repo(path: Path, hosts: list[str], extra_inputs: str = "", files: dict[str, str] | None = None) -> Path:
    """A git repository holding a small flake with ``hosts``."""
    tree = {"flake.nix": flake_text(hosts, extra_inputs)}
    tree.update({f"hosts/h{i}.nix": HOST_FILE for i in range(len(hosts))})
    tree.update(files or {})
    return make_repo(path, tree)


LAYOUTS = Path(__file__).parents[1] / "fixtures/layouts"


def layout_repo(tmp_path: Path, name: str) -> Path:
    """A git repository holding a copy of the layout fixture ``name`` (without its ``expected.json``)."""
    root = tmp_path / name
    shutil.copytree(LAYOUTS / name, root, symlinks=True, ignore=shutil.ignore_patterns("expected.json"))
    return make_repo(root)


def run_cli(args: list[str], cwd: Path | None = None, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """``llamaflake ARGS`` as a child process, as a user runs it (no terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        **kwargs,
    )


def assert_one_line_refusal(result: subprocess.CompletedProcess) -> None:
    """Exit 2, no traceback, a message that starts with ``llamaflake:``."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("llamaflake: "), result.stderr
