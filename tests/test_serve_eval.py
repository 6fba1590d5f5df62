"""A served model, evaluated as NixOS evaluates it: the machine file's ``local.llama-cpp.serve`` through the
generated module into nixpkgs' ``services.llama-cpp`` (tests/nix/nixpkgs/nixos/llama-cpp.nix, with nixpkgs'
option types and unit), ``pkgs.fetchurl`` and ``pkgs.linkFarm`` as evaluation sees them (nothing downloaded)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_module_eval import CACHES, PACKAGE_NAMES, cell, evaluate, evaluation_error, pytestmark, write_module

from tui.core.answers import MachineAnswer, ModelChoice, ModelFile, ServeChoice
from tui.core.render import render_machine, render_module

__all__ = ["pytestmark"]

REVISION = "0123456789abcdef0123456789abcdef01234567"
ONE = ModelChoice(
    "bartowski/Qwen2.5-7B-Instruct-GGUF",
    REVISION,
    (ModelFile("Qwen2.5-7B-Instruct-Q4_K_M.gguf", "a" * 64, 4683073952),),
)
SPLIT = ModelChoice(
    "unsloth/Qwen3-235B-GGUF",
    REVISION,
    (
        ModelFile("Q4_K_M/Qwen3-235B-Q4_K_M-00001-of-00002.gguf", "b" * 64, 49_000_000_000),
        ModelFile("Q4_K_M/Qwen3-235B-Q4_K_M-00002-of-00002.gguf", "c" * 64, 45_000_000_000),
    ),
)
ONE_CELL = {"systems": '[ "x86_64-linux" ]', "pkgsModes": '[ "hostPlatform" ]', "services": "[ false ]"}
GROUPS = {"cpu": None, "cuda": [], "rocm": ["render", "video"], "vulkan": ["render", "video"]}


def exec_args(exec_start: str) -> tuple[str, list[str]]:
    """The program and the arguments of an ExecStart (each quoted as JSON by nixpkgs' escapeSystemdExecArgs)."""
    program, _, rest = exec_start.partition(" ")
    return program, [json.loads(arg) for arg in re.findall(r'"(?:[^"\\]|\\.)*"', rest)]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("served") / "llama-cpp"
    (root / "machines").mkdir(parents=True)
    (root / "default.nix").write_bytes(render_module("llama-cpp", CACHES))
    extra = {"cuda": {"cuda_capabilities": ["8.6"]}, "rocm": {"rocm_targets": ["gfx1100"]}}
    for variant in PACKAGE_NAMES:
        answer = MachineAnswer(variant, all_variants=True, serve=ServeChoice(ONE), **extra.get(variant, {}))
        (root / "machines" / f"{variant}.nix").write_bytes(render_machine(variant, answer, "../default.nix"))
    split = MachineAnswer(
        "cuda",
        all_variants=True,
        serve=ServeChoice(SPLIT, port=9000, host="0.0.0.0", open_firewall=True, context=32768),
    )
    (root / "machines" / "split.nix").write_bytes(render_machine("split", split, "../default.nix"))
    (root / "machines" / "plain.nix").write_bytes(
        render_machine("plain", MachineAnswer("rocm", all_variants=True), "../default.nix")
    )
    return root / "machines"


@pytest.mark.parametrize("variant", list(PACKAGE_NAMES))
def test_the_service_runs_the_machines_build_on_the_pinned_model(served, variant):
    result = cell(evaluate(served / f"{variant}.nix", **ONE_CELL), service="no-service")
    assert result["failedAssertions"] == []
    unit, package = result["unit"], result["package"]
    program, args = exec_args(unit["ExecStart"])
    assert program.endswith(f"-{PACKAGE_NAMES[variant]}/bin/llama-server")
    assert result["service"] == {"name": package["name"], "drvPath": package["drvPath"]}
    (fetch,) = result["served"]["fetches"]
    assert fetch["url"] == f"https://huggingface.co/{ONE.repo}/resolve/{REVISION}/{ONE.files[0].name}"
    assert (fetch["outputHash"], fetch["outputHashAlgo"]) == (ONE.files[0].sha256, "sha256")
    assert fetch["out"].endswith("-Qwen2.5-7B-Instruct-Q4_K_M.gguf")
    gpu = [] if variant == "cpu" else ["--n-gpu-layers", "999"]
    assert args == ["--host", "127.0.0.1", "--port", "8080", "-m", fetch["out"], "-c", "4096", *gpu]
    assert unit["SupplementaryGroups"] == GROUPS[variant]
    assert unit["ProcSubset"] == ("pid" if variant == "cpu" else "all")
    assert unit["MemoryDenyWriteExecute"] is True and unit["PrivateUsers"] is True and unit["DynamicUser"] is True
    assert result["firewallPorts"] == []


def test_a_split_model_is_one_folder_given_by_its_first_part(served):
    result = cell(evaluate(served / "split.nix", **ONE_CELL), service="no-service")
    first, second = result["served"]["fetches"]
    assert [first["url"], second["url"]] == [SPLIT.url(f) for f in SPLIT.files]
    assert [first["outputHash"], second["outputHash"]] == ["b" * 64, "c" * 64]
    folder = result["served"]["folder"]
    assert re.fullmatch(r"/nix/store/[0-9a-f]{32}-Qwen3-235B-GGUF-0123456789ab", folder)
    assert result["unit"]["model"] == f"{folder}/Qwen3-235B-Q4_K_M-00001-of-00002.gguf"
    _program, args = exec_args(result["unit"]["ExecStart"])
    assert args[:6] == ["--host", "0.0.0.0", "--port", "9000", "-m", result["unit"]["model"]]
    assert args[6:] == ["-c", "32768", "--n-gpu-layers", "999"]
    assert result["firewallPorts"] == [9000]


@pytest.mark.parametrize("mode", ["hostPlatform", "legacy-system", "nixpkgs.pkgs", "read-only", "specialArgs"])
def test_the_served_build_is_the_machines_in_every_way_of_making_pkgs(served, mode, tmp_path):
    keep = write_module(tmp_path, "keep.nix", "{ local.llama-cpp.replaceNixpkgsPackage = false; }")
    for extra in ("[ ]", f"[ {keep} ]"):
        result = cell(
            evaluate(served / "cuda.nix", systems='[ "x86_64-linux" ]', pkgsModes=f'[ "{mode}" ]', extraModules=extra),
            mode=mode,
        )
        program, _args = exec_args(result["unit"]["ExecStart"])
        assert program.endswith("-llama-cpp-cuda-0.0.0/bin/llama-server"), (mode, extra)
        assert "nixpkgs" not in program


def test_a_service_turned_on_by_hand_keeps_its_model_and_gets_the_gpu(served):
    result = cell(evaluate(served / "plain.nix", systems='[ "x86_64-linux" ]', pkgsModes='[ "hostPlatform" ]'))
    assert result["failedAssertions"] == [] and result["served"] is None
    program, args = exec_args(result["unit"]["ExecStart"])  # nixpkgs' modelsDir, which has no default, is null
    assert program.endswith("-llama-cpp-rocm-0.0.0/bin/llama-server")
    assert args == ["--host", "127.0.0.1", "--port", "8080", "-m", "/var/lib/models/by-hand.gguf"]
    assert result["unit"]["SupplementaryGroups"] == ["render", "video"]


def test_settings_left_out_of_the_file_are_the_answers_defaults(served, tmp_path):
    """A file without host, port, openFirewall and context gets what the read-back gives them."""
    text = (served / "vulkan.nix").read_text()
    for line in ("host = ", "port = ", "openFirewall = ", "context = "):
        text = "\n".join(row for row in text.splitlines() if line not in row) + "\n"
    (tmp_path / "vulkan.nix").write_text(text.replace("../default.nix", str(served.parent / "default.nix")))
    result = cell(evaluate(tmp_path / "vulkan.nix", **ONE_CELL), service="no-service")
    _program, args = exec_args(result["unit"]["ExecStart"])
    defaults = ServeChoice(ONE)
    assert args[:4] == ["--host", defaults.host, "--port", str(defaults.port)]
    assert args[6:8] == ["-c", str(defaults.context)] and result["firewallPorts"] == []


def test_a_branch_for_the_revision_is_refused_by_the_options_type(served, tmp_path):
    text = (served / "cpu.nix").read_text().replace(REVISION, "main")
    (tmp_path / "cpu.nix").write_text(text.replace("../default.nix", str(served.parent / "default.nix")))
    stderr = evaluation_error(tmp_path / "cpu.nix", catchErrors="false", only='[ "served" ]', **ONE_CELL)
    assert "local.llama-cpp.serve.model.revision" in stderr and '"main"' in stderr


def test_the_users_own_hardening_wins(served, tmp_path):
    force = write_module(
        tmp_path,
        "force.nix",
        '{ lib, ... }: { systemd.services.llama-cpp.serviceConfig.ProcSubset = lib.mkForce "pid"; '
        "local.llama-cpp.serve.gpuLayers = null; }",
    )
    result = cell(evaluate(served / "rocm.nix", extraModules=f"[ {force} ]", **ONE_CELL), service="no-service")
    assert result["unit"]["ProcSubset"] == "pid"
    assert "--n-gpu-layers" not in exec_args(result["unit"]["ExecStart"])[1]
