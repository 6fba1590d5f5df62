"""Which GPUs the CUDA and ROCm toolchains in nixpkgs can build for (``gpu_support.toml``), and the
CUDA release of the user's own nixpkgs, read with Nix where it is installed."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tui.core.bounded import run_bounded
from tui.core.data import load

MAX_ANSWER_BYTES = 4096  # a version number in JSON


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def default_cuda_version() -> str:
    """The CUDA release of nixpkgs' unversioned ``cudaPackages``, assumed where the user's is not known."""
    return load("gpu_support")["cuda"]["default"]


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
        newest = max((_version(c) for c in data["capabilities"]), default=(0,))
        asked = _version(capability)
        if newest < asked and asked[0] <= newest[0] + 1:
            return CudaVerdict(True)
        return CudaVerdict(False, "is not a compute capability of any NVIDIA GPU nixpkgs' CUDA builds for")
    first, last = known
    version = _version(cuda_version)
    if version < _version(first):
        return CudaVerdict(False, f"needs CUDA {first} or newer, and nixpkgs' cudaPackages is CUDA {cuda_version}")
    if last and version > _version(last):
        if _version(last) < _version(data["removed_before"]):
            older = f"nixpkgs no longer has a CUDA package set that old (CUDA {last} was the last for it)"
        else:
            older = f"cudaPackages_{last.replace('.', '_')} (CUDA {last}) was the last to build for it"
        return CudaVerdict(False, f"is not built by CUDA {cuda_version} (nixpkgs' cudaPackages): {older}")
    return CudaVerdict(True)


def dropped_after(capability: str) -> str | None:
    """The last CUDA release that builds for ``capability``, where a later one no longer does."""
    known = load("gpu_support")["cuda"]["capabilities"].get(capability)
    return known[1] or None if known else None


def rocm_targets() -> list[str]:
    """The gfx targets nixpkgs' ROCm libraries are built for."""
    return list(load("gpu_support")["rocm"]["targets"])


def rocm_supported(target: str) -> bool:
    return target in load("gpu_support")["rocm"]["targets"]


# Reads the CUDA release of the nixpkgs that a flake's lock file pins. A source not in the Nix store
# yet is fetched with one attempt: offline that fails at once, and the caller falls back to the default.
# An input in the lock is a node's name, or a follows path of input names from the root.
_CUDA_VERSION_EXPR = """{ lock, input }:
let
  data = builtins.fromJSON (builtins.readFile lock);
  inputOf = node: name:
    let target = data.nodes.${node}.inputs.${name}; in
    if builtins.isList target then builtins.foldl' inputOf data.root target else target;
  src = builtins.fetchTree data.nodes.${inputOf data.root input}.locked;
  cuda = (import src { config = { allowUnfree = true; }; overlays = [ ]; }).cudaPackages;
in
cuda.cudaMajorMinorVersion or cuda.cudaVersion
"""


def nixpkgs_cuda_version(flake_root: Path, input_name: str = "nixpkgs", timeout: float = 30) -> str | None:
    """The CUDA release of ``cudaPackages`` in the flake's locked ``input_name``, or None where Nix is
    missing, the input is not locked, or its source is not in the Nix store."""
    nix = shutil.which("nix-instantiate")
    lock = Path(flake_root) / "flake.lock"
    if nix is None or not lock.is_file():
        return None
    # One download attempt: offline, Nix would otherwise retry for seconds before giving up.
    argv = [nix, "--eval", "--json", "--extra-experimental-features", "nix-command flakes",
            "--option", "substituters", "", "--option", "download-attempts", "1", "--argstr", "lock", str(lock.resolve()),
            "--argstr", "input", input_name, "-E", _CUDA_VERSION_EXPR]
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
            f" (`{input_name}`)" if input_name != "nixpkgs" else "")
    return None, ("the CUDA release of the flake's nixpkgs could not be read (Nix missing, no such input "
                  "in flake.lock, or its source not fetched yet): nixpkgs' current default is assumed")
