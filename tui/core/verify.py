"""``llamaflake verify``: what runs on the machine, compared with what the repository chose for it.

Four checks, each naming its cause and the fix when it fails: (a) the llama.cpp programs first on PATH are the
chosen build (told by the store path's package name), (b) llama.cpp's own device list shows the backend's
device, (c) the ``llama-cpp.service`` unit is active and answers on its port with the chosen model, (d) on
request, a short ``llama-bench`` run. Everything outside (PATH, /proc, /sys, /dev, systemctl, HTTP) goes
through :class:`Probes`, which the tests point at fakes; every text read from outside is data.
"""

from __future__ import annotations

import http.client
import json
import mmap
import os
import re
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tui.core.answers import MachineAnswer
from tui.core.bounded import amount, run_bounded
from tui.core.errors import AnswerError, RepositoryError, printable
from tui.core.nix.syntax import nix_string_literal
from tui.core.shell import shell_join

if TYPE_CHECKING:
    from tui.core.hardware.model import HardwareReport
    from tui.core.hardware.this_machine import Nvml
    from tui.core.read_back import NotPlain

SERVICE = "llama-cpp.service"
# ggml's device names per backend: CUDA0, ROCm0 (the CUDA backend built for HIP), Vulkan0.
DEVICE_PREFIX = {"cuda": "CUDA", "rocm": "ROCm", "vulkan": "Vulkan"}
GPU_VARIANTS = tuple(DEVICE_PREFIX)
# The flake names its package llama-cpp plus one suffix per feature, in this order (.devops/nix/package.nix:
# pname = "llama-cpp${pnameSuffix}", suffixes blas cuda metalkit mpi rocm vulkan); a CPU build is
# llama-cpp-blas, or plain llama-cpp without BLAS. nixpkgs' own package is always pname "llama-cpp" with a
# build number as its version (6981), whatever its backend.
_CPU_SUFFIXES = frozenset({"blas", "metalkit", "mpi"})
_STORE_ENTRY = re.compile(r"[0-9abcdfghijklmnpqrsvwxyz]{32}-(.+)", re.ASCII)
_NAME_VERSION = re.compile(r"(.+?)-([0-9][^-]*)", re.ASCII)
# `llama-server --list-devices` (common/arg.cpp): "Available devices:", then one line per non-CPU device,
# printf("  %s: %s (%zu MiB, %zu MiB free)\n", name, description, total, free).
_DEVICE_LINE = re.compile(r"\s+([^:\s]+): (.*) \((\d+) MiB, (\d+) MiB free\)\s*")
# The CUDA runtime a build links: its store path, e.g. /nix/store/<hash>-cuda_cudart-12.8.90-lib.
_CUDART = re.compile(rb"[0-9abcdfghijklmnpqrsvwxyz]{32}-(?:cuda_cudart|cudatoolkit)-(\d+)\.(\d+)")
_NVIDIA_MODULE = re.compile(r"Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)")
JOURNAL = shell_join(["journalctl", "-u", "llama-cpp", "-n", "5"])
BENCH_ARGS = ("-p", "64", "-n", "16", "-o", "json")
_MAX_BODY = 1 << 20
# What is kept of a program's output: its stdout up to this (past it the program is stopped), its stderr's end.
MAX_OUTPUT = 1 << 20
STDERR_TAIL = 64 * 1024


@dataclass
class Check:
    """One thing compared: ``ok`` None where it was not checked (``detail`` says why)."""

    name: str
    ok: bool | None
    detail: str
    fix: str | None = None
    values: dict[str, float] | None = None  # numbers for scripts (bench: tokens per second)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}
        if self.values is not None:
            data["values"] = self.values
        return data


@dataclass
class Verification:
    """Every check for one machine."""

    host: str
    variant: str
    settings_file: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def to_dict(self) -> dict:
        return {
            "host": self.host,
            "variant": self.variant,
            "settings_file": self.settings_file,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass
class Ran:
    """A program's result, or why it could not run (``error``)."""

    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None  # "printed more than 1 MiB", "gave no answer in 60 s", "No such file or directory"


class HttpAnswer(NamedTuple):
    """An HTTP answer: its status, and its body up to :data:`_MAX_BODY` (``too_large``: it has more)."""

    status: int
    body: str
    too_large: bool = False

    @classmethod
    def read(cls, status: int, data: bytes) -> HttpAnswer:
        return cls(status, data[:_MAX_BODY].decode("utf-8", "replace"), len(data) > _MAX_BODY)


class NotHttp(ConnectionError):
    """What answers on the service's port does not speak HTTP."""


@dataclass
class Probes:
    """Where verify looks: PATH, the /proc, /sys and /dev trees, the Vulkan driver folders, NVML, the network."""

    path: str = field(default_factory=lambda: os.environ.get("PATH", os.defpath))
    proc: Path = Path("/proc")
    sys: Path = Path("/sys")
    dev: Path = Path("/dev")
    icd_dirs: Sequence[Path] | None = None
    nvml: Nvml | None = None
    timeout: float = 60.0
    bench_timeout: float = 600.0
    output_limit: int = MAX_OUTPUT

    def which(self, name: str) -> Path | None:
        found = shutil.which(name, path=self.path)
        return Path(found) if found else None

    def run(self, argv: Sequence[str | Path], timeout: float | None = None) -> Ran:
        """``argv`` run without a shell, its output read as text (its stdout up to :data:`MAX_OUTPUT`, the end of
        its stderr); a failure to start, a timeout and too much output are results too."""
        env = dict(os.environ, PATH=self.path, LC_ALL="C", SYSTEMD_PAGER="", SYSTEMD_COLORS="0")
        seconds = timeout or self.timeout
        try:
            done = run_bounded(
                [str(a) for a in argv], limit=self.output_limit, tail=STDERR_TAIL, timeout=seconds, env=env
            )
        except OSError as exc:
            return Ran(None, error=exc.strerror or str(exc))
        if done.too_large:
            return Ran(None, error=f"printed more than {amount(self.output_limit)}, and was stopped")
        if done.timed_out:
            return Ran(None, error=f"gave no answer in {seconds:g} s")
        return Ran(done.returncode, done.stdout, done.stderr)

    def get(self, url: str, timeout: float = 5.0) -> HttpAnswer:
        """An HTTP GET without any proxy (the address is this machine's), its body read up to :data:`_MAX_BODY`;
        raises OSError where nothing answers, or where what answers does not speak HTTP."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=timeout) as response:
                return HttpAnswer.read(response.status, response.read(_MAX_BODY + 1))
        except urllib.error.HTTPError as exc:
            return HttpAnswer.read(exc.code, exc.read(_MAX_BODY + 1))
        except http.client.HTTPException as exc:  # an SSH server, a database: its first bytes are no HTTP status
            said = printable(str(exc).strip()[:80], newlines=False)
            raise NotHttp(f"does not answer in HTTP (it says `{said}`): another program listens there") from None

    def hostname(self) -> str:
        try:
            name = (self.proc / "sys/kernel/hostname").read_text("utf-8", "replace").strip()
        except OSError:
            name = ""
        return name or socket.gethostname()

    def hardware(self) -> HardwareReport:
        """This machine's GPUs as the project's detection sees them."""
        from tui.core.hardware.this_machine import VULKAN_ICD_DIRS, detect_this_machine

        icd = VULKAN_ICD_DIRS if self.icd_dirs is None else self.icd_dirs
        return detect_this_machine(self.proc, self.sys, self.nvml, icd_dirs=icd)

    def vulkan_driver(self) -> bool:
        from tui.core.hardware.this_machine import VULKAN_ICD_DIRS, vulkan_driver_installed

        return vulkan_driver_installed(VULKAN_ICD_DIRS if self.icd_dirs is None else self.icd_dirs)


# --- what the repository chose ---------------------------------------------------------------------------------


def chosen_settings(flake, host: str) -> tuple[str, MachineAnswer]:
    """The settings file of ``host`` and what it chose, as the read-back sees it; a clear error where there is none."""
    from tui.core.boundary import name_problem
    from tui.core.errors import LlamaflakeError
    from tui.core.footprint import machine_path
    from tui.core.plan import existing_module_dir
    from tui.core.read_back import read_machine_settings

    if flake.host(host) is None:
        names = ", ".join(h.name for h in flake.hosts) or "none"
        raise AnswerError(
            f"no machine named {host!r} in {flake.root} (machines: {names})",
            hint="give the machine's name in the flake with --host NAME",
        )
    problem = name_problem(host)
    module_dir = existing_module_dir(flake)
    if problem is not None or module_dir is None:
        raise RepositoryError(
            f"{flake.root} has no llama.cpp settings for {host}"
            + (f" (its name cannot be a file name: {problem})" if problem else ""),
            hint=shell_join(["llamaflake", "apply", "--host", f"{host}=VARIANT"]) + " writes them",
        )
    rel = machine_path(module_dir, host)
    if not (flake.root / rel).is_file():
        raise RepositoryError(
            f"{flake.root} has no llama.cpp settings for {host} ({rel} does not exist)",
            hint=shell_join(["llamaflake", "apply", "--host", f"{host}=VARIANT"]) + " writes them",
        )
    try:
        answer = read_machine_settings(flake.source_file(rel).source, rel)
    except LlamaflakeError as exc:
        raise RepositoryError(f"cannot read {rel}: {exc.message}") from None
    if answer is None:
        raise RepositoryError(f"{rel} sets no local.llama-cpp settings for {host}")
    return rel, answer


# --- (a) the build on PATH ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """One llama.cpp program found on PATH, and the package it comes from."""

    program: Path  # as found: /run/current-system/sw/bin/llama-server
    resolved: Path  # links followed
    store_path: Path | None  # the package's folder: /nix/store/<hash>-llama-cpp-cuda-0.0.0
    name: str | None  # its store name without the hash
    variant: str | None  # cpu, cuda, rocm, vulkan; None where the name does not say
    origin: str  # "flake", "nixpkgs" or "unknown"

    def kind(self) -> str:
        """The build in words: "the cuda build", "nixpkgs' llama-cpp", "not a Nix build"."""
        if self.origin == "nixpkgs":
            return "nixpkgs' llama-cpp (not the flake's build; its name does not say its backend)"
        if self.variant is not None:
            return f"the {self.variant} build"
        if self.store_path is None:
            return "not a Nix build (its backend cannot be told)"
        return f"a build whose name ({self.name}) does not say its backend"

    def where(self) -> str:
        return str(self.program) if self.store_path is None else f"{self.program} → {self.store_path}"


def identify(program: Path) -> Build:
    """The package behind ``program``, told by its store name."""
    resolved = Path(os.path.realpath(program))
    parts = resolved.parts
    for index, part in enumerate(parts):
        match = _STORE_ENTRY.fullmatch(part)
        if match is None:
            continue
        name = match.group(1)
        split = _NAME_VERSION.fullmatch(name)
        pname, version = (split.group(1), split.group(2)) if split else (name, "")
        store_path = Path(*parts[: index + 1])
        if pname == "llama-cpp" and version.isdigit():
            return Build(program, resolved, store_path, name, None, "nixpkgs")
        if pname == "llama-cpp" or pname.startswith("llama-cpp-"):
            words = pname.removeprefix("llama-cpp").split("-")[1:]
            backends = [w for w in words if w in GPU_VARIANTS]
            if len(backends) == 1:
                variant = backends[0]
            elif not backends and all(w in _CPU_SUFFIXES for w in words):
                variant = "cpu"
            else:
                variant = None
            return Build(program, resolved, store_path, name, variant, "flake")
        return Build(program, resolved, store_path, name, None, "unknown")
    return Build(program, resolved, None, None, None, "unknown")


def find_programs(name: str, dirs: Sequence[str | Path]) -> list[Path]:
    """Every executable ``name`` in ``dirs``, in order (the first is the one a shell runs)."""
    found: list[Path] = []
    seen: set[str] = set()
    for folder in dirs:
        if not folder or str(folder) in seen:
            continue
        seen.add(str(folder))
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found.append(candidate)
    return found


def program_check(
    program: str, chosen: str, host: str, candidates: list[Path], where: str
) -> tuple[Check | None, Build | None]:
    """(a) for one program: the first one found is the chosen build, or what shadows it and how to fix it."""
    switch = shell_join(["sudo", "nixos-rebuild", "switch", "--flake", f".#{host}"])
    if not candidates:
        if program != "llama-server":
            return None, None
        return (
            Check(
                program,
                False,
                f"no {program} {where}",
                f"switch the machine to the commit ({switch}): the module installs its build in "
                "environment.systemPackages",
            ),
            None,
        )
    builds = [identify(c) for c in candidates]
    first = builds[0]
    if first.variant == chosen and first.origin == "flake":
        return Check(program, True, f"{first.where()}: {first.kind()}, as chosen"), first
    match = next((b for b in builds[1:] if b.variant == chosen and b.origin == "flake"), None)
    if match is not None:
        return (
            Check(
                program,
                False,
                f"{first.where()} is {first.kind()} and comes first {where}: it shadows the {chosen} build "
                f"at {match.where()}",
                f"remove that build from {first.program.parent} (a `nix profile`, home.packages or "
                f"users.users.<name>.packages), or put {match.program.parent} ahead of it in PATH",
            ),
            match,
        )
    return (
        Check(
            program,
            False,
            f"{first.where()} is {first.kind()}, not the {chosen} build chosen for {host}; no {chosen} build {where}",
            f"switch the machine to the commit ({switch}), then open a new shell",
        ),
        first,
    )


# --- (b) llama.cpp's device list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    name: str  # CUDA0
    description: str  # NVIDIA GeForce RTX 4090
    total_mib: int
    free_mib: int


def parse_devices(stdout: str) -> list[Device] | None:
    """The devices of ``llama-server --list-devices`` output; None where it has no "Available devices:" line."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Available devices:"), None)
    if start is None:
        return None
    devices = []
    for line in lines[start + 1 :]:
        match = _DEVICE_LINE.fullmatch(line)
        if match is None:
            break
        devices.append(Device(match.group(1), match.group(2), int(match.group(3)), int(match.group(4))))
    return devices


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text))


def nvidia_driver_version(probes: Probes) -> str | None:
    """The loaded NVIDIA kernel driver's version: /proc/driver/nvidia/version, else NVML."""
    try:
        text = (probes.proc / "driver/nvidia/version").read_text("utf-8", "replace")
    except OSError:
        text = ""
    match = _NVIDIA_MODULE.search(text)
    if match:
        return match.group(1)
    if probes.nvml is None and not (probes.proc / "driver/nvidia").is_dir():
        return None
    from tui.core.hardware.this_machine import read_nvml

    gpus, _problem = read_nvml(probes.nvml)
    return next((g.driver_version for g in gpus if g.driver_version), None)


def cuda_runtime_of(build: Build) -> str | None:
    """The CUDA release (``12.8``) of the runtime a build links, read from the store paths its libraries name."""
    if build.store_path is None:
        return None
    files = [build.resolved]
    lib = build.store_path / "lib"
    if lib.is_dir():
        files += sorted(p for p in lib.iterdir() if p.name.startswith(("libggml-cuda", "libggml")) and p.is_file())
    for path in files:
        try:
            with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                for marker in (b"-cuda_cudart-", b"-cudatoolkit-"):
                    at = data.find(marker)
                    match = _CUDART.search(data[max(0, at - 32) : at + 64]) if at >= 0 else None
                    if match:
                        return f"{int(match.group(1))}.{int(match.group(2))}"
        except (OSError, ValueError):
            continue
    return None


def cuda_driver_needs(runtime: str) -> tuple[str | None, str | None]:
    """(the least driver the runtime starts on, the driver its release ships with), from NVIDIA's tables."""
    from tui.core.data import load

    table = load("cuda_drivers")
    return table["minimum"].get(runtime.split(".")[0]), table["toolkit"].get(runtime)


def _cuda_cause(probes: Probes, build: Build, stderr: str) -> tuple[str, str]:
    nodes = [p for p in _glob(probes.dev, "nvidia*") if p.name == "nvidiactl" or p.name[6:].isdigit()]
    if not nodes:
        return (
            f"there are no {probes.dev}/nvidia* device nodes: the NVIDIA kernel driver is not loaded",
            'load it: services.xserver.videoDrivers = [ "nvidia" ]; (hardware.nvidia.enabled follows it; choose '
            "hardware.nvidia.open), then switch and reboot",
        )
    driver = nvidia_driver_version(probes)
    runtime = cuda_runtime_of(build)
    newer_driver = "a newer driver: hardware.nvidia.package = config.boot.kernelPackages.nvidiaPackages.latest;"
    if driver and runtime:
        least, shipped = cuda_driver_needs(runtime)
        if least and _version(driver) < _version(least):
            return (
                f"the NVIDIA driver {driver} is older than the CUDA {runtime} runtime of this build needs "
                f"({least} or newer" + (f"; CUDA {runtime} ships with {shipped}" if shipped else "") + ")",
                newer_driver + " (or a nixpkgs whose CUDA release the driver runs), then switch and reboot",
            )
    if "driver version is insufficient" in stderr:
        return (
            "the NVIDIA driver"
            + (f" {driver}" if driver else "")
            + " is older than the CUDA runtime"
            + (f" {runtime}" if runtime else "")
            + " of this build",
            newer_driver + " then switch and reboot",
        )
    if "libcuda.so" in stderr:
        return (
            "llama.cpp cannot load the NVIDIA driver's libcuda.so (it looks in /run/opengl-driver/lib)",
            'install the driver: services.xserver.videoDrivers = [ "nvidia" ]; and hardware.graphics.enable = true;',
        )
    if driver and runtime:
        _least, shipped = cuda_driver_needs(runtime)
        if shipped and _version(driver) < _version(shipped):
            return (
                f"the NVIDIA driver {driver} is older than CUDA {runtime}'s own ({shipped}): it runs the build only "
                "through minor version compatibility, without the newer features",
                newer_driver + " then switch and reboot",
            )
    return _unknown_cause(stderr, "cuda")


def _rocm_cause(probes: Probes, answer: MachineAnswer, host: str, settings_file: str | None) -> tuple[str, str]:
    kfd = probes.dev / "kfd"
    if not kfd.exists():
        return (
            f"there is no {kfd}: the amdgpu kernel driver is not loaded (or does not offer ROCm's compute interface)",
            'load it early: boot.initrd.kernelModules = [ "amdgpu" ];, then switch and reboot',
        )
    if not os.access(kfd, os.R_OK | os.W_OK):
        return (
            f"{kfd} is not readable and writable for this user",
            'add the user to the render and video groups: users.users.<name>.extraGroups = [ "render" "video" ];',
        )
    targets = [g.rocm_target for g in probes.hardware().gpus if g.vendor == "amd" and g.rocm_target]
    built = answer.rocm_targets
    missing = [t for t in dict.fromkeys(targets) if t not in built]
    if built and missing:
        wanted = list(dict.fromkeys([*built, *missing]))
        where = f" in {settings_file}" if settings_file else ""
        return (
            f"the GPU is {', '.join(missing)}, and the build has kernels for {', '.join(built)} only",
            f"add it: local.llama-cpp.rocm.gpuTargets = [ {' '.join(nix_string_literal(t) for t in wanted)} ];"
            f"{where} (or {shell_join(['llamaflake', 'apply', '--host', f'{host}=rocm', '--rocm', f'{host}=' + ','.join(wanted)])})"
            ", then switch",
        )
    return _unknown_cause("", "rocm")


def _vulkan_cause(probes: Probes) -> tuple[str, str]:
    if not probes.vulkan_driver():
        return (
            "no Vulkan driver (ICD) is installed",
            "install the drivers: hardware.graphics.enable = true;, then switch",
        )
    if not _glob(probes.dev / "dri", "renderD*"):
        return (
            f"there is no {probes.dev}/dri/renderD* node: no GPU kernel driver is loaded",
            "load the GPU's kernel driver (amdgpu, i915/xe, or nvidia through services.xserver.videoDrivers), "
            "then switch and reboot",
        )
    return _unknown_cause("", "vulkan")


def _unknown_cause(stderr: str, variant: str) -> tuple[str, str]:
    said = next((line.strip() for line in stderr.splitlines() if "error" in line.lower() or "fail" in line.lower()), "")
    return (
        "no cause found" + (f"; llama.cpp said: {said}" if said else ""),
        f"run {shell_join(['llama-server', '--list-devices'])} and read the {DEVICE_PREFIX[variant]} backend's messages",
    )


def _glob(folder: Path, pattern: str) -> list[Path]:
    try:
        return sorted(folder.glob(pattern))
    except OSError:
        return []


def device_check(probes: Probes, build: Build, answer: MachineAnswer, host: str, settings_file: str | None) -> Check:
    """(b): ``llama-server --list-devices`` shows the backend's device; where not, why."""
    ran = probes.run([build.program, "--list-devices"])
    asked = f"{build.program} --list-devices"
    if ran.error is not None:
        return Check("devices", False, f"{asked} could not run: {ran.error}", "run it by hand to see why")
    devices = parse_devices(ran.stdout)
    variant = answer.variant
    if devices is None and ran.returncode == 0:  # it ran, and printed something else than its device list
        first = next((line.strip() for line in ran.stdout.splitlines() if line.strip()), None)
        said = f"its first line is `{printable(first, newlines=False)[:120]}`" if first else "it printed nothing"
        return Check(
            "devices",
            False,
            f"the output of {asked} could not be read (no 'Available devices:' line; {said})",
            f"run {shell_join([str(build.program), '--list-devices'])} by hand: is it llama.cpp's llama-server?",
        )
    if devices is None:
        if variant in GPU_VARIANTS:
            cause, fix = {
                "cuda": lambda: _cuda_cause(probes, build, ran.stderr),
                "rocm": lambda: _rocm_cause(probes, answer, host, settings_file),
                "vulkan": lambda: _vulkan_cause(probes),
            }[variant]()
            return Check("devices", False, f"{asked} failed (exit status {ran.returncode}): {cause}", fix)
        said = (ran.stderr.strip().splitlines() or [""])[-1]
        return Check("devices", False, f"{asked} failed (exit status {ran.returncode}): {said}", "run it by hand")
    listed = ", ".join(f"{d.name}: {d.description}" for d in devices)
    if variant not in GPU_VARIANTS:
        return Check("devices", True, f"llama.cpp lists {listed or 'no GPU device'} (the cpu build needs none)")
    prefix = DEVICE_PREFIX[variant]
    ours = [d for d in devices if d.name.startswith(prefix)]
    if ours:
        seen = ", ".join(f"{d.name}: {d.description} ({d.total_mib} MiB)" for d in ours)
        return Check("devices", True, f"llama.cpp sees {seen}")
    cause, fix = {
        "cuda": lambda: _cuda_cause(probes, build, ran.stderr),
        "rocm": lambda: _rocm_cause(probes, answer, host, settings_file),
        "vulkan": lambda: _vulkan_cause(probes),
    }[variant]()
    return Check(
        "devices",
        False,
        f"llama.cpp lists no {prefix} device ({listed or 'only the CPU'}), so it runs on the CPU: {cause}",
        fix,
    )


# --- (c) the service ------------------------------------------------------------------------------------------

_UNIT_PROPERTIES = (
    "LoadState",
    "ActiveState",
    "SubState",
    "Result",
    "User",
    "DynamicUser",
    "SupplementaryGroups",
    "PrivateDevices",
    "ExecStart",
)


def unit_properties(probes: Probes) -> tuple[dict[str, str] | None, str | None]:
    """``systemctl show`` of the unit, or why it could not be asked."""
    systemctl = probes.which("systemctl")
    if systemctl is None:
        return None, "there is no systemctl on PATH (not a systemd machine?)"
    ran = probes.run([systemctl, "show", "--property=" + ",".join(_UNIT_PROPERTIES), SERVICE])
    if ran.error is not None or ran.returncode != 0:
        said = ran.error or (ran.stderr.strip().splitlines() or [f"exit status {ran.returncode}"])[-1]
        return None, f"systemctl show {SERVICE} failed: {said}"
    values = {}
    for line in ran.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values, None


def _device_node(probes: Probes, variant: str) -> Path | None:
    if variant == "rocm":
        kfd = probes.dev / "kfd"
        return kfd if kfd.exists() else None
    nodes = _glob(probes.dev / "dri", "renderD*")
    return nodes[0] if nodes else None


def _world_usable(node: Path) -> bool:
    try:
        return node.stat().st_mode & 0o006 == 0o006
    except OSError:
        return False


def loopback(address: str) -> str:
    """Where this machine reaches a service listening on ``address`` (all addresses: loopback)."""
    if address in ("0.0.0.0", ""):
        return "127.0.0.1"
    if address in ("::", "::0"):
        return "[::1]"
    return f"[{address}]" if ":" in address else address


def _served_names(body: object) -> list[str]:
    names: list[str] = []
    if isinstance(body, dict):
        data, models = body.get("data"), body.get("models")
        for item in data if isinstance(data, list) else []:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                names.append(item["id"])
        for item in models if isinstance(models, list) else []:
            if isinstance(item, dict):
                names += [item[k] for k in ("model", "name") if isinstance(item.get(k), str)]
    return list(dict.fromkeys(names))


def serves(name: str, chosen_file: str) -> bool:
    """Whether a served model id (a path, a store path, a file name) is the chosen GGUF file."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    want = chosen_file.rsplit("/", 1)[-1]
    if base == want:
        return True
    entry = _STORE_ENTRY.fullmatch(base)
    return entry is not None and entry.group(1) == want


def model_path_of(unit: dict[str, str]) -> str | None:
    """The ``-m``/``--model`` argument of the unit's ExecStart (``{ path=… ; argv[]=… -m /nix/store/….gguf ; … }``)."""
    text = unit.get("ExecStart", "")
    start = text.find("argv[]=")
    if start < 0:
        return None
    argv = text[start + len("argv[]=") :].split(" ; ", 1)[0].split()
    for flag in ("-m", "--model"):
        if flag in argv[:-1]:
            return argv[argv.index(flag) + 1]
    return None


def service_checks(probes: Probes, answer: MachineAnswer, host: str) -> tuple[list[Check], dict[str, str] | None]:
    """(c): the unit is active, its user can open the GPU, and it answers with the chosen model."""
    serve = answer.serve
    if serve is None:
        return [Check("service", None, f"not checked: no model is chosen for {host}")], None
    unit, problem = unit_properties(probes)
    if unit is None:
        return [Check("service", False, problem or "", "run verify on the machine itself, or give --no-service")], None
    switch = shell_join(["sudo", "nixos-rebuild", "switch", "--flake", f".#{host}"])
    if unit.get("LoadState") == "not-found":
        return [
            Check(
                "service",
                False,
                f"there is no {SERVICE} on this machine",
                f"switch the machine to the commit ({switch}): its settings enable services.llama-cpp",
            )
        ], unit
    state, sub = unit.get("ActiveState", "?"), unit.get("SubState", "?")
    checks = []
    if state != "active":
        why = unit.get("Result")
        return [
            Check(
                "service",
                False,
                f"{SERVICE} is {state} ({sub}" + (f", result {why}" if why and why != "success" else "") + ")",
                f"see why with {JOURNAL}; start it again with {shell_join(['sudo', 'systemctl', 'restart', SERVICE])}",
            )
        ], unit
    checks.append(Check("service", True, f"{SERVICE} is active ({sub})"))
    user = unit.get("User") or ("a dynamic user" if unit.get("DynamicUser") == "yes" else "root")
    if unit.get("PrivateDevices") == "yes" and answer.variant in GPU_VARIANTS:
        checks.append(
            Check(
                "service user",
                False,
                f"{SERVICE} runs with PrivateDevices=yes: it sees no GPU and llama-server runs on the CPU",
                "systemd.services.llama-cpp.serviceConfig.PrivateDevices = lib.mkForce false;",
            )
        )
    elif answer.variant in ("rocm", "vulkan"):
        groups = unit.get("SupplementaryGroups", "").split()
        node = _device_node(probes, answer.variant)
        if node is not None and "render" not in groups and not _world_usable(node):
            checks.append(
                Check(
                    "service user",
                    False,
                    f"the service runs as {user} without the render group, so it cannot open {node} and "
                    "llama-server runs on the CPU",
                    'systemd.services.llama-cpp.serviceConfig.SupplementaryGroups = [ "render" "video" ];',
                )
            )
        else:
            checks.append(Check("service user", True, f"the service ({user}) can open {node or 'the GPU'}"))
    base = f"http://{loopback(serve.host)}:{serve.port}"
    try:
        status, body, too_large = probes.get(base + "/health")
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        checks.append(
            Check(
                "health",
                False,
                f"{base} {exc}"
                if isinstance(exc, NotHttp)
                else f"nothing answers on {base} ({printable(str(reason))})",
                f"is services.llama-cpp.port {serve.port} as chosen? see {JOURNAL}",
            )
        )
        return checks, unit
    if too_large:
        checks.append(
            Check(
                "health",
                False,
                f"{base}/health answers {status} with more than {amount(_MAX_BODY)}, not "
                '{"status":"ok"}: another program may listen there',
                f"see {JOURNAL}; is services.llama-cpp.port {serve.port} free?",
            )
        )
        return checks, unit
    parsed = _json(body)
    if status == 503:
        checks.append(Check("health", False, f"{base}/health: the model is still loading", "wait, then verify again"))
        return checks, unit
    if status != 200 or not (isinstance(parsed, dict) and parsed.get("status") == "ok"):
        checks.append(
            Check(
                "health",
                False,
                f"{base}/health answers {status} `{printable(body[:200], newlines=False)}`, not "
                '{"status":"ok"}: another program may listen there',
                f"see {JOURNAL}; is services.llama-cpp.port {serve.port} free?",
            )
        )
        return checks, unit
    checks.append(Check("health", True, f'{base}/health answers {{"status":"ok"}}'))
    try:
        status, body, too_large = probes.get(base + "/v1/models")
    except OSError as exc:
        checks.append(Check("model", False, f"{base}/v1/models does not answer ({exc})", f"see {JOURNAL}"))
        return checks, unit
    names = _served_names(_json(body))
    chosen = serve.model.name
    if too_large:
        checks.append(
            Check(
                "model",
                False,
                f"{base}/v1/models answers {status} with more than {amount(_MAX_BODY)}: too large to read which "
                "models it serves",
                f"see {JOURNAL}",
            )
        )
    elif status != 200:
        checks.append(
            Check(
                "model",
                False,
                f"{base}/v1/models answers {status} `{printable(body[:200], newlines=False)}`, not the models served",
                f"see {JOURNAL}",
            )
        )
    elif any(serves(n, chosen) for n in names):
        checks.append(Check("model", True, f"serves {chosen} ({serve.model.repo})"))
    else:
        checks.append(
            Check(
                "model",
                False,
                f"serves {', '.join(printable(n, newlines=False) for n in names) or 'no model'}, not the chosen "
                f"{chosen} ({serve.model.repo})",
                f"services.llama-cpp.model is set elsewhere too, or the machine runs an older generation: {switch}",
            )
        )
    return checks, unit


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's parser goes
        return None


# --- (d) llama-bench --------------------------------------------------------------------------------------------


def parse_bench(stdout: str) -> tuple[float | None, float | None]:
    """Prompt and generation tokens per second from ``llama-bench -o json`` (one row each: n_prompt or n_gen)."""
    start = stdout.find("[")
    rows = _json(stdout[start:]) if start >= 0 else None
    prompt = generation = None
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or not isinstance(row.get("avg_ts"), int | float):
            continue
        if row.get("n_prompt", 0) > 0 and row.get("n_gen", 0) == 0:
            prompt = float(row["avg_ts"])
        elif row.get("n_gen", 0) > 0 and row.get("n_prompt", 0) == 0:
            generation = float(row["avg_ts"])
    return prompt, generation


def bench_check(probes: Probes, build: Build | None, answer: MachineAnswer, unit: dict[str, str] | None) -> Check:
    """(d): a short llama-bench run of the served model."""
    if answer.serve is None:
        return Check("bench", None, "not run: no model is chosen for the machine")
    model = model_path_of(unit or {})
    if model is None:
        return Check(
            "bench", False, f"the model's path is not in {SERVICE}'s command line", "run verify with the service on"
        )
    bench = build.program.parent / "llama-bench" if build is not None else None
    if bench is None or not (bench.is_file() and os.access(bench, os.X_OK)):
        bench = probes.which("llama-bench")
    if bench is None:
        return Check("bench", False, "no llama-bench next to llama-server or on PATH", "the flake's build installs it")
    ran = probes.run([bench, "-m", model, *BENCH_ARGS], timeout=probes.bench_timeout)
    if ran.error is not None or ran.returncode != 0:
        said = ran.error or (ran.stderr.strip().splitlines() or [f"exit status {ran.returncode}"])[-1]
        return Check(
            "bench",
            False,
            f"llama-bench failed: {printable(said, newlines=False)}",
            f"run {shell_join([str(bench), '-m', model, *BENCH_ARGS])}",
        )
    prompt, generation = parse_bench(ran.stdout)
    if prompt is None or generation is None:
        return Check("bench", False, "llama-bench gave no prompt and generation rows", "run it by hand")
    return Check(
        "bench",
        True,
        f"prompt {prompt:.1f} tokens/s, generation {generation:.1f} tokens/s ({answer.serve.model.name})",
        values={"prompt_tokens_per_second": prompt, "generation_tokens_per_second": generation},
    )


# --- everything -------------------------------------------------------------------------------------------------


def verify_machine(
    host: str,
    answer: MachineAnswer,
    probes: Probes,
    *,
    settings_file: str | None = None,
    llama_bin: Path | None = None,
    service: bool = True,
    bench: bool = False,
    service_off: str | None = None,
    serve_unread: NotPlain | None = None,
) -> Verification:
    """Every check for ``host``, whose repository chose ``answer``; ``llama_bin`` instead of PATH. ``service_off``:
    why the service is off by the repository's own choice (not checked then); ``serve_unread``: why the model the
    settings file serves is not read (the service fails then: its address and model are not known)."""
    result = Verification(host, answer.variant, settings_file)
    dirs: Sequence[str | Path] = [llama_bin] if llama_bin is not None else probes.path.split(os.pathsep)
    where = f"in {llama_bin}" if llama_bin is not None else "on PATH"
    server = None
    for program in ("llama-server", "llama-cli"):
        check, build = program_check(program, answer.variant, host, find_programs(program, dirs), where)
        if check is not None:
            result.checks.append(check)
        if program == "llama-server":
            server = build
    if server is not None:
        result.checks.append(device_check(probes, server, answer, host, settings_file))
    unit = None
    if service and serve_unread is not None:
        where = f"{settings_file} line" if settings_file else "line"
        result.checks.append(
            Check(
                "service",
                False,
                f"not checked: {where} {serve_unread.line}, `{serve_unread.text}`, is not a plain value, so the "
                "served model's address and file are not known",
                serve_unread.instead,
            )
        )
    elif service and service_off is not None and answer.serve is not None:
        result.checks.append(Check("service", None, f"not checked: {service_off}"))
    elif service:
        checks, unit = service_checks(probes, answer, host)
        result.checks += checks
    if bench:
        if not service:
            result.checks.append(Check("bench", None, "not run: --no-service (the model is the service's)"))
        elif service_off is not None and answer.serve is not None:
            result.checks.append(Check("bench", None, f"not run: {service_off}"))
        elif serve_unread is not None:
            result.checks.append(Check("bench", None, "not run: the served model is not read (see the service)"))
        else:
            result.checks.append(bench_check(probes, server, answer, unit))
    return result
