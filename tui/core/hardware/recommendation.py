"""From what is known about a machine to the llama.cpp build it should get, with reasons in plain words."""

from __future__ import annotations

from tui.core.hardware.model import Confidence, GpuInfo, HardwareReport, Recommendation, source_phrase
from tui.core.hardware.parse import is_x86
from tui.core.hardware.support import (
    capability_key,
    cuda_verdict,
    default_capabilities,
    default_cuda_version,
    default_list_phrase,
    dropped_after,
    is_jetson,
    rocm_supported,
    rocm_targets,
    still_packaged,
)
from tui.core.hardware.vendors import is_discrete_only, variants_of
from tui.core.variants import NO_VARIANT

CONFIDENCE: dict[str, Confidence] = {
    "detected": "detected",
    "ssh": "detected",
    "report": "report",
    "facter": "report",
    "hints": "hints",
}
ALL_VARIANTS_WHY = (
    "the portable GGML_CPU_ALL_VARIANTS build: every CPU variant is built and the best one is "
    "picked at run time (same speed, about twice the build time)"
)


def _label(gpu: GpuInfo) -> str:
    name = gpu.display_name
    if gpu.integrated is True:
        name += " (integrated)"
    elif gpu.integrated is False and not is_discrete_only(gpu.vendor):
        name += " (discrete)"
    return name


def recommend(
    report: HardwareReport | None, system: str | None = None, cuda_version: str | None = None
) -> Recommendation:
    """The variant, CPU flags, CUDA capabilities for a machine, and why; ``system`` is its Nix system,
    ``cuda_version`` the CUDA release of its nixpkgs (None: nixpkgs' current default is assumed)."""
    rec = Recommendation(variant="cpu")
    if report is None:
        arch = system.split("-")[0] if system else None
        rec.confidence = "none"
        if arch and not is_x86(arch):
            rec.reasons.append(f"nothing is known about this machine's hardware → CPU build ({arch}: ggml's defaults)")
        else:
            rec.all_variants = True
            rec.reasons.append(f"nothing is known about this machine's hardware → CPU build, {ALL_VARIANTS_WHY}")
        return rec

    if report.installer is not None:  # an installer image: nothing of llama.cpp belongs on it unless asked
        rec.variant = NO_VARIANT
        rec.confidence = "hints"
        rec.reasons.append(f"an installer image ({report.installer}) → left alone (choose a build with v)")
        return rec

    system = system or report.system
    arch = (
        report.cpu.arch
        if report.cpu and report.cpu.arch not in ("", "unknown")
        else (system.split("-")[0] if system else None)
    )
    flags_known = bool(report.cpu and report.cpu.flags)
    rec.confidence = CONFIDENCE.get(report.source, "none")
    if report.source == "hints" and flags_known:
        rec.confidence = "report"  # the configuration named a facter report, and it was read
    if report.source == "hints" and not report.hints and not flags_known:
        rec.confidence = "none"

    _choose_gpu_variant(rec, report, system, cuda_version)
    _choose_cpu(rec, report, arch, flags_known)
    return rec


def _choose_gpu_variant(
    rec: Recommendation, report: HardwareReport, system: str | None, cuda_version: str | None
) -> None:
    # Which build a GPU's vendor gets by default: data/gpu_vendors.toml.
    nvidia = [g for g in report.gpus if variants_of(g.vendor)[:1] == ("cuda",)]
    others = [g for g in report.gpus if variants_of(g.vendor)[:1] == ("vulkan",)]
    unused = [g for g in report.gpus if not variants_of(g.vendor)]
    if nvidia and _choose_cuda(rec, nvidia, others, cuda_version):
        return
    if nvidia or others:
        rec.variant = "vulkan"
        discrete = any(g.integrated is False for g in others)
        for gpu in others:
            if discrete and gpu.integrated is True:
                rec.reasons.append(f"{_label(gpu)} is also there; the discrete GPU does the work")
            elif not nvidia:
                rec.reasons.append(f"{_label(gpu)} → Vulkan build")
        if report.vulkan_driver is False and report.source in ("detected", "ssh"):
            rec.reasons.append(
                "no Vulkan driver is installed yet: NixOS installs Mesa's with hardware.graphics.enable = true"
            )
        _offer_rocm(rec, [g for g in others if "rocm" in variants_of(g.vendor) and g.rocm_target], system)
    else:
        rec.variant = "cpu"
        if unused:
            rec.reasons.append(f"{', '.join(_label(g) for g in unused)}: not a GPU llama.cpp can use → CPU build")
        else:
            rec.reasons.append("no GPU found → CPU build")


def _choose_cuda(rec: Recommendation, nvidia: list[GpuInfo], others: list[GpuInfo], cuda_version: str | None) -> bool:
    """CUDA for the NVIDIA GPUs the nixpkgs CUDA release builds for; False (Vulkan) when it builds for none."""
    version = cuda_version or default_cuda_version()
    which = f"CUDA {version}" + ("" if cuda_version else ", nixpkgs' default")
    usable: list[GpuInfo] = []
    unknown: list[GpuInfo] = []
    outside: list[tuple[GpuInfo, str]] = []
    for gpu in nvidia:
        cap = gpu.compute_capability
        if not cap:
            unknown.append(gpu)
            continue
        verdict = cuda_verdict(cap, version)
        if verdict.supported:
            usable.append(gpu)
        else:
            outside.append((gpu, verdict.reason))
    if not usable and not unknown:
        for gpu, why in outside:
            rec.reasons.append(
                f"{_label(gpu)}: compute capability {gpu.compute_capability}{source_phrase(gpu.capability_source)} "
                f"{why} → Vulkan build (NVIDIA's driver has a Vulkan driver)"
            )
        return False
    rec.variant = "cuda"
    caps: list[str] = []
    sources: list[str] = []
    for gpu in usable:
        cap = gpu.compute_capability
        if not cap:  # pragma: no cover - a usable GPU has one
            continue
        rec.reasons.append(
            f"{_label(gpu)}, compute capability {cap}{source_phrase(gpu.capability_source)} → CUDA build for {cap}"
        )
        if cap not in caps:
            caps.append(cap)
        source = (gpu.capability_source or "").split(":")[0]
        if source and source not in sources:
            sources.append(source)
        last = dropped_after(cap)
        if last and not cuda_version and still_packaged(last):
            rec.reasons.append(
                f"{which} still builds for {cap}; a nixpkgs whose cudaPackages is newer than "
                f"CUDA {last} does not (pin cudaPackages_{last.replace('.', '_')} then, or use Vulkan)"
            )
    for gpu, why in outside:
        rec.reasons.append(
            f"{_label(gpu)}: compute capability {gpu.compute_capability} {why}; left out of the CUDA build"
        )
    if unknown:
        names = ", ".join(_label(g) for g in unknown)
        listed = default_list_phrase(version)
        if not caps:
            rec.reasons.append(
                f"{names}: compute capability not known → CUDA build for {listed} "
                "(a longer build; set the machine's own to shorten it)"
            )
            rec.cuda_capabilities = []
        elif any(is_jetson(c) for c in caps):  # nixpkgs never builds Jetson capabilities with others
            rec.reasons.append(
                f"{names}: compute capability not known, and {listed} cannot be built together "
                f"with the Jetson capabilities {', '.join(caps)}; set it by hand if it is needed"
            )
            rec.cuda_capabilities = sorted(caps, key=capability_key)
            rec.cuda_source = ", ".join(sources) or None
        else:
            # nixpkgs' default list alone would drop the known GPUs that are past their default release.
            rec.reasons.append(
                f"{names}: compute capability not known → {listed} is built too, as well as "
                f"{', '.join(caps)} (a longer build; set its own capability to shorten it)"
            )
            rec.cuda_capabilities = sorted(set(caps) | set(default_capabilities(version)), key=capability_key)
            rec.cuda_source = ", ".join(sources + ["nixpkgs' default list"])
    else:
        rec.cuda_capabilities = sorted(caps, key=capability_key)
        rec.cuda_source = ", ".join(sources) or None
    for gpu in others:
        rec.reasons.append(f"{_label(gpu)} is also there; the NVIDIA GPU does the work")
    return True


def _offer_rocm(rec: Recommendation, amd: list[GpuInfo], system: str | None) -> None:
    """ROCm as an option where nixpkgs' ROCm libraries are built for the AMD GPU's target."""
    discrete = [g for g in amd if g.integrated is not True]
    candidates = discrete or amd
    supported = [g for g in candidates if rocm_supported(g.rocm_target)]
    for gpu in candidates:
        if gpu not in supported and (gpu.integrated is not True or not discrete):
            rec.reasons.append(
                f"ROCm is not offered for {_label(gpu)}: its target {gpu.rocm_target}"
                f"{source_phrase(gpu.rocm_target_source)} is not one nixpkgs' ROCm libraries are built for "
                f"({', '.join(rocm_targets())}); Vulkan runs on it"
            )
    if not supported:
        return
    targets = sorted({g.rocm_target for g in supported if g.rocm_target})
    names = ", ".join(g.display_name for g in supported)
    if system in (None, "x86_64-linux"):
        rec.rocm_option = targets
        where = "; ".join(f"{g.rocm_target}{source_phrase(g.rocm_target_source)}" for g in supported)
        rec.reasons.append(f"ROCm is an option for {names}: {where}; a much longer build, sometimes faster than Vulkan")
    else:
        rec.reasons.append(f"ROCm is not offered: the flake builds it for x86_64-linux only, not {system}")


def _choose_cpu(rec: Recommendation, report: HardwareReport, arch: str | None, flags_known: bool) -> None:
    from tui.core.ggml import filter_flags, ggml_options

    cpu = report.cpu
    name = (cpu.model if cpu and cpu.model else None) or (f"{cpu.vendor} CPU" if cpu and cpu.vendor else "the CPU")
    if arch and not is_x86(arch):
        rec.reasons.append(f"{name} ({arch}): the x86 instruction-set options do not apply; ggml's defaults are used")
        return
    if flags_known and cpu is not None:
        rec.cpu_flags = filter_flags(cpu.flags)
        options = [o for o, on in ggml_options(cpu.flags).items() if on]
        if options:
            rec.reasons.append(f"{name}: {' '.join(rec.cpu_flags)} → {', '.join(options)}")
        else:
            rec.reasons.append(f"{name}: none of the instruction sets ggml builds for (SSE4.2 and newer)")
        return
    rec.all_variants = True
    where = "only hints from the configuration" if report.source == "hints" else "no CPU flags"
    rec.reasons.append(f"{name}: instruction sets not known for certain ({where}) → {ALL_VARIANTS_WHY}")
