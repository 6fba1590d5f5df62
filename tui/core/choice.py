"""One machine's answer, from what was chosen for it, the hardware's recommendation and its settings file.

The rule, the same for the wizard and the command line:

- what was chosen (a flag, the wizard's picker) decides;
- what is known of the machine fills what the choice leaves open: the settings its file already has (the
  read-back: what the user has) first, the recommendation after it; where the user asked for the hardware to
  decide (a report or a scan chosen for the machine, ``--this-machine``), the recommendation first;
- a model served on the machine stays the file's unless the choice names one, or none;
- what is still open is the plan's (:func:`tui.core.plan.complete_answer`): no CPU settings at all is the
  portable every-variant build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.core.answers import MachineAnswer

if TYPE_CHECKING:
    from tui.core.answers import ServeChoice
    from tui.core.hardware.model import Recommendation


@dataclass
class Choice:
    """What was set by hand for one machine; None (or False) where nothing was."""

    variant: str | None = None
    cpu_flags: list[str] | None = None
    all_variants: bool = False  # every CPU variant, picked at run time
    cuda: list[str] | None = None  # CUDA capabilities
    rocm: list[str] | None = None  # ROCm GPU targets
    serve: ServeChoice | None = None
    stop_serving: bool = False  # serve nothing: the file's model goes too

    @property
    def sets_cpu(self) -> bool:
        return self.cpu_flags is not None or self.all_variants


def combine(
    variant: str,
    choice: Choice,
    recommendation: Recommendation | None = None,
    read_back: MachineAnswer | None = None,
    *,
    follow_hardware: bool = False,
) -> MachineAnswer:
    """What the machine gets with ``variant``: ``choice``, then what ``read_back`` (its settings file) and
    ``recommendation`` know fill what it leaves open (the recommendation first with ``follow_hardware``)."""
    answer = MachineAnswer(variant, serve=choice.serve, stop_serving=choice.stop_serving)
    if choice.sets_cpu:
        answer.cpu_flags, answer.all_variants = list(choice.cpu_flags or []), choice.all_variants
    if choice.cuda is not None:
        answer.cuda_capabilities = list(choice.cuda)
    if choice.rocm is not None:
        answer.rocm_targets = list(choice.rocm)
    if follow_hardware:
        fill_from_recommendation(answer, recommendation)
        fill_from_read_back(answer, read_back)
    else:
        fill_from_read_back(answer, read_back)
        fill_from_recommendation(answer, recommendation)
    return answer


def _cpu_open(answer: MachineAnswer) -> bool:
    return not answer.cpu_flags and not answer.all_variants


def fill_from_read_back(answer: MachineAnswer, read_back: MachineAnswer | None) -> MachineAnswer:
    """Fill what ``answer`` leaves open from the machine's settings file: its CPU settings and notes, its CUDA
    capabilities or ROCm targets where it has the same variant, the model it serves."""
    if read_back is None:
        return answer
    if _cpu_open(answer) and (read_back.cpu_flags or read_back.all_variants):
        answer.cpu_flags, answer.all_variants = list(read_back.cpu_flags), read_back.all_variants
    if not answer.notes:
        answer.notes = list(read_back.notes)
    if answer.variant == read_back.variant == "cuda" and not answer.cuda_capabilities:
        answer.cuda_capabilities = list(read_back.cuda_capabilities)
    if answer.variant == read_back.variant == "rocm" and not answer.rocm_targets:
        answer.rocm_targets = list(read_back.rocm_targets)
    if answer.serve is None and not answer.stop_serving:
        answer.serve = read_back.serve
    return answer


def fill_from_recommendation(answer: MachineAnswer, recommendation: Recommendation | None) -> MachineAnswer:
    """Fill what ``answer`` leaves open from the hardware's recommendation: CPU settings, the GPU's CUDA
    capabilities or ROCm target for those variants, and notes that say why (or that the variant differs)."""
    if recommendation is None:
        return answer
    if _cpu_open(answer):
        answer.cpu_flags, answer.all_variants = list(recommendation.cpu_flags), recommendation.all_variants
    if answer.variant == "cuda" and not answer.cuda_capabilities:
        answer.cuda_capabilities = list(recommendation.cuda_capabilities)
        answer.cuda_source = recommendation.cuda_source
    if answer.variant == "rocm" and not answer.rocm_targets:
        answer.rocm_targets = list(recommendation.rocm_targets or recommendation.rocm_option)
    if not answer.notes:
        answer.notes = (
            list(recommendation.reasons)
            if answer.variant == recommendation.variant
            else [f"{answer.variant} chosen by hand; the hardware suggests {recommendation.variant}"]
        )
    return answer
