"""Data files (known caches, the cpuinfo -> ggml map), read once."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources


@cache
def load(name: str) -> dict:
    """Parse ``tui/core/data/<name>.toml``."""
    text = resources.files(__package__).joinpath(f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)
