"""The headless pipeline on the demo repository: answers -> plan -> diff -> write, and back again."""

from __future__ import annotations

import git
import pytest
from conftest import assert_nix_parses

from tui.cli import main
from tui.core.answers import Answers, MachineAnswer
from tui.core.apply import apply_plan
from tui.core.caches import cache_by_name
from tui.core.diff import plan_diff
from tui.core.errors import AnswerError
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan
from tui.core.read_back import read_machine_settings

DEMO_ANSWERS = ["--host", "carbon=cuda", "--host", "beryllium=vulkan", "--host", "boron=cpu"]


def demo_answers() -> Answers:
    return Answers(
        machines={
            "carbon": MachineAnswer("cuda", cuda_capabilities=["8.6"]),
            "beryllium": MachineAnswer("vulkan"),
            "boron": MachineAnswer("cpu", cpu_flags=["sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"]),
        },
        caches=[cache_by_name("nixos-cuda")],
    )


def test_demo_hosts_are_found_with_their_files(demo_repo):
    flake = load_flake(demo_repo)
    assert [h.name for h in flake.hosts] == ["carbon", "beryllium", "boron"]
    carbon = flake.host("carbon")
    assert carbon.builder == "nixpkgs.lib.nixosSystem"
    assert carbon.module_files == ["nixos/default.nix", "machines/carbon.nix"]
    assert carbon.system == "x86_64-linux"
    assert carbon.inputs_in_modules is True
    assert flake.host("beryllium").hardware_modules == ["inputs.nixos-hardware.nixosModules.framework-13-7040-amd"]


def test_demo_plan_adds_input_once_module_and_each_machine(demo_repo, capsys):
    assert main(["plan", "--flake", str(demo_repo), *DEMO_ANSWERS]) == 0
    out, err = capsys.readouterr()
    assert out.count('llama-cpp.url = "github:ggml-org/llama.cpp";') == 1
    assert 'llama-cpp.inputs.nixpkgs.follows = "nixpkgs";' in out
    assert "+++ b/nixos/llama-cpp/default.nix" in out
    for host in ("carbon", "beryllium", "boron"):
        assert f"+++ b/nixos/llama-cpp/machines/{host}.nix" in out
        assert f"+          ./nixos/llama-cpp/machines/{host}.nix" in out
    assert "llama-cpp-variants.nix" in err and "--cleanup" in err
    code = [line.split("#")[0] for line in out.splitlines() if line.startswith("+")]
    assert not any("-march=native" in line for line in code)
    assert not any('"GGML_NATIVE" true' in line for line in code)
    assert sum('"GGML_NATIVE" false' in line for line in code) == 1


def test_every_written_nix_file_parses_and_rerun_changes_nothing(demo_repo, capsys):
    flake = load_flake(demo_repo)
    plan = make_plan(flake, demo_answers())
    result = apply_plan(plan)
    assert result.commit
    for path in result.paths:
        assert_nix_parses(demo_repo / path)
    again = make_plan(load_flake(demo_repo), demo_answers())
    assert again.is_empty, plan_diff(again)
    assert main(["plan", "--flake", str(demo_repo), "--check", *DEMO_ANSWERS]) == 0
    assert "nothing to change" in capsys.readouterr().err


def test_settings_are_read_back(demo_repo):
    apply_plan(make_plan(load_flake(demo_repo), demo_answers()))
    source = (demo_repo / "nixos/llama-cpp/machines/carbon.nix").read_bytes()
    settings = read_machine_settings(source)
    assert settings.variant == "cuda"
    assert settings.cuda_capabilities == ["8.6"]
    assert settings.all_variants is True
    boron = read_machine_settings((demo_repo / "nixos/llama-cpp/machines/boron.nix").read_bytes())
    assert boron.cpu_flags == ["sse4_2", "avx", "f16c", "fma", "bmi2", "avx2"]


def test_changing_one_machine_changes_only_its_file(demo_repo):
    apply_plan(make_plan(load_flake(demo_repo), demo_answers()))
    answers = Answers(machines={"beryllium": MachineAnswer("cpu")})
    plan = make_plan(load_flake(demo_repo), answers)
    assert [c.path for c in plan.changes] == ["nixos/llama-cpp/machines/beryllium.nix"]
    assert b'variant = "cpu";' in plan.changes[0].new


def test_apply_commits_only_the_plan(demo_repo):
    (demo_repo / "README.md").write_text("my own unstaged edit\n")
    apply_plan(make_plan(load_flake(demo_repo), demo_answers()))
    repo = git.Repo(demo_repo)
    committed = repo.git.show("--name-only", "--format=", "HEAD").split()
    assert "README.md" not in committed
    assert "flake.nix" in committed and "nixos/llama-cpp/default.nix" in committed
    assert repo.is_dirty(path="README.md")
    message = repo.head.commit.message
    assert "carbon: cuda" in message and "Generated-by: llamaflake" in message


def test_cleanup_removes_overlay_and_dead_caches(demo_repo):
    answers = demo_answers()
    answers.cleanup = True
    plan = make_plan(load_flake(demo_repo), answers)
    kinds = {c.path: c.kind for c in plan.changes}
    assert kinds["nixos/pkgs/llama-cpp-variants.nix"] == "delete"
    nixos_default = plan.change("nixos/default.nix").new.decode()
    assert "llama-cpp-variants" not in nixos_default
    assert "outputs.overlays.stable" in nixos_default
    assert "hand-made" not in nixos_default, "the comment describing the overlay goes with it"
    nix_nix = plan.change("nixos/nix.nix").new.decode()
    assert "cuda-maintainers" not in nix_nix and "https://cache.nixos.org" in nix_nix
    assert "CUDA builds for carbon" not in nix_nix
    apply_plan(plan)
    assert not (demo_repo / "nixos/pkgs/llama-cpp-variants.nix").exists()
    assert_nix_parses(demo_repo / "nixos/default.nix")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--host", "nitrogen=cpu"], "unknown host 'nitrogen'"),
        (["--host", "carbon=opencl"], "unknown variant 'opencl'"),
        (["--host", "boron=cpu", "--cpu-flags", "boron=avx2;rm"], "malformed CPU flag"),
        (["--host", "carbon=cuda", "--cuda", "carbon=sm86"], "malformed CUDA capability"),
        (["--host", "carbon"], "give it as NAME=VALUE"),
        (["--host", "carbon="], "--host carbon=: give the machine's variant"),
        (["--host", "carbon=cpu", "--cache", "cuda-maintainers-typo"], "unknown cache"),
        (["--host", "carbon=cpu", "--cache", "https://x.cachix.org=notakey"], "public key"),
        (["--host", "carbon=cpu", "--follows", "nixpkgs-unstable"], "no input 'nixpkgs-unstable'"),
    ],
)
def test_bad_answers_give_one_line_and_write_nothing(demo_repo, capsys, argv, message):
    before = {p: p.read_bytes() for p in demo_repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert main(["apply", "--flake", str(demo_repo), "--yes", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    after = {p: p.read_bytes() for p in demo_repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert before == after


def test_rocm_refused_on_aarch64(tmp_path):
    from conftest import make_repo

    repo = make_repo(
        tmp_path / "r",
        {
            "flake.nix": (
                '{\n  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
                "  outputs = { self, nixpkgs, ... }@inputs: {\n"
                "    nixosConfigurations.pi = nixpkgs.lib.nixosSystem {\n"
                '      system = "aarch64-linux";\n'
                "      specialArgs = { inherit inputs; };\n"
                "      modules = [ ./pi.nix ];\n"
                "    };\n  };\n}\n"
            ),
            "pi.nix": "{ ... }: { }\n",
        },
    )
    with pytest.raises(AnswerError, match="ROCm only on x86_64-linux"):
        make_plan(load_flake(repo), Answers(machines={"pi": MachineAnswer("rocm")}))


def test_wizard_without_a_terminal_points_to_the_subcommands(demo_repo, capsys):
    assert main([str(demo_repo)]) == 2
    err = capsys.readouterr().err
    assert "needs a terminal" in err and "plan" in err


def test_not_a_repository_is_said_once_with_the_way_forward(tmp_path, capsys):
    import shutil

    from tui.core.demo import demo_source

    folder = tmp_path / "plain"
    shutil.copytree(demo_source(), folder)
    before = (folder / "flake.nix").read_bytes()
    assert main(["apply", "--flake", str(folder), "--host", "boron=cpu", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.count("is not inside a git repository") == 1
    assert "--init" in err
    assert (folder / "flake.nix").read_bytes() == before
    assert not (folder / "nixos" / "llama-cpp").exists()


def test_removing_a_middle_element_keeps_the_comments_around_it():
    from tui.core.nix.edits import apply_edits, remove_list_item
    from tui.core.nix.syntax import parse

    source = b'[\n  # first\n  "a"\n  "dead" # old cache\n  # about b\n  "b"\n]\n'
    tree = parse(source)
    item = next(n for n in tree.walk() if n.kind == "NODE_STRING" and n.text == '"dead"')
    result = apply_edits(source, [remove_list_item(source, item)])
    assert result == b'[\n  # first\n  "a"\n  # about b\n  "b"\n]\n'


def test_without_the_parser_the_message_is_clear(demo_repo, monkeypatch, capsys):
    import tui.core.nix.syntax as syntax

    monkeypatch.setattr(syntax, "_rnix", None)
    assert main(["hosts", "--flake", str(demo_repo)]) == 2
    err = capsys.readouterr().err
    assert "parser (pynix-parser) is not available on this platform" in err and "Traceback" not in err


def test_cuda_answers_without_cache_options_set_the_recommended_caches_as_the_wizard_does(demo_repo, capsys):
    """The wizard starts its caches step with the recommended CUDA caches; the same answers on the command
    line give the same module, and say so."""
    from tui.app.state import MachineState, WizardState
    from tui.core.caches import known_caches

    recommended = [cache for cache in known_caches() if cache.recommended]
    assert recommended, "caches.toml recommends a cache for CUDA builds"
    flake = load_flake(demo_repo)
    plan = make_plan(flake, Answers(machines={"carbon": MachineAnswer("cuda")}))
    wizard = WizardState(path=demo_repo, display_path=str(demo_repo), existing_caches=None)
    wizard.machines = {"carbon": MachineState(flake.host("carbon"), choice="cuda", scanning=False)}
    assert wizard.machines["carbon"].variant == "cuda"
    assert plan.caches == recommended == wizard.default_caches()

    assert main(["plan", "--flake", str(demo_repo), "--no-nix", "--host", "carbon=cuda"]) == 0
    out, err = capsys.readouterr()
    assert all(cache.url in out for cache in recommended)
    assert "as recommended for the CUDA builds (choose others with --cache, or none with --no-caches)" in err

    assert main(["plan", "--flake", str(demo_repo), "--no-nix", "--host", "carbon=cuda", "--no-caches"]) == 0
    out, err = capsys.readouterr()
    assert not any(cache.url in out for cache in recommended) and "as recommended" not in err
    assert main(["plan", "--flake", str(demo_repo), "--no-nix", "--host", "boron=cpu"]) == 0
    assert not any(cache.url in capsys.readouterr().out for cache in recommended)


def test_time_limits_are_said_the_same_in_the_readme_and_in_help(capsys):
    from pathlib import Path

    from tui.core.judge import DEFAULT_DISCOVERY_TIMEOUT
    from tui.core.validate import DEFAULT_EVAL_TIMEOUT

    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert (
        f"by default {DEFAULT_DISCOVERY_TIMEOUT} s for asking Nix which machines exist, "
        f"{DEFAULT_EVAL_TIMEOUT} s for locking and for each machine's evaluation"
    ) in readme
    for command in ("plan", "hosts", "apply"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        help_text = " ".join(capsys.readouterr().out.split())
        assert f"which machines exist (default: {DEFAULT_DISCOVERY_TIMEOUT})" in help_text, command
    assert f"each machine's evaluation (default: {DEFAULT_EVAL_TIMEOUT})" in help_text


def test_a_file_that_attaches_several_machines_names_them_in_one_reason(demo_repo):
    flake_nix = next(c for c in make_plan(load_flake(demo_repo), demo_answers()).changes if c.path == "flake.nix")
    assert "attach llama.cpp settings to carbon, beryllium, boron" in flake_nix.reason
    assert flake_nix.reason.count("attach llama.cpp settings") == 1


def test_lists_given_on_one_line_split_on_commas_and_any_blank():
    from tui.core.answers import split_list

    assert split_list("8.6,12.0a") == split_list(" 8.6 , 12.0a ") == split_list("8.6\t12.0a") == ["8.6", "12.0a"]
    assert split_list("8.6,,\n") == ["8.6"] and split_list("") == []
