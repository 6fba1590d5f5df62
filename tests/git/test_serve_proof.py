"""The proof with a served model: the real ``nix`` evaluates the machine's ``local.llama-cpp.serve`` on the stand-in
flakes, and a machine that would serve another model than the one chosen blocks the commit."""

from __future__ import annotations

import git
import nix_flakes as flakes
import pytest
from nix_flakes import _nix_env, stand_ins  # noqa: F401 - fixtures
from repo_state import repo_state

from tui.core.answers import Answers, MachineAnswer, ModelChoice, ModelFile, ServeChoice
from tui.core.apply import apply_plan
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan
from tui.core.validate import ValidationError

MODEL = ModelChoice(
    "ggml-org/gemma-3-1b-it-GGUF",
    "0123456789abcdef0123456789abcdef01234567",
    (ModelFile("gemma-3-1b-it-Q4_K_M.gguf", "d" * 64, 806_058_240),),
)


def config(tmp_path, stand_ins):
    """The two machines, without the shared file's `services.llama-cpp.enable = false` (a served model turns
    the service on, and Nix refuses two different values for it)."""
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    (root / "common.nix").write_text("{ ... }:\n{\n  # shared by every machine\n}\n")
    git.Repo(root).git.commit("-qam", "nothing shared", "--no-verify")
    return root


def serving(stand_ins) -> Answers:
    return Answers(
        machines={"alpha": MachineAnswer("vulkan", all_variants=True, serve=ServeChoice(MODEL, port=8081))},
        url=f"path:{stand_ins['llama']}",
        caches=[],
    )


def test_a_served_model_is_proved_as_chosen(tmp_path, stand_ins):
    root = config(tmp_path, stand_ins)
    result = apply_plan(make_plan(load_flake(root), serving(stand_ins)), evaluate=True)
    alpha = next(c for c in result.checks if c.host == "alpha" and c.intent)
    assert alpha.status == "ok", alpha.detail
    assert alpha.intent["serve"]["revision"] == MODEL.revision and alpha.intent["serve"]["port"] == 8081
    assert "serving ggml-org/gemma-3-1b-it-GGUF gemma-3-1b-it-Q4_K_M.gguf at 0123456789ab on 127.0.0.1:8081" in (
        alpha.chosen or ""
    )


def test_a_machine_served_another_model_from_elsewhere_blocks_the_commit(tmp_path, stand_ins):
    root = config(tmp_path, stand_ins)
    host = root / "hosts/alpha.nix"
    other = '"89abcdef0123456789abcdef0123456789abcdef"'
    pinned = f"{{ ... }}:\n{{\n  local.llama-cpp.serve.model.revision = lib.mkForce {other};\n"
    host.write_text(host.read_text().replace("{ ... }:\n{\n", pinned.replace("{ ... }", "{ lib, ... }"), 1))
    git.Repo(root).git.commit("-qam", "alpha pins its own revision", "--no-verify")
    before = repo_state(root)
    with pytest.raises(ValidationError) as failed:
        apply_plan(make_plan(load_flake(root), serving(stand_ins)), evaluate=True)
    alpha = next(c for c in failed.value.checks if c.host == "alpha" and c.failed)
    assert "not what was chosen" in alpha.detail and "hosts/alpha.nix" in alpha.detail
    assert repo_state(root).differences(before) == []
