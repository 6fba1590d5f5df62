"""The generated module evaluated under the NixOS module system with real nixpkgs ``lib``.

Needs ``nix-instantiate`` and a copy of nixpkgs' ``lib`` folder named by ``NIXPKGS_LIB``
(for example a checkout of nixpkgs, or of nix-community/nixpkgs.lib, with ``NIXPKGS_LIB=/path/lib``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tui.core.answers import Answers, MachineAnswer
from tui.core.apply import apply_plan
from tui.core.caches import cache_by_name
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan

from conftest import NIX_INSTANTIATE, NIXPKGS_LIB

pytestmark = [
    pytest.mark.skipif(NIX_INSTANTIATE is None, reason="nix-instantiate is not installed (Debian: nix-bin)"),
    pytest.mark.skipif(not NIXPKGS_LIB, reason="NIXPKGS_LIB is not set to a copy of nixpkgs' lib folder"),
]

EVAL = Path(__file__).parent / "nix" / "eval-module.nix"
TIGER_LAKE = "sse4_2 avx f16c fma bmi2 avx2 avx512f avx512cd avx512vl avx512dq avx512bw avx512vbmi avx512_vnni".split()


def evaluate(machine_file: Path, **args) -> dict:
    command = [NIX_INSTANTIATE, "--eval", "--strict", "--json", str(EVAL),
               "--arg", "lib", f"import {NIXPKGS_LIB}", "--arg", "machineFile", str(machine_file)]
    for name, value in args.items():
        command += ["--arg", name, value]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def applied(demo_repo):
    answers = Answers(
        machines={
            "carbon": MachineAnswer("cuda", cpu_flags=TIGER_LAKE, cuda_capabilities=["8.6"]),
            "beryllium": MachineAnswer("vulkan"),
            "boron": MachineAnswer("rocm", rocm_targets=["gfx1100"]),
        },
        caches=[cache_by_name("nixos-cuda"), cache_by_name("nix-community")],
    )
    apply_plan(make_plan(load_flake(demo_repo), answers), commit=False)
    return demo_repo / "nixos/llama-cpp/machines"


def test_cuda_machine(applied):
    result = evaluate(applied / "carbon.nix")
    assert result["failedAssertions"] == []
    assert result["packageName"] == "llama-cpp-cuda"
    flags = result["cmakeFlags"]
    assert flags[-1] == "-DCMAKE_CUDA_ARCHITECTURES:STRING=86"
    assert "-DGGML_NATIVE:BOOL=FALSE" in flags and "-DGGML_NATIVE:BOOL=TRUE" not in flags
    for on in ("AVX2", "AVX512", "AVX512_VBMI", "AVX512_VNNI", "FMA", "F16C", "BMI2", "SSE42"):
        assert f"-DGGML_{on}:BOOL=TRUE" in flags
    for off in ("AVX_VNNI", "AVX512_BF16", "AMX_TILE"):
        assert f"-DGGML_{off}:BOOL=FALSE" in flags
    assert result["llamaCppName"] == "llama-cpp-cuda"
    assert {"llama-cpp", "llama-cpp-cpu", "llama-cpp-cuda", "llama-cpp-vulkan", "llama-cpp-rocm"} <= set(result["overlayNames"])
    assert result["substituters"] == ["https://cache.nixos-cuda.org", "https://nix-community.cachix.org"]
    assert result["servicePackage"] == "llama-cpp-cuda"
    assert result["graphics"] is True


def test_cpu_machine_with_exact_flags(demo_repo):
    answers = Answers(machines={"boron": MachineAnswer("cpu", cpu_flags=["sse4_2", "avx", "f16c", "fma", "bmi2", "avx2", "avx512f"])})
    apply_plan(make_plan(load_flake(demo_repo), answers), commit=False)
    result = evaluate(demo_repo / "nixos/llama-cpp/machines/boron.nix")
    assert result["packageName"] == "llama-cpp-blas"
    assert "-DGGML_AVX2:BOOL=TRUE" in result["cmakeFlags"]
    # One of the five AVX-512 flags is not enough for GGML_AVX512.
    assert "-DGGML_AVX512:BOOL=FALSE" in result["cmakeFlags"]
    assert result["graphics"] is False
    assert result["substituters"] == []


def test_nixpkgs_style_override_is_translated(applied):
    result = evaluate(applied / "carbon.nix")
    assert result["nixpkgsStyleOverride"] == {"useCuda": True, "useVulkan": False}


def test_vulkan_machine_uses_all_cpu_variants(applied):
    result = evaluate(applied / "beryllium.nix")
    assert result["packageName"] == "llama-cpp-vulkan"
    assert "-DGGML_CPU_ALL_VARIANTS:BOOL=TRUE" in result["cmakeFlags"]
    assert "-DGGML_BACKEND_DL:BOOL=TRUE" in result["cmakeFlags"]
    assert result["substituters"] == ["https://nix-community.cachix.org"]


def test_rocm_machine_targets(applied):
    result = evaluate(applied / "boron.nix")
    assert result["packageName"] == "llama-cpp-rocm"
    assert result["overrideArgs"] == {"rocmGpuTargets": "gfx1100"}


def test_rocm_missing_on_aarch64_fails_with_a_clear_assertion(applied):
    command_args = {"system": '"aarch64-linux"', "withRocm": "false"}
    command = [NIX_INSTANTIATE, "--eval", "--strict", "--json", str(EVAL), "--arg", "lib", f"import {NIXPKGS_LIB}",
               "--arg", "machineFile", str(applied / "boron.nix")]
    for name, value in command_args.items():
        command += ["--arg", name, value]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "has no `rocm` package for aarch64-linux" in result.stderr


def test_module_without_inputs_says_how_to_fix(applied):
    command = [NIX_INSTANTIATE, "--eval", "--strict", "--json", str(EVAL), "--arg", "lib", f"import {NIXPKGS_LIB}",
               "--arg", "machineFile", str(applied / "beryllium.nix"), "--arg", "withInputs", "false"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "does not reach this module" in result.stderr
