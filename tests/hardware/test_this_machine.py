"""Detection of this machine against fake /proc and /sys trees of real kinds of machine."""

from __future__ import annotations

import os
import sys
import warnings

import pytest
from hardware_fakes import RTX_4090, FakeNvml, copy_machine, icd_dirs, machine

from tui.core.hardware.recommendation import recommend
from tui.core.hardware.this_machine import detect_this_machine, read_nvml


def detect(root, nvml=None, arch="x86_64"):
    return detect_this_machine(root / "proc", root / "sys", nvml, icd_dirs=icd_dirs(root), machine=arch)


def test_tiger_lake_laptop_with_iris_xe():
    root = machine("tigerlake-laptop")
    report = detect(root)
    cpu = report.cpu
    assert report.source == "detected" and report.hostname == "tigerlake-laptop" and report.system == "x86_64-linux"
    assert cpu.vendor == "Intel" and cpu.model == "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz"
    assert (cpu.cores, cpu.threads) == (4, 8)
    assert "avx512_vnni" in cpu.flags and "avx512_vp2intersect" in cpu.flags
    assert "tsc_scaling" not in cpu.flags  # a "vmx flags" name, not a CPU flag
    assert cpu.x86_64_level == 4
    assert cpu.ggml_options["GGML_AVX512"] and cpu.ggml_options["GGML_AVX512_VNNI"]
    assert not cpu.ggml_options["GGML_AVX512_BF16"] and not cpu.ggml_options["GGML_AVX_VNNI"]
    [gpu] = report.gpus
    assert (gpu.vendor, gpu.driver, gpu.pci_id, gpu.pci_slot) == ("intel", "i915", "8086:9a49", "0000:00:02.0")
    assert gpu.integrated is True and gpu.boot_vga is True
    assert gpu.name == "Intel Iris Xe Graphics (Tiger Lake)"
    assert report.vulkan_driver is True
    assert report.memory_mib == 16113700 // 1024  # MemTotal of /proc/meminfo, in MiB
    assert report.notes == []


def test_zen4_desktop_with_radeon_7900_xtx_and_its_igpu():
    report = detect(machine("zen4-desktop"))
    assert report.cpu.vendor == "AMD" and (report.cpu.cores, report.cpu.threads) == (16, 32)
    assert report.cpu.ggml_options["GGML_AVX512_BF16"] and report.cpu.x86_64_level == 4
    dgpu, igpu = report.gpus
    assert (dgpu.pci_id, dgpu.driver, dgpu.integrated, dgpu.rocm_target) == ("1002:744c", "amdgpu", False, "gfx1100")
    assert dgpu.memory_mib == 24560
    # the KFD nodes are matched by device id, not by order
    assert (igpu.pci_id, igpu.integrated, igpu.rocm_target, igpu.memory_mib) == ("1002:164e", True, "gfx1036", 512)


def test_framework_13_with_radeon_780m():
    report = detect(machine("framework-13-7840u"))
    assert report.cpu.model == "AMD Ryzen 7 7840U w/ Radeon  780M Graphics"
    [gpu] = report.gpus
    assert (gpu.pci_id, gpu.integrated, gpu.rocm_target) == ("1002:15bf", True, "gfx1103")
    assert gpu.pci_slot == "0000:c1:00.0"


def test_nvidia_workstation_through_nvml():
    rtx4090_nvml = FakeNvml([RTX_4090])
    report = detect(machine("nvidia-workstation"), rtx4090_nvml)
    [gpu] = report.gpus  # the NVML GPU and the sysfs card are one and the same
    assert (gpu.name, gpu.compute_capability, gpu.driver_version) == ("NVIDIA GeForce RTX 4090", "8.9", "550.78")
    assert gpu.memory_mib == 24564 and gpu.pci_id == "10de:2684" and gpu.pci_slot == "0000:01:00.0"
    assert gpu.boot_vga is True
    assert report.cpu.x86_64_level == 3 and not report.cpu.ggml_options["GGML_AVX512"]
    assert rtx4090_nvml.calls[0] == "nvmlInit" and rtx4090_nvml.calls[-1] == "nvmlShutdown"
    assert report.notes == []


def test_nvml_without_library_leaves_a_note_and_the_sysfs_gpu():
    class LibraryNotFound(FakeNvml.NVMLError):
        def __str__(self):
            return "NVML Shared Library Not Found"

    report = detect(machine("nvidia-workstation"), FakeNvml([RTX_4090], init_error=LibraryNotFound()))
    [gpu] = report.gpus
    assert gpu.vendor == "nvidia" and gpu.pci_id == "10de:2684"
    assert (gpu.compute_capability, gpu.capability_source) == ("8.9", "PCI id table: Ada")  # not NVML's
    assert gpu.name == "NVIDIA GeForce RTX 4090"  # from /proc/driver/nvidia/gpus/*/information
    assert gpu.driver_version == "550.78"  # from /proc/driver/nvidia/version
    assert any("NVML Shared Library Not Found" in note for note in report.notes)


def test_nvml_failing_midway_keeps_what_it_read():
    nvml = FakeNvml([RTX_4090, RTX_4090], fail_on="nvmlDeviceGetHandleByIndex")
    gpus, problem = read_nvml(nvml)
    assert gpus == [] and "Unknown Error" in problem
    assert nvml.calls[-1] == "nvmlShutdown"


def test_nvml_answers_missing_per_gpu_are_left_unknown():
    nvml = FakeNvml([RTX_4090], fail_on="nvmlDeviceGetCudaComputeCapability")
    [gpu], problem = read_nvml(nvml)
    assert problem is None and gpu.compute_capability is None and gpu.name == "NVIDIA GeForce RTX 4090"


def test_real_pynvml_without_the_driver_library_is_a_note_not_a_warning(recwarn):
    if any(os.path.exists(p) for p in ("/proc/driver/nvidia/version",)):
        pytest.skip("this machine has an NVIDIA driver")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpus, problem = read_nvml()
    assert gpus == [] and problem and "NVML" in problem
    assert len(recwarn) == 0


def test_nvml_is_not_loaded_without_any_nvidia_device(monkeypatch):
    watched = FakeNvml([RTX_4090])
    monkeypatch.setitem(sys.modules, "pynvml", watched)
    root = machine("tigerlake-laptop")
    report = detect_this_machine(root / "proc", root / "sys", icd_dirs=[], machine="x86_64")
    assert watched.calls == [] and all(g.vendor != "nvidia" for g in report.gpus)
    assert report.vulkan_driver is False
    root = machine("nvidia-workstation")  # an NVIDIA card and driver: pynvml is asked
    report = detect_this_machine(root / "proc", root / "sys", icd_dirs=[], machine="x86_64")
    assert watched.calls[0] == "nvmlInit" and report.gpus[0].compute_capability == "8.9"


def test_raspberry_pi_4():
    report = detect(machine("raspberry-pi-4"), arch="aarch64")
    cpu = report.cpu
    assert report.system == "aarch64-linux"
    assert cpu.arch == "aarch64" and cpu.vendor == "ARM"
    assert cpu.model == "ARM Cortex-A72 (Raspberry Pi 4 Model B Rev 1.1)"
    assert cpu.flags == ["fp", "asimd", "evtstrm", "crc32", "cpuid"]
    assert cpu.cores == 4 and cpu.ggml_options == {} and cpu.x86_64_level is None
    assert [g.driver for g in report.gpus] == ["v3d", "vc4-drm"]
    assert all(g.pci_id is None for g in report.gpus)
    assert report.vulkan_driver is True  # usr/share/vulkan/icd.d


def test_no_drm_folder(tmp_path):
    root = copy_machine(tmp_path, "tigerlake-laptop")
    for entry in (root / "sys/class/drm").iterdir():
        entry.unlink()
    (root / "sys/class/drm").rmdir()
    report = detect(root)
    # the PCI display controller is still seen through /sys/bus/pci
    [gpu] = report.gpus
    assert gpu.vendor == "intel" and gpu.integrated is True
    assert any("no " in n and "class/drm" in n for n in report.notes)


def test_container_without_sys(tmp_path):
    root = copy_machine(tmp_path, "zen4-desktop")
    report = detect_this_machine(root / "proc", root / "no-sys", icd_dirs=[], machine="x86_64")
    assert report.gpus == [] and report.cpu.flags
    assert any("a container" in n for n in report.notes)
    assert recommend(report).variant == "cpu"


def test_unreadable_files_become_notes(tmp_path):
    root = copy_machine(tmp_path, "zen4-desktop")
    # tests run as root, where chmod 000 changes nothing: a folder where a file belongs cannot be read either
    (root / "proc/cpuinfo").unlink()
    (root / "proc/cpuinfo").mkdir()
    vram = (root / "sys/class/drm/card0/device/mem_info_vram_total").resolve()
    vram.unlink()
    vram.mkdir()
    props = root / "sys/class/kfd/kfd/topology/nodes/1/properties"
    props.unlink()
    props.mkdir()
    report = detect(root)
    assert report.cpu.flags == [] and report.cpu.arch == "x86_64"
    assert any("cpuinfo" in n and "cannot read" in n and "instruction sets are unknown" in n for n in report.notes)
    assert any("mem_info_vram_total" in n for n in report.notes)
    dgpu = report.gpus[0]
    assert dgpu.memory_mib is None and dgpu.vendor == "amd"
    assert (dgpu.rocm_target, dgpu.rocm_target_source) == ("gfx1100", "PCI id table: Navi 31")  # KFD unreadable
    assert recommend(report).all_variants is True


def test_no_proc_at_all(tmp_path):
    report = detect_this_machine(tmp_path / "proc", tmp_path / "sys", icd_dirs=[], machine="x86_64")
    assert report.cpu is not None and report.cpu.flags == []
    assert any("cpuinfo" in n for n in report.notes)


def test_this_real_machine_does_not_fail():
    report = detect_this_machine()
    assert report.source == "detected" and report.cpu is not None and report.cpu.arch
