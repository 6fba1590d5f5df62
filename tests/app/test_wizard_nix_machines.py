"""The first screen does not wait for Nix: the static reading's machines are shown at once, Nix is asked which
machines exist in the background (seconds counted, stoppable), and its answer is merged into the tables with a
line saying what changed, every answer given meanwhile kept. Nix is a stand-in on PATH that answers when the test
lets it (the demo's inputs are on GitHub, out of reach of the tests)."""

from __future__ import annotations

import time

import git
from nix_stand_in import NixStandIn
from pilot_helpers import run_async, settle, steady_screen, step_called  # noqa: F401 - steady_screen is an autouse fixture
from snapshot_app import FixedProof, make_app
from textual.widgets import DataTable, Static

from tui.app.state import NIX_ANSWERED, NIX_ASKING, NIX_STOPPED

SIZE = (100, 30)
NITROGEN = '{ ... }: {\n  networking.hostName = "nitrogen";\n}\n'


def asking_nix() -> FixedProof:
    """The fixed proof of the other tests, with Nix asked which machines exist."""
    proof = FixedProof()
    proof.use_nix = True
    return proof


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def names_in(app, table_id: str) -> list[str]:
    table = app.screen.query_one(table_id, DataTable)
    return [str(table.get_row_at(i)[0]).removesuffix(" ●") for i in range(table.row_count)]


async def until(pilot, condition, what: str, timeout: float = 15) -> None:
    """Let the app run until ``condition()`` holds (workers still running: no settle)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await pilot.pause(0.05)


async def while_nix_is_asked(pilot, nix: NixStandIn) -> None:
    """Until Nix has been asked and every worker but the one waiting for Nix has finished."""
    app = pilot.app
    await until(pilot, lambda: nix.asked.exists() and app.state.nix_status == NIX_ASKING, "nix to be asked")
    others = [w for w in app.workers if w.group != "nix-machines"]
    if others:  # (none given, it would wait for every worker)
        await app.workers.wait_for_complete(others)
    await pilot.pause()


@run_async
async def test_machines_show_while_nix_runs_and_its_answer_is_merged_keeping_the_answers(
    demo_repo, tmp_path, monkeypatch
):
    (demo_repo / "machines/nitrogen.nix").write_text(NITROGEN)
    git.Repo(demo_repo).git.add("-A")
    nix = NixStandIn(
        tmp_path / "nix",
        monkeypatch,
        ["beryllium", "boron-2024", "carbon", "nitrogen"],
        {"boron-2024": "machines/boron.nix", "nitrogen": "machines/nitrogen.nix"},
        held=True,
    )
    app = make_app(demo_repo, proof=asking_nix())
    async with app.run_test(size=SIZE) as pilot:
        await while_nix_is_asked(pilot, nix)
        assert names_in(app, "#hosts") == ["carbon", "beryllium", "boron"]  # the static reading, Nix not done
        # What Nix writes is shown below the line, as soon as the app has drawn its latest line.
        await until(pilot, lambda: "evaluating the flake" in text_of(app, "#nix-machines"), "Nix's line")
        line = text_of(app, "#nix-machines")
        assert "asking Nix which machines exist… " in line and "c: stop" in line
        assert app.screen.check_action("stop_nix", ())
        # The user goes on and answers for boron while Nix is still asked.
        await pilot.press(*["ctrl+n"] * (step_called("Machines") - 1))
        await until(pilot, lambda: app.screen.step == step_called("Machines"), "the machines step")
        assert "asking Nix which machines exist" in text_of(app, "#nix-machines")
        await pilot.press("down", "down", "v")
        assert app.state.machines["boron"].choice == "cuda"
        nix.release()
        await settle(pilot)
        assert app.state.nix_status == NIX_ANSWERED
        note = "Nix: added nitrogen (the static reading did not find it); renamed boron to boron-2024"
        assert note in text_of(app, "#nix-machines")
        assert names_in(app, "#machines") == ["carbon", "beryllium", "boron-2024", "nitrogen"]
        assert app.state.machines["boron-2024"].choice == "cuda", "the answer follows the machine to its new name"
        assert app.state.machines["carbon"].this_machine, "detection made before the merge stays"
        assert app.state.machines["nitrogen"].report is not None, "a machine Nix added gets its hints"
        assert not app.screen.check_action("stop_nix", ())
        await pilot.press("escape", "escape", "escape")
        await settle(pilot)
        assert names_in(app, "#hosts") == ["carbon", "beryllium", "boron-2024", "nitrogen"]
        assert note in text_of(app, "#nix-machines")


@run_async
async def test_nix_agreeing_is_said_in_one_line(demo_repo, tmp_path, monkeypatch):
    NixStandIn(tmp_path / "nix", monkeypatch, ["beryllium", "boron", "carbon"])
    app = make_app(demo_repo, proof=asking_nix())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert text_of(app, "#nix-machines") == "✓ Nix agrees with the static reading: 3 machines"
        assert names_in(app, "#hosts") == ["carbon", "beryllium", "boron"]


@run_async
async def test_stopping_nix_keeps_the_static_reading_and_says_so(demo_repo, tmp_path, monkeypatch):
    nix = NixStandIn(tmp_path / "nix", monkeypatch, ["carbon"], held=True)
    app = make_app(demo_repo, proof=asking_nix())
    async with app.run_test(size=SIZE) as pilot:
        await while_nix_is_asked(pilot, nix)
        await pilot.press("c")
        await pilot.pause()
        assert app.state.nix_status == NIX_STOPPED
        line = text_of(app, "#nix-machines")
        assert "Nix was stopped after" in line and "llamaflake's own reading of your files, not checked by Nix" in line
        await until(pilot, nix.stopped.exists, "nix to be stopped")
        nix.release()  # an answer now would come too late: none is asked for any more
        await settle(pilot)
        assert names_in(app, "#hosts") == ["carbon", "beryllium", "boron"]
        assert list(app.state.machines) == ["carbon", "beryllium", "boron"]
        assert not app.screen.check_action("stop_nix", ())


@run_async
async def test_nix_failing_leaves_the_static_reading_with_its_reason(demo_repo, tmp_path, monkeypatch):
    NixStandIn(tmp_path / "nix", monkeypatch, [], error="attribute 'nixosConfigurations' missing")
    app = make_app(demo_repo, proof=asking_nix())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        line = text_of(app, "#nix-machines")
        assert line.startswith("⚠ Nix could not list the machines, the static reading stands: ")
        assert "attribute 'nixosConfigurations' missing" in line
        assert names_in(app, "#hosts") == ["carbon", "beryllium", "boron"]


@run_async
async def test_a_machine_nix_removes_after_the_review_is_shown_leaves_the_plan(demo_repo, tmp_path, monkeypatch):
    nix = NixStandIn(tmp_path / "nix", monkeypatch, ["beryllium", "carbon"], held=True)
    app = make_app(demo_repo, proof=asking_nix())
    async with app.run_test(size=SIZE) as pilot:
        await while_nix_is_asked(pilot, nix)
        await pilot.press(*["ctrl+n"] * (step_called("Review") - 1))
        await until(pilot, lambda: app.screen.step == step_called("Review"), "the review step")
        await until(pilot, lambda: app.state.plan is not None, "the plan")
        assert "boron" in app.state.plan.machines, "made before Nix answered: the static reading's machines"
        nix.release()
        await settle(pilot)
        assert app.state.nix_status == NIX_ANSWERED
        assert "boron" not in app.state.plan.machines, "the plan is made again without the machine Nix removed"
        assert not any("boron" in c.path for c in app.state.plan.changes)
        assert set(app.state.accepted) == {c.path for c in app.state.plan.changes}
        shown = str(app.screen.query_one(".file-reason", Static).render())
        assert "carbon" in shown and "boron" not in shown, "the diff shown is the new plan's"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.step == step_called("Commit")
        assert not any("boron" in c.path for c in app.screen.final.changes)


@run_async
async def test_nix_changing_the_machines_on_the_commit_step_sends_the_user_back_to_the_review(
    demo_repo, tmp_path, monkeypatch
):
    nix = NixStandIn(tmp_path / "nix", monkeypatch, ["beryllium", "carbon"], held=True)
    app = make_app(demo_repo, proof=asking_nix())
    async with app.run_test(size=SIZE) as pilot:
        await while_nix_is_asked(pilot, nix)
        await pilot.press(*["ctrl+n"] * (step_called("Commit") - 1))
        await until(pilot, lambda: app.screen.step == step_called("Commit"), "the commit step")
        assert any("boron" in c.path for c in app.screen.final.changes)
        nix.release()
        await settle(pilot)
        head = git.Repo(demo_repo).head.commit.hexsha
        await pilot.press("ctrl+n")  # would commit the plan made before Nix answered
        await settle(pilot)
        assert app.screen.step == step_called("Review"), "back to the review, with the plan made again"
        assert "boron" not in app.state.plan.machines
        assert git.Repo(demo_repo).head.commit.hexsha == head, "nothing committed"


@run_async
async def test_a_nix_that_writes_thousands_of_lines_does_not_stall_the_wizard(demo_repo, tmp_path, monkeypatch):
    nix = NixStandIn(tmp_path / "nix", monkeypatch, ["beryllium", "boron", "carbon"], held=True, chatter=2000)
    app = make_app(demo_repo, proof=asking_nix())
    async with app.run_test(size=SIZE) as pilot:
        await while_nix_is_asked(pilot, nix)
        started = time.monotonic()
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.screen.step == step_called("Flake input"), "the next step", timeout=120)
        await until(pilot, lambda: "evaluating the flake" in app.state.nix_line, "Nix's last line", timeout=120)
        assert time.monotonic() - started < 5, "the keys and Nix's last line wait for no backlog of lines"
        nix.release()
        await settle(pilot)
        assert app.state.nix_status == NIX_ANSWERED
