"""The machines step's variant picker (``enter`` on a machine): the builds it can have with a reason each, and the
CUDA capabilities, ROCm targets and CPU flags to build for, checked as the command line checks its flags."""

from __future__ import annotations

import dataclasses

import pytest
from pilot_helpers import go_to_step, run_async, steady_screen  # noqa: F401 - steady_screen is an autouse fixture
from snapshot_app import ZEN4_FLAGS, make_app
from textual.widgets import Button, DataTable, Input, OptionList, Static

from tui.app.screens.variant_picker import VariantPicker
from tui.core import ggml

SIZE = (100, 30)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def variants_offered(picker: VariantPicker) -> list[str]:
    options = picker.query_one("#picker-variants", OptionList)
    return [options.get_option_at_index(i).id for i in range(options.option_count)]


async def open_picker(pilot, row: int) -> VariantPicker:
    """On the machines step, ``enter`` on the machine in ``row``."""
    await go_to_step(pilot, "Machines")
    for _ in range(row):
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(pilot.app.screen, VariantPicker)
    return pilot.app.screen


@pytest.mark.slow
@run_async
async def test_enter_opens_the_picker_and_ok_gives_the_machine_cuda_for_its_capabilities(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, 2)  # boron: a Zen 4 CPU, no GPU
        assert picker.machine.name == "boron"
        assert variants_offered(picker) == ["cpu", "cuda", "vulkan", "rocm", "none"]
        options = picker.query_one("#picker-variants", OptionList)
        assert options.highlighted == 0 and app.focused is options  # the build it has now
        assert "suggested: no GPU found → CPU build" in str(options.get_option_at_index(0).prompt)
        assert "NVIDIA GPUs" in str(options.get_option_at_index(1).prompt)
        cpu = picker.query_one("#picker-cpu", Input)
        assert cpu.value == ",".join(ggml.filter_flags(ZEN4_FLAGS))  # what the machine would get
        assert picker.query_one("#picker-cuda", Input).disabled  # a field for cuda only
        await pilot.press("down")
        assert not picker.query_one("#picker-cuda", Input).disabled
        await pilot.press("tab", *"8.6,12.0a", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, VariantPicker)
        boron = app.state.answers().machines["boron"]
        assert boron.variant == "cuda" and boron.cuda_capabilities == ["8.6", "12.0a"]
        assert boron.cpu_flags == ggml.filter_flags(ZEN4_FLAGS) and not boron.all_variants
        table = app.screen.query_one("#machines", DataTable)
        assert [str(c) for c in table.get_row_at(2)][4:] == ["cuda ✎", "8.6 12.0a"]
        assert "Choice cuda · ggml" in text_of(app, "#machine-detail")
        assert "CUDA 8.6, 12.0a (yours)" in text_of(app, "#machine-detail")
        # v and x work as before, and the capabilities come back with the cuda build
        await pilot.press("v")
        assert app.state.answers().machines["boron"].variant == "vulkan"
        assert app.state.answers().machines["boron"].cuda_capabilities == []
        await pilot.press("x")
        assert "boron" in app.state.answers().skip
        await pilot.press("x", "v")  # back to cpu, the suggested build, then cuda
        assert app.state.machines["boron"].variant == "cuda"
        assert app.state.answers().machines["boron"].cuda_capabilities == ["8.6", "12.0a"]
        await pilot.press("enter")  # opened again: what was set
        await pilot.pause()
        assert app.screen.query_one("#picker-cuda", Input).value == "8.6,12.0a"


@pytest.mark.slow
@run_async
async def test_an_invalid_capability_is_said_at_once_and_keeps_the_picker_open(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, 2)
        await pilot.press("down", "tab", *"8.6,sm_90")
        await pilot.pause()
        assert "malformed CUDA capability 'sm_90' (write it like 8.6, or 12.0a)" in text_of(app, "#picker-problem")
        await pilot.press("enter")
        await pilot.click("#picker-ok")
        await pilot.pause()
        assert app.screen is picker and app.state.machines["boron"].variant == "cpu"
        await pilot.click("#picker-cuda")
        await pilot.press("home", "ctrl+k", *"8.7", "enter")  # fixed: taken
        await pilot.pause()
        assert app.state.answers().machines["boron"].cuda_capabilities == ["8.7"]


@run_async
async def test_the_jetson_rule_and_a_malformed_cpu_flag_are_the_command_lines(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, 2)
        await pilot.press("down")
        picker.query_one("#picker-cuda", Input).value = "8.7,8.6"  # a Jetson's with a desktop GPU's
        await pilot.pause()
        assert "cannot be built together" in text_of(app, "#picker-problem")
        picker.query_one("#picker-cuda", Input).value = ""
        picker.query_one("#picker-cpu", Input).value = "avx2,-march=native"
        await pilot.pause()
        assert "malformed CPU flag '-march=native'" in text_of(app, "#picker-problem")
        picker.query_one("#picker-cpu", Input).value = ""  # empty: the portable every-variant build
        await pilot.pause()
        assert text_of(app, "#picker-problem") == ""
        await pilot.click("#picker-ok")
        await pilot.pause()
        boron = app.state.answers().machines["boron"]
        assert boron.variant == "cuda" and boron.all_variants and boron.cpu_flags == []
        assert "every CPU variant, picked at run time (yours)" in text_of(app, "#machine-detail")


@run_async
async def test_escape_changes_nothing(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Machines")
        before = app.state.answers()
        row = [str(c) for c in app.screen.query_one("#machines", DataTable).get_row_at(0)]
        picker = await open_picker(pilot, 0)  # carbon: cuda for 8.6
        assert picker.query_one("#picker-cuda", Input).value == "8.6"
        await pilot.press("down", "tab", *"9.0", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, VariantPicker)
        assert app.state.answers() == before
        assert [str(c) for c in app.screen.query_one("#machines", DataTable).get_row_at(0)] == row
        carbon = app.state.machines["carbon"]
        assert carbon.choice is None and carbon.own_cuda is None and carbon.own_cpu_flags is None


@run_async
async def test_ok_without_changes_keeps_the_repositorys_settings(demo_repo):
    """A machine with a settings file: the picker shows them, and OK unchanged still leaves the file as it is."""
    from tui.core.answers import Answers, MachineAnswer
    from tui.core.apply import apply_plan
    from tui.core.nix.flake import load_flake
    from tui.core.plan import make_plan

    apply_plan(
        make_plan(
            load_flake(demo_repo),
            Answers(machines={"boron": MachineAnswer("rocm", cpu_flags=["avx2", "fma"], rocm_targets=["gfx1100"])}),
        ),
        evaluate=False,
    )
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, 2)
        assert variants_offered(picker)[picker.query_one(OptionList).highlighted] == "rocm"
        assert picker.query_one("#picker-rocm", Input).value == "gfx1100"
        assert picker.query_one("#picker-cpu", Input).value == ",".join(ggml.filter_flags(["avx2", "fma"]))
        await pilot.click("#picker-ok")
        await pilot.pause()
        boron = app.state.machines["boron"]
        assert boron.keeps_existing and "boron" not in app.state.answers().machines
        await pilot.press("enter")
        await pilot.pause()
        app.screen.query_one("#picker-rocm", Input).value = "gfx1100,gfx1030"
        await pilot.click("#picker-ok")
        await pilot.pause()
        answer = app.state.answers().machines["boron"]
        assert answer.rocm_targets == ["gfx1100", "gfx1030"] and sorted(answer.cpu_flags) == ["avx2", "fma"]
        assert [str(c) for c in app.screen.query_one("#machines", DataTable).get_row_at(2)][4] == "rocm ✎"


@run_async
async def test_no_rocm_on_an_arm_machine_and_the_picker_fits_a_laptops_terminal(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to_step(pilot, "Machines")
        beryllium = app.state.machines["beryllium"]
        beryllium.host = dataclasses.replace(beryllium.host, system="aarch64-linux")
        picker = await open_picker(pilot, 1)
        assert variants_offered(picker) == ["cpu", "cuda", "vulkan", "none"]
        assert not picker.query("#picker-rocm")
        assert "suggested:" in str(picker.query_one(OptionList).get_option_at_index(2).prompt)  # vulkan, as suggested
        for button in picker.query(Button):
            assert button.region.bottom <= 24 and button.region.width > 0, button.region
        await pilot.click("#picker-cancel")
        await pilot.pause()
        assert not isinstance(app.screen, VariantPicker) and app.state.machines["beryllium"].choice is None
