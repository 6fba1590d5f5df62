"""What the hardware code knows about each GPU vendor, read from ``data/gpu_vendors.toml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from tui.core.data import load

# CPU vendor ids as /proc/cpuinfo writes them, for labels.
CPU_ID_LABELS = {"authenticamd": "AMD", "genuineintel": "Intel"}


@dataclass(frozen=True)
class GpuVendor:
    """One table of ``gpu_vendors.toml``; ``name`` is the word a ``GpuInfo.vendor`` holds."""

    name: str
    pci_id: str
    label: str
    article: str = "a"
    variants: tuple[str, ...] = ()
    kernel_modules: tuple[str, ...] = ()
    video_drivers: tuple[str, ...] = ()
    hint_word: str = ""
    discrete_only: bool = False
    makes_cpus: bool = False
    nixos_hardware_integrated: bool = False

    @property
    def a_label(self) -> str:
        """The label with its article, for a sentence: ``an NVIDIA``, ``a Moore Threads``."""
        return f"{self.article} {self.label}"

    @property
    def default_variant(self) -> str | None:
        """The build its GPUs get by default; None where llama.cpp cannot use them."""
        return self.variants[0] if self.variants else None


@cache
def gpu_vendors() -> tuple[GpuVendor, ...]:
    """Every vendor of the data file, in its order."""
    vendors = []
    for name, entry in load("gpu_vendors").items():
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}  # TOML
        fields.setdefault("label", name)
        fields.setdefault("hint_word", name)
        vendors.append(GpuVendor(name=name, **fields))
    return tuple(vendors)


@cache
def _by_name() -> dict[str, GpuVendor]:
    return {v.name: v for v in gpu_vendors()}


def gpu_vendor(name: str | None) -> GpuVendor | None:
    """The vendor a ``GpuInfo.vendor`` names, or None for one the data file does not know."""
    return _by_name().get(name or "")


def a_vendor_label(vendor: str | None) -> str:
    """:func:`vendor_label` with its article, for a sentence (``an AMD``)."""
    known = _by_name().get((vendor or "").lower())
    if known is not None:
        return known.a_label
    label = vendor_label(vendor)
    return f"{'an' if label[:1] in 'AEIOU' else 'a'} {label}"


def vendor_of_pci_id(pci_vendor: str | None) -> str | None:
    """The vendor's name for a PCI vendor id (``10de`` -> ``nvidia``)."""
    return next((v.name for v in gpu_vendors() if v.pci_id == pci_vendor), None)


def vendor_label(vendor: str | None) -> str:
    """``nvidia`` as NVIDIA, ``GenuineIntel`` as Intel; other names as they are."""
    key = (vendor or "").lower()
    known = _by_name().get(key)
    if known is not None:
        return known.label
    return CPU_ID_LABELS.get(key, vendor or "unknown")


def vendor_with_kernel_module(module: str) -> str | None:
    """The vendor whose GPU a kernel module means (``amdgpu`` -> ``amd``)."""
    return next((v.name for v in gpu_vendors() if module in v.kernel_modules), None)


def vendor_with_video_driver(driver: str) -> str | None:
    """The vendor whose GPU an X11 video driver means (``nouveau`` -> ``nvidia``)."""
    return next((v.name for v in gpu_vendors() if driver in v.video_drivers), None)


def is_discrete_only(vendor: str | None) -> bool:
    """Whether the vendor's GPUs are always cards of their own."""
    known = gpu_vendor(vendor)
    return known is not None and known.discrete_only


def variants_of(vendor: str | None) -> tuple[str, ...]:
    """The builds the vendor's GPUs run, the default first; empty where llama.cpp cannot use them."""
    known = gpu_vendor(vendor)
    return known.variants if known is not None else ()
