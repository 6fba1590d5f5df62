"""What the wizard knows and what the user has answered so far; plain data, no widgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.variants import NO_VARIANT, variants_for

if TYPE_CHECKING:  # the engine is imported by the worker that reads the flake, not at start-up
    from tui.core.answers import Answers, MachineAnswer, ServeChoice
    from tui.core.caches import Cache
    from tui.core.hardware.model import HardwareReport, Recommendation
    from tui.core.models import ModelRepo
    from tui.core.nix.flake import Flake, Host
    from tui.core.plan import Plan
    from tui.core.proof import Proof
    from tui.core.repo_status import RepoStatus


# Asking Nix which machines exist, in the background: not at all (--no-nix, or before the flake is read), under
# way, answered (merged into the machines), could not answer, or stopped by the user (the static reading stands).
NIX_OFF, NIX_ASKING, NIX_ANSWERED, NIX_FAILED, NIX_STOPPED = "off", "asking", "answered", "failed", "stopped"
NIX_STATUSES = (NIX_OFF, NIX_ASKING, NIX_ANSWERED, NIX_FAILED, NIX_STOPPED)

SOURCE_WORDS = {
    "detected": "detected on this machine",
    "report": "imported report",
    "facter": "facter report",
    "ssh": "scanned over SSH",
    "hints": "hints from its config",
}


@dataclass
class MachineState:
    """One machine: its hardware, where that came from, the recommendation and the user's choice."""

    host: Host
    existing: MachineAnswer | None = None
    report: HardwareReport | None = None
    source: str | None = None  # where the report came from, in words
    recommendation: Recommendation | None = None
    choice: str | None = None  # the user's variant, or None for the default
    follow_hardware: bool = False  # new hardware facts supersede the settings already in the repository
    this_machine: bool = False
    scanning: bool = True
    mismatches: list[str] = field(default_factory=list)  # where the report disagrees with the configuration
    left_alone_before: bool = False  # the module remembers it as left alone on purpose: not suggested again
    # Set by hand in the variant picker; None: what the machine gets anyway. CPU flags [] is the portable
    # every-variant build; the capabilities and targets (never []) apply to the cuda and rocm builds only.
    own_cpu_flags: list[str] | None = None
    own_cuda: list[str] | None = None
    own_rocm: list[str] | None = None
    # The model chosen in the serve step; None: what the repository serves (``existing.serve``), or nothing.
    serve: ServeChoice | None = None
    serve_reason: str = ""  # why that file, in one line: the suggestion's reason, or chosen by hand
    serve_text: str = ""  # the repository as the user typed it (REPO or REPO@REVISION)
    stop_serving: bool = False  # the model the repository serves is to go: the machine serves nothing

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def keeps_existing(self) -> bool:
        return self.existing is not None and not self.follow_hardware and self.choice is None and not self.set_by_hand

    @property
    def set_by_hand(self) -> bool:
        """Whether the user set the variant, or settings that apply to it, by hand."""
        variant = self.choice or self.default_variant
        return self.choice is not None or (
            variant != NO_VARIANT
            and (
                self.own_cpu_flags is not None
                or (variant == "cuda" and self.own_cuda is not None)
                or (variant == "rocm" and self.own_rocm is not None)
            )
        )

    @property
    def default_variant(self) -> str:
        if self.existing is not None and not self.follow_hardware:
            return self.existing.variant
        if self.left_alone_before and not self.follow_hardware:
            return NO_VARIANT
        return self.recommendation.variant if self.recommendation else "cpu"

    @property
    def suggested_build(self) -> str:
        """The build to offer where the user takes a machine back from being left alone."""
        if self.recommendation is not None and self.recommendation.variant != NO_VARIANT:
            return self.recommendation.variant
        return "cpu"

    @property
    def variant(self) -> str:
        return self.choice or self.default_variant

    @property
    def served(self) -> ServeChoice | None:
        """The model the machine will serve: the one chosen in the serve step, else the repository's."""
        if self.serve is not None:
            return self.serve
        if self.stop_serving:
            return None
        return self.existing.serve if self.existing is not None else None

    def choices(self) -> tuple[str, ...]:
        """The variants this machine can have (ROCm only on x86_64-linux)."""
        return (*variants_for(self.host.system), NO_VARIANT)

    def answer(self) -> MachineAnswer | None:
        """The answer for the plan; None keeps the repository's settings, or skips with variant none."""
        if self.variant == NO_VARIANT or self.keeps_existing:
            return None
        return self.settings_for(self.variant)

    def settings_for(self, variant: str, own: bool = True) -> MachineAnswer:
        """What the machine gets with ``variant``: the settings set by hand (unless ``own`` is false), the rest from
        the repository's settings and the recommendation, by :func:`tui.core.choice.combine`."""
        from tui.core.choice import Choice, combine

        choice = Choice()
        if own:
            choice = Choice(
                cpu_flags=list(self.own_cpu_flags) if self.own_cpu_flags else None,
                all_variants=self.own_cpu_flags == [],  # [] is the portable every-variant build
                cuda=self.own_cuda if variant == "cuda" else None,
                rocm=self.own_rocm if variant == "rocm" else None,
            )
        return combine(variant, choice, self.recommendation, self.existing, follow_hardware=self.follow_hardware)

    def shown_settings(self, variant: str, own: bool = True) -> tuple[list[str], list[str], list[str]]:
        """The CPU flags ([]: every variant), CUDA capabilities and ROCm targets the machine gets with ``variant``,
        as the picker shows them."""
        answer = self.settings_for(variant, own)
        cpu = [] if answer.all_variants else answer.cpu_flags
        return cpu, answer.cuda_capabilities, answer.rocm_targets

    def pick(self, variant: str, cpu_flags: list[str], cuda: list[str], rocm: list[str]) -> None:
        """Take the picker's answer: the variant, and the settings for it that differ from what it gets anyway
        (no CUDA capabilities or ROCm targets, as with the command line's flags, is what it gets anyway)."""
        self.choice = None if variant == self.default_variant else variant
        if variant == NO_VARIANT:
            return
        plain_cpu, plain_cuda, plain_rocm = self.shown_settings(variant, own=False)
        self.own_cpu_flags = None if cpu_flags == plain_cpu else list(cpu_flags)
        if variant == "cuda":
            self.own_cuda = None if cuda in ([], plain_cuda) else list(cuda)
        if variant == "rocm":
            self.own_rocm = None if rocm in ([], plain_rocm) else list(rocm)


@dataclass
class WizardState:
    path: Path
    display_path: str
    flake: Flake | None = None
    repo: RepoStatus | None = None
    preliminary: Plan | None = None  # a plan wiring every machine: its refusals and offers
    settings: dict[str, dict] = field(default_factory=dict)
    existing_caches: list[Cache] | None = None  # None when no module of ours exists yet
    left_alone: set[str] = field(default_factory=set)  # machines the module remembers as left alone
    llama_setup: list[tuple[str, str]] | None = None  # the set-up found (file:line, what it is); None: still looking
    machines: dict[str, MachineState] = field(default_factory=dict)
    follows: str | None = None
    ref: str = ""
    url: str = ""  # where the llama.cpp flake comes from; "" for upstream's
    caches: list[Cache] | None = None  # None until the user picks
    caches_shown: list[str] | None = None  # the default caches' URLs as the caches step showed them
    custom_caches: list[Cache] = field(default_factory=list)
    cleanup: bool = False
    split_diff: bool = False
    plan: Plan | None = None
    replan: bool = False  # the plan was found out of date at the commit: the review makes it again
    nix_notes: list[str] = field(default_factory=list)  # what Nix said about the machines, where it disagrees
    nix_asked: bool = True  # whether Nix was asked which machines exist (not with --no-nix)
    nix_status: str = NIX_OFF  # where asking Nix which machines exist stands: one of NIX_STATUSES
    nix_since: float = 0.0  # when Nix was asked (time.monotonic())
    nix_line: str = ""  # the last line Nix wrote while it is asked
    nix_note: str = ""  # what Nix's answer changed, in one line
    accepted: dict[str, set[int]] = field(default_factory=dict)
    proof: Proof | None = None  # Nix's word on the change as accepted in the review step
    proof_of: tuple | None = None  # the accepted changes that proof is about
    model_repos: dict[str, ModelRepo] = field(default_factory=dict)  # looked up in the serve step, by what was typed
    model_text: str = ""  # the repository last looked up or taken, offered in the next picker

    def model_repo_at(self, repo: str, revision: str) -> ModelRepo | None:
        """A repository looked up in this run at that commit (for its parameter count), or None."""
        return next((r for r in self.model_repos.values() if r.repo == repo and r.revision == revision), None)

    @property
    def loaded_flake(self) -> Flake:
        """The flake, for what runs once it is read (every step after the first, the hardware workers)."""
        if self.flake is None:
            raise RuntimeError("the flake is not read yet")
        return self.flake

    @property
    def made_plan(self) -> Plan:
        """The review's plan, for what runs once it is made (the review's panes, the commit step)."""
        if self.plan is None:
            raise RuntimeError("the plan is not made yet")
        return self.plan

    def default_caches(self) -> list[Cache]:
        """What the caches step starts with: the caches set before, else the recommended ones for CUDA."""
        from tui.core.caches import default_caches

        return default_caches(self.existing_caches, (m.variant for m in self.machines.values()))

    def chosen_caches(self) -> list[Cache]:
        return self.default_caches() if self.caches is None else self.caches

    def caches_change(self) -> str | None:
        """How the default caches changed since the caches step showed them (they follow the machines' builds),
        in words; None where they did not, or where the user chose the caches."""
        if self.caches is not None or self.caches_shown is None:
            return None
        now = self.chosen_caches()
        if sorted(c.url for c in now) == self.caches_shown:
            return None
        names = ", ".join(c.name for c in now) or "none"
        return (
            f"binary caches are now {names}, following the machines' builds (the caches step showed "
            f"{', '.join(self.caches_shown) or 'none'}): go back to it to choose"
        )

    def answers(self) -> Answers:
        """The answers so far, for :func:`tui.core.plan.make_plan`."""
        from tui.core.answers import Answers

        machines: dict[str, MachineAnswer] = {}
        skip: list[str] = []
        for name, machine in self.machines.items():
            if machine.variant == NO_VARIANT:
                skip.append(name)
                continue
            answer = machine.answer()
            if machine.serve is not None:  # a model chosen now: the machine's settings file is written with it
                answer = answer or machine.settings_for(machine.variant)
                answer.serve = machine.serve
            elif machine.stop_serving:  # the repository's model goes: the settings file is written without it
                answer = answer or machine.settings_for(machine.variant)
                answer.serve, answer.stop_serving = None, True
            if answer is not None:
                machines[name] = answer
        caches = None if self.caches is None and self.existing_caches is not None else self.chosen_caches()
        return Answers(
            machines=machines,
            skip=skip,
            caches=caches,
            follows=self.follows,
            ref=self.ref or None,
            url=self.url or None,
            cleanup=self.cleanup,
        )
