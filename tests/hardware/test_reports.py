"""Saved reports: `llamaflake detect --json` output and nixos-facter's facter.json."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest
from hardware_fakes import FIXTURES

from tui.cli import main
from tui.core.errors import LlamaflakeError
from tui.core.hardware.recommendation import recommend
from tui.core.hardware.reports import load_report

FACTER = FIXTURES / "facter"


def test_facter_report_of_a_framework_13():
    report = load_report(FACTER / "framework-13-7840u.facter.json")
    assert report.source == "facter" and report.system == "x86_64-linux"
    cpu = report.cpu
    assert cpu.vendor == "AMD" and cpu.model == "AMD Ryzen 7 7840U w/ Radeon  780M Graphics"
    assert (cpu.cores, cpu.threads) == (8, 16) and cpu.x86_64_level == 4
    assert cpu.ggml_options["GGML_AVX512_BF16"]
    [gpu] = report.gpus
    assert (gpu.vendor, gpu.pci_id, gpu.driver, gpu.integrated) == ("amd", "1002:15bf", "amdgpu", True)
    assert gpu.pci_slot == "0000:c1:00.0" and gpu.name == "AMD Radeon 780M (Phoenix)"  # facter's model is generic
    assert gpu.memory_mib is None
    assert (gpu.rocm_target, gpu.rocm_target_source) == ("gfx1103", "PCI id table: Phoenix/Hawk Point")
    assert any("no GPU memory, CUDA compute capability or ROCm target" in n for n in report.notes)
    rec = recommend(report)
    assert (rec.variant, rec.confidence, rec.all_variants) == ("vulkan", "report", False)
    assert "avx512_bf16" in rec.cpu_flags


def test_facter_report_of_a_laptop_with_nvidia_and_intel():
    report = load_report(FACTER / "thinkpad-x1-extreme.facter.json")
    intel, nvidia = report.gpus
    assert (intel.vendor, intel.integrated, intel.name) == ("intel", True, "Intel TigerLake-H GT1 [UHD Graphics]")
    assert (nvidia.vendor, nvidia.driver, nvidia.name) == (
        "nvidia",
        "nvidia",
        "nVidia GA107M [GeForce RTX 3050 Ti Mobile]",
    )
    assert (nvidia.compute_capability, nvidia.capability_source) == ("8.6", "PCI id table: Ampere")
    rec = recommend(report)
    assert rec.variant == "cuda" and rec.cuda_capabilities == ["8.6"] and rec.cuda_source == "PCI id table"
    assert any("GA107" in r and "8.6 (from the PCI id table: Ampere)" in r for r in rec.reasons)


def test_facter_report_of_an_arm_virtual_machine():
    report = load_report(FACTER / "arm-vm.facter.json")
    assert report.system == "aarch64-linux" and report.cpu.arch == "aarch64" and report.cpu.vendor == "ARM"
    assert report.cpu.ggml_options == {} and report.gpus[0].vendor == "virtio"
    assert any("virtual machine (kvm)" in n for n in report.notes)
    rec = recommend(report)
    assert (rec.variant, rec.cpu_flags, rec.all_variants) == ("cpu", [], False)


def test_detect_json_round_trips_as_a_report(tmp_path, monkeypatch):
    monkeypatch.setenv("LLAMAFLAKE_ROOT", str(FIXTURES / "zen4-desktop"))
    monkeypatch.setenv("LLAMAFLAKE_MACHINE", "x86_64")
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["detect", "--json"]) == 0
    saved = tmp_path / "zen4.json"
    saved.write_text(out.getvalue())
    report = load_report(saved)
    original = json.loads(out.getvalue())
    assert report.source == "report" and report.hostname == "zen4-desktop"
    assert [g.rocm_target for g in report.gpus] == ["gfx1100", "gfx1036"]
    assert report.cpu.flags == original["cpu"]["flags"]
    assert report.cpu.ggml_options == original["cpu"]["ggml_options"]
    rec = recommend(report)
    assert rec.to_dict() | {"confidence": "detected"} == original["recommendation"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON"),
        ('{"hello": "world"}', "not a hardware report"),
        ("[1, 2]", "not a hardware report"),
        ('{"source": "detected", "cpu": {"flags": "avx2 fma", "arch": "x86_64"}, "gpus": []}', "wrong shape"),
        (
            '{"source": "detected", "cpu": {"flags": ["avx2"], "arch": "x86_64", "bogus": 1}, "gpus": [{"vendor": "amd", "what": 1}]}',
            None,
        ),
    ],
)
def test_bad_reports(tmp_path, text, message):
    path = tmp_path / "report.json"
    path.write_text(text)
    if message is None:  # odd but readable: unknown fields are left out, nothing crashes
        report = load_report(path)
        assert report.gpus[0].vendor == "amd" and report.cpu.flags == ["avx2"]
        return
    with pytest.raises(LlamaflakeError, match=message):
        load_report(path)


def test_missing_and_unreadable_reports(tmp_path):
    with pytest.raises(LlamaflakeError, match="cannot read"):
        load_report(tmp_path / "nope.json")
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(LlamaflakeError, match="cannot read"):
        load_report(tmp_path / "folder.json")


def test_a_known_pascal_gpu_keeps_its_kernels_next_to_an_unknown_one(tmp_path):
    data = json.loads((FACTER / "gpus" / "pascal-gtx-1080.facter.json").read_text())
    [pascal] = data["hardware"]["graphics_card"]
    unknown = json.loads(json.dumps(pascal))
    unknown["device"] = {"hex": "0001", "value": 1}  # no chip holds it, and no name says one
    unknown["slot"] = {"bus": 2, "number": 0}
    unknown["sysfs_bus_id"] = "0000:02:00.0"
    unknown["sysfs_id"] = "/devices/pci0000:00/0000:00:02.0/0000:02:00.0"
    data["hardware"]["graphics_card"].append(unknown)
    path = tmp_path / "two-nvidia.facter.json"
    path.write_text(json.dumps(data))
    report = load_report(path)
    assert [g.compute_capability for g in report.gpus] == ["6.1", None]
    rec = recommend(report)
    assert rec.variant == "cuda" and "6.1" in rec.cuda_capabilities
    # nixpkgs' default list for CUDA 12.9 no longer has Pascal: it is added to it, not replaced by it
    assert rec.cuda_capabilities == ["6.1", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "10.3", "12.0", "12.1"]
    assert any("nixpkgs' default list (7.5 and newer) is built too, as well as 6.1" in r for r in rec.reasons), (
        rec.reasons
    )
    assert not any("every" in r and "GPU" in r for r in rec.reasons)


def test_the_machines_ram_is_read_from_each_kind_of_report(tmp_path, monkeypatch):
    """RAM decides which model fits a CPU build: facter's main memory, and detect --json's own field."""
    assert load_report(FACTER / "framework-13-7840u.facter.json").memory_mib == 32768
    monkeypatch.setenv("LLAMAFLAKE_ROOT", str(FIXTURES / "zen4-desktop"))
    monkeypatch.setenv("LLAMAFLAKE_MACHINE", "x86_64")
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["detect", "--json"]) == 0
    assert json.loads(out.getvalue())["memory_mib"] == 65536404 // 1024
    saved = tmp_path / "zen4.json"
    saved.write_text(out.getvalue())
    assert load_report(saved).memory_mib == 65536404 // 1024
    saved.write_text('{"source": "detected", "cpu": null, "gpus": [], "memory_mib": "lots"}')
    with pytest.raises(LlamaflakeError, match="memory_mib is not a number"):
        load_report(saved)
