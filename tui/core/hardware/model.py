"""What is known about a machine's hardware, wherever it came from, and the build it should get."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from tui.core.hardware.vendors import vendor_label

# Where a machine's hardware facts came from, and how sure a recommendation made from them is.
ReportSource = Literal["detected", "report", "facter", "ssh", "hints"]
Confidence = Literal["detected", "report", "hints", "none"]


@dataclass
class CpuInfo:
    vendor: str | None
    model: str | None
    arch: str  # "x86_64", "aarch64", ...
    cores: int | None
    flags: list[str]  # the kernel's /proc/cpuinfo names
    ggml_options: dict[str, bool] = field(default_factory=dict)
    x86_64_level: int | None = None
    threads: int | None = None  # logical processors; ``cores`` counts physical cores where known


@dataclass
class GpuInfo:
    vendor: str  # a name of data/gpu_vendors.toml ("nvidia", "amd", ...), "pci:<id>" or a driver's name
    name: str | None = None
    memory_mib: int | None = None
    compute_capability: str | None = None  # NVIDIA, "8.6"
    driver: str | None = None
    driver_version: str | None = None
    integrated: bool | None = None
    rocm_target: str | None = None  # AMD, "gfx1103"
    pci_id: str | None = None  # "10de:25a0"
    pci_slot: str | None = None  # "0000:01:00.0"
    boot_vga: bool | None = None  # the firmware's display device
    capability_source: str | None = None  # "NVML", "nvidia-smi", "PCI id table: Ampere", ...
    rocm_target_source: str | None = None  # "KFD topology", "PCI id table: Navi 31"

    @property
    def display_name(self) -> str:
        return self.name or f"{vendor_label(self.vendor)} GPU"

    def summary(self) -> str:
        """One line: name, memory, compute capability or ROCm target, integrated or discrete, driver."""
        parts = [self.display_name]
        if self.memory_mib:
            parts.append(f"{self.memory_mib / 1024:.1f} GiB")
        if self.compute_capability:
            parts.append(f"compute {self.compute_capability}" + source_phrase(self.capability_source))
        if self.rocm_target:
            parts.append(self.rocm_target + source_phrase(self.rocm_target_source))
        if self.integrated is not None:
            parts.append("integrated" if self.integrated else "discrete")
        if self.driver:
            parts.append(f"driver {self.driver}" + (f" {self.driver_version}" if self.driver_version else ""))
        return ", ".join(parts)


def source_phrase(source: str | None) -> str:
    """`` (from NVML)``, `` (from the PCI id table: Turing)``; empty where the source is not known."""
    if not source:
        return ""
    return f" (from {source})" if source in ("NVML", "nvidia-smi") else f" (from the {source})"


@dataclass
class Hint:
    """A clue from the machine's own configuration, with the file and line it came from."""

    text: str
    file: str
    line: int


@dataclass
class HardwareReport:
    source: ReportSource
    hostname: str | None = None
    system: str | None = None  # "x86_64-linux"
    cpu: CpuInfo | None = None
    gpus: list[GpuInfo] = field(default_factory=list)
    memory_mib: int | None = None  # the machine's RAM (MemTotal of /proc/meminfo)
    vulkan_driver: bool | None = None
    hints: list[Hint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    installer: str | None = None  # the clue that the configuration is an installer image ("file:line")
    guest: str | None = None  # the clue that the configuration is of a virtual machine ("file:line")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Recommendation:
    variant: str
    cpu_flags: list[str] = field(default_factory=list)
    all_variants: bool = False
    cuda_capabilities: list[str] = field(default_factory=list)
    rocm_targets: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    confidence: Confidence = "none"
    rocm_option: list[str] = field(default_factory=list)  # gfx targets if the user picks rocm instead
    cuda_source: str | None = None  # where the capabilities came from: "NVML", "PCI id table", ...

    def to_dict(self) -> dict:
        return asdict(self)
