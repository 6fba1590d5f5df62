"""Nothing from outside becomes Nix code, a path outside the repository, or a shell command."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import git
import pytest
from conftest import NIX_INSTANTIATE, make_repo, requires_nix
from hostile_repos import assert_one_line_refusal, run_cli, small_repo

from tui.core.answers import Answers, MachineAnswer
from tui.core.errors import LlamaflakeError
from tui.core.next_steps import rebuild_commands
from tui.core.nix.flake import load_flake
from tui.core.nix.syntax import (
    nix_attr_name,
    nix_comment,
    nix_keyed_path,
    nix_relative_path,
    nix_string,
    nix_string_literal,
    parse,
)
from tui.core.plan import make_plan


def nix_eval(expr: str, cwd: Path) -> str:
    result = subprocess.run(
        [NIX_INSTANTIATE, "--eval", "--strict", "--json", "-E", expr],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def tree_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


# ---- 1. report text in comments ---------------------------------------------------------------

INJECTED = 'x = 1;\r  users.users.root.password = "pwned"; #'


@requires_nix
@pytest.mark.parametrize("breaker", ["\r", "\n", "\x0b\r\n", "\u2028\r"])
def test_a_report_model_name_never_ends_the_comment(tmp_path, breaker):
    root = small_repo(tmp_path / "repo", ["boron"])
    report = {
        "source": "this-machine",
        "hostname": "elsewhere",
        "system": "x86_64-linux",
        "cpu": {
            "vendor": "GenuineIntel",
            "model": "Core i7" + breaker + INJECTED,
            "arch": "x86_64",
            "cores": 4,
            "flags": ["sse4_2", "avx", "avx2", "fma", "f16c"],
        },
        "gpus": [{"vendor": "nvidia", "name": "RTX" + breaker + 'evil = throw "x"; #', "compute_capability": "8.6"}],
        "notes": ["note" + breaker + "another = 2;"],
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    result = run_cli(["apply", "--flake", str(root), "--report", f"boron={tmp_path / 'report.json'}", "--yes"])
    assert result.returncode == 0, result.stderr
    machine = root / "llama-cpp/machines/boron.nix"
    data = machine.read_bytes()
    assert b"\r" not in data and b"\x0b" not in data and "\u2028".encode() not in data
    header = data.decode().split("\n{", 1)[0]
    assert all(line.startswith("#") for line in header.splitlines())
    # Nix itself sees only the two attributes the file is meant to have.
    attrs = nix_eval(f"builtins.attrNames (import {machine})", root)
    assert attrs == ["imports", "local"]
    assert nix_eval(f"builtins.attrNames (import {machine}).local.llama-cpp", root) == [
        "cpu",
        "cuda",
        "enable",
        "variant",
    ]


def test_the_comment_helper_keeps_one_printable_line():
    assert nix_comment("a\rb\nc\td\x00e\u2028f\x1b[31m") == "a b c d e f [31m"


def test_strings_escape_control_characters_and_interpolation():
    assert nix_string('a"b\\c${d}\n\r\t') == 'a\\"b\\\\c\\${d}\\n\\r\\t'


@requires_nix
def test_machine_settings_from_the_repository_are_written_as_strings(tmp_path):
    """A hand-edited machine file read back must not turn its strings into code on the next write."""
    root = small_repo(tmp_path / "repo", ["boron"])
    assert (
        run_cli(["apply", "--flake", str(root), "--host", "boron=cpu", "--cpu-flags", "boron=avx2", "--yes"]).returncode
        == 0
    )
    machine = root / "llama-cpp/machines/boron.nix"
    text = machine.read_text().replace('variant = "cpu";', 'variant = "cpu\\"; evil = 1; x = \\"";')
    machine.write_text(text)
    git.Repo(root).git.commit("-am", "hand edit")
    flake = load_flake(root)
    plan = make_plan(flake, Answers(caches=[]))
    for change in plan.changes:
        if change.new is not None and change.path.endswith(".nix"):
            parse(change.new, change.path)
    changed = plan.change("llama-cpp/machines/boron.nix")
    if changed is not None:
        (tmp_path / "out.nix").write_bytes(changed.new)
        assert nix_eval(f"builtins.attrNames (import {tmp_path / 'out.nix'}).local.llama-cpp", root) == [
            "cpu",
            "enable",
            "variant",
        ]


# ---- 2. paths written into Nix ----------------------------------------------------------------


@requires_nix
@pytest.mark.parametrize("folder", ['a${builtins.abort "x"}', "my modules", "a\\b"])
def test_a_module_folder_that_is_no_path_literal_is_written_quoted(tmp_path, folder):
    root = small_repo(tmp_path / "repo", ["boron"])
    result = run_cli(["apply", "--flake", str(root), "--host", "boron=cpu", "--module-dir", folder, "--yes"])
    assert result.returncode == 0, result.stderr
    assert '(./. + "/' in (root / "flake.nix").read_text()
    # The flake's outputs, called with a stand-in nixosSystem that returns its arguments: the import is one
    # list element naming exactly the machine file, and evaluating it aborts nothing.
    modules = nix_eval(
        f"map toString ((import {root / 'flake.nix'}).outputs {{ self = {{ }}; "
        "nixpkgs.lib.nixosSystem = args: args; }).nixosConfigurations.boron.modules",
        root,
    )
    assert modules == [str(root / "hosts/h0.nix"), str(root / folder / "machines/boron.nix")]
    machine = nix_string_literal(str(root / folder / "machines/boron.nix"))
    machine_imports = nix_eval(f"map toString (import (/. + {machine})).imports", root)
    assert machine_imports == [str(root / folder / "default.nix")]
    # A second run finds the import and changes nothing.
    again = run_cli(["plan", "--flake", str(root), "--host", "boron=cpu", "--module-dir", folder, "--check"])
    assert again.returncode == 0, again.stdout + again.stderr


def test_path_expressions_are_literals_where_they_can_be():
    assert nix_relative_path("hosts/a.nix", "llama-cpp/machines/a.nix") == "../llama-cpp/machines/a.nix"
    assert nix_relative_path("flake.nix", "m m/x.nix") == '(./. + "/m m/x.nix")'
    assert nix_relative_path("hosts/a/default.nix", "m m/x.nix") == '(../../. + "/m m/x.nix")'


def test_a_keyed_path_interpolates_the_key_alone(tmp_path):
    assert (
        nix_keyed_path("lib/default.nix", "llama-cpp/machines", "hostname") == "../llama-cpp/machines/${hostname}.nix"
    )
    odd = nix_keyed_path("flake.nix", "m ${x}/machines", "name")
    assert odd == '(./. + "/m \\${x}/machines/${name}.nix")'
    with pytest.raises(LlamaflakeError):
        nix_keyed_path("flake.nix", "machines", "x}; evil = ${y")
    if NIX_INSTANTIATE is not None:
        assert nix_eval(f'let name = "alpha"; in toString {odd}', tmp_path) == f"{tmp_path}/m ${{x}}/machines/alpha.nix"


@pytest.mark.parametrize("folder", ["a\nb", "x\ty", "\x1b[2J"])
def test_a_module_folder_with_control_characters_is_refused(tmp_path, folder):
    root = small_repo(tmp_path / "repo", ["boron"])
    before = tree_files(root)
    result = run_cli(["apply", "--flake", str(root), "--host", "boron=cpu", "--module-dir", folder, "--yes"])
    assert_one_line_refusal(result)
    assert tree_files(root) == before


# ---- 3. machine names as file names ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../../tmp/x", "a/b", "..", "new\nline", "tab\there"])
@pytest.mark.parametrize("commit", [True, False])
def test_a_machine_name_that_is_no_file_name_is_refused(tmp_path, name, commit):
    root = small_repo(tmp_path / "deep/er/repo", [name, "boron"])
    before = tree_files(root)
    outside = sorted(p for p in tmp_path.rglob("*") if root not in p.parents and p != root)
    args = ["apply", "--flake", str(root), "--host", f"{name}=cpu", "--yes"] + ([] if commit else ["--no-commit"])
    result = run_cli(args)
    assert_one_line_refusal(result)
    assert tree_files(root) == before
    assert sorted(p for p in tmp_path.rglob("*") if root not in p.parents and p != root) == outside
    assert git.Repo(root).head.commit.message == "initial\n"


def test_hosts_lists_a_machine_whose_name_is_no_file_name_without_reading_outside(tmp_path):
    root = small_repo(tmp_path / "repo", ["../../etc/passwd", "boron"])
    result = run_cli(["hosts", "--flake", str(root), "--json"])
    assert result.returncode == 0, result.stderr
    assert "root:" not in result.stdout


# ---- 4 and 5. symlinks, .git, ignored folders, submodules ----------------------------------------


def test_a_symlinked_machine_folder_is_refused_by_name(tmp_path):
    import shutil

    source = Path(__file__).parents[1] / "fixtures/layouts/helper-in-flake"
    root = tmp_path / "repo"
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("expected.json"))
    elsewhere = tmp_path / "elsewhere"
    shutil.move(root / "hosts/carbon", elsewhere)
    os.symlink(elsewhere, root / "hosts/carbon")
    make_repo(root)
    outside_before = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    result = run_cli(["apply", "--flake", str(root), "--host", "carbon=cpu", "--yes"])
    assert_one_line_refusal(result)
    assert "hosts/carbon" in result.stderr and "symbolic link" in result.stderr
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == outside_before
    assert git.Repo(root).head.commit.message == "initial\n"


def test_a_symlinked_module_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = small_repo(tmp_path / "repo", ["boron"])
    os.symlink(elsewhere, root / "mods")
    result = run_cli(["apply", "--flake", str(root), "--host", "boron=cpu", "--module-dir", "mods", "--yes"])
    assert_one_line_refusal(result)
    assert "mods" in result.stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("folder", ["./.git/hooks", ".git", "x/.git/y", ".GIT/hooks"])
def test_a_module_folder_inside_git_is_refused(tmp_path, folder):
    root = small_repo(tmp_path / "repo", ["boron"])
    hooks_before = sorted(p.name for p in (root / ".git/hooks").iterdir())
    result = run_cli(["apply", "--flake", str(root), "--host", "boron=cpu", "--module-dir", folder, "--yes"])
    assert_one_line_refusal(result)
    assert ".git" in result.stderr
    assert sorted(p.name for p in (root / ".git/hooks").iterdir()) == hooks_before


def test_a_git_ignored_module_folder_is_refused_in_one_line(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"], files={".gitignore": "secret/\n"})
    before = tree_files(root)
    result = run_cli(["apply", "--flake", str(root), "--host", "boron=cpu", "--module-dir", "secret", "--yes"])
    assert_one_line_refusal(result)
    assert "ignored" in result.stderr
    assert tree_files(root) == before


def test_a_module_folder_inside_a_submodule_is_refused_in_one_line(tmp_path):
    sub = make_repo(tmp_path / "sub", {"README": "a submodule\n"})
    root = small_repo(tmp_path / "repo", ["boron"])
    repo = git.Repo(root)
    repo.git.execute(["git", "-c", "protocol.file.allow=always", "submodule", "add", str(sub), "vendor"])
    repo.git.commit("-m", "submodule")
    before = tree_files(root)
    result = run_cli(["apply", "--flake", str(root), "--host", "boron=cpu", "--module-dir", "vendor/llama", "--yes"])
    assert_one_line_refusal(result)
    assert "submodule" in result.stderr
    assert tree_files(root) == before


# ---- 6. attribute names ------------------------------------------------------------------------


@requires_nix
def test_an_existing_input_whose_name_needs_quoting_stays_one_input(tmp_path):
    extra = '    "llama.cpp".url = "github:ggml-org/llama.cpp";\n'
    root = small_repo(tmp_path / "repo", ["boron"], extra_inputs=extra)
    result = run_cli(["apply", "--flake", str(root), "--host", "boron=cpu", "--follows", "nixpkgs", "--yes"])
    assert result.returncode == 0, result.stderr
    flake = (root / "flake.nix").read_text()
    assert '"llama.cpp".inputs.nixpkgs.follows = "nixpkgs";' in flake
    names = nix_eval(f"builtins.attrNames (import {root / 'flake.nix'}).inputs", root)
    assert names == ["llama.cpp", "nixpkgs"]
    module = (root / "llama-cpp/default.nix").read_text()
    assert 'args.inputs."llama.cpp" or config._module.args.inputs."llama.cpp"' in module
    assert "inputs.llama.cpp" not in module


def test_attribute_names_are_quoted_only_where_needed():
    assert nix_attr_name("llama-cpp") == "llama-cpp"
    assert nix_attr_name("llama.cpp") == '"llama.cpp"'
    assert nix_attr_name("in") == '"in"'
    assert nix_attr_name('a"${b}') == '"a\\"\\${b}"'


# ---- 7. printed commands --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["y$(touch x)", "a b", "`id`", "x;rm -rf ~", "it's"])
def test_the_printed_rebuild_line_quotes_the_machine_name(tmp_path, name):
    root = small_repo(tmp_path / "repo", [name])
    result = run_cli(["apply", "--flake", str(root), "--host", f"{name}=cpu", "--yes"])
    assert result.returncode == 0, result.stderr
    line = next(text.strip() for text in result.stderr.splitlines() if "nixos-rebuild" in text)
    words = shlex.split(line)
    assert words[:5] == ["sudo", "nixos-rebuild", "switch", "--flake", f".#{name}"]
    assert len(words) == 5


def test_rebuild_commands_stay_bare_for_plain_names(demo_repo):
    plan = make_plan(load_flake(demo_repo), Answers(machines={"boron": MachineAnswer("cpu")}))
    assert rebuild_commands(plan)["boron"] == "sudo nixos-rebuild switch --flake .#boron"
