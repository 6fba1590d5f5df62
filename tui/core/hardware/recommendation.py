"""From what is known about a machine to the llama.cpp build it should get, with reasons in plain words."""

from __future__ import annotations

from tui.core.hardware.model import GpuInfo, HardwareReport, Recommendation
from tui.core.hardware.parse import is_x86, nvidia_capability_from_name

CONFIDENCE = {"detected": "detected", "ssh": "detected", "report": "report", "facter": "report", "hints": "hints"}
ALL_VARIANTS_WHY = ("the portable GGML_CPU_ALL_VARIANTS build: every CPU variant is built and the best one is "
                    "picked at run time (same speed, about twice the build time)")


def _label(gpu: GpuInfo) -> str:
    name = gpu.display_name
    if gpu.integrated is True:
        name += " (integrated)"
    elif gpu.integrated is False and gpu.vendor != "nvidia":
        name += " (discrete)"
    return name


def _capability_key(cap: str) -> tuple[int, ...]:
    return tuple(int(p) for p in cap.split(".") if p.isdigit())


def recommend(report: HardwareReport | None, system: str | None = None) -> Recommendation:
    """The variant, CPU flags, CUDA capabilities for a machine, and why; ``system`` is its Nix system."""
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

    system = system or report.system
    arch = report.cpu.arch if report.cpu and report.cpu.arch not in ("", "unknown") else (system.split("-")[0] if system else None)
    flags_known = bool(report.cpu and report.cpu.flags)
    rec.confidence = CONFIDENCE.get(report.source, "none")
    if report.source == "hints" and flags_known:
        rec.confidence = "report"  # the configuration named a facter report, and it was read
    if report.source == "hints" and not report.hints and not flags_known:
        rec.confidence = "none"

    _choose_gpu_variant(rec, report, system)
    _choose_cpu(rec, report, arch, flags_known)
    return rec


def _choose_gpu_variant(rec: Recommendation, report: HardwareReport, system: str | None) -> None:
    nvidia = [g for g in report.gpus if g.vendor == "nvidia"]
    others = [g for g in report.gpus if g.vendor in ("amd", "intel")]
    unused = [g for g in report.gpus if g.vendor not in ("nvidia", "amd", "intel")]
    if nvidia:
        rec.variant = "cuda"
        caps: list[str] = []
        unknown = []
        for gpu in nvidia:
            cap = gpu.compute_capability
            if cap:
                rec.reasons.append(f"{_label(gpu)}, compute capability {cap} → CUDA build for {cap}")
            else:
                inferred = nvidia_capability_from_name(gpu.name)
                if inferred:
                    cap = inferred[0]
                    rec.reasons.append(f"{_label(gpu)}: its chip {inferred[1]} has compute capability {cap} → CUDA build for {cap}")
            if cap:
                if cap not in caps:
                    caps.append(cap)
            else:
                unknown.append(gpu)
        if unknown:
            names = ", ".join(_label(g) for g in unknown)
            rec.reasons.append(f"{names}: compute capability not known → CUDA build for nixpkgs' default list of "
                               "capabilities (a longer build; set the machine's own to shorten it)")
            rec.cuda_capabilities = []
        else:
            rec.cuda_capabilities = sorted(caps, key=_capability_key)
        for gpu in others:
            rec.reasons.append(f"{_label(gpu)} is also there; the NVIDIA GPU does the work")
    elif others:
        rec.variant = "vulkan"
        discrete = any(g.integrated is False for g in others)
        for gpu in others:
            if discrete and gpu.integrated is True:
                rec.reasons.append(f"{_label(gpu)} is also there; the discrete GPU does the work")
            else:
                rec.reasons.append(f"{_label(gpu)} → Vulkan build")
        if report.vulkan_driver is False and report.source in ("detected", "ssh"):
            rec.reasons.append("no Vulkan driver is installed yet: NixOS installs Mesa's with hardware.graphics.enable = true")
        rocm = [g for g in others if g.vendor == "amd" and g.rocm_target and g.integrated is not True]
        if rocm:
            targets = sorted({g.rocm_target for g in rocm if g.rocm_target})
            if system in (None, "x86_64-linux"):
                rec.rocm_option = targets
                rec.reasons.append(f"ROCm is an option for {', '.join(g.name or 'the AMD GPU' for g in rocm)} ({', '.join(targets)}): "
                                   "a much longer build, sometimes faster than Vulkan")
            else:
                rec.reasons.append(f"ROCm is not offered: the flake builds it for x86_64-linux only, not {system}")
    else:
        rec.variant = "cpu"
        if unused:
            rec.reasons.append(f"{', '.join(_label(g) for g in unused)}: not a GPU llama.cpp can use → CPU build")
        else:
            rec.reasons.append("no GPU found → CPU build")


def _choose_cpu(rec: Recommendation, report: HardwareReport, arch: str | None, flags_known: bool) -> None:
    from tui.core.ggml import filter_flags, ggml_options

    cpu = report.cpu
    name = (cpu.model if cpu and cpu.model else None) or (f"{cpu.vendor} CPU" if cpu and cpu.vendor else "the CPU")
    if arch and not is_x86(arch):
        rec.reasons.append(f"{name} ({arch}): the x86 instruction-set options do not apply; ggml's defaults are used")
        return
    if flags_known:
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
