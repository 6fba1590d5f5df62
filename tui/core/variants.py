"""The llama.cpp builds a machine can get: the one list the answers, the wizard, the flags and the module use."""

from __future__ import annotations

from typing import Literal

Variant = Literal["cpu", "cuda", "vulkan", "rocm"]

VARIANTS: tuple[Variant, ...] = ("cpu", "cuda", "vulkan", "rocm")
NO_VARIANT = "none"  # the wizard's and the command line's word for "leave this machine alone"

# What each build is for, in plain words (the wizard's variant picker, where no recommendation speaks for it).
VARIANT_WORDS = {
    "cpu": "the CPU alone, with the machine's instruction sets: runs on any machine",
    "cuda": "NVIDIA GPUs, built for their compute capabilities (needs the NVIDIA driver)",
    "vulkan": "any GPU with a Vulkan driver: AMD, Intel or NVIDIA, integrated ones too",
    "rocm": "AMD GPUs through ROCm, built for their gfx targets (x86_64-linux only)",
    NO_VARIANT: "leave this machine alone: nothing is written for it",
}

# The flake has packages.<system>.rocm on these systems only.
ROCM_SYSTEMS = ("x86_64-linux",)

# Names a hand-written set-up gives its llama.cpp packages, which the generated module supersedes.
LLAMA_PACKAGE_NAMES = frozenset(
    {"llama-cpp", "llamaPackages", "llama-cpp-variants", *(f"llama-cpp-{v}" for v in VARIANTS)}
)


def flake_package(variant: str) -> str:
    """The llama.cpp flake's name for a variant's package (``cpu`` is its ``default``)."""
    return "default" if variant == "cpu" else variant


def variants_for(system: str | None) -> tuple[Variant, ...]:
    """The variants a machine of Nix system ``system`` can have (every one where the system is not known)."""
    if system and system not in ROCM_SYSTEMS:
        return tuple(v for v in VARIANTS if v != "rocm")
    return VARIANTS
