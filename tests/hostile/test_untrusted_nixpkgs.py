"""The nixpkgs a cloned repository pins is evaluated purely for its CUDA release: it reads nothing of this
machine (files, environment variables, the Nix search path), and what it would read is never taken for an answer."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import locked_path

from tui.core.hardware.support import flake_cuda_release, nixpkgs_cuda_version

pytestmark = pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed")


def flake_locked_to(tmp_path, version_expr: str, files: dict[str, str] | None = None):
    """A flake whose locked nixpkgs answers ``cudaPackages.cudaMajorMinorVersion`` with ``version_expr``."""
    nixpkgs = tmp_path / "nixpkgs"
    nixpkgs.mkdir()
    (nixpkgs / "default.nix").write_text(f"{{ ... }}: {{ cudaPackages.cudaMajorMinorVersion = {version_expr}; }}\n")
    for name, text in (files or {}).items():
        (nixpkgs / name).write_text(text)
    flake = tmp_path / "flake"
    flake.mkdir()
    (flake / "flake.lock").write_text(
        json.dumps(
            {
                "version": 7,
                "root": "root",
                "nodes": {
                    "root": {"inputs": {"nixpkgs": "nixpkgs"}},
                    "nixpkgs": {"locked": locked_path(nixpkgs), "original": {"type": "path", "path": str(nixpkgs)}},
                },
            }
        )
    )
    return flake


@pytest.mark.parametrize("how", ["a file", "an environment variable", "the Nix search path"])
def test_a_nixpkgs_that_reads_this_machine_gets_no_answer_through(tmp_path, monkeypatch, how):
    secret = tmp_path / "secret"
    secret.write_text("12.4")  # reads as a CUDA release
    monkeypatch.setenv("LLAMAFLAKE_SECRET", "12.4")
    monkeypatch.setenv("NIX_PATH", f"secret={secret}")
    expr = {
        "a file": f"builtins.readFile {secret}",
        "an environment variable": 'builtins.getEnv "LLAMAFLAKE_SECRET"',
        "the Nix search path": "builtins.readFile <secret>",
    }[how]
    flake = flake_locked_to(tmp_path, expr)
    assert nixpkgs_cuda_version(flake) is None
    version, note = flake_cuda_release(flake)
    assert version is None and "nixpkgs' current default is assumed" in note


def test_a_nixpkgs_reading_its_own_files_still_answers(tmp_path):
    flake = flake_locked_to(tmp_path, "builtins.readFile ./cuda-version", {"cuda-version": "12.8"})
    assert nixpkgs_cuda_version(flake) == "12.8"


def test_an_input_locked_without_its_hash_is_not_evaluated(tmp_path):
    flake = flake_locked_to(tmp_path, '"12.8"')
    lock = json.loads((flake / "flake.lock").read_text())
    del lock["nodes"]["nixpkgs"]["locked"]["narHash"]  # any content could stand behind it
    (flake / "flake.lock").write_text(json.dumps(lock))
    assert nixpkgs_cuda_version(flake) is None
