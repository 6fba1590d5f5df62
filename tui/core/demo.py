"""The bundled demo repository, copied to a temporary folder and made a git repository."""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path

import git


def demo_source() -> Path:
    return Path(str(resources.files("tui").joinpath("demo", "repo")))


def make_demo_repo(parent: Path | None = None) -> Path:
    """Copy the demo flake to a new temporary folder, commit it, and return the folder."""
    target = Path(tempfile.mkdtemp(prefix="llamaflake-demo-", dir=parent)) / "nixos-config"
    shutil.copytree(demo_source(), target)
    repo = git.Repo.init(target, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Demo User")
        config.set_value("user", "email", "demo@example.org")
        config.set_value("commit", "gpgsign", "false")
    repo.git.add("-A")
    repo.git.commit("-m", "Initial configuration", "--no-verify")
    return target
