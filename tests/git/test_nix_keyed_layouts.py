"""Layouts wired through a list shared by several machines (one entry keyed by each machine's name) or through
the list written where a builder the static reading cannot follow is called, proven with the real ``nix``:
every machine gets exactly its own settings, a machine whose host folder is a link to another's included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import make_repo
from nix_flakes import _nix_env, stand_ins  # noqa: F401 - fixtures

from tui.cli import main

LAYOUTS = Path(__file__).resolve().parents[1] / "fixtures" / "layouts"


def layout_with_stand_ins(tmp_path: Path, name: str, nixpkgs: Path) -> Path:
    """A git repository holding the layout fixture ``name``, its nixpkgs input the stand-in."""
    root = tmp_path / name
    shutil.copytree(LAYOUTS / name, root, symlinks=True, ignore=shutil.ignore_patterns("expected.json"))
    flake = root / "flake.nix"
    text = flake.read_text()
    assert "github:nixos/nixpkgs/nixos-unstable" in text
    flake.write_text(text.replace("github:nixos/nixpkgs/nixos-unstable", f"path:{nixpkgs}"))
    return make_repo(root)


@pytest.mark.parametrize(
    "name, answers",
    [
        ("genattrs-keyed-entry", {"alpha": "vulkan", "beta": "cpu"}),
        ("symlinked-host-folder", {"alpha": "vulkan", "beta": "cpu", "gamma": "cpu"}),
        ("call-site-module-list", {"alpha": "cpu", "installer": "vulkan"}),
        ("mksystem-foldl", {"carbon": "vulkan", "boron": "cpu"}),
        # host files are descriptors whose `imports` the builder splices in; every file under ./modules is
        # loaded into every machine, so the settings files must live outside it
        ("mkflake-host-descriptors", {"ramen": "vulkan", "udon": "cpu"}),
        # `import "${nixpkgs}/nixos/lib/eval-config.nix" { ... }` is nixosSystem
        ("eval-config-import", {"alpha": "vulkan", "beta": "cpu"}),
    ],
)
def test_each_machine_evaluates_with_its_own_settings_alone(tmp_path, stand_ins, capsys, name, answers):
    root = layout_with_stand_ins(tmp_path, name, stand_ins["nixpkgs"])
    hosts = [arg for host, variant in answers.items() for arg in ("--host", f"{host}={variant}")]
    code = main(["apply", "--flake", str(root), "--url", f"path:{stand_ins['llama']}", *hosts, "--no-caches", "--yes"])
    err = capsys.readouterr().err
    assert code == 0, err
    expected = json.loads((LAYOUTS / name / "expected.json").read_text())
    module_dir = expected.get("module_dir") or ("modules/llama-cpp" if (root / "modules").is_dir() else "llama-cpp")
    for host, variant in answers.items():
        assert f"✓ {host}: llama-cpp-" in err, err
        assert f"as chosen: {variant}, all CPU variants · from {module_dir}/machines/{host}.nix\n" in err, err
