"""Builds the wizard with fixed hardware, for the snapshot tests, the pilot tests and scripts/screenshots.py.

carbon is "this machine" (Tiger Lake and an RTX 3050 Ti, compute capability 8.6, detected), beryllium
has hints from its nixos-hardware module, and boron a nixos-facter report.
"""

from __future__ import annotations

from pathlib import Path

from tui.app.app import LlamaflakeApp
from tui.app.hardware_source import HardwareSource
from tui.app.proof_source import ProofSource
from tui.core.errors import LlamaflakeError
from tui.core.hardware.model import CpuInfo, GpuInfo, HardwareReport, Hint
from tui.core.proof import Proof
from tui.core.validate import FAILED, OK, Check

TIGER_LAKE_FLAGS = [
    "fpu",
    "sse4_2",
    "avx",
    "f16c",
    "fma",
    "bmi2",
    "avx2",
    "avx512f",
    "avx512dq",
    "avx512cd",
    "avx512bw",
    "avx512vl",
    "avx512vbmi",
    "avx512_vnni",
]
ZEN4_FLAGS = [
    "sse4_2",
    "avx",
    "f16c",
    "fma",
    "bmi2",
    "avx2",
    "avx512f",
    "avx512dq",
    "avx512cd",
    "avx512bw",
    "avx512vl",
    "avx512vbmi",
    "avx512_vnni",
    "avx512_bf16",
]


def carbon_detected() -> HardwareReport:
    return HardwareReport(
        source="detected",
        hostname="carbon",
        system="x86_64-linux",
        cpu=CpuInfo(
            "GenuineIntel", "Intel Core i7-11800H (Tiger Lake)", "x86_64", 16, TIGER_LAKE_FLAGS, x86_64_level=4
        ),
        gpus=[
            GpuInfo(
                "nvidia",
                "NVIDIA GeForce RTX 3050 Ti Laptop GPU",
                4096,
                "8.6",
                "nvidia",
                "570.153",
                False,
                pci_id="10de:25a0",
                capability_source="NVML",
            ),
            GpuInfo("intel", "Intel UHD Graphics (Tiger Lake)", None, None, "i915", None, True, pci_id="8086:9a60"),
        ],
        vulkan_driver=True,
    )


def beryllium_hints() -> HardwareReport:
    return HardwareReport(
        source="hints",
        hostname="beryllium",
        system="x86_64-linux",
        gpus=[GpuInfo("amd", "AMD Radeon 780M (integrated)", integrated=True)],
        hints=[Hint("nixos-hardware framework-13-7040-amd: Ryzen 7040, Radeon 780M", "flake.nix", 49)],
    )


def boron_facter() -> HardwareReport:
    return HardwareReport(
        source="facter",
        hostname="boron",
        system="x86_64-linux",
        cpu=CpuInfo("AuthenticAMD", "AMD Ryzen 9 7950X", "x86_64", 32, ZEN4_FLAGS, x86_64_level=4),
    )


class FixedHardware(HardwareSource):
    """The same hardware every time; an SSH host named ``unreachable`` fails like a refused connection."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def this_machine(self) -> HardwareReport:
        self.calls.append(("this_machine", ""))
        return carbon_detected()

    def hints(self, flake, host: str) -> HardwareReport:
        self.calls.append(("hints", host))
        if host == "beryllium":
            return beryllium_hints()
        if host == "boron":
            return boron_facter()
        return HardwareReport(
            source="hints",
            hostname=host,
            system="x86_64-linux",
            gpus=[GpuInfo("nvidia", "NVIDIA GPU (driver in config)")],
            hints=[Hint('services.xserver.videoDrivers = ["nvidia"]', f"machines/{host}.nix", 16)],
        )

    def import_report(self, path: Path) -> HardwareReport:
        self.calls.append(("import_report", str(path)))
        report = boron_facter()
        report.source = "report"
        return report

    def scan_ssh(self, host: str) -> HardwareReport:
        self.calls.append(("scan_ssh", host))
        if host == "unreachable":
            raise LlamaflakeError(
                "ssh unreachable: connect to host unreachable port 22: Connection refused",
                hint="check that the machine is up and that `ssh unreachable` works",
            )
        report = boron_facter()
        report.source = "ssh"
        return report


class FixedProof(ProofSource):
    """Nix's answer, fixed: every machine evaluates to the package named in ``packages`` (the demo's inputs are
    on GitHub, out of reach of the tests), except those in ``failing``. The commit step does not run Nix."""

    PACKAGES = {
        "carbon": "llama-cpp-cuda-b6500",
        "beryllium": "llama-cpp-vulkan-b6500",
        "boron": "llama-cpp-blas-b6500",
    }

    def __init__(self, failing: dict[str, str] | None = None) -> None:
        super().__init__(use_nix=False)
        self.failing = failing or {}
        self.asked: list[list[str]] = []

    def off_reason(self) -> str | None:
        return None

    def prove(self, root, changes, hosts, progress=None, intended=None) -> Proof:
        self.asked.append(list(hosts))
        self.intended = intended
        machines = []
        for host in hosts:
            if host in self.failing:
                machines.append(Check(f"evaluate {host}", FAILED, self.failing[host], host=host))
            else:
                machines.append(
                    Check(f"evaluate {host}", OK, "", host=host, package=self.PACKAGES.get(host, "llama-cpp-b6500"))
                )
        return Proof(machines=machines)


def make_app(path: Path, theme: str = "textual-dark", proof: ProofSource | None = None) -> LlamaflakeApp:
    """The wizard on ``path`` with fixed hardware (and a fixed proof unless ``proof`` is given), shown as
    ``~/nixos-config`` whatever the real folder."""
    return LlamaflakeApp(
        path, hardware=FixedHardware(), proof=proof or FixedProof(), shown_path="~/nixos-config", theme=theme
    )
