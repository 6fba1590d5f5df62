"""What the machines step starts each machine with: a report that disagrees with the machine's own
configuration is said (in a notification and in the detail panel), and a machine left alone before stays so."""

from __future__ import annotations

from pilot_helpers import go_to_step, run_async, settle, steady_screen  # noqa: F401 - steady_screen is an autouse fixture
from snapshot_app import make_app
from textual.widgets import Input, Static

SIZE = (120, 40)


def detail(app) -> str:
    return str(app.screen.query_one("#machine-detail", Static).render())


@run_async
async def test_an_imported_report_without_the_configured_gpu_is_said(demo_repo, tmp_path):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Machines")
        await pilot.press("down")  # beryllium: its configuration has AMD graphics (framework-13-7040-amd)
        report = tmp_path / "desktop.json"
        report.write_text("{}")  # the hardware source gives boron's report: an AMD CPU, no GPU
        await pilot.press("i")
        await pilot.pause()
        app.screen.query_one(Input).value = str(report)
        await pilot.press("enter")
        await settle(pilot)
        beryllium = app.state.machines["beryllium"]
        assert any(
            "sets up AMD graphics (flake.nix:49), and the report shows no AMD GPU" in line
            for line in beryllium.mismatches
        ), beryllium.mismatches
        assert "Disagrees" in detail(app) and "no AMD GPU" in detail(app)
        assert any("the report and its configuration disagree" in n.title for n in app._notifications)


@run_async
async def test_this_machine_given_to_another_cpu_vendors_machine_is_said(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Machines")
        await pilot.press("down", "down", "t")  # boron (AMD in its facter report) takes this Intel machine
        await settle(pilot)
        boron = app.state.machines["boron"]
        assert boron.this_machine
        assert any(
            "boron's configuration is for an AMD CPU" in line and "the report shows an Intel CPU" in line
            for line in boron.mismatches
        ), boron.mismatches
        carbon = app.state.machines["carbon"]
        assert carbon.mismatches == []  # back to its own hints


@run_async
async def test_a_machine_left_alone_before_is_not_suggested_again(demo_repo):
    """The second use case, adding a machine: boron was left alone on the first run; the wizard keeps it so by
    default, and x gives it its suggested build."""
    from tui.core.answers import Answers, MachineAnswer
    from tui.core.apply import apply_plan
    from tui.core.nix.flake import load_flake
    from tui.core.plan import make_plan

    apply_plan(
        make_plan(load_flake(demo_repo), Answers(machines={"carbon": MachineAnswer("cuda")}, skip=["boron"])),
        evaluate=False,
    )
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Machines")
        boron = app.state.machines["boron"]
        assert boron.left_alone_before and boron.variant == "none"
        answers = app.state.answers()
        assert "boron" in answers.skip and "boron" not in answers.machines
        assert "beryllium" in answers.machines  # the machine not asked before is suggested as usual
        await pilot.press("down", "down")
        assert "left alone on an earlier run" in detail(app)
        await pilot.press("x")
        assert boron.variant == "cpu" and "boron" in app.state.answers().machines
        await pilot.press("x")
        assert boron.variant == "none"


@run_async
async def test_the_machines_step_fits_a_laptops_terminal(demo_repo):
    """80×24: every column of the table is in view, the choice's mark shows, and a legend says what marks mean."""
    from textual.widgets import DataTable

    app = make_app(demo_repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to_step(pilot, "Machines")
        app.state.machines["beryllium"].choice = "cuda"
        app.screen.show_state()
        await pilot.pause()
        table = app.screen.query_one("#machines", DataTable)
        assert table.virtual_size.width <= table.size.width, (table.virtual_size, table.size)
        assert [str(c.label) for c in table.columns.values()][-2:] == ["Choice", "CUDA"]
        assert str(table.get_row_at(1)[4]) == "cuda ✎"
        assert "✎ yours · = as in the repository" in str(app.screen.query_one("#choice-legend").render())


@run_async
async def test_caches_that_follow_the_machines_say_so_when_they_change(demo_repo):
    """The caches step comes before the machines: its defaults follow the machines' builds, and the review says
    when they changed since the caches step showed them."""
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Caches")
        assert app.state.caches_shown == ["https://cache.nixos-cuda.org"]  # carbon builds with CUDA
        await go_to_step(pilot, "Machines")
        app.state.machines["carbon"].choice = "vulkan"  # no CUDA build left
        await go_to_step(pilot, "Review")
        summary = str(app.screen.query_one("#review-summary", Static).render())
        assert (
            "binary caches are now none, following the machines' builds (the caches step showed "
            "https://cache.nixos-cuda.org)" in summary
        ), summary
        assert app.state.plan.caches == []
