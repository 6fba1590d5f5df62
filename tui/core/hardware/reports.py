"""Hardware reports brought from another machine: ``llamaflake detect --json`` output, or nixos-facter."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from tui.core.errors import LlamaflakeError
from tui.core.hardware.gpu_ids import add_chip_facts
from tui.core.hardware.model import GpuInfo, HardwareReport
from tui.core.hardware.parse import PciDevice, cpu_from_flags, gpus_from_devices, system_of

_DRIVER_SOURCES = ("NVML", "nvidia-smi", "KFD topology")
_GENERIC_MODELS = ("VGA compatible controller", "3D controller", "Display controller")


def load_report(path: Path | str) -> HardwareReport:
    """Read a saved report: ``llamaflake detect --json`` (source "report") or ``facter.json`` (source "facter")."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LlamaflakeError(f"{path}: cannot read the hardware report: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LlamaflakeError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    return report_from_data(data, str(path))


def report_from_data(data, origin: str = "the report") -> HardwareReport:
    """A HardwareReport from parsed JSON of either format."""
    if isinstance(data, dict) and isinstance(data.get("hardware"), dict):
        return _from_facter(data, origin)
    if isinstance(data, dict) and "source" in data and ("cpu" in data or "gpus" in data):
        return _from_llamaflake(data, origin)
    raise LlamaflakeError(
        f"{origin}: not a hardware report llamaflake knows",
        hint="give the output of `llamaflake detect --json` or of `nixos-facter` (facter.json)",
    )


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
            cpu = cpu_from_flags(cpu_data.get("vendor"), cpu_data.get("model"), arch, cpu_data.get("cores"),
                                 flags, cpu_data.get("threads"))
        gpus = [_report_gpu(g) for g in data.get("gpus") or [] if isinstance(g, dict)]
    except TypeError as exc:
        raise LlamaflakeError(f"{origin}: a field of the report has the wrong shape ({exc})") from None
    report = HardwareReport(
        source="report",
        hostname=data.get("hostname"),
        system=data.get("system") or (system_of(cpu.arch) if cpu else None),
        cpu=cpu,
        gpus=gpus,
        vulkan_driver=data.get("vulkan_driver"),
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
    devices = []
    models = []
    for card in hardware.get("graphics_card") or []:
        if not isinstance(card, dict):
            continue
        vendor, device = _hex(card.get("vendor")), _hex(card.get("device"))
        driver = card.get("driver") or next(iter(card.get("driver_modules") or card.get("drivers") or []), None)
        dev = PciDevice(card.get("sysfs_bus_id") or f"card{len(devices)}", {
            "vendor": f"0x{vendor}" if vendor else "",
            "device": f"0x{device}" if device else "",
            "driver": driver or "",
            "slot": card.get("sysfs_bus_id") or "",
        })
        devices.append(dev)
        models.append(card.get("model"))
    report.gpus = gpus_from_devices(devices)
    for gpu, model in zip(report.gpus, models):
        if model and not any(generic in model for generic in _GENERIC_MODELS):
            gpu.name = model
    add_chip_facts(report.gpus)  # a chip named only by facter's model
    if report.gpus:
        report.notes.append("nixos-facter reports no GPU memory, CUDA compute capability or ROCm target: "
                            "those shown come from the PCI id table")
    virtualisation = data.get("virtualisation")
    if virtualisation and virtualisation != "none":
        report.notes.append(f"the report was made in a virtual machine ({virtualisation})")
    report.notes.insert(0, f"from {origin} (nixos-facter)")
    return report
