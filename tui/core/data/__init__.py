"""Data files (known caches, the cpuinfo -> ggml map), read once."""

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
