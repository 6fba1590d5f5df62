"""GPU vendors are data: the table in data/gpu_vendors.toml is all the hardware code knows of them."""

from __future__ import annotations

import re

import pytest
from conftest import make_repo  # the suite's conftest: real git repositories

from tui.core.data import load
from tui.core.hardware import vendors
from tui.core.hardware.hints import hints_from_config
from tui.core.hardware.model import HardwareReport
from tui.core.hardware.parse import PciDevice, gpus_from_devices
from tui.core.hardware.recommendation import recommend
from tui.core.nix.flake import load_flake
from tui.core.variants import VARIANTS


def test_every_vendor_is_well_formed():
    known = vendors.gpu_vendors()
    assert [v.name for v in known][:3] == ["nvidia", "amd", "intel"]
    ids = [v.pci_id for v in known]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[0-9a-f]{4}", i) for i in ids)
    for vendor in known:
        assert set(vendor.variants) <= set(VARIANTS), vendor.name
        assert vendor.default_variant in (None, "cuda", "vulkan"), vendor.name  # the two defaults recommend() knows
        assert vendor.variants or not (vendor.kernel_modules or vendor.video_drivers), vendor.name
    modules = [m for v in known for m in v.kernel_modules]
    assert len(set(modules)) == len(modules)


def test_the_known_vendors_read_as_before():
    assert vendors.vendor_of_pci_id("10de") == "nvidia" and vendors.vendor_of_pci_id("1af4") == "virtio"
    assert vendors.vendor_of_pci_id("ffff") is None
    assert [vendors.vendor_label(v) for v in ("nvidia", "AMD", "GenuineIntel", "authenticamd", "qemu", None)] == [
        "NVIDIA",
        "AMD",
        "Intel",
        "AMD",
        "qemu",
        "unknown",
    ]
    assert (
        vendors.vendor_with_kernel_module("nouveau") == "nvidia"
        and vendors.vendor_with_video_driver("intel") == "intel"
    )
    assert vendors.variants_of("amd") == ("vulkan", "rocm") and vendors.variants_of("matrox") == ()


MOORE_THREADS = {
    "pci_id": "1ed5",
    "label": "Moore Threads",
    "variants": ["vulkan"],
    "kernel_modules": ["mtgpu"],
    "video_drivers": ["mtgpu"],
    "hint_word": "mthreads",
}


@pytest.fixture
def new_vendor(monkeypatch):
    """The data file with one more vendor in it, as a contributor would add it."""
    data = dict(load("gpu_vendors"), mthreads=MOORE_THREADS)
    monkeypatch.setattr(vendors, "load", lambda name: data if name == "gpu_vendors" else load(name))
    vendors.gpu_vendors.cache_clear()
    vendors._by_name.cache_clear()
    yield
    vendors.gpu_vendors.cache_clear()
    vendors._by_name.cache_clear()


def test_a_vendor_added_as_data_is_detected_named_and_recommended(new_vendor):
    card = PciDevice(
        "card0", {"vendor": "0x1ed5", "device": "0x0300", "uevent": "DRIVER=mtgpu\nPCI_SLOT_NAME=0000:03:00.0"}
    )
    [gpu] = gpus_from_devices([card], pci_ids=None)
    assert (gpu.vendor, gpu.display_name) == ("mthreads", "Moore Threads GPU 1ed5:0300")
    rec = recommend(HardwareReport(source="detected", system="x86_64-linux", gpus=[gpu]))
    assert rec.variant == "vulkan" and "Moore Threads GPU 1ed5:0300 → Vulkan build" in rec.reasons


def test_a_vendor_added_as_data_is_found_in_a_configuration(new_vendor, tmp_path):
    flake_text = """{
  outputs = { self, nixpkgs, ... }: {
    nixosConfigurations.tiger = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./tiger.nix ];
    };
  };
}
"""
    root = make_repo(
        tmp_path / "config", {"flake.nix": flake_text, "tiger.nix": '{ ... }: { boot.kernelModules = [ "mtgpu" ]; }\n'}
    )
    flake = load_flake(root)
    report = hints_from_config(flake, flake.host("tiger"))
    assert [g.vendor for g in report.gpus] == ["mthreads"]
    [hint] = report.hints
    assert hint.text == 'boot.kernelModules has "mtgpu": a Moore Threads GPU'  # "a", the default article
    assert recommend(report).variant == "vulkan"
