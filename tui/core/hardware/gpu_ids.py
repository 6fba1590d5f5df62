"""What a GPU's PCI id says without a driver: its model name (the system's ``pci.ids``, else the
project's own table), and its chip's CUDA compute capability or ROCm target (``gpu_chips.toml``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tui.core.data import load
from tui.core.hardware.model import GpuInfo
from tui.core.hardware.vendors import vendor_label

# Where hwdata and pciutils install the PCI ID database; the first readable one is used.
PCI_IDS_PATHS = (
    "/run/current-system/sw/share/hwdata/pci.ids",  # NixOS system profile (hwdata)
    "/run/current-system/sw/share/pci.ids",
    "/usr/share/hwdata/pci.ids",  # Fedora, Arch, openSUSE
    "/usr/share/misc/pci.ids",  # Debian, Ubuntu
    "/usr/share/pci.ids",
    "/usr/local/share/pci.ids",
)
# For tests and odd systems: the pci.ids file to use ("" for none).
PCI_IDS_VARIABLE = "LLAMAFLAKE_PCI_IDS"

SOURCE_TABLE = "PCI id table"
SOURCE_CHIP_NAME = "chip in the model name"
_SECTION_END = re.compile(r"\n[0-9a-fA-F]")
_CHIP_TOKEN = re.compile(r"\b((?:G[A-Z]|TU|AD)\d{2,3}[A-Z]{0,3})\b")


class PciIds:
    """The text of a ``pci.ids`` file (or the lines of it a remote scan sent), looked up by id."""

    def __init__(self, text: str, origin: str) -> None:
        self.text = text if text.startswith("\n") else "\n" + text
        self.origin = origin

    def device_name(self, vendor: str, device: str) -> str | None:
        """The database's name of ``vendor:device`` (lower-case hex), e.g. ``TU104 [GeForce RTX 2070 SUPER]``."""
        start = self.text.find(f"\n{vendor}  ")
        if start < 0:
            return None
        end_match = _SECTION_END.search(self.text, start + 1)
        end = end_match.start() if end_match else len(self.text)
        key = f"\n\t{device}  "
        at = self.text.find(key, start, end)
        if at < 0:
            return None
        line_end = self.text.find("\n", at + 1)
        name = self.text[at + len(key) : line_end if line_end >= 0 else len(self.text)].strip()
        return name or None


def read_pci_ids(path: Path | str) -> PciIds | None:
    """The database at ``path``, or None where it cannot be read."""
    try:
        return PciIds(Path(path).read_text("utf-8", errors="replace"), str(path))
    except OSError:
        return None


@cache
def system_pci_ids() -> PciIds | None:
    """This system's PCI ID database: ``$LLAMAFLAKE_PCI_IDS``, else the first of :data:`PCI_IDS_PATHS`."""
    chosen = os.environ.get(PCI_IDS_VARIABLE)
    if chosen is not None:
        return read_pci_ids(chosen) if chosen else None
    for path in PCI_IDS_PATHS:
        found = read_pci_ids(path)
        if found is not None:
            return found
    return None


def model_name(vendor: str, pci_id: str | None, pci_ids: PciIds | None = None) -> str | None:
    """The model name of a GPU: ``NVIDIA GeForce RTX 2070 SUPER (TU104)`` from ``pci.ids``, else the
    project's table; the table wins where the database only knows a chip code name (``Phoenix1``)."""
    if not pci_id or ":" not in pci_id:
        return None
    vendor_id, device_id = pci_id.split(":", 1)
    own = load("gpus")["names"].get(pci_id)
    database = pci_ids if pci_ids is not None else system_pci_ids()
    raw = database.device_name(vendor_id, device_id) if database is not None else None
    if raw is None or ("[" not in raw and own):
        return own or None
    return _display(vendor_label(vendor), raw)


def _display(label: str, raw: str) -> str:
    match = re.match(r"^(.*?)\s*\[(.+)\]\s*$", raw)
    if not match:
        return f"{label} {raw}"
    chip, model = match.group(1).strip(), match.group(2).strip()
    named = model if model.lower().startswith(label.lower()) else f"{label} {model}"
    return f"{named} ({chip})" if chip else named


# ---- chips ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    vendor: str  # "nvidia" or "amd"
    name: str  # "Turing" / "Navi 23"
    value: str  # the compute capability ("7.5") or the gfx target ("gfx1032")
    low: int
    high: int


def _range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first, 16), int(last or first, 16)


@cache
def _chips() -> tuple[Chip, ...]:
    data = load("gpu_chips")
    chips = []
    for family in data["nvidia"]:
        for devices in family["devices"]:
            chips.append(Chip("nvidia", family["architecture"], family["capability"], *_range(devices)))
    for family in data["amd"]:
        for devices in family["devices"]:
            chips.append(Chip("amd", family["chip"], family["target"], *_range(devices)))
    return tuple(chips)


def chip_of(vendor: str, pci_id: str | None) -> Chip | None:
    """The chip family whose device ids hold ``pci_id`` (the narrowest range where ranges overlap)."""
    if not pci_id or ":" not in pci_id:
        return None
    try:
        device = int(pci_id.split(":", 1)[1], 16)
    except ValueError:
        return None
    holding = [c for c in _chips() if c.vendor == vendor and c.low <= device <= c.high]
    return min(holding, key=lambda c: c.high - c.low) if holding else None


def nvidia_capability_from_name(name: str | None) -> tuple[str, str] | None:
    """(capability, chip) when a GPU name carries its chip code name (``GA107M [GeForce ...]``)."""
    if not name:
        return None
    by_chip = {chip: family["capability"] for family in load("gpu_chips")["nvidia"] for chip in family["chips"]}
    for match in _CHIP_TOKEN.finditer(name):
        token = match.group(1)
        for size in range(len(token), 4, -1):  # GB20B is a chip; GA107M and GP104GL are GA107 and GP104
            if token[:size] in by_chip:
                return by_chip[token[:size]], token[:size]
    return None


def add_chip_facts(gpus: list[GpuInfo]) -> list[GpuInfo]:
    """Fill in what no driver said: an NVIDIA GPU's compute capability, an AMD GPU's ROCm target."""
    for gpu in gpus:
        if gpu.vendor == "nvidia" and not gpu.compute_capability:
            chip = chip_of("nvidia", gpu.pci_id)
            if chip is not None:
                gpu.compute_capability, gpu.capability_source = chip.value, f"{SOURCE_TABLE}: {chip.name}"
            else:
                from_name = nvidia_capability_from_name(gpu.name)
                if from_name is not None:
                    gpu.compute_capability = from_name[0]
                    gpu.capability_source = f"{SOURCE_CHIP_NAME}: {from_name[1]}"
        elif gpu.vendor == "amd" and not gpu.rocm_target:
            chip = chip_of("amd", gpu.pci_id)
            if chip is not None:
                gpu.rocm_target, gpu.rocm_target_source = chip.value, f"{SOURCE_TABLE}: {chip.name}"
    return gpus
