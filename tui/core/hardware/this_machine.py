"""Detect the hardware of the machine llamaflake runs on: /proc, /sys and NVML, nothing slow."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from tui.core.hardware.model import CpuInfo, GpuInfo, HardwareReport
from tui.core.hardware.parse import (
    DEVICE_FILES,
    MIB,
    PciDevice,
    gpus_from_devices,
    merge_nvidia,
    parse_cpuinfo,
    parse_kfd_properties,
    parse_meminfo,
    system_of,
)

VULKAN_ICD_DIRS = (
    Path("/run/opengl-driver/share/vulkan/icd.d"),  # NixOS
    Path("/usr/share/vulkan/icd.d"),
    Path("/etc/vulkan/icd.d"),
)


class _Reader:
    """Reads small files, turning every failure into a note instead of an exception."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def text(self, path: Path, *, quiet: bool = False) -> str | None:
        try:
            return path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            if not quiet:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.notes.append(f"cannot read {path}: {reason}")
            return None

    def listdir(self, path: Path) -> list[Path]:
        try:
            return sorted(path.iterdir())
        except OSError:
            return []


class Nvml(Protocol):
    """The functions of pynvml this module calls (pynvml itself has no types: what they give is Any)."""

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlSystemGetDriverVersion(self) -> Any: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetName(self, handle: Any) -> Any: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> Any: ...
    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any: ...


def detect_this_machine(
    proc: Path = Path("/proc"),
    sys: Path = Path("/sys"),
    nvml: Nvml | None = None,
    *,
    icd_dirs: Sequence[Path] | None = None,
    machine: str | None = None,
) -> HardwareReport:
    """What this machine has: CPU from ``/proc/cpuinfo``, GPUs from ``/sys`` and NVML, Vulkan drivers.

    ``nvml`` is a module with pynvml's functions (tests pass a fake one); by default ``pynvml`` is
    imported, and only when an NVIDIA device or driver is present. ``machine`` replaces
    ``uname -m``. Nothing here raises: what cannot be read becomes a note.
    """
    read = _Reader()
    uname = os.uname()
    arch = machine or uname.machine or "unknown"
    report = HardwareReport(source="detected", system=system_of(arch))
    hostname = read.text(proc / "sys/kernel/hostname", quiet=True)
    report.hostname = hostname.strip() if hostname else (uname.nodename or None)

    cpuinfo = read.text(proc / "cpuinfo")
    if cpuinfo is not None:
        report.cpu = parse_cpuinfo(cpuinfo, arch)
    if report.cpu is None or (not report.cpu.flags and arch == "x86_64"):
        if cpuinfo is None and not (proc / "cpuinfo").exists():
            read.notes.append(f"no {proc / 'cpuinfo'}: the CPU's instruction sets are unknown")
        elif cpuinfo is None:
            read.notes[-1] += ": the CPU's instruction sets are unknown"
        else:
            read.notes.append(f"{proc / 'cpuinfo'} lists no CPU flags: the CPU's instruction sets are unknown")
        if report.cpu is None:
            report.cpu = CpuInfo(vendor=None, model=None, arch=arch, cores=os.cpu_count(), flags=[])

    meminfo = read.text(proc / "meminfo")
    report.memory_mib = parse_meminfo(meminfo) if meminfo is not None else None

    devices, kfd_nodes = _sysfs_devices(sys, read)
    gpus = gpus_from_devices(devices, kfd_nodes)

    nvidia_driver = (proc / "driver/nvidia").is_dir()
    if nvml is not None or nvidia_driver or any(g.vendor == "nvidia" for g in gpus):
        nvidia, problem = read_nvml(nvml)
        if problem:
            read.notes.append(problem)
            _name_from_proc(proc, gpus, read)
        gpus = merge_nvidia(nvidia, gpus)
    report.gpus = gpus
    report.vulkan_driver = vulkan_driver_installed(VULKAN_ICD_DIRS if icd_dirs is None else icd_dirs)
    report.notes = read.notes
    return report


def _sysfs_devices(sys: Path, read: _Reader) -> tuple[list[PciDevice], list[dict[str, int]]]:
    devices: list[PciDevice] = []
    if not sys.is_dir():
        read.notes.append(f"no {sys} (a container?): GPUs cannot be seen")
        return devices, []
    drm = sys / "class/drm"
    if drm.is_dir():
        for card in read.listdir(drm):
            if card.name[:4] == "card" and card.name[4:].isdigit() and (card / "device").is_dir():
                devices.append(_device(card.name, card / "device", read))
    else:
        read.notes.append(f"no {drm}: no graphics driver is loaded, or this is a container")
    for pci in read.listdir(sys / "bus/pci/devices"):
        cls = read.text(pci / "class", quiet=True)
        if cls and cls.strip().startswith("0x03"):
            devices.append(_device(pci.name, pci, read))
    kfd_nodes = []
    for node in read.listdir(sys / "class/kfd/kfd/topology/nodes"):
        text = read.text(node / "properties")
        if text:
            kfd_nodes.append(parse_kfd_properties(text))
    return devices, kfd_nodes


def _device(name: str, path: Path, read: _Reader) -> PciDevice:
    fields = {}
    for file in DEVICE_FILES:
        text = read.text(path / file)
        if text is not None:
            fields[file] = text.strip()
    with contextlib.suppress(OSError):
        fields["driver"] = os.path.basename(os.readlink(path / "driver"))
    fields["slot"] = os.path.basename(os.path.realpath(path))
    return PciDevice(name, fields)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _problem(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def read_nvml(nvml: Nvml | None = None) -> tuple[list[GpuInfo], str | None]:
    """NVIDIA GPUs through NVML (``pynvml`` unless ``nvml`` is given), and a note if it failed."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if nvml is None:
            try:
                import pynvml
            except Exception as exc:  # a missing or broken binding is a note, not a crash
                return [], f"the NVML Python binding cannot be loaded ({_problem(exc)}): NVIDIA GPUs are not queried"
            nvml = pynvml
        try:
            nvml.nvmlInit()
        except Exception as exc:
            return [], f"NVML is not usable ({_problem(exc)}): NVIDIA GPU details (compute capability) are unknown"
        gpus: list[GpuInfo] = []
        try:
            driver_version = _optional(lambda: _text(nvml.nvmlSystemGetDriverVersion()))
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                gpu = GpuInfo(vendor="nvidia", driver="nvidia", driver_version=driver_version, integrated=False)
                gpu.name = _optional(lambda: _text(nvml.nvmlDeviceGetName(handle)))  # noqa: B023 - called at once
                total = _optional(lambda: nvml.nvmlDeviceGetMemoryInfo(handle).total)  # noqa: B023 - called at once
                gpu.memory_mib = int(total) // MIB if total else None
                capability = _optional(lambda: nvml.nvmlDeviceGetCudaComputeCapability(handle))  # noqa: B023 - called at once
                if capability:
                    gpu.compute_capability = f"{capability[0]}.{capability[1]}"
                    gpu.capability_source = "NVML"
                pci = _optional(lambda: nvml.nvmlDeviceGetPciInfo(handle))  # noqa: B023 - called at once
                if pci is not None:
                    bus = _optional(lambda: _text(pci.busId))  # noqa: B023 - called at once
                    gpu.pci_slot = _sysfs_slot(bus) if bus else None
                    device_id = _optional(lambda: int(pci.pciDeviceId))  # noqa: B023 - called at once
                    if device_id:
                        gpu.pci_id = f"{device_id & 0xFFFF:04x}:{device_id >> 16:04x}"
                gpus.append(gpu)
        except Exception as exc:
            return gpus, f"NVML failed while listing GPUs ({_problem(exc)})"
        finally:
            _optional(nvml.nvmlShutdown)
    return gpus, None


def _sysfs_slot(bus_id: str) -> str:
    """NVML's "00000000:01:00.0" written the way sysfs writes it: "0000:01:00.0"."""
    domain, _, rest = bus_id.lower().partition(":")
    return f"{domain[-4:]}:{rest}" if rest else bus_id.lower()


def _optional(call):
    try:
        return call()
    except Exception:
        return None


def _name_from_proc(proc: Path, gpus: list[GpuInfo], read: _Reader) -> None:
    """Without NVML, the NVIDIA kernel driver still names its GPUs in /proc/driver/nvidia."""
    version = read.text(proc / "driver/nvidia/version", quiet=True)
    match = re.search(r"Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)", version or "")
    for info in read.listdir(proc / "driver/nvidia/gpus"):
        fields = {}
        for line in (read.text(info / "information", quiet=True) or "").splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        slot = fields.get("Bus Location", info.name).lower()
        for gpu in gpus:
            if gpu.vendor == "nvidia" and gpu.pci_slot and gpu.pci_slot.lower().endswith(slot.split(":", 1)[-1]):
                gpu.name = fields.get("Model") or gpu.name
    for gpu in gpus:
        if gpu.vendor == "nvidia" and match:
            gpu.driver_version = match.group(1)


def vulkan_driver_installed(icd_dirs: Sequence[Path]) -> bool:
    """Whether a Vulkan driver (an ICD manifest) is installed in one of ``icd_dirs``."""
    for folder in icd_dirs:
        try:
            if any(entry.name.endswith(".json") for entry in os.scandir(folder)):
                return True
        except OSError:
            continue
    return False
