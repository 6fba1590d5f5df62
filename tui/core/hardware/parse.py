"""Parsers shared by every way of learning a machine's hardware: the text of ``/proc/cpuinfo``,
the PCI/DRM device files of ``/sys``, the KFD topology, ``nvidia-smi`` output. Reading the files is
left to the callers (this machine, or a script run over SSH), so that both parse the same way."""

from __future__ import annotations

import re

from tui.core.data import load
from tui.core.hardware.gpu_ids import PciIds, add_chip_facts, chip_of, model_name
from tui.core.hardware.model import CpuInfo, GpuInfo
from tui.core.hardware.vendors import is_discrete_only, vendor_label, vendor_of_pci_id

# x86-64 micro-architecture levels (x86-64 psABI), in the kernel's /proc/cpuinfo names:
# sse3 is "pni", lzcnt is "abm", and OSXSAVE shows as "xsave".
X86_64_LEVELS: dict[int, tuple[str, ...]] = {
    1: ("cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"),
    2: ("cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"),
    3: ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"),
    4: ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"),
}

CPU_VENDORS = {
    "GenuineIntel": "Intel",
    "AuthenticAMD": "AMD",
    "HygonGenuine": "Hygon",
    "CentaurHauls": "Centaur",
    "ARM Limited": "ARM",
}
ARM_IMPLEMENTERS = {
    "0x41": "ARM",
    "0x61": "Apple",
    "0x51": "Qualcomm",
    "0xc0": "Ampere",
    "0x48": "HiSilicon",
    "0x4e": "NVIDIA",
}
MIB = 1024 * 1024
# An amdgpu device whose dedicated memory is no more than this is an APU's carve-out.
AMD_CARVE_OUT_MAX = 2 * 1024 * MIB


def parse_meminfo(text: str) -> int | None:
    """The RAM in MiB from ``/proc/meminfo``'s MemTotal line (given in kB, meaning KiB); None without one."""
    match = re.search(r"^MemTotal:\s*([0-9]{1,15})\s*kB\s*$", text, re.MULTILINE | re.ASCII)
    return int(match.group(1)) // 1024 if match else None


def system_of(arch: str | None) -> str | None:
    """The Nix system name for a ``uname -m`` machine name."""
    if not arch or arch == "unknown":
        return None
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
    return f"{arch}-linux"


def is_x86(arch: str | None) -> bool:
    return arch in ("x86_64", "i686", "i386", "amd64")


def x86_64_level(flags) -> int | None:
    """The highest x86-64 level (1 to 4) whose every flag is present, or None below v1."""
    have = set(flags)
    level = None
    for number, needs in X86_64_LEVELS.items():
        if not all(f in have for f in needs):
            break
        level = number
    return level


def cpu_from_flags(
    vendor: str | None, model: str | None, arch: str, cores: int | None, flags: list[str], threads: int | None = None
) -> CpuInfo:
    """A CpuInfo with the ggml options and x86-64 level worked out from ``flags``."""
    from tui.core.ggml import ggml_options

    x86 = is_x86(arch)
    return CpuInfo(
        vendor=CPU_VENDORS.get(vendor or "", vendor),
        model=model,
        arch=arch,
        cores=cores,
        flags=flags,
        ggml_options=ggml_options(flags) if x86 else {},
        x86_64_level=x86_64_level(flags) if x86 and arch == "x86_64" else None,
        threads=threads,
    )


def parse_cpuinfo(text: str, arch: str) -> CpuInfo:
    """A CpuInfo from the text of ``/proc/cpuinfo`` (x86 ``flags`` or ARM ``Features`` lines)."""
    processors: list[dict[str, str]] = []
    machine: dict[str, str] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            current = None
            continue
        key, value = key.strip(), value.strip()
        if key == "processor":
            current = {}
            processors.append(current)
            continue
        (current if current is not None else machine)[key] = value
    first = processors[0] if processors else machine
    flag_text = first.get("flags") or first.get("Features") or machine.get("Features") or ""
    flags = flag_text.split()
    threads = len(processors) or None
    physical = {(p.get("physical id"), p.get("core id")) for p in processors if "core id" in p}
    cores = len(physical) if physical else threads
    vendor = first.get("vendor_id")
    model = first.get("model name")
    if vendor is None and "CPU implementer" in first:
        implementer = first["CPU implementer"].lower()
        vendor = ARM_IMPLEMENTERS.get(implementer, implementer)
        if model is None:
            parts = load("gpus")["arm_parts"]
            names = []
            for p in processors or [first]:
                name = parts.get(f"{implementer}:{p.get('CPU part', '').lower()}")
                if name and name not in names:
                    names.append(name)
            model = " + ".join(names) or None
    board = machine.get("Model") or machine.get("Hardware")
    if model is None:
        model = board
    elif board and not is_x86(arch):
        model = f"{model} ({board})"
    return cpu_from_flags(vendor, model, arch, cores, flags, threads)


# ---- GPUs ------------------------------------------------------------------------------------


class PciDevice:
    """What ``/sys`` says about one display device (a DRM card or a PCI display controller)."""

    __slots__ = ("fields", "name")

    def __init__(self, name: str, fields: dict[str, str] | None = None) -> None:
        self.name = name  # "card0", or the PCI address for a device without a DRM card
        self.fields = fields if fields is not None else {}  # file name -> stripped content

    def __repr__(self) -> str:
        return f"PciDevice({self.name!r}, {self.fields!r})"

    def get(self, key: str) -> str | None:
        value = self.fields.get(key)
        return value if value else None

    @property
    def slot(self) -> str | None:
        # The kernel's uevent names the PCI address; the resolved folder name is the fallback.
        return uevent(self.get("uevent")).get("PCI_SLOT_NAME") or self.get("slot")

    @property
    def driver(self) -> str | None:
        return self.get("driver") or uevent(self.get("uevent")).get("DRIVER")


DEVICE_FILES = (
    "vendor",
    "device",
    "class",
    "boot_vga",
    "mem_info_vram_total",
    "mem_info_vis_vram_total",
    "product_name",
    "uevent",
)


def uevent(text: str | None) -> dict[str, str]:
    result = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            result[key.strip()] = value.strip()
    return result


def _hex_id(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower()
    return value[2:] if value.startswith("0x") else value


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value else None
    except ValueError:
        return None


def gfx_target(version: int) -> str | None:
    """The ROCm target name of a KFD ``gfx_target_version``: 110003 -> gfx1103, 90010 -> gfx90a."""
    if version <= 0:
        return None
    major, minor, stepping = version // 10000, (version // 100) % 100, version % 100
    return f"gfx{major}{minor:x}{stepping:x}"


def parse_kfd_properties(text: str) -> dict[str, int]:
    """The ``name value`` lines of a KFD topology node's ``properties`` file."""
    props = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                props[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return props


def kfd_targets(nodes: list[dict[str, int]]) -> list[tuple[str | None, str]]:
    """(``vendor:device`` or None, gfx target) for each GPU node of the KFD topology."""
    found = []
    for props in nodes:
        target = gfx_target(props.get("gfx_target_version", 0))
        if target is None or not props.get("simd_count"):
            continue
        vendor, device = props.get("vendor_id"), props.get("device_id")
        pci_id = f"{vendor:04x}:{device:04x}" if vendor and device else None
        found.append((pci_id, target))
    return found


def gpus_from_devices(
    devices: list[PciDevice], kfd_nodes: list[dict[str, int]] | None = None, pci_ids: PciIds | None = None
) -> list[GpuInfo]:
    """GpuInfo for each display device, deduplicated by PCI address; ROCm targets from the KFD nodes,
    names from ``pci_ids`` (default: this system's database), then what the PCI id table says."""
    seen: set[str] = set()
    gpus: list[GpuInfo] = []
    targets = kfd_targets(kfd_nodes or [])
    for dev in devices:
        slot = dev.slot
        key = slot if slot and ":" in slot else f"{dev.name}/{slot}"  # PCI address, else the card itself
        if key in seen:
            continue
        seen.add(key)
        vendor_id, device_id = _hex_id(dev.get("vendor")), _hex_id(dev.get("device"))
        driver = dev.driver
        pci_id = f"{vendor_id}:{device_id}" if vendor_id and device_id else None
        vendor = vendor_of_pci_id(vendor_id) or (f"pci:{vendor_id}" if vendor_id else (driver or "unknown"))
        vram = _int(dev.get("mem_info_vram_total"))
        visible = _int(dev.get("mem_info_vis_vram_total"))
        gpu = GpuInfo(
            vendor=vendor,
            name=dev.get("product_name")
            or model_name(vendor, pci_id, pci_ids)
            or _generic_name(vendor, pci_id, driver),
            memory_mib=vram // MIB if vram else None,
            driver=driver,
            pci_id=pci_id,
            pci_slot=slot,
            boot_vga=dev.get("boot_vga") == "1" if dev.get("boot_vga") is not None else None,
        )
        if vendor == "amd":
            gpu.integrated = _amd_integrated(device_id, vram, visible)
            matching = [t for p, t in targets if p == pci_id]
            if (
                not matching
                and len(targets) == 1
                and sum(1 for d in devices if vendor_of_pci_id(_hex_id(d.get("vendor"))) == "amd") == 1
            ):
                matching = [targets[0][1]]
            gpu.rocm_target = matching[0] if matching else None
            gpu.rocm_target_source = "KFD topology" if matching else None
        elif vendor == "intel":
            if slot:
                gpu.integrated = slot.endswith("00:02.0")
        elif is_discrete_only(vendor):
            gpu.integrated = False
        elif vendor_id is None:
            gpu.integrated = True  # a platform device on a system-on-chip
        gpus.append(gpu)
    return add_chip_facts(gpus)


def _generic_name(vendor: str, pci_id: str | None, driver: str | None) -> str:
    label = vendor_label(vendor)
    chip = chip_of(vendor, pci_id)
    if chip is not None:  # no model name anywhere, but the chip family is known
        return f"{label} {chip.name} GPU {pci_id}"
    if pci_id:
        return f"{label} GPU {pci_id}"
    return f"{label} GPU ({driver})" if driver and driver != vendor else f"{label} GPU"


def _amd_integrated(device_id: str | None, vram: int | None, visible: int | None) -> bool | None:
    if device_id in load("gpus")["amd_integrated"]["devices"]:
        return True
    if vram is None:
        return None
    if visible is not None and visible < vram:
        return False  # only a window of it is visible to the CPU: memory of its own
    return vram <= AMD_CARVE_OUT_MAX


def parse_nvidia_smi(text: str, columns: list[str] | None = None) -> list[GpuInfo]:
    """GPUs from ``nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version
    --format=csv,noheader,nounits`` (``columns`` when another query was asked)."""
    columns = columns or ["name", "memory.total", "compute_cap", "driver_version"]
    gpus = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = [v.strip() for v in line.split(",")]
        if len(cells) != len(columns):
            continue  # an error message, not a row
        values = dict(zip(columns, cells, strict=True))
        if not values.get("name"):
            continue
        capability = values.get("compute_cap")
        if capability and not capability.replace(".", "", 1).isdigit():
            capability = None
        gpus.append(
            GpuInfo(
                vendor="nvidia",
                name=values["name"],
                memory_mib=_int(values.get("memory.total")),
                compute_capability=capability,
                capability_source="nvidia-smi" if capability else None,
                driver="nvidia",
                driver_version=values.get("driver_version") or None,
                integrated=False,
            )
        )
    return gpus


def merge_nvidia(nvidia: list[GpuInfo], others: list[GpuInfo]) -> list[GpuInfo]:
    """NVIDIA GPUs named by the driver replace the bare NVIDIA devices found in ``/sys``."""
    if not nvidia:
        return others
    sysfs_nvidia = [g for g in others if g.vendor == "nvidia"]
    for gpu in nvidia:
        twin = next(
            (g for g in sysfs_nvidia if gpu.pci_slot and g.pci_slot and _same_slot(g.pci_slot, gpu.pci_slot)), None
        )
        if twin is None and len(nvidia) == len(sysfs_nvidia):
            twin = sysfs_nvidia[nvidia.index(gpu)]
        if twin is not None:
            gpu.pci_id = gpu.pci_id or twin.pci_id
            gpu.pci_slot = gpu.pci_slot or twin.pci_slot
            gpu.boot_vga = twin.boot_vga
    return add_chip_facts(nvidia) + [g for g in others if g.vendor != "nvidia"]


def _same_slot(a: str, b: str) -> bool:
    # NVML writes "00000000:01:00.0", sysfs "0000:01:00.0".
    return a.lower().split(":", 1)[-1] == b.lower().split(":", 1)[-1]
