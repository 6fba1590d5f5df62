"""The wizard under Textual's pilot: each step, the keys, errors in dialogs, and a whole run ending in a commit."""

from __future__ import annotations

import shutil
from pathlib import Path

import git
import pytest
from conftest import lock_to_fake_nixpkgs, make_repo
from pilot_helpers import go_to_step, run_async, settle, steady_screen, step_called, write_without_committing  # noqa: F401 - steady_screen is an autouse fixture
from snapshot_app import FixedHardware, FixedProof, make_app
from textual.widgets import Button, DataTable, Input, Label, OptionList, SelectionList, Static, TextArea

from tui.app.app import LlamaflakeApp
from tui.app.hardware_source import HardwareSource
from tui.app.proof_source import ProofSource
from tui.app.screens.dialogs import ConfirmDialog, ErrorDialog
from tui.app.steps import STEPS
from tui.app.widgets.hunk_view import HunkBlock
from tui.core.caches import cache_by_name
from tui.core.hardware.model import GpuInfo, HardwareReport

SIZE = (100, 30)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def row_of(table: DataTable, index: int) -> list[str]:
    """A row of the table as the text its cells show."""
    return [str(cell) for cell in table.get_row_at(index)]


@run_async
async def test_repository_step_shows_flake_git_and_machines(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        summary = text_of(app, "#repo-summary")
        assert "~/nixos-config/flake.nix" in summary
        assert "branch main, clean" in summary or "branch master, clean" in summary
        assert "not set up yet" in summary
        table = app.screen.query_one("#hosts", DataTable)
        assert [row_of(table, i)[0] for i in range(table.row_count)] == ["carbon", "beryllium", "boron"]
        assert row_of(table, 1)[2] == "flake.nix:44"
        assert "every machine can be wired" in text_of(app, "#repo-warnings")
        assert app.focused is app.screen.query_one("#body")  # keys scroll the step, as on every other step


@pytest.fixture
def flake_reading_held(monkeypatch):
    """Hold the reading of the flake until the test sets the event: a slow repository."""
    import threading

    import tui.core.nix.flake

    release = threading.Event()
    load_flake = tui.core.nix.flake.load_flake

    def held(*args, **kwargs):
        release.wait(20)
        return load_flake(*args, **kwargs)

    monkeypatch.setattr(tui.core.nix.flake, "load_flake", held)
    yield release
    release.set()


@run_async
async def test_keys_before_the_flake_is_read_leave_one_table_and_the_users_focus(demo_repo, flake_reading_held):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+n", "ctrl+n", "escape", "down")
        assert app.screen.step == step_called("Repository") and not app.screen.query("#hosts")  # nothing to show yet
        await pilot.press("tab")
        focused = app.focused
        app.broadcast()
        flake_reading_held.set()
        await settle(pilot)
        app.broadcast()
        await settle(pilot)
        assert len(app.screen.query("#hosts")) == 1 and len(app.screen.query(".section-title")) == 2  # machines, set-up
        assert app.screen.query_one("#hosts", DataTable).row_count == 3
        assert focused is not None and app.focused is focused


@run_async
async def test_the_table_of_machines_is_made_once_across_steps(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = app.screen
        await pilot.press("ctrl+n", "escape", "ctrl+n", "escape")
        await settle(pilot)
        assert app.screen is first
        assert len(first.query("#hosts")) == 1 and len(first.query("#repo-warnings")) == 1
        assert first.query_one("#hosts", DataTable).row_count == 3
        assert app.focused is first.query_one("#body")


@run_async
async def test_the_repository_step_lists_the_existing_llama_cpp_set_up_found_after_the_machines(demo_repo, monkeypatch):
    """The demo's hand-written overlay and dead cache, with file and line, as `llamaflake hosts` lists them: looked
    for once the machines are shown, so the first screen waits for no file of the repository."""
    import threading

    import tui.core.report

    release = threading.Event()
    setup_entries = tui.core.report.setup_entries

    def held(flake):
        release.wait(20)
        return setup_entries(flake)

    monkeypatch.setattr(tui.core.report, "setup_entries", held)
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        while not app.screen.query("#hosts") or not app.screen.query_one("#hosts", DataTable).row_count:
            await pilot.pause(0.05)
        assert "looking through the files" in text_of(app, "#repo-setup")
        release.set()
        await settle(pilot)
        setup = text_of(app, "#repo-setup").splitlines()
        assert "nixos/pkgs/llama-cpp-variants.nix:3  package llama-cpp-cpu (hand-written)" in setup
        assert "nixos/nix.nix:9  dead cache https://cuda-maintainers.cachix.org" in setup
        assert "nixos/nix.nix:13  dead cache's key cuda-maintainers.cachix.org-1:…" in setup
        assert "The caches step offers to remove what the module supersedes." in setup
        assert "a set-up by hand (below)" in text_of(app, "#repo-summary")


@run_async
async def test_the_repository_step_lists_another_llama_cpp_input_and_the_service(tmp_path):
    repo = make_repo(
        tmp_path / "r",
        {
            "flake.nix": (
                "{\n  inputs = {\n"
                '    nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
                '    llama.url = "github:ggerganov/llama.cpp";\n'
                "  };\n"
                "  outputs = { self, nixpkgs, llama, ... }@inputs: {\n"
                "    nixosConfigurations.box = nixpkgs.lib.nixosSystem {\n"
                '      system = "x86_64-linux";\n'
                "      modules = [ ./box.nix ];\n"
                "    };\n"
                "  };\n}\n"
            ),
            "box.nix": "{ pkgs, ... }: {\n  services.llama-cpp.enable = true;\n}\n",
        },
    )
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        setup = text_of(app, "#repo-setup").splitlines()
        assert setup[0] == "flake.nix:4  llama.cpp flake input llama = github:ggerganov/llama.cpp"
        assert "box.nix:2  services.llama-cpp.enable, nixpkgs' llama.cpp service" in setup


@run_async
async def test_a_repository_without_a_llama_cpp_set_up_says_so(tmp_path):
    repo = make_repo(
        tmp_path / "r",
        {
            "flake.nix": (
                '{\n  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
                "  outputs = { self, nixpkgs, ... }: {\n"
                "    nixosConfigurations.box = nixpkgs.lib.nixosSystem { modules = [ ./box.nix ]; };\n"
                "  };\n}\n"
            ),
            "box.nix": "{ ... }: { }\n",
        },
    )
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert text_of(app, "#repo-setup").startswith("none: no llama.cpp input, package, overlay")
        assert text_of(app, "#repo-summary").endswith("not set up yet: no llama.cpp input")


@run_async
async def test_dirty_tree_and_unwireable_host_are_warned(tmp_path):
    repo = make_repo(
        tmp_path / "r",
        {
            "flake.nix": (
                '{\n  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
                "  outputs = { self, nixpkgs, ... }@inputs: {\n"
                "    nixosConfigurations.pi = nixpkgs.lib.nixosSystem {\n"
                '      system = "aarch64-linux";\n'
                "      modules = [ ./pi.nix ];\n"
                "    };\n"
                "    nixosConfigurations.odd = nixpkgs.lib.nixosSystem {\n"
                '      system = "x86_64-linux";\n'
                "      modules = builtins.attrValues (builtins.readDir ./hosts/odd);\n"
                "    };\n"
                "  };\n}\n"
            ),
            "pi.nix": "{ ... }: { }\n",
            "odd.nix": "{ ... }: { }\n",
        },
    )
    (repo / "pi.nix").write_text('{ ... }: { networking.hostName = "pi"; }\n')
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        warnings = text_of(app, "#repo-warnings")
        assert "dirty (1 changed)" in warnings and "pi.nix" in warnings
        assert "odd cannot be wired: its nixosSystem call has" in warnings
        assert "pi cannot be wired" not in warnings
        assert "imports = [" in warnings  # the snippet to paste by hand


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"README.md": "no flake here\n"}, "no flake.nix"),
        ({"flake.nix": "{\n  inputs = {\n    nixpkgs.url = ;\n  };\n}\n"}, "flake.nix:3:"),
    ],
)
@run_async
async def test_unreadable_repository_gives_an_error_dialog_and_exit_status_2(tmp_path, files, expected):
    repo = make_repo(tmp_path / "r", files)
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert expected in text_of(app, "#error-message")
        await pilot.press("enter")
        await pilot.pause()
    assert app.return_code == 2


@run_async
async def test_flake_input_step_previews_follows_and_validates_the_ref(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Flake input")
        diff = app.screen.query_one("#input-preview")
        assert 'llama-cpp.inputs.nixpkgs.follows = "nixpkgs";' in _diff_text(diff)
        await pilot.click("#follows")
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.state.follows == "nixpkgs-stable"
        assert 'follows = "nixpkgs-stable";' in _diff_text(app.screen.query_one("#input-preview"))
        app.screen.query_one("#ref", Input).focus()
        await pilot.press(*"b1; x")
        await pilot.pause()
        assert "malformed ref" in text_of(app, "#ref-problem")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.step == step_called("Flake input")  # a bad ref keeps the user here
        for _ in range(3):
            await pilot.press("backspace")
        await pilot.pause()
        assert app.state.ref == "b1"
        assert "github:ggml-org/llama.cpp/b1" in _diff_text(app.screen.query_one("#input-preview"))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.step == step_called("Repository")


def _diff_text(widget) -> str:
    from textual_diff_view import DiffView

    views = list(widget.query(DiffView))
    return "\n".join(v.code_modified for v in views)


@run_async
async def test_caches_step_defaults_dead_caches_and_custom_cache(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await go_to_step(pilot, "Caches")
        caches = app.screen.query_one("#caches", SelectionList)
        assert caches.selected == ["https://cache.nixos-cuda.org"]  # carbon has an NVIDIA GPU
        dead = [caches.get_option_at_index(i) for i in range(caches.option_count)]
        assert [o.value for o in dead if o.disabled] == [
            "https://cuda-maintainers.cachix.org",
            "https://llama-cpp.cachix.org",
        ]
        assert "--option extra-substituters https://cache.nixos-cuda.org" in text_of(app, "#first-rebuild")
        app.screen.query_one("#custom-url", Input).focus()
        await pilot.press(*"ftp://x")
        await pilot.pause()
        assert "substituter is a URL" in text_of(app, "#url-problem")
        app.screen.query_one("#custom-url", Input).value = "https://example.cachix.org"
        app.screen.query_one("#custom-key", Input).value = "not a key"
        await pilot.pause()
        assert "public key looks like" in text_of(app, "#key-problem")
        app.screen.query_one("#custom-key", Input).value = "example.cachix.org-1:" + "A" * 43 + "="
        await pilot.pause()
        assert text_of(app, "#key-problem") == "✓"
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert [c.url for c in app.state.caches] == ["https://cache.nixos-cuda.org", "https://example.cachix.org"]
        assert "https://example.cachix.org" in text_of(app, "#first-rebuild")
        assert "llama-cpp-variants.nix" in text_of(app, "#offer-list")
        await pilot.click("#cleanup")
        await pilot.pause()
        assert app.state.cleanup is True


@run_async
async def test_the_first_rebuild_example_is_a_machine_that_uses_the_cache(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await go_to_step(pilot, "Flake input")
        app.state.machines["carbon"].choice = "vulkan"
        app.state.machines["boron"].choice = "cuda"
        app.state.caches = [cache_by_name("nixos-cuda")]  # serves CUDA builds only
        await go_to_step(pilot, "Caches")
        example = text_of(app, "#first-rebuild")
        assert "rebuild boron (cuda) with:" in example and ".#boron --option extra-substituters" in example
        app.state.machines["boron"].choice = "cpu"
        app.screen._show_first_rebuild()
        await pilot.pause()
        assert "No machine uses these caches as the machines are now (they serve cuda builds)" in text_of(
            app, "#first-rebuild"
        )


@pytest.mark.slow
@run_async
async def test_machines_step_fills_in_and_takes_actions(demo_repo, tmp_path):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Machines")
        table = app.screen.query_one("#machines", DataTable)
        assert row_of(table, 0)[0] == "carbon ●"  # the hostname matched: detected here
        assert row_of(table, 0)[2] == "detected" and row_of(table, 0)[5] == "8.6"
        assert [row_of(table, i)[2] for i in range(3)] == ["detected", "hints", "facter"]
        assert "compute 8.6" in text_of(app, "#machine-detail")
        await pilot.press("down", "down")  # boron
        assert app.state.machines["boron"].variant == "cpu"
        await pilot.press("v")
        assert app.state.machines["boron"].variant == "cuda"
        await pilot.press("v", "v")
        assert app.state.machines["boron"].variant == "rocm"
        await pilot.press("x")
        assert app.state.machines["boron"].variant == "none"
        assert "boron" in app.state.answers().skip
        await pilot.press("x")  # back to the suggested build
        assert app.state.machines["boron"].variant == "cpu"
        # import a report for beryllium
        report = tmp_path / "beryllium.json"
        report.write_text("{}")
        await pilot.press("up", "i")
        await pilot.pause()
        app.screen.query_one(Input).value = str(tmp_path / "missing.json")
        await pilot.press("enter")
        await pilot.pause()
        assert "no such file" in text_of(app, "#ask-problem")
        app.screen.query_one(Input).value = str(report)
        await pilot.press("enter")
        await settle(pilot)
        beryllium = app.state.machines["beryllium"]
        assert beryllium.source == "imported beryllium.json" and beryllium.follow_hardware
        assert ("import_report", str(report)) in app.hardware.calls
        # an SSH scan that fails shows the message and the hint
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one(Input).value = "unreachable"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert "Connection refused" in text_of(app, "#error-message")
        assert "ssh unreachable" in text_of(app, "#error-hint")
        await pilot.press("escape")
        # mark boron as this machine: carbon goes back to its hints
        await pilot.press("down", "t")
        await settle(pilot)
        assert app.state.machines["boron"].this_machine and not app.state.machines["carbon"].this_machine
        assert app.state.machines["carbon"].report.source == "hints"


@run_async
async def test_machines_step_is_usable_before_detection_finishes(demo_repo):
    import threading

    release = threading.Event()

    class SlowHardware(FixedHardware):
        def this_machine(self):
            release.wait(30)
            return super().this_machine()

    app = LlamaflakeApp(demo_repo, hardware=SlowHardware(), shown_path="~/nixos-config")
    async with app.run_test(size=SIZE) as pilot:
        while not app.state.machines or app.state.machines["carbon"].report is None:
            await pilot.pause(0.05)  # the flake and carbon's hints are in; detection is still running
        await pilot.press(*["ctrl+n"] * (step_called("Machines") - 1))  # no settle: detection is still running
        await pilot.pause()
        assert app.screen.step == step_called("Machines")
        table = app.screen.query_one("#machines", DataTable)
        assert row_of(table, 0)[2] == "hints"  # carbon is not detected yet
        await pilot.press("v")
        assert app.state.machines["carbon"].choice is not None
        release.set()
        await settle(pilot)
        assert row_of(app.screen.query_one("#machines", DataTable), 0)[2] == "detected"


@run_async
async def test_default_hardware_source_runs_without_the_hardware_api(demo_repo):
    app = LlamaflakeApp(demo_repo, hardware=HardwareSource(), shown_path="~/nixos-config")
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Machines")
        carbon = app.state.machines["carbon"]
        assert carbon.recommendation is not None and carbon.variant in ("cpu", "cuda", "vulkan", "rocm")


@pytest.mark.slow
@run_async
async def test_review_toggles_hunks_files_and_split(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Review")
        plan = app.state.plan
        assert plan.change("flake.nix") is not None
        files = app.screen.query_one("#files", OptionList)
        assert files.option_count == len(plan.changes)
        blocks = list(app.screen.query(HunkBlock))
        assert len(blocks) == 4 and all(b.accepted for b in blocks)  # input + three machines attached
        blocks[1].focus()
        await pilot.press("space")
        await pilot.pause()
        assert app.state.accepted["flake.nix"] == {0, 2, 3} or len(app.state.accepted["flake.nix"]) == 3
        assert not blocks[1].accepted and blocks[1].has_class("-rejected")
        await pilot.press("d")
        await settle(pilot)
        assert app.state.split_diff
        assert all(b.split for b in app.screen.query(HunkBlock))
        assert isinstance(app.focused, HunkBlock) and app.focused.number == 2
        await pilot.press("f")  # the whole file: partly accepted -> all accepted
        await pilot.pause()
        assert len(app.state.accepted["flake.nix"]) == 4
        await pilot.press("f")
        await pilot.pause()
        assert app.state.accepted["flake.nix"] == set()
        validation = text_of(app, "#validation")
        assert "every Nix file parses" in validation
        assert "needs the llama.cpp flake input" in validation
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.step == step_called("Review")  # a configuration that would not build is not committed


def footer_keys(app) -> dict[str, tuple[str, bool]]:
    """What the footer shows for each key: its words, and whether they are dimmed (the key does nothing there)."""
    return {key.key: (key.description, key.has_class("-disabled")) for key in app.screen.query("FooterKey")}


@pytest.mark.slow
@run_async
async def test_space_on_the_file_list_toggles_the_file_as_the_footer_says(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Review")
        assert app.focused is app.screen.query_one("#files", OptionList)
        assert footer_keys(app)["space"] == ("File ✓/✗", False) and "f" not in footer_keys(app)  # one key said
        await pilot.press("space")
        await pilot.pause()
        assert app.state.accepted["flake.nix"] == set()
        assert not any(block.accepted for block in app.screen.query(HunkBlock))
        await pilot.press("space")
        await pilot.pause()
        assert len(app.state.accepted["flake.nix"]) == 4
        await pilot.press("down", "space")  # the file highlighted now, and no other
        await pilot.pause()
        assert app.state.accepted["nixos/llama-cpp/default.nix"] == set() and len(app.state.accepted["flake.nix"]) == 4
        await pilot.press("up", "tab")  # into flake.nix's hunks: space is about the hunk with focus
        await pilot.pause()
        assert isinstance(app.focused, HunkBlock) and app.focused.number == 1
        assert footer_keys(app)["space"] == ("Hunk ✓/✗", False) and footer_keys(app)["f"] == ("File ✓/✗", False)
        await pilot.press("space")
        await pilot.pause()
        assert app.state.accepted["flake.nix"] == {1, 2, 3}
        app.screen.query_one("#proof-scroll").focus()  # neither a file nor a hunk: space does nothing
        await pilot.pause()
        assert footer_keys(app)["space"] == ("Hunk ✓/✗", True)
        await pilot.press("space")
        await pilot.pause()
        assert app.state.accepted["flake.nix"] == {1, 2, 3}


@run_async
async def test_each_machine_s_import_is_a_hunk_to_reject_alone(tmp_path):
    from conftest import compact_repo

    from tui.core.hunks import accepted_plan

    app = make_app(compact_repo(tmp_path / "compact"))
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Review")
        blocks = list(app.screen.query(HunkBlock))
        assert blocks[0].change.path == "flake.nix"
        assert [block.machine for block in blocks] == [None, "carbon", "boron"]  # the input, then each machine
        assert str(blocks[1].query_one(".hunk-header", Static).render()).endswith("for carbon")
        blocks[1].focus()
        await pilot.press("space")
        await pilot.pause()
        flake_nix = accepted_plan(app.state.plan, app.state.accepted).change("flake.nix").new
        assert b"machines/boron.nix" in flake_nix and b"machines/carbon.nix" not in flake_nix
        validation = text_of(app, "#validation")
        assert "every Nix file parses" in validation
        assert "nothing imports llama-cpp/machines/carbon.nix yet: carbon keeps its old build" in validation
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.step == step_called("Commit")


@pytest.mark.slow
@run_async
async def test_command_palette_has_the_wizard_commands(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"split")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.state.split_diff
        await pilot.press("ctrl+p")
        await pilot.press(*"rescan")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.hardware.calls.count(("this_machine", "")) == 2
        await pilot.press("ctrl+p")
        await pilot.press(*"light")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert not app.current_theme.dark
        await pilot.press("f1")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"


@pytest.mark.slow
@run_async
async def test_commit_failure_shows_the_error_and_commits_nothing(demo_repo):
    hook = demo_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'nixfmt: flake.nix is not formatted' >&2\nexit 1\n")
    hook.chmod(0o755)
    head = git.Repo(demo_repo).head.commit.hexsha
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Commit")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert "nixfmt: flake.nix is not formatted" in app.screen.query_one("#error-details", TextArea).text
        assert {b.id for b in app.screen.query(Button)} == {"action-retry", "action-abort"}
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.step == step_called("Commit") and not app.screen.done
        assert app.screen.pending is None
    repo = git.Repo(demo_repo)
    assert repo.head.commit.hexsha == head
    assert not repo.is_dirty(untracked_files=True), repo.git.status()


@pytest.mark.slow
@run_async
async def test_refused_commit_can_be_retried_after_fixing_the_hook(demo_repo):
    hook = demo_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'not yet' >&2\nexit 1\n")
    hook.chmod(0o755)
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Commit")
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert (demo_repo / "nixos/llama-cpp/default.nix").exists(), "kept written for the retry"
        hook.write_text("#!/bin/sh\nexit 0\n")
        await pilot.click("#action-retry")
        await settle(pilot)
        assert app.screen.step == step_called("Commit") and app.screen.done
    commit = git.Repo(demo_repo).head.commit
    assert "Generated-by: llamaflake" in commit.message
    assert "nixos/llama-cpp/default.nix" in commit.stats.files


@pytest.mark.slow
@run_async
async def test_quitting_at_a_refused_commit_puts_everything_back_and_says_so(demo_repo):
    hook = demo_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'not yet' >&2\nexit 1\n")
    hook.chmod(0o755)
    head = git.Repo(demo_repo).head.commit.hexsha
    app = make_app(demo_repo)
    said = []
    exit_app = app.exit
    app.exit = lambda *args, **kwargs: (said.append(str(kwargs.get("message"))), exit_app(*args, **kwargs))
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Commit")
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert (demo_repo / "nixos/llama-cpp/default.nix").exists()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 1
    assert said == ["llamaflake: quit: nothing was committed; every file and the index are back as they were"]
    repo = git.Repo(demo_repo)
    assert repo.head.commit.hexsha == head
    assert not repo.is_dirty(untracked_files=True), repo.git.status()
    assert not (demo_repo / ".git/llamaflake/journal").exists()


@pytest.mark.slow
@run_async
async def test_a_plan_made_stale_by_a_commit_is_refused_and_made_again(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Commit")
        flake = demo_repo / "flake.nix"
        flake.write_text(flake.read_text() + "# committed in another terminal meanwhile\n")
        git.Repo(demo_repo).git.commit("-qam", "mine", "--no-verify")
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert "flake.nix changed since the plan was made" in text_of(app, "#error-message")
        assert not (demo_repo / "nixos/llama-cpp").exists()
        await pilot.click("#action-replan")
        await settle(pilot)
        assert app.screen.step == step_called("Review")
        assert app.state.plan.change("flake.nix").old.endswith(b"# committed in another terminal meanwhile\n")
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.step == step_called("Commit") and app.screen.done
    committed = git.Repo(demo_repo).git.show("HEAD:flake.nix")
    assert "# committed in another terminal meanwhile" in committed and "llama-cpp" in committed


@run_async
async def test_an_uncommitted_edit_of_flake_nix_is_said_and_can_be_included(demo_repo):
    flake = demo_repo / "flake.nix"
    flake.write_text(flake.read_text() + "# my edit, not committed yet\n")
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "flake.nix: changed and not committed, and the change writes it too" in text_of(app, "#repo-warnings")
        await go_to_step(pilot, "Commit")
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert "have changes that are not committed: flake.nix" in text_of(app, "#error-message")
        await pilot.click("#action-include")
        await settle(pilot)
        assert app.screen.step == step_called("Commit") and app.screen.done
    commit = git.Repo(demo_repo).head.commit
    assert "Generated-with-your-changes: flake.nix" in commit.message
    assert "# my edit, not committed yet" in git.Repo(demo_repo).git.show("HEAD:flake.nix")


@run_async
async def test_a_flake_without_machines_says_why_and_what_to_do(tmp_path):
    from conftest import make_repo

    root = make_repo(
        tmp_path / "config",
        {
            "flake.nix": (
                '{\n  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
                "  outputs = { self, nixpkgs }: {\n"
                "    nixosConfigurations = builtins.listToAttrs (builtins.genericClosure { startSet = [ ]; operator = _: [ ]; });\n"
                "  };\n}\n"
            )
        },
    )
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = text_of(app, "#repo-warnings")
        assert "no machines found." in text and "Nix was not asked (--no-nix)" in text, text
        assert "nix eval .#nixosConfigurations --apply builtins.attrNames" in text


class ManyMachines(FixedProof):
    """Thirteen machines not verified for one reason, and ten that evaluate."""

    def prove(self, root, changes, hosts, progress=None, intended=None):
        from tui.core.proof import Proof
        from tui.core.validate import NOT_CHECKED, OK, Check

        offline = [
            Check(f"evaluate m{i}", NOT_CHECKED, "offline: an input could not be fetched", host=f"m{i}")
            for i in range(13)
        ]
        fine = [Check(f"evaluate ok{i}", OK, "", host=f"ok{i}", package="llama-cpp-b6500") for i in range(10)]
        return Proof(machines=offline + fine)


@run_async
async def test_the_proof_of_many_machines_groups_one_reason_and_scrolls(demo_repo):
    app = make_app(demo_repo, proof=ManyMachines())
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Review")
        await settle(pilot)
        view = app.screen.query_one("#proof")
        text = str(view.render())
        assert "13 machines (m0, m1, m2" in text and "not verified: offline: an input could not be fetched" in text
        assert "m12: not verified" not in text
        scroll = app.screen.query_one("#proof-scroll")
        assert scroll.max_scroll_y > 0
        scroll.focus()
        await pilot.press("down")
        await pilot.pause()
        assert scroll.scroll_y > 0


class LockFails(FixedProof):
    """Nix cannot lock the flake's inputs: no machine is evaluated, and the commit's own check would fail."""

    def prove(self, root, changes, hosts, progress=None, intended=None):
        from tui.core.proof import Proof
        from tui.core.validate import FAILED, Check

        return Proof(
            other=[Check("lock the flake's inputs", FAILED, "error: unsupported tarball input attribute")],
            not_evaluated="the flake's inputs are not locked",
        )


@run_async
async def test_a_failed_lock_in_the_review_asks_before_committing(demo_repo):
    app = make_app(demo_repo, proof=LockFails())
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Review")
        await settle(pilot)
        # One reason for all three machines: one line, not three.
        text = str(app.screen.query_one("#proof").render())
        assert (
            "✗ 3 machines (carbon, beryllium, boron): does not evaluate: the flake's inputs are not locked" in text
        ), text
        await go_to_step(pilot, "Commit")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog), type(app.screen).__name__
        assert "Nix fails at “lock the flake's inputs”" in text_of(app, "#error-message")
        assert {b.id for b in app.screen.query(Button)} >= {"action-back", "action-anyway"}


@run_async
async def test_every_default_ctrl_n_alone_and_one_enter_commit(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in STEPS:
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.step == step_called("Commit") and app.screen.done
    commit = git.Repo(demo_repo).head.commit
    assert commit.message.startswith("llama-cpp: build llama.cpp from its flake for carbon, beryllium, boron")
    assert "- carbon: cuda" in commit.message and "- beryllium: vulkan" in commit.message
    assert "- boron: cpu, CPU" in commit.message  # the facter report's flags, not the portable build
    assert len(commit.parents) == 1


@pytest.mark.slow
@run_async
async def test_whole_flow_with_ctrl_n_commits_without_the_rejected_hunk(demo_repo):
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Review")
        # reject the hunk that attaches boron in flake.nix
        blocks = list(app.screen.query(HunkBlock))
        boron = next(b for b in blocks if b"machines/boron.nix" in _added(b))
        boron.focus()
        await pilot.press("space")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.step == step_called("Commit")
        message = app.screen.query_one("#message", TextArea)
        message.text = "llama-cpp: my own subject\n"
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.done
        assert "Committed" in text_of(app, "#result-head")
        rebuild = text_of(app, "#rebuild")
        assert (
            "sudo nixos-rebuild switch --flake .#carbon --option extra-substituters https://cache.nixos-cuda.org"
            in rebuild
        )
        # after the switch, on the same machine: is the chosen build what runs?
        assert rebuild.index("llamaflake verify --host carbon") > rebuild.index(".#carbon")
        assert "llamaflake undo" in text_of(app, "#undo")
    repo = git.Repo(demo_repo)
    commit = repo.head.commit
    assert commit.message.startswith("llama-cpp: my own subject\n\n")
    assert commit.message.endswith("Generated-by: llamaflake 0.1.0\n")  # undo finds an edited message's commit too
    committed_flake = (commit.tree / "flake.nix").data_stream.read()
    assert b"./nixos/llama-cpp/machines/carbon.nix" in committed_flake
    assert b"./nixos/llama-cpp/machines/boron.nix" not in committed_flake
    assert b'llama-cpp.url = "github:ggml-org/llama.cpp";' in committed_flake
    carbon = (commit.tree / "nixos/llama-cpp/machines/carbon.nix").data_stream.read()
    assert b'variant = "cuda";' in carbon and b'"8.6"' in carbon
    module = (commit.tree / "nixos/llama-cpp/default.nix").data_stream.read()
    assert b"https://cache.nixos-cuda.org" in module
    assert not repo.is_dirty(untracked_files=True)


def _added(block: HunkBlock) -> bytes:
    new = block.change.new.splitlines()
    return b"\n".join(line for tag, _, _, j1, j2 in block.hunk.opcodes if tag != "equal" for line in new[j1:j2])


@run_async
async def test_write_without_committing(demo_repo):
    head = git.Repo(demo_repo).head.commit.hexsha
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await write_without_committing(pilot)
        assert "not committed" in text_of(app, "#result-head")
        assert "git restore --source=HEAD -- flake.nix" in text_of(app, "#undo")
    repo = git.Repo(demo_repo)
    assert repo.head.commit.hexsha == head
    assert repo.is_dirty(path="flake.nix")
    assert (Path(demo_repo) / "nixos/llama-cpp/default.nix").is_file()


@pytest.mark.slow
@run_async
async def test_second_run_reads_back_the_settings_and_changes_nothing(demo_repo):
    first = make_app(demo_repo)
    async with first.run_test(size=SIZE) as pilot:
        await go_to_step(pilot, "Commit")
        await pilot.press("ctrl+n", "enter")
        await settle(pilot)
        assert first.screen.done
    app = make_app(demo_repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        summary = text_of(app, "#repo-summary")
        assert "input llama-cpp = github:ggml-org/llama.cpp, follows nixpkgs" in summary
        assert "carbon (cuda), beryllium (vulkan), boron (cpu)" in summary
        await go_to_step(pilot, "Machines")
        table = app.screen.query_one("#machines", DataTable)
        assert row_of(table, 0)[4] == "cuda ="  # kept from the repository
        await go_to_step(pilot, "Review")  # through the serve step, no model chosen
        assert app.state.plan.is_empty
        assert "Nothing to change" in text_of(app, "#review-summary")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.step == step_called("Review")


@pytest.mark.skipif(
    shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed (Debian: nix-bin)"
)
@run_async
async def test_an_nvidia_gpu_is_judged_by_the_cuda_release_of_the_flakes_nixpkgs(demo_repo, tmp_path):
    """boron has a Pascal GPU: the flake's nixpkgs has CUDA 13, which no longer builds for it."""
    from tui.core.hardware.reports import load_report

    lock_to_fake_nixpkgs(demo_repo, tmp_path / "nixpkgs", "13.0")

    class PascalBoron(FixedHardware):
        def hints(self, flake, host):
            if host == "boron":
                return load_report(
                    Path(__file__).parents[1] / "fixtures/hardware/facter/gpus/pascal-gtx-1080.facter.json"
                )
            return super().hints(flake, host)

    app = LlamaflakeApp(demo_repo, hardware=PascalBoron(), proof=ProofSource(timeout=60))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        recommendation = app.state.machines["boron"].recommendation
        assert recommendation.variant == "vulkan", recommendation.reasons
        assert any("CUDA 13.0" in reason for reason in recommendation.reasons), recommendation.reasons


class MarkupHardware(FixedHardware):
    """Hardware whose words read like markup."""

    def hints(self, flake, host: str) -> HardwareReport:
        return HardwareReport(
            source="hints",
            hostname=host,
            system="x86_64-linux",
            gpus=[GpuInfo("nvidia", "GPU [/] [b]x")],
            notes=["a [/] note"],
        )


@pytest.mark.slow
@run_async
async def test_names_urls_and_reports_that_read_like_markup_are_shown_as_they_are(tmp_path):
    from tui.core.nix.syntax import nix_attr_name

    hosts = "".join(
        f"    nixosConfigurations.{nix_attr_name(name)} = nixpkgs.lib.nixosSystem {{ modules = [ ./h{i}.nix ]; }};\n"
        for i, name in enumerate(["lab[/]1", "lab[b]1"])
    )
    repo = make_repo(
        tmp_path / "r",
        {
            "flake.nix": (
                '{\n  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
                "  outputs = { self, nixpkgs, ... }@inputs: {\n" + hosts + "  };\n}\n"
            ),
            "h0.nix": "{ ... }: { }\n",
            "h1.nix": "{ ... }: { }\n",
        },
    )
    app = LlamaflakeApp(repo, hardware=MarkupHardware(), proof=ProofSource(use_nix=False), shown_path="~/[/]")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#hosts", DataTable)
        assert [row_of(table, i)[0] for i in range(2)] == ["lab[/]1", "lab[b]1"]
        await go_to_step(pilot, "Caches")
        app.screen.query_one("#custom-url", Input).value = "https://lab.example/[/]c"
        app.screen.query_one("#custom-key", Input).value = "lab[/]-1:AAAA"
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert "lab[/]-1:AAAA" in list(app._notifications)[-1].message
        app.screen.query_one("#custom-key", Input).value = "lab-1:" + "A" * 43 + "="
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert "https://lab.example/[/]c" in list(app._notifications)[-1].message
        await go_to_step(pilot, "Machines")
        table = app.screen.query_one("#machines", DataTable)
        assert row_of(table, 0)[1] == "GPU [/] [b]x"
        assert "a [/] note" in text_of(app, "#machine-detail")
        await pilot.press("s")
        await pilot.pause()
        assert str(app.screen.query_one(".dialog-title", Label).render()) == "Scan lab[/]1 over SSH"
        app.screen.query_one(Input).value = "unreachable"
        await pilot.press("enter")
        await settle(pilot)
        assert str(app.screen.query_one(".dialog-title", Label).render()) == "Hardware of lab[/]1"
        await pilot.press("escape", "x")  # a name with a slash cannot get a settings file
        await write_without_committing(pilot)
        assert "lab[b]1.nix" in text_of(app, "#undo")
    assert [p.name for p in repo.rglob("*.nix") if "[" in p.name] == ["lab[b]1.nix"]


@run_async
async def test_the_flake_input_and_caches_steps_focus_their_main_control_on_arrival_and_return(demo_repo):
    """The arrow keys move within the step's main control, not scroll the page, when it is shown and when the
    user comes back to it; a dialog closed over it leaves the focus where it was."""
    app = make_app(demo_repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to_step(pilot, "Flake input")
        follows = app.screen.query_one("#follows")
        assert app.focused is follows
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.state.follows == "nixpkgs-stable" and app.screen.query_one("#body").scroll_y == 0
        await go_to_step(pilot, "Caches")
        caches = app.screen.query_one("#caches", SelectionList)
        assert app.focused is caches and caches.highlighted == 0
        await pilot.press("down")
        assert caches.highlighted == 1 and app.screen.query_one("#body").scroll_y == 0
        await pilot.press("ctrl+n", "escape")  # to the machines step and back
        await settle(pilot)
        assert app.focused is caches
        app.screen.query_one("#custom-url", Input).focus()
        await pilot.press("f1", "escape")  # the help, closed: the focus stays in the field
        await pilot.pause()
        assert app.focused is app.screen.query_one("#custom-url", Input)
        await pilot.press("escape")  # back to the flake input
        await settle(pilot)
        assert app.focused is app.screen.query_one("#follows")
        app.screen.query_one("#ref", Input).focus()
        await pilot.press("ctrl+n", "escape")
        await settle(pilot)
        assert app.focused is app.screen.query_one("#follows")
