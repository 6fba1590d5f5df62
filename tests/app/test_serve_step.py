"""The serve step (optional): a model per machine, looked up on a fake Hugging Face Hub on 127.0.0.1 in a worker
thread, the suggestion for the machine's memory preselected; what is chosen goes into the plan."""

from __future__ import annotations

import threading

from hub_fake import QWEN_7B, hub  # noqa: F401 - hub is a fixture
from pilot_helpers import go_to_step, run_async, settle, steady_screen  # noqa: F401 - steady_screen is autouse
from snapshot_app import make_app
from textual.widgets import DataTable, Input, OptionList, Static

from tui.app.screens.serve import ServeScreen
from tui.app.screens.serve_picker import ServePicker
from tui.core.answers import MachineAnswer, ModelChoice, ModelFile, ServeChoice

SIZE = (120, 40)
QWEN_FILE = "Qwen2.5-7B-Instruct-{}.gguf"


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def row_of(app, name: str) -> list[str]:
    table = app.screen.query_one("#serve-machines", DataTable)
    return [str(c) for c in table.get_row(name)]


async def open_picker(pilot, row: int) -> ServePicker:
    """On the serve step, ``enter`` on the machine in ``row`` (carbon, beryllium, boron)."""
    await go_to_step(pilot, "Serve")
    for _ in range(row):
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(pilot.app.screen, ServePicker)
    return pilot.app.screen


async def look_up(pilot, picker: ServePicker, text: str) -> None:
    picker.query_one("#serve-repo", Input).value = ""
    picker.query_one("#serve-repo", Input).focus()
    await pilot.press(*text, "enter")
    await settle(pilot)


def highlighted(picker: ServePicker) -> str:
    return picker.model.label


@run_async
async def test_the_suggested_model_for_a_known_gpu_is_preselected_and_ok_takes_it(demo_repo, hub):
    hub.hold = threading.Event()  # a slow Hub: the picker says it is looking, and the wizard still answers keys
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, 0)  # carbon: an RTX 3050 Ti with 4 GiB, a cuda build
        assert picker.machine.name == "carbon" and app.focused is picker.query_one("#serve-repo", Input)
        assert "the NVIDIA GeForce RTX 3050 Ti Laptop GPU's 4.0 GiB; 3.5 GiB for the model" in text_of(
            picker, "#serve-memory"
        )
        await pilot.press(*QWEN_7B, "enter")
        await pilot.pause()
        assert text_of(picker, "#serve-status") == f"looking up {QWEN_7B} on Hugging Face…"
        assert not picker.query_one("#serve-models").display
        await pilot.press("tab")  # the look-up runs in a thread: the dialog still takes keys meanwhile
        assert app.focused is picker.query_one("#serve-lookup")
        hub.hold.set()
        await settle(pilot)
        commit = hub.repos[QWEN_7B].refs["main"]
        assert text_of(picker, "#serve-status") == f"{QWEN_7B} at {commit[:12]} · 7 models"
        options = picker.query_one("#serve-models", OptionList)
        assert app.focused is options and options.option_count == 7  # the importance matrix is no model
        # The largest that leaves room for 4096 tokens of context in 3.5 GiB: Q2_K (2.8 GiB, 3.3 with its cache).
        assert highlighted(picker) == "Q2_K"
        first = str(options.get_option_at_index(0).prompt)
        assert "2.8 GiB" in first and "fits" in first and "suggested" in first
        assert "too big" in str(options.get_option_at_index(3).prompt)  # Q4_K_M
        assert text_of(picker, "#serve-reason").startswith("suggested: Q2_K, 2.8 GiB: the largest that leaves room")
        assert app.state.machines["carbon"].serve is None  # nothing is taken before OK
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ServeScreen)
        serve = app.state.machines["carbon"].serve
        name = QWEN_FILE.format("Q2_K")
        assert serve == ServeChoice(
            ModelChoice(QWEN_7B, commit, (ModelFile(name, hub.repos[QWEN_7B].sha256(name, commit), 3_015_940_928),)),
            port=8080,
            context=4096,
        )
        assert row_of(app, "carbon") == ["carbon", "cuda", "Q2_K bartowski/Qwen2.5-7B-Instruct ✎", "2.8 GiB", "yes"]
        detail = text_of(app.screen, "#serve-detail")
        assert f"carbon serves {name} of {QWEN_7B}" in detail
        assert f"Pinned commit {commit[:12]}" in detail and "on 127.0.0.1:8080, 4096 tokens of context" in detail
        assert "Why suggested: Q2_K" in detail
        assert len(hub.requests) == 1


@run_async
async def test_a_quantisation_chosen_by_hand_and_a_machine_without_known_memory(demo_repo, hub):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, 0)
        await look_up(pilot, picker, QWEN_7B)
        await pilot.press("down", "down", "down")  # Q3_K_M, IQ4_XS, Q4_K_M: too big for carbon's GPU
        assert highlighted(picker) == "Q4_K_M"
        reason = text_of(picker, "#serve-reason")
        assert reason == (
            "Q4_K_M, 4.4 GiB: needs about 4.9 GiB with 4096 tokens of context, more than the NVIDIA GeForce "
            "RTX 3050 Ti Laptop GPU's 4.0 GiB leaves (3.5 GiB)"
        )
        picker.query_one("#serve-port", Input).value = "8081"
        await pilot.click("#serve-ok")
        await pilot.pause()
        carbon = app.state.machines["carbon"]
        assert carbon.serve.model.name == QWEN_FILE.format("Q4_K_M") and carbon.serve.port == 8081
        assert carbon.serve_reason == "chosen by hand: " + reason
        assert row_of(app, "carbon")[3:] == ["4.4 GiB", "no"]
        # boron: a facter report without its RAM, a cpu build: no suggestion, the sizes listed, "?" for fits.
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        picker = app.screen
        assert picker.machine.name == "boron"
        assert picker.query_one("#serve-repo", Input).value == QWEN_7B  # the repository looked up last
        assert text_of(picker, "#serve-memory") == (
            "Memory: boron's RAM is not known (detect, import or scan its hardware in the machines step); "
            "no suggestion, choose by size"
        )
        assert picker.suggestion is None and highlighted(picker) == "Q2_K"  # looked up before: no request
        assert len(hub.requests) == 1
        await look_up(pilot, picker, f"{QWEN_7B}:q8_0")  # a file named in the field is highlighted
        assert highlighted(picker) == "Q8_0" and "?" in str(picker.query_one(OptionList).get_option_at_index(6).prompt)
        await pilot.press("enter")
        await pilot.pause()
        assert app.state.machines["boron"].serve.model.name == QWEN_FILE.format("Q8_0")
        assert row_of(app, "boron")[3:] == ["7.5 GiB", "?"]
        assert "boron's RAM is not known" in text_of(app.screen, "#serve-detail")


@run_async
async def test_a_failed_look_up_says_why_in_its_line_and_changes_nothing(demo_repo, hub):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, 0)
        before = app.state.answers()
        await look_up(pilot, picker, "acme/no-such-GGUF")
        status = text_of(picker, "#serve-status")
        assert status.startswith("no model repository acme/no-such-GGUF on http://127.0.0.1:")
        assert "\n" not in status and picker.query_one("#serve-status").has_class("-error")
        assert not picker.query_one("#serve-models").display and app.focused is picker.query_one("#serve-repo")
        await pilot.click("#serve-ok")
        await pilot.pause()
        assert isinstance(app.screen, ServePicker)
        assert text_of(picker, "#serve-problem").startswith("look a repository up first")
        requests = len(hub.requests)
        await look_up(pilot, picker, "not a repository")  # refused before asking the Hub
        assert "is not a Hugging Face repository name (owner/name)" in text_of(picker, "#serve-status")
        assert len(hub.requests) == requests
        await look_up(pilot, picker, "acme/no-gguf")
        assert text_of(picker, "#serve-status").startswith("acme/no-gguf@")
        assert "has no GGUF model to serve (mmproj-f16.gguf (a vision projector))" in text_of(picker, "#serve-status")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ServeScreen)
        assert app.state.machines["carbon"].serve is None and app.state.answers() == before
        assert row_of(app, "carbon")[2] == "—"


@run_async
async def test_escape_changes_nothing_and_x_removes_the_model_chosen(demo_repo, hub):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, 0)
        await look_up(pilot, picker, QWEN_7B)
        await pilot.press("down", "escape")  # a model highlighted, then cancelled
        await pilot.pause()
        assert app.state.machines["carbon"].serve is None
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("enter")  # the suggestion, from the repository looked up before
        await pilot.pause()
        chosen = app.state.machines["carbon"].serve
        assert chosen.model.name == QWEN_FILE.format("Q2_K")
        await pilot.press("enter")  # again: what is served is highlighted, its context and port shown
        await pilot.pause()
        picker = app.screen
        assert highlighted(picker) == "Q2_K" and picker.query_one("#serve-context", Input).value == "4096"
        picker.query_one("#serve-context", Input).value = "32768"  # now nothing fits: the marks follow
        await pilot.pause()
        assert picker.suggestion is not None and not picker.suggestion.fits
        assert "too big" in str(picker.query_one(OptionList).get_option_at_index(0).prompt)
        assert text_of(picker, "#serve-reason").startswith("suggested: none fits: the smallest, Q2_K")
        picker.query_one("#serve-port", Input).value = "99999"
        await pilot.click("#serve-ok")
        await pilot.pause()
        assert text_of(picker, "#serve-problem") == "carbon: port 99999 is not between 1 and 65535"
        await pilot.press("escape")
        await pilot.pause()
        assert app.state.machines["carbon"].serve == chosen  # as before the picker
        await pilot.press("x")
        await pilot.pause()
        assert app.state.machines["carbon"].serve is None and row_of(app, "carbon")[2] == "—"
        assert app.state.answers().machines["carbon"].serve is None


@run_async
async def test_skipping_the_step_serves_nothing(demo_repo, hub):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Serve")
        assert text_of(app.screen, "#serve-intro").startswith("Optional.")
        await go_to_step(pilot, "Review")
        assert app.state.plan is not None and set(app.state.plan.machines) == {"carbon", "beryllium", "boron"}
        assert all(m.serve is None for m in app.state.plan.machines.values())
        assert hub.requests == []


@run_async
async def test_the_plan_carries_the_model_chosen(demo_repo, hub):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, 0)
        await look_up(pilot, picker, QWEN_7B)
        await pilot.press("enter")
        await pilot.pause()
        chosen = app.state.machines["carbon"].serve
        await go_to_step(pilot, "Review")  # the review's plan is made from the wizard's answers
        plan = app.state.plan
        assert plan.machines["carbon"].serve == chosen and plan.machines["carbon"].variant == "cuda"
        assert plan.machines["boron"].serve is None
        await pilot.press("escape")  # back: the step shows the model, and a later plan still has it
        await pilot.pause()
        assert row_of(app, "carbon")[2] == "Q2_K bartowski/Qwen2.5-7B-Instruct ✎"


@run_async
async def test_a_machine_that_keeps_its_build_gets_the_model_and_a_served_one_is_shown(demo_repo, hub):
    """A machine whose build the repository already has (kept as it is) goes into the plan once it gets a model;
    a model the repository serves already is shown as such; x drops the model chosen now, then the repository's."""
    served = ServeChoice(
        ModelChoice("ggml-org/tiny-model-GGUF", "c" * 40, (ModelFile("tiny-model-q8_0.gguf", "d" * 64, 120_000_000),)),
        port=8090,
    )
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Serve")
        boron = app.state.machines["boron"]
        boron.existing = MachineAnswer("cpu", all_variants=True, serve=served)
        assert boron.keeps_existing and "boron" not in app.state.answers().machines
        app.screen.show_state()
        assert row_of(app, "boron") == ["boron", "cpu", "q8_0 ggml-org/tiny-model =", "114 MiB", "?"]
        await pilot.press("down", "down")
        assert "(as in the repository)" in text_of(app.screen, "#serve-detail")
        assert "on 127.0.0.1:8090" in text_of(app.screen, "#serve-detail")
        await pilot.press("enter")
        await pilot.pause()
        picker = app.screen
        assert picker.query_one("#serve-repo", Input).value == "ggml-org/tiny-model-GGUF"
        assert picker.query_one("#serve-port", Input).value == "8090"
        await look_up(pilot, picker, QWEN_7B)
        await pilot.press("enter")
        await pilot.pause()
        answer = app.state.answers().machines["boron"]
        assert answer.variant == "cpu" and answer.all_variants and answer.serve.model.repo == QWEN_7B
        assert answer.serve.port == 8090  # the port it served on is kept
        await pilot.press("x")  # the model chosen now goes: the repository's is served again
        await pilot.pause()
        assert boron.served == served and "boron" not in app.state.answers().machines
        await pilot.press("x")  # and then the repository's: the machine serves none, its settings file says so
        await pilot.pause()
        assert boron.served is None and row_of(app, "boron")[2].startswith("—")
        answer = app.state.answers().machines["boron"]
        assert answer.serve is None and answer.stop_serving and answer.all_variants


@run_async
async def test_x_on_the_model_a_repository_serves_removes_its_block_in_the_review(demo_repo, hub):
    from hub_fake import TINY_REPO

    from tui.cli import main

    apply = ["apply", "--flake", str(demo_repo), "--no-nix", "--yes", "--no-eval"]
    assert main([*apply, "--host", "boron=cpu", "--model", f"boron={TINY_REPO}"]) == 0
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Serve")
        boron = app.state.machines["boron"]
        assert boron.served is not None and boron.served.model.repo == TINY_REPO  # read back from its file
        await pilot.press("down", "down", "x")
        await pilot.pause()
        assert boron.served is None
        await go_to_step(pilot, "Review")
        change = next(c for c in app.state.plan.changes if c.path.endswith("machines/boron.nix"))
        assert b"serve = {" in change.old and b"serve" not in change.new and b'variant = "cpu";' in change.new
