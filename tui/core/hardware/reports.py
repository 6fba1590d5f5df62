"""Hardware reports brought from another machine: ``llamaflake detect --json`` output, or nixos-facter."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import fields
from pathlib import Path

from tui.core.errors import LlamaflakeError
from tui.core.hardware.gpu_ids import add_chip_facts, model_name
from tui.core.hardware.model import GpuInfo, HardwareReport
from tui.core.hardware.parse import PciDevice, cpu_from_flags, gpus_from_devices, system_of

_DRIVER_SOURCES = ("NVML", "nvidia-smi", "KFD topology")
_GENERIC_MODELS = ("VGA compatible controller", "3D controller", "Display controller")
MAX_REPORT_BYTES = 16 * 1024 * 1024  # facter.json of a large server is well under 1 MiB
_GPU_TYPES = {
    "vendor": str,
    "name": str,
    "memory_mib": int,
    "compute_capability": str,
    "driver": str,
    "driver_version": str,
    "integrated": bool,
    "rocm_target": str,
    "pci_id": str,
    "pci_slot": str,
    "capability_source": str,
    "rocm_target_source": str,
    "boot_vga": bool,
}


def read_report_text(path: Path) -> str:
    """A report file's text: a regular file of at most :data:`MAX_REPORT_BYTES`, never a FIFO or a device."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise LlamaflakeError(f"{path}: cannot read the hardware report: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LlamaflakeError(
                f"{path}: cannot read the hardware report: not a regular file (a report is a JSON file)"
            )
        if info.st_size > MAX_REPORT_BYTES:
            raise LlamaflakeError(
                f"{path}: {info.st_size} bytes is too large for a hardware report "
                f"(at most {MAX_REPORT_BYTES // (1024 * 1024)} MiB)"
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise LlamaflakeError(f"{path}: cannot read the hardware report: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_REPORT_BYTES:
        raise LlamaflakeError(f"{path}: too large for a hardware report")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LlamaflakeError(f"{path}: cannot read the hardware report: {exc}") from None


def load_report(path: Path | str) -> HardwareReport:
    """Read a saved report: ``llamaflake detect --json`` (source "report") or ``facter.json`` (source "facter")."""
    path = Path(path)
    text = read_report_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LlamaflakeError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except ValueError as exc:  # a number longer than Python converts (4300 digits)
        raise LlamaflakeError(f"{path}: not a usable report: {exc}") from None
    return report_from_data(data, str(path))


def report_from_data(data, origin: str = "the report") -> HardwareReport:
    """A HardwareReport from parsed JSON of either format."""
    if isinstance(data, dict) and isinstance(data.get("hardware"), dict):
        try:
            return _from_facter(data, origin)
        except (TypeError, AttributeError, ValueError) as exc:
            raise LlamaflakeError(f"{origin}: a field of the report has the wrong shape ({exc})") from None
    if isinstance(data, dict) and "source" in data and ("cpu" in data or "gpus" in data):
        return _from_llamaflake(data, origin)
    raise LlamaflakeError(
        f"{origin}: not a hardware report llamaflake knows",
        hint="give the output of `llamaflake detect --json` or of `nixos-facter` (facter.json)",
    )


def _typed(values: dict, types: dict) -> dict:
    """``values`` where each is None or of its expected type (an int is no bool); else TypeError naming it."""
    for name, value in values.items():
        expected = types.get(name)
        if value is None or expected is None:
            continue
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise TypeError(f"{name} is a {type(value).__name__}, not {expected.__name__}")
    return values


def _known(cls, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _from_llamaflake(data: dict, origin: str) -> HardwareReport:
    try:
        cpu_data = data.get("cpu")
        cpu = None
        if isinstance(cpu_data, dict):
            flags = cpu_data.get("flags") or []
            if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
                raise TypeError("cpu.flags is not a list of flag names")
            arch = str(cpu_data.get("arch") or "unknown")
            cpu = cpu_from_flags(
                cpu_data.get("vendor"),
                cpu_data.get("model"),
                arch,
                cpu_data.get("cores"),
                flags,
                cpu_data.get("threads"),
            )
        gpus = [
            _report_gpu(_typed(_known(GpuInfo, g), _GPU_TYPES)) for g in data.get("gpus") or [] if isinstance(g, dict)
        ]
        if not isinstance(data.get("vulkan_driver"), (str, bool, type(None))):
            raise TypeError("vulkan_driver is neither text nor true/false")
        memory = data.get("memory_mib")
        if memory is not None and (not isinstance(memory, int) or isinstance(memory, bool) or memory < 0):
            raise TypeError("memory_mib is not a number of MiB")
        for name in ("system", "hostname"):
            if data.get(name) is not None and not isinstance(data.get(name), str):
                raise TypeError(f"{name} is a {type(data.get(name)).__name__}, not text")
        if cpu_data is not None and not isinstance(cpu_data, dict):
            raise TypeError("cpu is not an object")
        if isinstance(cpu_data, dict):
            _typed(
                {k: cpu_data.get(k) for k in ("vendor", "model", "arch")}, {"vendor": str, "model": str, "arch": str}
            )
            _typed({k: cpu_data.get(k) for k in ("cores", "threads")}, {"cores": int, "threads": int})
        if not isinstance(data.get("notes") or [], list):
            raise TypeError("notes is not a list")
    except TypeError as exc:
        raise LlamaflakeError(f"{origin}: a field of the report has the wrong shape ({exc})") from None
    report = HardwareReport(
        source="report",
        hostname=data.get("hostname"),
        system=data.get("system") or (system_of(cpu.arch) if cpu else None),
        cpu=cpu,
        gpus=gpus,
        vulkan_driver=data.get("vulkan_driver"),
        memory_mib=data.get("memory_mib"),
    )
    was = data.get("source")
    report.notes.append(f"from {origin}" + (f" ({was} on {report.hostname})" if was and report.hostname else ""))
    report.notes.extend(str(n) for n in data.get("notes") or [])
    return report


def _report_gpu(data: dict) -> GpuInfo:
    """A GPU of a saved report; where a fact came from is kept only in the words llamaflake itself writes."""
    gpu = GpuInfo(**_known(GpuInfo, data))
    said = (gpu.compute_capability, gpu.rocm_target)
    if gpu.capability_source not in _DRIVER_SOURCES:
        gpu.compute_capability = gpu.capability_source = None
    if gpu.rocm_target_source not in _DRIVER_SOURCES:
        gpu.rocm_target = gpu.rocm_target_source = None
    if not gpu.name and gpu.vendor and gpu.pci_id:
        gpu.name = model_name(gpu.vendor, gpu.pci_id)
    add_chip_facts([gpu])  # the table of this version, not the one the report was made with
    if gpu.compute_capability is None and said[0]:
        gpu.compute_capability, gpu.capability_source = said[0], "report"
    if gpu.rocm_target is None and said[1]:
        gpu.rocm_target, gpu.rocm_target_source = said[1], "report"
    return gpu


def _hex(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("hex")
    return str(value).lower() if value else None


def _facter_memory(hardware: dict) -> int | None:
    """The RAM in MiB: the sum of facter's main-memory ranges (bytes); None where it lists none."""
    total = 0
    for entry in hardware.get("memory") or []:
        for resource in (entry.get("resources") or []) if isinstance(entry, dict) else []:
            if not isinstance(resource, dict) or resource.get("type") != "phys_mem":
                continue
            size = resource.get("range")
            if isinstance(size, int) and not isinstance(size, bool) and size > 0:
                total += size
    return total // (1024 * 1024) or None


def _from_facter(data: dict, origin: str) -> HardwareReport:
    hardware = data["hardware"]
    system = data.get("system") if isinstance(data.get("system"), str) else None
    report = HardwareReport(source="facter", system=system)
    cpus = [c for c in hardware.get("cpu") or [] if isinstance(c, dict)]
    if cpus:
        first = cpus[0]
        arch = str(first.get("architecture") or (system.split("-")[0] if system else "unknown"))
        packages = {c.get("physical_id") for c in cpus}
        cores = first.get("cores") if isinstance(first.get("cores"), int) else None
        siblings = first.get("siblings") if isinstance(first.get("siblings"), int) else None
        report.cpu = cpu_from_flags(
            first.get("vendor_name"),
            first.get("model_name"),
            arch,
            cores * len(packages) if cores else None,
            [str(f) for f in first.get("features") or []],
            siblings * len(packages) if siblings else None,
        )
        if report.system is None:
            report.system = system_of(arch)
    else:
        report.notes.append(f"{origin} lists no CPU: its instruction sets are unknown")
    devices: list[PciDevice] = []
    models = []
    for card in hardware.get("graphics_card") or []:
        if not isinstance(card, dict):
            continue
        vendor, device = _hex(card.get("vendor")), _hex(card.get("device"))
        driver = card.get("driver") or next(iter(card.get("driver_modules") or card.get("drivers") or []), None)
        dev = PciDevice(
            card.get("sysfs_bus_id") or f"card{len(devices)}",
            {
                "vendor": f"0x{vendor}" if vendor else "",
                "device": f"0x{device}" if device else "",
                "driver": driver or "",
                "slot": card.get("sysfs_bus_id") or "",
            },
        )
        devices.append(dev)
        models.append(card.get("model"))
    report.gpus = gpus_from_devices(devices)
    for gpu, model in zip(report.gpus, models, strict=False):  # devices without a display class are dropped
        if isinstance(model, str) and model and not any(generic in model for generic in _GENERIC_MODELS):
            gpu.name = model
    add_chip_facts(report.gpus)  # a chip named only by facter's model
    if report.gpus:
        report.notes.append(
            "nixos-facter reports no GPU memory, CUDA compute capability or ROCm target: "
            "those shown come from the PCI id table"
        )
    report.memory_mib = _facter_memory(hardware)
    virtualisation = data.get("virtualisation")
    if virtualisation and virtualisation != "none":
        report.notes.append(f"the report was made in a virtual machine ({virtualisation})")
    report.notes.insert(0, f"from {origin} (nixos-facter)")
    return report
