"""One rule for a machine's answer (tui/core/choice.py), the same through the wizard's state and the command line:
the machine's file is what the user has, a flag or a wizard choice overrides, a recommendation fills what is not
known (before the file where the hardware was asked for). Each case below is one where the two used to differ."""

from __future__ import annotations

import argparse

import pytest

from tui.app.state import MachineState
from tui.commands import common
from tui.core.answers import MachineAnswer, ModelChoice, ModelFile, ServeChoice
from tui.core.choice import Choice, combine
from tui.core.errors import AnswerError
from tui.core.hardware.model import Recommendation
from tui.core.nix.model import Host
from tui.core.plan import complete_answer

NVIDIA = Recommendation(
    "cuda",
    cpu_flags=["avx2", "fma"],
    cuda_capabilities=["8.6"],
    reasons=["NVIDIA GeForce RTX 3090 (8.6)"],
    cuda_source="NVML",
)
UNKNOWN_CPU = Recommendation("cpu", all_variants=True, reasons=["the CPU is not known for certain"])
AMD = Recommendation("cpu", cpu_flags=["avx2"], rocm_option=["gfx1100"], reasons=["an AMD GPU without ROCm here"])
SERVED = ServeChoice(ModelChoice("owner/model", "a" * 40, (ModelFile("m.gguf", "b" * 64, 1),)))


def machine(existing=None, recommendation=None, follow_hardware=False) -> MachineState:
    state = MachineState(Host("alpha", "flake.nix", "flake.nix", 1, system="x86_64-linux"), existing=existing)
    state.recommendation, state.follow_hardware, state.scanning = recommendation, follow_hardware, False
    return state


def cli(monkeypatch, recommendations: dict, *flags: str):
    """The command line's answers for ``flags``, with the hardware flags' recommendations given."""
    parser = argparse.ArgumentParser()
    common.add_answer_options(parser)
    args = parser.parse_args(list(flags))
    monkeypatch.setattr(common, "hardware_recommendations", lambda *_: recommendations)
    return common.answers_from_args(args)


def test_a_variant_other_than_the_recommended_one_says_so_in_both(monkeypatch):
    """The wizard used to note the recommendation's reasons, which explain another variant."""
    wizard = machine(recommendation=NVIDIA, follow_hardware=True)
    wizard.pick("vulkan", ["avx2", "fma"], [], [])
    flags = cli(monkeypatch, {"alpha": NVIDIA}, "--this-machine", "alpha", "--host", "alpha=vulkan")
    for answer in (wizard.answer(), flags.machines["alpha"]):
        assert answer.variant == "vulkan" and answer.cpu_flags == ["avx2", "fma"]
        assert answer.notes == ["vulkan chosen by hand; the hardware suggests cuda"]
        assert answer.cuda_capabilities == [] and answer.cuda_source is None


def test_the_recommended_variant_keeps_its_reasons_and_detected_capabilities():
    answer = combine("cuda", Choice(), NVIDIA, follow_hardware=True)
    assert answer.notes == NVIDIA.reasons
    assert (answer.cuda_capabilities, answer.cuda_source) == (["8.6"], "NVML")


def test_every_cpu_variant_asked_for_replaces_the_recommendations_flags(monkeypatch):
    """The command line kept the detected flags next to --all-cpu-variants and then refused both."""
    flags = cli(monkeypatch, {"alpha": NVIDIA}, "--this-machine", "alpha", "--all-cpu-variants", "alpha")
    answer = flags.machines["alpha"]
    assert (answer.cpu_flags, answer.all_variants) == ([], True)
    answer.validate("alpha")
    wizard = machine(recommendation=NVIDIA, follow_hardware=True)
    wizard.pick("cuda", [], ["8.6"], [])
    assert (wizard.answer().cpu_flags, wizard.answer().all_variants) == ([], True)


def test_cpu_flags_given_replace_a_recommendation_of_every_variant(monkeypatch):
    flags = cli(monkeypatch, {"alpha": UNKNOWN_CPU}, "--report", "alpha=r.json", "--cpu-flags", "alpha=avx2")
    answer = flags.machines["alpha"]
    assert (answer.cpu_flags, answer.all_variants) == (["avx2"], False)
    answer.validate("alpha")


def test_the_recommendation_fills_the_capabilities_a_machines_file_cannot_know():
    """The file says cpu; the user picks cuda in the wizard: the detected GPU's capability, not nixpkgs' whole
    default list (the wizard used to leave them empty whenever the machine had a file)."""
    wizard = machine(existing=MachineAnswer("cpu", ["avx2"], notes=["from the file"]), recommendation=NVIDIA)
    wizard.pick("cuda", ["avx2"], ["8.6"], [])
    answer = wizard.answer()
    assert answer.cpu_flags == ["avx2"] and answer.notes == ["from the file"]  # the file's own settings stand
    assert (answer.cuda_capabilities, answer.cuda_source) == (["8.6"], "NVML")
    assert wizard.shown_settings("cuda") == (["avx2"], ["8.6"], [])


def test_the_recommendation_fills_the_rocm_target_a_machines_file_cannot_know():
    wizard = machine(existing=MachineAnswer("cpu", all_variants=True), recommendation=AMD)
    assert wizard.settings_for("rocm").rocm_targets == ["gfx1100"]
    assert wizard.settings_for("rocm").all_variants  # the file's every-variant build stands over the detected flags


def test_the_file_stands_over_a_recommendation_the_user_did_not_ask_for():
    existing = MachineAnswer("cuda", ["fma"], cuda_capabilities=["7.5"], notes=["by hand"])
    wizard = machine(existing=existing, recommendation=NVIDIA)
    assert wizard.answer() is None  # nothing chosen: the file is kept as it is
    assert wizard.shown_settings("cuda") == (["fma"], ["7.5"], [])
    asked = machine(existing=existing, recommendation=NVIDIA, follow_hardware=True)
    assert asked.shown_settings("cuda") == (["avx2", "fma"], ["8.6"], [])


def test_what_the_wizard_shows_under_new_hardware_is_what_the_plan_writes():
    """Following the hardware, a variant the recommendation has no settings for showed none, while the plan
    took the file's."""
    existing = MachineAnswer("rocm", ["avx2"], rocm_targets=["gfx90a"])
    wizard = machine(existing=existing, recommendation=NVIDIA, follow_hardware=True)
    shown = wizard.shown_settings("rocm")
    planned = complete_answer(wizard.settings_for("rocm"), existing)
    assert shown[2] == planned.rocm_targets == ["gfx90a"]


def test_the_served_model_stays_the_files_unless_the_choice_names_one(monkeypatch):
    existing = MachineAnswer("cpu", ["avx2"], serve=SERVED)
    wizard = machine(existing=existing, recommendation=NVIDIA)
    wizard.pick("vulkan", ["avx2"], [], [])
    assert wizard.answer().serve == SERVED
    flags = cli(monkeypatch, {}, "--host", "alpha=vulkan")
    assert flags.machines["alpha"].serve is None  # the command line does not read the file: the plan does
    assert complete_answer(flags.machines["alpha"], existing).serve == SERVED
    other = ServeChoice(SERVED.model, port=9000)
    assert combine("cpu", Choice(serve=other), None, existing).serve == other


def test_a_setting_for_a_machine_without_a_variant_is_still_refused(monkeypatch):
    with pytest.raises(AnswerError, match="give the machine's variant with --host alpha=VARIANT"):
        cli(monkeypatch, {}, "--cuda", "alpha=8.6")
    with pytest.raises(AnswerError, match="--cuda alpha"):
        cli(monkeypatch, {"alpha": NVIDIA}, "--this-machine", "alpha", "--host", "alpha=none", "--cuda", "alpha=8.6")
