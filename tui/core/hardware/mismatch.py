"""Where a hardware report and the machine's own configuration disagree: a report of another machine, or a
configuration that says something the hardware does not have."""

from __future__ import annotations

from tui.core.hardware.model import HardwareReport, Hint
from tui.core.hardware.vendors import a_vendor_label, vendor_label

GPU_WORDS = ("GPU", "graphics", "videoDrivers")
CPU_WORDS = ("CPU",)


def _where(hints: list[Hint], word: str, about: tuple[str, ...]) -> str:
    """`` (file:line)`` of the first hint that names ``word`` and is ``about`` the GPU or the CPU (else the first that
    names ``word``: ``kvm-intel`` names Intel but says nothing of Intel graphics), or ""."""
    naming = [h for h in hints if word.lower() in h.text.lower()]
    hint = next((h for h in naming if any(a in h.text for a in about)), naming[0] if naming else None)
    return f" ({hint.file}:{hint.line})" if hint is not None else ""


def _a(word: str) -> str:
    """``word`` with its article: "an aarch64-linux", "a riscv64-linux"."""
    return f"{'an' if word[:1].lower() in 'aeioux' else 'a'} {word}"


WIZARD_KEYS = "t (this machine), i (another report) or s (scan over SSH)"
CLI_FLAGS = "--this-machine, --report or --ssh"


def report_mismatches(
    config: HardwareReport | None, report: HardwareReport, host: str, how_to_settle: str = WIZARD_KEYS
) -> list[str]:
    """What ``report`` (detected, imported or scanned) says against the clues of ``host``'s own configuration,
    one sentence each and a last one on how to settle it; [] where they agree or the configuration says nothing."""
    if config is None:
        return []
    found: list[str] = []
    if config.system and report.system and config.system != report.system:
        found.append(f"{host}'s configuration builds {config.system}, and the report is of {_a(report.system)} machine")
    config_gpus = {g.vendor for g in config.gpus}
    report_gpus = {g.vendor for g in report.gpus}
    for vendor in sorted(config_gpus - report_gpus):
        label = vendor_label(vendor)
        found.append(
            f"{host}'s configuration sets up {label} graphics{_where(config.hints, vendor, GPU_WORDS)}, "
            f"and the report shows no {label} GPU"
        )
    config_vendor = config.cpu.vendor if config.cpu else None
    report_vendor = report.cpu.vendor if report.cpu else None
    config_cpu = vendor_label(config_vendor) if config_vendor else None
    report_cpu = vendor_label(report_vendor) if report_vendor else None
    if config_vendor and report_vendor and config_cpu and report_cpu and config_cpu != report_cpu:
        found.append(
            f"{host}'s configuration is for {a_vendor_label(config_vendor)} CPU"
            f"{_where(config.hints, config_cpu, CPU_WORDS)}, and the report shows {a_vendor_label(report_vendor)} CPU"
        )
    virtual = next((n for n in report.notes if "virtual machine" in n), None)
    if virtual and (config_gpus or config_cpu) and not config.guest:
        found.append(f"{virtual}, and {host}'s configuration is of real hardware")
    if found:
        found.append(f"is the report of another machine? Keep it, or settle it with {how_to_settle}")
    return found
