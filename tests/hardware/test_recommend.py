"""From a report to a build: variant, CPU flags, CUDA capabilities, and reasons in plain words."""

from __future__ import annotations

import pytest

from tui.core.answers import MachineAnswer
from tui.core.errors import AnswerError
from tui.core.hardware.gpu_ids import nvidia_capability_from_name
from tui.core.hardware.model import CpuInfo, GpuInfo, HardwareReport
from tui.core.hardware.parse import cpu_from_flags, gfx_target, parse_nvidia_smi, x86_64_level
from tui.core.hardware.recommendation import recommend

ZEN3 = [
    "fpu",
    "cmov",
    "cx8",
    "fxsr",
    "mmx",
    "sse",
    "sse2",
    "syscall",
    "lm",
    "cx16",
    "lahf_lm",
    "popcnt",
    "pni",
    "sse4_1",
    "sse4_2",
    "ssse3",
    "avx",
    "avx2",
    "bmi1",
    "bmi2",
    "f16c",
    "fma",
    "abm",
    "movbe",
    "xsave",
]


def nvidia(name, cap=None):
    return GpuInfo(vendor="nvidia", name=name, compute_capability=cap, integrated=False)


def report(gpus=(), flags=ZEN3, source="detected", arch="x86_64", vulkan=True):
    cpu = cpu_from_flags("AuthenticAMD", "AMD Ryzen 9 5950X 16-Core Processor", arch, 16, list(flags))
    return HardwareReport(source=source, system=f"{arch}-linux", cpu=cpu, gpus=list(gpus), vulkan_driver=vulkan)


def test_nvidia_gpu_with_known_capability():
    rec = recommend(report([nvidia("NVIDIA GeForce RTX 3050 Ti Laptop GPU", "8.6")]))
    assert (rec.variant, rec.cuda_capabilities, rec.confidence, rec.all_variants) == (
        "cuda",
        ["8.6"],
        "detected",
        False,
    )
    assert "NVIDIA GeForce RTX 3050 Ti Laptop GPU, compute capability 8.6 → CUDA build for 8.6" in rec.reasons
    assert rec.cpu_flags == ["sse4_2", "avx", "f16c", "fma", "bmi2", "avx2"]
    answer = MachineAnswer.from_recommendation(rec)
    answer.validate("carbon")  # what the plan accepts
    assert answer.cuda_capabilities == ["8.6"] and answer.notes == rec.reasons


def test_two_nvidia_gpus_build_for_both_capabilities_in_order():
    rec = recommend(report([nvidia("NVIDIA RTX A6000", "8.6"), nvidia("Tesla V100", "7.0"), nvidia("RTX 3090", "8.6")]))
    assert rec.cuda_capabilities == ["7.0", "8.6"]


def test_unknown_capability_adds_nixpkgs_default_list_to_the_known_ones():
    rec = recommend(report([nvidia("NVIDIA GeForce RTX 4090", "8.9"), nvidia("NVIDIA GeForce RTX 4090")]))
    assert rec.variant == "cuda" and rec.cuda_capabilities == [
        "7.5",
        "8.0",
        "8.6",
        "8.9",
        "9.0",
        "10.0",
        "10.3",
        "12.0",
        "12.1",
    ]
    assert any("nixpkgs' default list (7.5 and newer) is built too" in r for r in rec.reasons), rec.reasons


def test_only_unknown_capabilities_keep_nixpkgs_default_list_named_for_the_release():
    rec = recommend(report([nvidia("NVIDIA GPU")]))
    assert rec.variant == "cuda" and rec.cuda_capabilities == []
    assert any("CUDA build for nixpkgs' default list (7.5 and newer)" in r for r in rec.reasons), rec.reasons
    older = recommend(report([nvidia("NVIDIA GPU")]), cuda_version="12.3")  # Pascal's last default release
    assert any("CUDA build for nixpkgs' default list (6.0 and newer)" in r for r in older.reasons), older.reasons


def test_a_volta_gpu_past_its_default_release_is_kept_next_to_an_unknown_one():
    rec = recommend(report([nvidia("Tesla V100", "7.0"), nvidia("NVIDIA GPU")]), cuda_version="12.6")
    assert rec.cuda_capabilities == ["7.0", "7.5", "8.0", "8.6", "8.9", "9.0"]


def test_amd_discrete_gpu_offers_rocm_on_x86_64_only():
    dgpu = GpuInfo(vendor="amd", name="AMD Radeon RX 7900 XT/XTX (Navi 31)", integrated=False, rocm_target="gfx1100")
    rec = recommend(report([dgpu]))
    assert (rec.variant, rec.rocm_targets, rec.rocm_option) == ("vulkan", [], ["gfx1100"])
    assert any("ROCm is an option" in r and "gfx1100" in r for r in rec.reasons)
    MachineAnswer.from_recommendation(rec).validate("boron")
    arm = recommend(report([dgpu], flags=["fp", "asimd"], arch="aarch64"))
    assert arm.rocm_option == [] and any("x86_64-linux only" in r for r in arm.reasons)


def test_integrated_gpu_is_vulkan_and_missing_driver_is_said():
    igpu = GpuInfo(vendor="intel", name="Intel Iris Xe Graphics (Tiger Lake)", integrated=True)
    rec = recommend(report([igpu], vulkan=False))
    assert rec.variant == "vulkan" and rec.rocm_option == []
    assert any("hardware.graphics.enable" in r for r in rec.reasons)


def test_no_gpu_is_a_cpu_build():
    rec = recommend(report())
    assert rec.variant == "cpu" and any("no GPU" in r for r in rec.reasons)


def test_nothing_known():
    rec = recommend(None)
    assert (rec.variant, rec.all_variants, rec.confidence) == ("cpu", True, "none")
    assert any("twice the build time" in r for r in rec.reasons)
    arm = recommend(None, "aarch64-linux")
    assert arm.all_variants is False and arm.cpu_flags == []
    MachineAnswer.from_recommendation(arm).validate("pi")


def test_hints_only_build_every_cpu_variant():
    hinted = HardwareReport(
        source="hints",
        system="x86_64-linux",
        cpu=CpuInfo(vendor="Intel", model=None, arch="x86_64", cores=None, flags=[]),
        gpus=[GpuInfo(vendor="nvidia")],
    )
    hinted.hints = []
    rec = recommend(hinted)
    assert rec.all_variants is True and rec.cpu_flags == [] and rec.confidence == "none"
    MachineAnswer.from_recommendation(rec).validate("carbon")


def test_a_cpu_older_than_every_ggml_option():
    old = ["fpu", "cmov", "cx8", "fxsr", "mmx", "sse", "sse2", "syscall", "lm", "pni", "ssse3"]
    rec = recommend(report(flags=old))
    assert rec.cpu_flags == [] and rec.all_variants is False
    assert any("none of the instruction sets" in r for r in rec.reasons)


@pytest.mark.parametrize(
    "version, target",
    [(110003, "gfx1103"), (90010, "gfx90a"), (110000, "gfx1100"), (90402, "gfx942"), (100300, "gfx1030"), (0, None)],
)
def test_gfx_targets(version, target):
    assert gfx_target(version) == target


def test_x86_64_levels():
    assert x86_64_level(ZEN3) == 3
    assert x86_64_level([f for f in ZEN3 if f != "abm"]) == 2  # no lzcnt: not v3
    assert x86_64_level(ZEN3 + ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]) == 4
    assert x86_64_level(["fpu"]) is None


def test_nvidia_smi_rows_and_error_lines():
    text = "NVIDIA GeForce RTX 4090, 24564, 8.9, 550.78\nNVIDIA A100-SXM4-80GB, 81920, 8.0, 550.78\nNo devices were found\n"
    gpus = parse_nvidia_smi(text)
    assert [(g.name, g.memory_mib, g.compute_capability) for g in gpus] == [
        ("NVIDIA GeForce RTX 4090", 24564, "8.9"),
        ("NVIDIA A100-SXM4-80GB", 81920, "8.0"),
    ]
    [old] = parse_nvidia_smi("Tesla K80, 11441, [Not Supported], 470.82", None)
    assert old.compute_capability is None


def test_capability_from_chip_names():
    assert nvidia_capability_from_name("nVidia GA107M [GeForce RTX 3050 Ti Mobile]") == ("8.6", "GA107")
    assert nvidia_capability_from_name("NVIDIA GA100 [A100 SXM4 80GB]") == ("8.0", "GA100")
    assert nvidia_capability_from_name("AD102 [GeForce RTX 4090]") == ("8.9", "AD102")
    assert nvidia_capability_from_name("NVIDIA GeForce RTX 4090") is None
    assert nvidia_capability_from_name("NVIDIA TU106 [GeForce RTX 2060]") == ("7.5", "TU106")


@pytest.mark.parametrize(
    "cap",
    ["7.2", "8.7", "10.1", "11.0", "9.0a", "10.0a", "10.0f", "10.3a", "10.3f", "12.0a", "12.0f", "12.1a", "12.1f"],
)
def test_capabilities_nixpkgs_knows_are_accepted(cap):
    from tui.core.hardware.support import cuda_verdict

    MachineAnswer("cuda", cuda_capabilities=[cap]).validate("carbon")
    cuda = "13.0" if cap.startswith("11.") else "12.9"
    assert cuda_verdict(cap, cuda).supported or cap == "7.2", cap
    assert "not a compute capability" not in cuda_verdict(cap, cuda).reason


def test_a_capability_suffix_nixpkgs_does_not_know_is_malformed():
    with pytest.raises(AnswerError, match=r"malformed CUDA capability '12\.0b'"):
        MachineAnswer("cuda", cuda_capabilities=["12.0b"]).validate("carbon")
