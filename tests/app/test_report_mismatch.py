"""A report given to a machine (imported, detected here, scanned) that disagrees with the machine's own
configuration is said: in a notification, and in the machine's detail panel."""

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
        assert any("sets up AMD graphics (flake.nix:49), and the report shows no AMD GPU" in line
                   for line in beryllium.mismatches), beryllium.mismatches
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
        assert any("boron's configuration is for an AMD CPU" in line and "the report shows an Intel CPU" in line
                   for line in boron.mismatches), boron.mismatches
        carbon = app.state.machines["carbon"]
        assert carbon.mismatches == []  # back to its own hints
