"""Every repository layout in tests/fixtures/layouts: hosts found, planned, applied, parsed, idempotent, lossless.

Each fixture folder is a small flake repository with an ``expected.json``: the hosts in order, those
the engine must refuse, how each is built (``layouts``), the llama.cpp input name to use (``input``),
or the ``error`` loading it must give.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from conftest import assert_nix_parses, make_repo

from tui.core.answers import Answers, MachineAnswer
from tui.core.apply import apply_plan
from tui.core.diff import plan_diff
from tui.core.errors import NixSyntaxError
from tui.core.nix.flake import load_flake
from tui.core.nix.syntax import parse
from tui.core.plan import make_plan
from tui.core.report import host_report

LAYOUTS = Path(__file__).parent / "fixtures" / "layouts"
FIXTURES = sorted(p.name for p in LAYOUTS.iterdir() if (p / "expected.json").is_file())


def expected_of(name: str) -> dict:
    return json.loads((LAYOUTS / name / "expected.json").read_text())


def fixture_repo(tmp_path: Path, name: str) -> Path:
    repo = make_repo(tmp_path / name, source=LAYOUTS / name)
    (repo / "expected.json").unlink()
    return repo


def every_host(flake, variant: str = "cpu") -> Answers:
    return Answers(machines={h.name: MachineAnswer(variant) for h in flake.hosts})


def only_insertions(old: bytes, new: bytes) -> list[str]:
    """The places where ``new`` deletes or replaces bytes of ``old`` (none for a pure insertion)."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return [
        f"{tag} old[{i1}:{i2}]={old[i1:i2]!r} -> {new[j1:j2]!r}"
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag in ("delete", "replace")
    ]


def test_there_are_enough_layouts():
    assert len(FIXTURES) >= 20


@pytest.mark.parametrize("name", FIXTURES)
def test_hosts_are_found(name):
    expected = expected_of(name)
    if "error" in expected:
        with pytest.raises(NixSyntaxError) as caught:
            load_flake(LAYOUTS / name)
        assert str(caught.value).startswith(expected["error"] + ": ")
        return
    flake = load_flake(LAYOUTS / name)
    assert [h.name for h in flake.hosts] == expected["hosts"]
    assert sorted(h.name for h in flake.hosts if not h.can_wire) == sorted(expected["refused"])
    assert {h.name: h.layout for h in flake.hosts} == expected["layouts"]
    for host in flake.hosts:
        if host.can_wire:
            assert host.attach is not None
            assert host.refusal is None
        else:
            assert host.refusal and host.snippet and "imports = [" in host.snippet
    if "attach" in expected:
        assert {h.name: h.attach.file for h in flake.hosts if h.attach} == expected["attach"]
    if "systems" in expected:
        assert {h.name: h.system for h in flake.hosts} == expected["systems"]
    if "host_nixpkgs" in expected:
        assert {h.name: h.nixpkgs for h in flake.hosts} == expected["host_nixpkgs"]
    report = host_report(flake)
    assert [h["name"] for h in report["hosts"]] == expected["hosts"]
    json.dumps(report)


@pytest.mark.parametrize("name", [n for n in FIXTURES if "error" not in expected_of(n)])
def test_plan_apply_parse_rerun_lossless(tmp_path, name):
    expected = expected_of(name)
    repo = fixture_repo(tmp_path, name)
    before = {
        p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    flake = load_flake(repo)
    plan = make_plan(flake, every_host(flake))
    assert sorted(r.host for r in plan.refusals) == sorted(expected["refused"])
    for refusal in plan.refusals:
        assert "imports = [" in refusal.snippet and refusal.reason
    assert plan.input_name == expected.get("input", "llama-cpp")
    if "module_dir" in expected:  # never a folder whose modules are loaded into every machine
        assert plan.module_dir == expected["module_dir"]
    if "follows" in expected:
        assert plan.follows == expected["follows"]

    wired = [h for h in expected["hosts"] if h not in expected["refused"]]
    for change in plan.changes:
        if change.old is not None and change.new is not None and change.path in before:
            problems = only_insertions(change.old, change.new)
            assert not problems, f"{change.path}: {problems}"

    result = apply_plan(plan, commit=False)
    for path in result.paths:
        if path.endswith(".nix") and (repo / path).exists():
            parse((repo / path).read_bytes(), path)
            assert_nix_parses(repo / path)
    after = {
        p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    for rel, old in before.items():
        if rel not in result.paths:
            assert after[rel] == old, f"{rel} changed without being planned"

    again = load_flake(repo)
    for host in wired:
        assert again.host(host) is not None
    replan = make_plan(again, every_host(again))
    assert replan.is_empty, plan_diff(replan)

    # Each wired host's settings file is imported exactly once, from one place: a line naming it, or the one
    # entry of a list shared by several machines that loads `machines/${name}.nix` for each.
    for host in wired:
        machine = f"{plan.module_dir}/machines/{host}.nix"
        assert (repo / machine).is_file()
        mentions = sum(
            f"machines/{host}.nix".encode() in data and rel != machine
            for rel, data in after.items()
            if rel.endswith(".nix")
        )
        attach = again.host(host).attach
        keyed = attach is not None and attach.kind == "keyed-entry" and machine in again.host(host).module_files
        assert mentions + keyed == 1, f"{host}: imported from {mentions} files" + (
            " and a keyed entry" if keyed else ""
        )
    # ... and no machine reaches another machine's settings.
    for host in again.hosts:
        others = [
            rel
            for rel in host.imported_files
            if rel.startswith(f"{plan.module_dir}/machines/") and rel != f"{plan.module_dir}/machines/{host.name}.nix"
        ]
        assert not others, f"{host.name} imports {others}"


@pytest.mark.parametrize("name", [n for n in FIXTURES if "error" not in expected_of(n)])
def test_changing_one_machine_changes_only_its_file(tmp_path, name):
    expected = expected_of(name)
    wired = [h for h in expected["hosts"] if h not in expected["refused"]]
    if not wired:
        pytest.skip("no host to wire in this layout")
    repo = fixture_repo(tmp_path, name)
    flake = load_flake(repo)
    first = make_plan(flake, every_host(flake))
    apply_plan(first, commit=False)
    target = wired[-1]
    plan = make_plan(load_flake(repo), Answers(machines={target: MachineAnswer("vulkan")}))
    assert [c.path for c in plan.changes] == [f"{first.module_dir}/machines/{target}.nix"]
    old, new = plan.changes[0].old.decode(), plan.changes[0].new.decode()
    changed = [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == ['-    variant = "cpu";', '+    variant = "vulkan";']


def test_syntax_error_writes_nothing(tmp_path, capsys):
    from tui.cli import main

    repo = fixture_repo(tmp_path, "syntax-error")
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert main(["apply", "--flake", str(repo), "--yes", "--host", "carbon=cpu"]) == 2
    err = capsys.readouterr().err
    assert "flake.nix:7:5: syntax error:" in err
    assert "Traceback" not in err
    after = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert before == after


def test_existing_llama_input_is_reused_and_made_to_follow(tmp_path):
    repo = fixture_repo(tmp_path, "existing-llama-input")
    flake = load_flake(repo)
    plan = make_plan(flake, every_host(flake))
    flake_change = plan.change("flake.nix").new.decode()
    assert 'llama = { url = "github:ggerganov/llama.cpp"; inputs.nixpkgs.follows = "nixpkgs"; };' in flake_change
    assert "llama-cpp.url" not in flake_change
    module = plan.change(f"{plan.module_dir}/default.nix").new.decode()
    assert "args.inputs.llama or" in module


def test_no_ellipsis_gets_the_input_in_the_pattern_and_inputs_in_special_args(tmp_path):
    repo = fixture_repo(tmp_path, "no-ellipsis-no-inputs")
    flake = load_flake(repo)
    new = make_plan(flake, every_host(flake)).change("flake.nix").new.decode()
    assert "outputs = { self, nixpkgs, llama-cpp }@inputs: {" in new
    assert "      specialArgs = { inherit inputs; };\n" in new


def test_helper_hosts_get_the_import_in_their_own_file(tmp_path):
    repo = fixture_repo(tmp_path, "helper-in-flake")
    flake = load_flake(repo)
    plan = make_plan(flake, every_host(flake))
    assert plan.change("flake.nix").new.count(b"llama-cpp/machines") == 0
    carbon = plan.change("hosts/carbon/default.nix").new.decode()
    assert "    ./hardware-configuration.nix\n    ../../common/llama-cpp/machines/carbon.nix\n  ];" in carbon
    neon = plan.change("hosts/neon/default.nix").new.decode()
    assert neon == '{\n  imports = [ ../../common/llama-cpp/machines/neon.nix ];\n  networking.hostName = "neon";\n}\n'


def test_helper_without_inputs_is_refused_with_the_snippet(tmp_path):
    repo = fixture_repo(tmp_path, "no-inputs-in-lib-helper")
    flake = load_flake(repo)
    carbon = flake.host("carbon")
    assert not carbon.can_wire and "lib/hosts.nix" in carbon.refusal
    plan = make_plan(flake, every_host(flake))
    (refusal,) = plan.refusals
    assert refusal.host == "carbon" and refusal.file == "hosts/carbon.nix"
    assert refusal.snippet.startswith("imports = [ ../llama-cpp/machines/carbon.nix ];")
    assert "specialArgs = { inherit inputs; }" in refusal.snippet
    # boron, written out in flake.nix, gets `@inputs` and specialArgs.
    new = plan.change("flake.nix").new.decode()
    assert "outputs = { self, nixpkgs, ... }@inputs:" in new
    assert "specialArgs = { inherit inputs; };" in new


def test_crlf_stays_crlf(tmp_path):
    repo = fixture_repo(tmp_path, "crlf")
    flake = load_flake(repo)
    plan = make_plan(flake, every_host(flake))
    new = plan.change("flake.nix").new
    assert new.count(b"\n") == new.count(b"\r\n")


def test_mapattrs_over_readdir_skips_template_and_files(tmp_path):
    flake = load_flake(LAYOUTS / "mapattrs-readdir")
    assert "TEMPLATE" not in [h.name for h in flake.hosts]
    assert "README.md" not in [h.name for h in flake.hosts]


def test_hosts_json_reports_layout_attach_refusal_and_setup(capsys):
    from tui.cli import main

    assert main(["hosts", "--json", "--flake", str(LAYOUTS / "no-inputs-in-lib-helper")]) == 0
    report = json.loads(capsys.readouterr().out)
    carbon, boron = report["hosts"]
    assert carbon["layout"] == "helper" and carbon["builder"] == "helpers.mkHost → nixpkgs.lib.nixosSystem"
    assert carbon["can_wire"] is False and carbon["snippet_file"] == "hosts/carbon.nix"
    assert "specialArgs = { inherit inputs; }" in carbon["snippet"]
    # The same lines the plan shows for the machine it refuses: one snippet, wherever it is shown.
    flake = load_flake(LAYOUTS / "no-inputs-in-lib-helper")
    (refusal,) = make_plan(flake, every_host(flake)).refusals
    assert (carbon["snippet"], carbon["snippet_file"]) == (refusal.snippet, refusal.file)
    assert boron["can_wire"] is True and boron["attach"] == {"kind": "modules-list", "file": "flake.nix"}
    assert boron["gives_inputs"] == {"file": "flake.nix", "add": "specialArgs = { inherit inputs; };"}
    assert set(report["llama_cpp_setup"]) == {"packages", "services", "dead_caches"}


def test_existing_setup_is_found_in_the_demo(demo_repo):
    from tui.core.report import llama_setup

    setup = llama_setup(load_flake(demo_repo))
    assert {p["file"] for p in setup["packages"]} == {"nixos/pkgs/llama-cpp-variants.nix"}
    assert {c["value"] for c in setup["dead_caches"]} >= {"https://cuda-maintainers.cachix.org"}


def test_import_tree_folder_gets_no_nixos_module(tmp_path):
    repo = fixture_repo(tmp_path, "import-tree")
    flake = load_flake(repo)
    plan = make_plan(flake, every_host(flake))
    assert plan.module_dir == "llama-cpp"
    assert not any(c.path.startswith("modules/") and c.old is None for c in plan.changes)


def test_a_host_file_that_does_not_parse_refuses_that_host_only():
    flake = load_flake(LAYOUTS / "host-file-syntax-error")
    boron = flake.host("boron")
    assert boron.refusal.startswith("hosts/boron.nix:4:1: syntax error:")
    assert flake.host("carbon").can_wire


def test_a_host_file_that_is_no_plain_module_is_wired_through_the_builders_keyed_list(tmp_path):
    """``carbon.nix`` is ``lib.mkMerge [ ... ]``: it cannot take an import, but the builder's list, keyed by
    the host's name, is a place of its own."""
    repo = fixture_repo(tmp_path, "host-file-not-a-module")
    flake_nix = repo / "flake.nix"
    text = (
        flake_nix.read_text().replace("mkHost = file:", "mkHost = name:").replace("[ file ]", "[ ./hosts/${name}.nix ]")
    )
    flake_nix.write_text(
        text.replace("mkHost ./hosts/carbon.nix", 'mkHost "carbon"').replace(
            "mkHost ./hosts/boron.nix", 'mkHost "boron"'
        )
    )
    flake = load_flake(repo)
    assert [(h.name, h.attach.kind, h.attach.key) for h in flake.hosts if h.can_wire] == [
        ("carbon", "keyed-entry", "name"),
        ("boron", "keyed-entry", "name"),
    ]
    plan = make_plan(flake, every_host(flake))
    assert plan.refusals == [] and not any(c.path.startswith("hosts/") for c in plan.changes)


def test_unfiltered_folder_listing_skips_files_and_templates_with_a_note():
    flake = load_flake(LAYOUTS / "genattrs-readdir-unfiltered")
    assert [h.name for h in flake.hosts] == ["carbon"]
    assert any("README.md" in note for note in flake.notes)
    assert any("TEMPLATE" in note for note in flake.notes)


def test_a_host_folder_symlinked_to_another_is_not_its_own_and_the_builder_serves_every_host(tmp_path):
    """``hosts/neon -> boron``: no file there is neon's or boron's alone, so the builder's list, keyed by each
    host's name, is the one place for every host it builds."""
    repo = fixture_repo(tmp_path, "helper-in-flake")
    import shutil

    shutil.rmtree(repo / "hosts" / "neon")
    (repo / "hosts" / "neon").symlink_to("boron", target_is_directory=True)
    flake = load_flake(repo)
    for name in ("carbon", "boron", "neon"):
        attach = flake.host(name).attach
        assert flake.host(name).can_wire and (attach.kind, attach.file, attach.key) == (
            "keyed-entry",
            "flake.nix",
            "hostname",
        )
    plan = make_plan(flake, every_host(flake))
    assert [c.path for c in plan.changes if c.path.startswith("hosts/")] == []
    new = plan.change("flake.nix").new.decode()
    assert new.count("./common/llama-cpp/machines/${hostname}.nix") == 2  # one guarded entry: the test, the path


def _linked_repo(tmp_path, outputs: str):
    repo = tmp_path / "linked"
    (repo / "nixos" / "dagger").mkdir(parents=True)
    (repo / "nixos" / "dagger" / "default.nix").write_text("{ ... }: { imports = [ ]; }\n")
    (repo / "nixos" / "crawler").symlink_to("dagger")
    (repo / "flake.nix").write_text(
        '{\n  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
        "  outputs = { nixpkgs, ... }@inputs: {\n" + outputs + "  };\n}\n"
    )
    return repo


def test_hosts_generated_over_linked_folders_get_one_entry_keyed_by_their_name(tmp_path):
    """``nixos/crawler -> dagger`` under ``genAttrs``: each gets ``machines/${name}.nix``, neither the other's."""
    repo = _linked_repo(
        tmp_path,
        '    nixosConfigurations = nixpkgs.lib.genAttrs [ "crawler" "dagger" ] (name:\n'
        "      nixpkgs.lib.nixosSystem { specialArgs = { inherit inputs; }; modules = [ ./nixos/${name} ]; });\n",
    )
    flake = load_flake(repo)
    assert [flake.host(n).attach.kind for n in ("crawler", "dagger")] == ["keyed-entry", "keyed-entry"]
    plan = make_plan(flake, every_host(flake))
    assert plan.refusals == []
    assert (
        "modules = [ ./nixos/${name} (if builtins.pathExists ./nixos/llama-cpp/machines/${name}.nix "
        "then ./nixos/llama-cpp/machines/${name}.nix else { }) ]" in plan.change("flake.nix").new.decode()
    )


def test_a_host_folder_linked_to_another_hosts_is_refused_with_the_link(tmp_path):
    """``nixos/crawler -> dagger``, each host given its folder: both machines would import each other's
    settings from one file, and the builder's list is not keyed by their names."""
    repo = _linked_repo(
        tmp_path,
        "    nixosConfigurations = let mk = folder: nixpkgs.lib.nixosSystem {\n"
        "      specialArgs = { inherit inputs; }; modules = [ folder ]; };\n"
        "    in { crawler = mk ./nixos/crawler; dagger = mk ./nixos/dagger; };\n",
    )
    flake = load_flake(repo)
    crawler, dagger = flake.host("crawler"), flake.host("dagger")
    assert not crawler.can_wire and not dagger.can_wire
    assert crawler.refusal.startswith("nixos/crawler is a link to nixos/dagger:")
    plan = make_plan(flake, every_host(flake))
    assert sorted(r.host for r in plan.refusals) == ["crawler", "dagger"]


def test_a_list_in_a_function_that_makes_any_machine_is_not_its_one_machines_own(tmp_path):
    """``mkSystem { name = "carbon"; ... }`` returns ``{ ${name} = nixosSystem { modules = ...; }; }``: with
    carbon its only caller, that list is still every future machine's, so carbon's own file takes the import."""
    repo = fixture_repo(tmp_path, "mksystem-foldl")
    flake_nix = repo / "flake.nix"
    text = flake_nix.read_text()
    start = text.index('        (mkSystem {\n          name = "boron"')
    flake_nix.write_text(text[:start] + text[text.index("      ];\n    };\n}") :])
    flake = load_flake(repo)
    (carbon,) = flake.hosts
    assert (carbon.layout, carbon.attach.kind, carbon.attach.file) == (
        "generated",
        "imports-list",
        "hosts/carbon/default.nix",
    )
    plan = make_plan(flake, every_host(flake))
    assert "lib/default.nix" not in [c.path for c in plan.changes]


def test_pipe_operators_are_read_and_a_file_that_does_not_parse_is_named_with_its_line(tmp_path):
    """``|>`` and ``<|`` (Nix's experimental pipe-operators) are read like any call; where a file the outputs
    import does not parse, listing the machines and planning for one both name that file and line."""
    from tui.core.errors import AnswerError

    assert [h.name for h in load_flake(LAYOUTS / "pipe-operators").hosts] == ["boron", "carbon"]
    repo = fixture_repo(tmp_path, "pipe-operators")
    hosts_nix = repo / "nix" / "hosts.nix"
    hosts_nix.write_text(hosts_nix.read_text().replace("\nfolders\n", "\nfolders |>\n"))
    flake = load_flake(repo)
    assert flake.hosts == []
    assert any(
        note.startswith("nixosConfigurations: the engine cannot list the hosts (nix/hosts.nix:17:1: syntax error:")
        for note in flake.notes
    ), flake.notes
    with pytest.raises(
        AnswerError, match=r"unknown host 'carbon' \(hosts: none found: .*nix/hosts\.nix:17:1: syntax error:"
    ):
        make_plan(flake, Answers(machines={"carbon": MachineAnswer("cpu")}))
