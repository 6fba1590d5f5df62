"""llamaflake: wire the official llama.cpp flake into a flake-based NixOS repository."""

__version__ = "0.1.0"
