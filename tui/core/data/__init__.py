"""Data files (known caches, the cpuinfo -> ggml map, the Nix expressions llamaflake asks Nix), read once."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path


@cache
def load(name: str) -> dict:
    """Parse ``tui/core/data/<name>.toml``."""
    text = (Path(__file__).parent / f"{name}.toml").read_text(
        "utf-8"
    )  # a plain file: starts faster than importlib.resources
    return tomllib.loads(text)


@cache
def nix_expression(name: str) -> str:
    """The text of ``tui/core/data/<name>.nix``: a Nix expression, given to Nix as it is."""
    return (Path(__file__).parent / f"{name}.nix").read_text("utf-8")
