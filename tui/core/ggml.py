"""The /proc/cpuinfo -> ggml CMake option mapping (data in ``data/ggml_cpu_features.toml``)."""

from __future__ import annotations

from tui.core.data import load


def feature_map() -> dict[str, list[str]]:
    """ggml option -> the cpuinfo flags it needs, in ggml's order."""
    return dict(load("ggml_cpu_features")["options"])


def relevant_flags() -> list[str]:
    """Every cpuinfo flag that some ggml option depends on, in ggml's order."""
    seen: list[str] = []
    for flags in feature_map().values():
        for flag in flags:
            if flag not in seen:
                seen.append(flag)
    return seen


def ggml_options(cpu_flags: list[str] | set[str]) -> dict[str, bool]:
    """Each ggml CPU option and whether ``cpu_flags`` allow it (GGML_AVX512 needs all five flags)."""
    have = set(cpu_flags)
    return {option: all(f in have for f in needs) for option, needs in feature_map().items()}


def filter_flags(cpu_flags) -> list[str]:
    """The flags that matter to ggml, in a stable order."""
    have = set(cpu_flags)
    return [f for f in relevant_flags() if f in have]
