"""Fake machines for the hardware tests: /proc and /sys trees copied from real kinds of machine, and a
fake NVML with pynvml's function names (the only fake at the hardware boundary). Test modules import
the fixtures from here (a second conftest.py would shadow the suite's own)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hardware"


def machine(name: str) -> Path:
    """The fake root (proc/, sys/, run/...) of one fixture machine."""
    return FIXTURES / name


def icd_dirs(root: Path) -> list[Path]:
    return [root / "run/opengl-driver/share/vulkan/icd.d", root / "usr/share/vulkan/icd.d", root / "etc/vulkan/icd.d"]


class FakeNvml:
    """pynvml's functions over a list of GPUs: (name, memory bytes, (major, minor), bus id, pci device id)."""

    class NVMLError(Exception):
        pass

    def __init__(self, gpus, driver="550.78", init_error: Exception | None = None, fail_on: str | None = None):
        self.gpus = gpus
        self.driver = driver
        self.init_error = init_error
        self.fail_on = fail_on
        self.calls: list[str] = []

    def _call(self, name):
        self.calls.append(name)
        if self.fail_on == name:
            raise self.NVMLError("Unknown Error")

    def nvmlInit(self):
        self._call("nvmlInit")
        if self.init_error is not None:
            raise self.init_error

    def nvmlShutdown(self):
        self._call("nvmlShutdown")

    def nvmlSystemGetDriverVersion(self):
        self._call("nvmlSystemGetDriverVersion")
        return self.driver

    def nvmlDeviceGetCount(self):
        self._call("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index):
        self._call("nvmlDeviceGetHandleByIndex")
        return self.gpus[index]

    def nvmlDeviceGetName(self, handle):
        self._call("nvmlDeviceGetName")
        return handle[0]

    def nvmlDeviceGetMemoryInfo(self, handle):
        self._call("nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(total=handle[1], free=handle[1] // 2, used=handle[1] // 2)

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        self._call("nvmlDeviceGetCudaComputeCapability")
        return handle[2]

    def nvmlDeviceGetPciInfo(self, handle):
        self._call("nvmlDeviceGetPciInfo")
        return SimpleNamespace(busId=handle[3], pciDeviceId=handle[4])


RTX_4090 = ("NVIDIA GeForce RTX 4090", 25757220864, (8, 9), "00000000:01:00.0", 0x268410DE)


def copy_machine(tmp_path: Path, name: str) -> Path:
    """A writable copy of a fixture machine, for tests that break it."""
    target = tmp_path / name
    shutil.copytree(machine(name), target, symlinks=True)
    return target
