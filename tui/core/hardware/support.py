"""Which GPUs the CUDA and ROCm toolchains in nixpkgs can build for (``gpu_support.toml``), and the
CUDA release of the user's own nixpkgs, read with Nix where it is installed."""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from tui.core.bounded import run_bounded
from tui.core.data import load, nix_expression
from tui.core.nix_run import NIX_FLAGS

MAX_ANSWER_BYTES = 4096  # a version number in JSON
MAX_LOCK_BYTES = 16 * 1024 * 1024  # the flake.lock of a large configuration is well under 1 MiB


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


_CAPABILITY = re.compile(r"([0-9]+)\.([0-9]+)([af]?)", re.ASCII)


def capability_key(capability: str) -> tuple[int, int, str]:
    """Sort key of a compute capability: ``9.0`` < ``9.0a`` < ``10.0`` < ``10.0a`` < ``10.0f``."""
    match = _CAPABILITY.fullmatch(capability)
    if not match:
        return (0, 0, capability)
    return int(match.group(1)), int(match.group(2)), match.group(3)


def default_cuda_version() -> str:
    """The CUDA release of nixpkgs' unversioned ``cudaPackages``, assumed where the user's is not known."""
    return load("gpu_support")["cuda"]["default"]


def _capabilities() -> dict[str, dict]:
    return load("gpu_support")["cuda"]["capabilities"]


def is_jetson(capability: str) -> bool:
    """A Jetson (Tegra) capability: nixpkgs builds it on aarch64-linux only, never with other ones."""
    return bool(_capabilities().get(capability, {}).get("jetson"))


def default_capabilities(cuda_version: str) -> list[str]:
    """nixpkgs' default list for CUDA ``cuda_version``: what it builds when ``cudaCapabilities`` is empty."""
    version = _version(cuda_version)
    chosen = []
    for capability, info in _capabilities().items():
        if info.get("jetson") or capability_key(capability)[2]:
            continue
        until = info.get("default_until")
        if cuda_verdict(capability, cuda_version).supported and (not until or _version(until) >= version):
            chosen.append(capability)
    return sorted(chosen, key=capability_key)


def default_list_phrase(cuda_version: str) -> str:
    """``nixpkgs' default list (7.5 and newer)`` for the release, as messages name it."""
    defaults = default_capabilities(cuda_version)
    return f"nixpkgs' default list ({defaults[0]} and newer)" if defaults else "nixpkgs' default list"


@dataclass
class CudaVerdict:
    """Whether a CUDA release builds for a compute capability, and if not, why in plain words."""

    supported: bool
    reason: str = ""


def cuda_verdict(capability: str, cuda_version: str) -> CudaVerdict:
    """Can CUDA ``cuda_version`` build for ``capability``? A capability newer than the table's (a GPU that
    came out since) passes; one that no NVIDIA GPU has (``1.0``, ``99.9``) does not."""
    data = load("gpu_support")["cuda"]
    known = data["capabilities"].get(capability)
    if known is None:
        newest = max((capability_key(c)[:2] for c in data["capabilities"]), default=(0, 0))
        asked = capability_key(capability)[:2]
        if newest < asked and asked[0] <= newest[0] + 1:
            return CudaVerdict(True)
        return CudaVerdict(False, "is not a compute capability of any NVIDIA GPU nixpkgs' CUDA builds for")
    first, last = known["first"], known.get("last", "")
    version = _version(cuda_version)
    if version < _version(first):
        return CudaVerdict(False, f"needs CUDA {first} or newer, and nixpkgs' cudaPackages is CUDA {cuda_version}")
    if last and version > _version(last):
        if still_packaged(last):
            older = f"cudaPackages_{last.replace('.', '_')} (CUDA {last}) was the last to build for it"
        else:
            older = f"nixpkgs no longer has a CUDA package set that old (CUDA {last} was the last for it)"
        return CudaVerdict(False, f"is not built by CUDA {cuda_version} (nixpkgs' cudaPackages): {older}")
    return CudaVerdict(True)


def still_packaged(cuda_version: str) -> bool:
    """Whether nixpkgs still has a CUDA package set of release ``cuda_version`` (nixpkgs 25.11 removed those before 12.6)."""
    return _version(cuda_version) >= _version(load("gpu_support")["cuda"]["removed_before"])


def dropped_after(capability: str) -> str | None:
    """The last CUDA release that builds for ``capability``, where a later one no longer does."""
    known = _capabilities().get(capability)
    return (known.get("last") or None) if known else None


def rocm_targets() -> list[str]:
    """The gfx targets nixpkgs' ROCm libraries are built for."""
    return list(load("gpu_support")["rocm"]["targets"])


def rocm_supported(target: str | None) -> bool:
    return target is not None and target in load("gpu_support")["rocm"]["targets"]


# Reads the CUDA release of the nixpkgs that a flake's lock file pins, in pure evaluation: the
# nixpkgs of a cloned repository reads no file outside its own source, no environment variable and no
# unpinned download. A source not in the Nix store yet is fetched with one attempt: offline that fails
# at once, and the caller falls back to the default.
_CUDA_VERSION_EXPR = nix_expression("nixpkgs_cuda_version")


def locked_input(lock: Path, input_name: str) -> dict | None:
    """The ``locked`` attributes of ``input_name`` in a flake.lock, or None where there are none. The input is a
    node's name, or a follows path of input names from the root."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            text = handle.read(MAX_LOCK_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(text) > MAX_LOCK_BYTES:
        return None
    try:
        data = json.loads(text)
        nodes = data["nodes"]

        def input_of(node: str, name: str) -> str:
            target = nodes[node]["inputs"][name]
            return functools.reduce(input_of, target, data["root"]) if isinstance(target, list) else target

        locked = nodes[input_of(data["root"], input_name)]["locked"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: follows that go round
        return None
    return locked if isinstance(locked, dict) else None


def nix_system() -> str:
    """This machine's Nix system name (``x86_64-linux``): pure evaluation has no ``builtins.currentSystem``."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return f"{machine}-{sys.platform.rstrip('0123456789')}"


def nixpkgs_cuda_version(flake_root: Path, input_name: str = "nixpkgs", timeout: float = 30) -> str | None:
    """The CUDA release of ``cudaPackages`` in the flake's locked ``input_name``, or None where Nix is
    missing, the input is not locked with its hash, its source is not in the Nix store, or its nixpkgs
    reaches for anything outside its own source."""
    nix = shutil.which("nix-instantiate")
    if nix is None:
        return None
    locked = locked_input(Path(flake_root) / "flake.lock", input_name)
    if locked is None:
        return None
    # One download attempt: offline, Nix would otherwise retry for seconds before giving up.
    argv = [
        nix,
        "--eval",
        "--json",
        "--pure-eval",
        *NIX_FLAGS,
        "--option",
        "substituters",
        "",
        "--option",
        "download-attempts",
        "1",
        "--argstr",
        "locked",
        json.dumps(locked),
        "--argstr",
        "system",
        nix_system(),
        "-E",
        _CUDA_VERSION_EXPR,
    ]
    try:
        done = run_bounded(argv, limit=MAX_ANSWER_BYTES, tail=0, timeout=timeout)
    except OSError:
        return None
    value = done.stdout.strip().strip('"')
    if done.returncode != 0 or not value or not all(p.isdigit() for p in value.split(".")):
        return None
    return value


def flake_cuda_release(flake_root: Path, input_name: str | None = "nixpkgs") -> tuple[str | None, str]:
    """The CUDA release of the nixpkgs input ``input_name`` of a flake, and a note saying where it came
    from or that nixpkgs' current default is assumed."""
    version = nixpkgs_cuda_version(flake_root, input_name) if input_name else None
    if version:
        return version, f"CUDA {version}, read from the flake's nixpkgs" + (
            f" (`{input_name}`)" if input_name != "nixpkgs" else ""
        )
    return None, (
        "the CUDA release of the flake's nixpkgs could not be read (Nix missing, no such input "
        "in flake.lock, or its source not fetched yet): nixpkgs' current default is assumed"
    )
