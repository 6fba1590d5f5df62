"""The generated module evaluated as NixOS evaluates it: real nixpkgs ``lib`` and module system, ``pkgs``
the fixpoint of ``nixpkgs.overlays`` (tests/nix/nixpkgs), and a stand-in of the llama.cpp flake with
upstream's package arguments and package sets (tests/nix/llama-cpp-flake).

Each machine file is evaluated for x86_64-linux and aarch64-linux, with ``services.llama-cpp`` off and
on, and with ``pkgs`` made from ``nixpkgs.hostPlatform``, from the legacy ``system`` argument, from
``nixpkgs.pkgs``, read-only (``nixpkgs.nixosModules.readOnlyPkgs``), and passed in ``specialArgs``.

Needs ``nix-instantiate`` and nixpkgs' ``lib`` (``NIXPKGS_LIB``, or the copy in ``../shared/vendor``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import NIX_INSTANTIATE, NIXPKGS_LIB

from tui.core.answers import Answers, MachineAnswer
from tui.core.apply import apply_plan
from tui.core.caches import cache_by_name
from tui.core.ggml import ggml_options
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan
from tui.core.render import render_machine, render_module
from tui.core.variants import VARIANTS

pytestmark = [
    pytest.mark.skipif(NIX_INSTANTIATE is None, reason="nix-instantiate is not installed (Debian: nix-bin)"),
    pytest.mark.skipif(
        not NIXPKGS_LIB, reason="nixpkgs' lib not found: set NIXPKGS_LIB to a copy of nixpkgs' lib folder"
    ),
]

EVAL = Path(__file__).parent / "nix" / "eval-machine.nix"
TIGER_LAKE = [
    "sse4_2",
    "avx",
    "f16c",
    "fma",
    "bmi2",
    "avx2",
    "avx512f",
    "avx512cd",
    "avx512vl",
    "avx512dq",
    "avx512bw",
    "avx512vbmi",
    "avx512_vnni",
]
CACHES = [cache_by_name("nixos-cuda"), cache_by_name("nix-community")]
CUDA_CACHE = "https://cache.nixos-cuda.org"
COMMUNITY_CACHE = "https://nix-community.cachix.org"
OVERLAY_MODES = ("hostPlatform", "legacy-system", "nixpkgs.pkgs")
NO_OVERLAY_MODES = ("read-only", "specialArgs")
PACKAGE_NAMES = {
    "cpu": "llama-cpp-blas-0.0.0",
    "vulkan": "llama-cpp-vulkan-0.0.0",
    "cuda": "llama-cpp-cuda-0.0.0",
    "rocm": "llama-cpp-rocm-0.0.0",
}
ROCM_MISSING = "local.llama-cpp: the llama.cpp flake has no `rocm` package for aarch64-linux (it provides ROCm only on x86_64-linux)."
CPU_PROFILES = {
    "tiger-lake": {"cpu_flags": TIGER_LAKE},
    "all-variants": {"all_variants": True},
    "no-usable-flags": {},
}


def test_the_matrix_covers_every_variant():
    assert set(PACKAGE_NAMES) == set(VARIANTS), (
        "name the new variant's package in PACKAGE_NAMES (and in the stand-in flake)"
    )


def _eval_machine(machine_file: Path, args: dict[str, str]) -> subprocess.CompletedProcess:
    command = [
        NIX_INSTANTIATE,
        "--eval",
        "--strict",
        "--json",
        str(EVAL),
        "--arg",
        "libPath",
        NIXPKGS_LIB,
        "--arg",
        "machineFile",
        str(machine_file),
    ]
    for name, value in args.items():
        command += ["--arg", name, value]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def evaluate(machine_file: Path, **args: str) -> dict:
    """What each (system, pkgs mode, service) evaluation gives the machine."""
    result = _eval_machine(machine_file, args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def evaluation_error(machine_file: Path, **args: str) -> str:
    result = _eval_machine(machine_file, args)
    assert result.returncode != 0, "the evaluation was expected to fail"
    return result.stderr


def machine_answer(variant: str, profile: str) -> MachineAnswer:
    extra = {"cuda": {"cuda_capabilities": ["8.6", "12.0a"]}, "rocm": {"rocm_targets": ["gfx1100"]}}.get(variant, {})
    return MachineAnswer(variant, **CPU_PROFILES[profile], **extra)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory) -> Path:
    """The generated module and one machine file per variant and CPU profile, as the plan writes them."""
    root = tmp_path_factory.mktemp("generated") / "llama-cpp"
    (root / "machines").mkdir(parents=True)
    (root / "default.nix").write_bytes(render_module("llama-cpp", CACHES))
    for variant in PACKAGE_NAMES:
        for profile in CPU_PROFILES:
            name = f"{variant}-{profile}"
            (root / "machines" / f"{name}.nix").write_bytes(
                render_machine(name, machine_answer(variant, profile), "../default.nix")
            )
    return root


def expected_cpu_flags(profile: str, system: str) -> list[str]:
    flags = ["-DGGML_NATIVE:BOOL=FALSE"]
    if profile == "all-variants":
        return flags + ["-DGGML_CPU_ALL_VARIANTS:BOOL=TRUE", "-DGGML_BACKEND_DL:BOOL=TRUE"]
    if system != "x86_64-linux":
        return flags
    options = ggml_options(CPU_PROFILES[profile].get("cpu_flags", []))
    return flags + [f"-D{option}:BOOL={'TRUE' if on else 'FALSE'}" for option, on in sorted(options.items())]


@pytest.mark.parametrize("profile", list(CPU_PROFILES))
@pytest.mark.parametrize("variant", list(PACKAGE_NAMES))
def test_matrix(module_dir, variant, profile):
    results = evaluate(module_dir / "machines" / f"{variant}-{profile}.nix")
    assert len(results) == 2 * 5 * 2
    for cell, result in results.items():
        system, mode, service = cell.split()
        where = f"{variant}/{profile} on {cell}"
        if variant == "rocm" and system == "aarch64-linux":
            assert result["package"] == {"error": True}, where
            assert result["failedAssertions"] == [ROCM_MISSING], where
            continue
        assert result["failedAssertions"] == [], where
        package = result["package"]
        assert package["name"] == PACKAGE_NAMES[variant], where

        # The machine's CPU options come after the flake's own flags, GGML_NATIVE off.
        flags = package["cmakeFlags"]
        assert "-DGGML_NATIVE:BOOL=TRUE" not in flags, where
        cpu = expected_cpu_flags(profile, system)
        tail = [
            f
            for f in flags
            if (f.startswith("-DGGML_") and f != "-DGGML_NATIVE:BOOL=FALSE") or f == "-DGGML_NATIVE:BOOL=FALSE"
        ]
        assert sorted(tail[-len(cpu) :][1:]) == sorted(cpu[1:]) and tail[-len(cpu)] == cpu[0], where
        if variant == "cuda":
            assert flags[-1] == "-DCMAKE_CUDA_ARCHITECTURES:STRING=86;120a", where  # what nvcc and CMake take
        if variant == "rocm":
            hip = [f for f in flags if f.startswith("-DCMAKE_HIP_ARCHITECTURES")]
            assert hip == ["-DCMAKE_HIP_ARCHITECTURES:STRING=gfx1100"], where

        # The machine's build is what the system and the service get.
        assert result["systemPackages"] == [package["drvPath"]], where
        if service == "service":
            assert result["service"] == {"name": package["name"], "drvPath": package["drvPath"]}, where
        else:
            assert result["service"] is None, where
        assert result["graphics"] is (variant != "cpu"), where
        assert result["substituters"] == ([CUDA_CACHE, COMMUNITY_CACHE] if variant == "cuda" else [COMMUNITY_CACHE]), (
            where
        )
        assert result["dependents"]["tabby"].get("error") is None, where
        assert result["dependents"]["ramalama"].get("error") is None, where

        if mode in NO_OVERLAY_MODES:
            # pkgs.llama-cpp stays nixpkgs' package, and the machine is told why.
            assert result["pkgsLlamaCpp"]["name"] == "llama-cpp-nixpkgs-7000", where
            assert len(result["warnings"]) == 1 and "pkgs.llama-cpp stays nixpkgs' package" in result["warnings"][0], (
                where
            )
            continue
        assert result["warnings"] == [], where
        assert result["pkgsLlamaCpp"]["drvPath"] == package["drvPath"], where
        by_name = result["byName"]
        assert by_name["llama-cpp-cpu"]["name"] == "llama-cpp-blas-0.0.0", where
        assert by_name["llama-cpp-vulkan"]["name"] == "llama-cpp-vulkan-0.0.0", where
        assert by_name["llama-cpp-cuda"]["name"] == "llama-cpp-cuda-0.0.0", where
        if system == "x86_64-linux":
            assert by_name["llama-cpp-rocm"]["name"] == "llama-cpp-rocm-0.0.0", where
        else:
            assert by_name["llama-cpp-rocm"] == {"error": True}, where

        # nixpkgs packages' override patterns, with nixpkgs' argument names.
        overrides = result["overrides"]
        assert overrides["cuda"]["name"] == "llama-cpp-cuda-0.0.0", where
        assert overrides["vulkanThenNoCuda"]["name"] == "llama-cpp-vulkan-0.0.0", where
        assert overrides["attrsThenCuda"]["name"] == "llama-cpp-cuda-0.0.0", where
        assert "-DMARK=1" in overrides["attrsKeptThroughOverride"], where
        assert overrides["unknownArgument"] == result["pkgsLlamaCpp"], where
        assert overrides["sameArguments"] == result["pkgsLlamaCpp"], where
        if system == "x86_64-linux":
            assert overrides["rocmTargets"]["name"] == "llama-cpp-rocm-0.0.0", where
            assert "-DCMAKE_HIP_ARCHITECTURES:STRING=gfx1030;gfx1100" in overrides["rocmTargetsFlags"], where
        else:
            assert overrides["rocmTargets"] == {"error": True}, where


def cell(results: dict, system="x86_64-linux", mode="hostPlatform", service="service") -> dict:
    return results[f"{system} {mode} {service}"]


def test_cuda_override_on_a_machine_without_cuda_comes_from_the_flakes_cuda_set(module_dir):
    """`default.override { useCuda = true; }` would be refused (unfree CUDA, the flake's plain set)."""
    result = cell(evaluate(module_dir / "machines" / "vulkan-all-variants.nix"))
    cuda = result["overrides"]["cuda"]
    assert cuda["name"] == "llama-cpp-cuda-0.0.0"
    assert cuda == result["byName"]["llama-cpp-cuda"]


def test_rocm_override_takes_nixpkgs_list_of_targets(module_dir):
    result = cell(evaluate(module_dir / "machines" / "cpu-tiger-lake.nix"))
    assert "-DCMAKE_HIP_ARCHITECTURES:STRING=gfx1030;gfx1100" in result["overrides"]["rocmTargetsFlags"]


def test_module_imported_twice_is_declared_once(module_dir):
    """A framework that imports every default.nix of a folder, plus the machine file's own import."""
    results = evaluate(
        module_dir / "machines" / "cuda-tiger-lake.nix",
        extraModules=f"[ {module_dir / 'default.nix'} ]",
        systems='[ "x86_64-linux" ]',
    )
    for result in results.values():
        assert result["package"]["name"] == "llama-cpp-cuda-0.0.0"
        assert result["systemPackages"] == [result["package"]["drvPath"]]


@pytest.mark.parametrize("given_as", ["flake", "module-args-flake", "self"])
def test_inputs_given_as_flake_inputs_reach_the_module(module_dir, given_as):
    """nixos-unified passes ``specialArgs.flake = { inputs, self, config }``; other flakes set
    ``_module.args.flake = self`` or ``specialArgs.self = self``."""
    results = evaluate(
        module_dir / "machines" / "vulkan-tiger-lake.nix",
        inputsAs=f'"{given_as}"',
        systems='[ "x86_64-linux" ]',
        pkgsModes='[ "hostPlatform" ]',
    )
    assert results and all(r["package"]["name"] == "llama-cpp-vulkan-0.0.0" for r in results.values())


def test_module_without_inputs_says_how_to_fix(module_dir):
    stderr = evaluation_error(module_dir / "machines" / "cpu-tiger-lake.nix", withInputs="false", catchErrors="false")
    assert "does not reach this module" in stderr


@pytest.fixture
def guide_shaped(demo_repo) -> Path:
    """The guide's three machines (specialArgs = { inherit inputs; }) wired by a real apply."""
    answers = Answers(
        machines={
            "carbon": MachineAnswer("cuda", cpu_flags=TIGER_LAKE, cuda_capabilities=["8.6"]),
            "beryllium": MachineAnswer("vulkan", all_variants=True),
            "boron": MachineAnswer("cpu", cpu_flags=["sse4_2", "avx", "f16c", "fma", "bmi2", "avx2", "avx512f"]),
        },
        caches=CACHES,
    )
    apply_plan(make_plan(load_flake(demo_repo), answers), commit=False)
    return demo_repo / "nixos/llama-cpp/machines"


def test_applied_repository_evaluates_on_every_machine(guide_shaped):
    for host, name in (("carbon", "cuda"), ("beryllium", "vulkan"), ("boron", "cpu")):
        results = evaluate(guide_shaped / f"{host}.nix", systems='[ "x86_64-linux" ]')
        for where, result in results.items():
            assert result["failedAssertions"] == [], (host, where)
            assert result["package"]["name"] == PACKAGE_NAMES[name], (host, where)
    boron = cell(evaluate(guide_shaped / "boron.nix", systems='[ "x86_64-linux" ]'))
    # One of the five AVX-512 flags is not enough for GGML_AVX512.
    assert "-DGGML_AVX512:BOOL=FALSE" in boron["package"]["cmakeFlags"]
    assert "-DGGML_AVX2:BOOL=TRUE" in boron["package"]["cmakeFlags"]


def test_chained_overrides_keep_nixpkgs_names_working(module_dir):
    """override after override, and override after overrideAttrs, still take nixpkgs' argument names."""
    overrides = cell(evaluate(module_dir / "machines" / "cpu-tiger-lake.nix", systems='[ "x86_64-linux" ]'))[
        "overrides"
    ]
    assert overrides["vulkanThenNoCuda"]["name"] == "llama-cpp-vulkan-0.0.0"
    assert overrides["attrsThenCuda"]["name"] == "llama-cpp-cuda-0.0.0"
    assert "-DMARK=1" in overrides["attrsKeptThroughOverride"]
    assert "-DGGML_BLAS:BOOL=FALSE" in overrides["attrsKeptThroughOverride"]


def test_package_sets_for_other_platforms_keep_nixpkgs_llama_cpp(module_dir):
    """pkgsCross.* and pkgsStatic get the module's overlay too, as every overlay; the flake's packages are
    builds for this machine, so there llama-cpp stays nixpkgs' own, built for that platform."""
    modes = "[ " + " ".join(json.dumps(mode) for mode in OVERLAY_MODES) + " ]"
    results = evaluate(module_dir / "machines" / "vulkan-tiger-lake.nix", pkgsModes=modes, services="[ true ]")
    assert len(results) == 2 * len(OVERLAY_MODES)
    for where, result in results.items():
        other = result["otherPlatforms"]
        assert result["pkgsLlamaCpp"]["name"] == "llama-cpp-vulkan-0.0.0", where  # this machine's: the flake's
        assert other["static"]["name"] == "llama-cpp-nixpkgs-7000", where
        assert other["static"]["drvPath"] != result["pkgsLlamaCpp"]["drvPath"], where
        if where.startswith("aarch64-linux"):  # aarch64-multiplatform is this machine's own platform
            assert other["cross"] == result["pkgsLlamaCpp"], where
            assert other["crossCpu"]["name"] == "llama-cpp-blas-0.0.0", where
            continue
        assert other["cross"]["name"] == other["crossCpu"]["name"] == "llama-cpp-nixpkgs-7000", where
        assert other["crossVulkan"]["name"] == "llama-cpp-nixpkgs-7000", where  # nixpkgs' llama-cpp-vulkan
        assert other["cross"]["drvPath"] != other["static"]["drvPath"], where


def test_read_only_pkgs_defines_no_overlay_and_warns(module_dir):
    result = cell(
        evaluate(
            module_dir / "machines" / "cuda-tiger-lake.nix", systems='[ "x86_64-linux" ]', pkgsModes='[ "read-only" ]'
        ),
        mode="read-only",
    )
    assert result["service"]["name"] == "llama-cpp-cuda-0.0.0"
    assert result["pkgsLlamaCpp"]["name"] == "llama-cpp-nixpkgs-7000"
    assert "read-only" in result["warnings"][0]


def test_legacy_system_argument(module_dir):
    result = cell(
        evaluate(
            module_dir / "machines" / "vulkan-tiger-lake.nix",
            systems='[ "aarch64-linux" ]',
            pkgsModes='[ "legacy-system" ]',
        ),
        system="aarch64-linux",
        mode="legacy-system",
    )
    assert result["pkgsLlamaCpp"]["name"] == "llama-cpp-vulkan-0.0.0"
    assert result["failedAssertions"] == []


def write_module(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def test_a_users_own_overlay_on_llama_cpp_reaches_the_system_and_the_service(module_dir, tmp_path):
    patch = write_module(
        tmp_path,
        "patch.nix",
        """{
      nixpkgs.overlays = [ (final: prev: { llama-cpp = prev.llama-cpp.overrideAttrs (old: { pname = "llama-cpp-patched"; }); }) ];
    }""",
    )
    result = cell(
        evaluate(
            module_dir / "machines" / "cuda-tiger-lake.nix",
            systems='[ "x86_64-linux" ]',
            pkgsModes='[ "hostPlatform" ]',
            extraModules=f"[ {patch} ]",
        )
    )
    assert result["pkgsLlamaCpp"]["name"] == "llama-cpp-patched-0.0.0"
    assert result["service"] == result["pkgsLlamaCpp"]
    assert result["systemPackages"] == [result["pkgsLlamaCpp"]["drvPath"]]


def test_enable_may_depend_on_pkgs(module_dir, tmp_path):
    enable = write_module(
        tmp_path,
        "enable.nix",
        """{ lib, pkgs, ... }: {
      local.llama-cpp.enable = lib.mkOverride 50 pkgs.stdenv.hostPlatform.isx86_64;
    }""",
    )
    result = cell(
        evaluate(
            module_dir / "machines" / "vulkan-tiger-lake.nix",
            systems='[ "x86_64-linux" ]',
            pkgsModes='[ "hostPlatform" ]',
            extraModules=f"[ {enable} ]",
        )
    )
    assert result["pkgsLlamaCpp"]["name"] == "llama-cpp-vulkan-0.0.0"


def test_nixpkgs_own_variant_names_stay_when_not_replacing(module_dir, tmp_path):
    keep = write_module(tmp_path, "keep.nix", "{ local.llama-cpp.replaceNixpkgsPackage = false; }")
    result = cell(
        evaluate(
            module_dir / "machines" / "vulkan-tiger-lake.nix",
            systems='[ "x86_64-linux" ]',
            pkgsModes='[ "hostPlatform" ]',
            extraModules=f"[ {keep} ]",
        )
    )
    assert result["pkgsLlamaCpp"]["name"] == "llama-cpp-nixpkgs-7000"
    assert result["byName"]["llama-cpp-vulkan"]["name"] == "llama-cpp-nixpkgs-7000"
    assert result["byName"]["llama-cpp-cpu"]["name"] == "llama-cpp-blas-0.0.0"
    assert result["service"]["name"] == "llama-cpp-vulkan-0.0.0"


def test_a_system_the_flake_does_not_build_for_fails_with_the_modules_message(module_dir):
    result = cell(
        evaluate(
            module_dir / "machines" / "cpu-no-usable-flags.nix",
            systems='[ "riscv64-linux" ]',
            pkgsModes='[ "hostPlatform" ]',
        ),
        system="riscv64-linux",
    )
    assert result["failedAssertions"] == [
        "local.llama-cpp: the llama.cpp flake has no `default` package for riscv64-linux."
    ]


@pytest.mark.parametrize("inputs_as", ["flat"])
def test_inputs_given_flat_reach_the_module(module_dir, inputs_as):
    result = cell(
        evaluate(
            module_dir / "machines" / "cuda-tiger-lake.nix",
            systems='[ "x86_64-linux" ]',
            pkgsModes='[ "hostPlatform" ]',
            inputsAs=f'"{inputs_as}"',
        )
    )
    assert result["package"]["name"] == "llama-cpp-cuda-0.0.0"


def test_the_flakes_build_keeps_nixpkgs_main_program(module_dir):
    """nixpkgs' llama-cpp runs `bin/llama` (a link to llama-cli) as its main program: `lib.getExe` and
    nixpkgs' users of the package keep running the same program with the flake's build."""
    result = cell(
        evaluate(
            module_dir / "machines" / "cuda-tiger-lake.nix",
            systems='[ "x86_64-linux" ]',
            pkgsModes='[ "hostPlatform" ]',
        )
    )
    assert result["mainProgram"] == "llama"
    assert result["pkgsLlamaCppExe"].endswith("-llama-cpp-cuda-0.0.0/bin/llama")
    assert "ln -s llama-cli $out/bin/llama;" in result["postInstall"]
    assert "cp $src/include/llama.h $out/include/" in result["postInstall"], "the flake's own postInstall stays"


def test_opencl_override_warns_and_leaves_opencl_out(module_dir):
    """nixpkgs' openclSupport: the flake has no OpenCL build; a nixpkgs package asking for one still
    evaluates, with the module's warning instead of a silent substitute."""
    process = _eval_machine(
        module_dir / "machines" / "cpu-tiger-lake.nix",
        {"systems": '[ "x86_64-linux" ]', "pkgsModes": '[ "hostPlatform" ]', "services": "[ false ]"},
    )
    assert process.returncode == 0, process.stderr
    overrides = cell(json.loads(process.stdout), service="no-service")["overrides"]
    assert overrides["opencl"]["name"] == "llama-cpp-blas-0.0.0"
    assert "llama-cpp.override { openclSupport = true; }: the llama.cpp flake has no OpenCL build" in process.stderr


def test_a_backend_the_flake_does_not_build_is_refused_with_the_modules_message(module_dir):
    machine = module_dir / "machines" / "cuda-tiger-lake.nix"
    one_cell = {"systems": '[ "x86_64-linux" ]', "pkgsModes": '[ "hostPlatform" ]', "services": "[ false ]"}
    assert cell(evaluate(machine, **one_cell), service="no-service")["overrides"]["sycl"] == {"error": True}
    stderr = evaluation_error(machine, catchErrors="false", **one_cell)
    assert (
        "local.llama-cpp: llama-cpp.override { syclSupport = true; }: the llama.cpp flake has no such build" in stderr
    )
    assert "replaceNixpkgsPackage = false" in stderr


def test_cpu_arch_dynamic_dispatch_chooses_every_cpu_variant_as_nixpkgs_does(module_dir):
    tuned = cell(
        evaluate(
            module_dir / "machines" / "cpu-tiger-lake.nix", systems='[ "x86_64-linux" ]', pkgsModes='[ "hostPlatform" ]'
        )
    )["overrides"]
    assert "-DGGML_CPU_ALL_VARIANTS:BOOL=TRUE" in tuned["dynamicDispatchFlags"]
    assert "-DGGML_BACKEND_DL:BOOL=TRUE" in tuned["dynamicDispatchFlags"]
    assert "-DGGML_AVX2:BOOL=TRUE" not in tuned["dynamicDispatchFlags"]
    assert "-DGGML_AVX2:BOOL=TRUE" in tuned["noDynamicDispatchFlags"]
    assert tuned["dynamicDispatchCuda"]["name"] == "llama-cpp-cuda-0.0.0"
    every_variant = cell(
        evaluate(
            module_dir / "machines" / "vulkan-all-variants.nix",
            systems='[ "x86_64-linux" ]',
            pkgsModes='[ "hostPlatform" ]',
        )
    )["overrides"]
    assert "-DGGML_CPU_ALL_VARIANTS:BOOL=TRUE" not in every_variant["noDynamicDispatchFlags"]
