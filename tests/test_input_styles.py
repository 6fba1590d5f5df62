"""The flake input is added in the style the file already uses, once, following the chosen nixpkgs."""

from __future__ import annotations

from conftest import assert_nix_parses, make_repo

from tui.core.answers import Answers, MachineAnswer
from tui.core.apply import apply_plan
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan

HOST = """
  outputs = { self, nixpkgs, ... }@inputs: {
    nixosConfigurations.alpha = nixpkgs.lib.nixosSystem {
      specialArgs = { inherit inputs; };
      modules = [ ./alpha.nix ];
    };
  };
}
"""


def plan_for(tmp_path, flake_head: str, **answer_fields):
    repo = make_repo(tmp_path / "repo", {"flake.nix": flake_head + HOST, "alpha.nix": "{ ... }: { }\n"})
    answers = Answers(machines={"alpha": MachineAnswer("cpu")}, **answer_fields)
    return repo, make_plan(load_flake(repo), answers)


def flake_after(plan) -> str:
    return plan.change("flake.nix").new.decode()


def test_block_style_gets_a_block(tmp_path):
    head = """{
  inputs = {
    nixpkgs = {
      url = "github:nixos/nixpkgs/nixos-unstable";
    };
    home-manager = {
      url = "github:nix-community/home-manager";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };
"""
    repo, plan = plan_for(tmp_path, head)
    text = flake_after(plan)
    assert (
        """    home-manager = {
      url = "github:nix-community/home-manager";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    llama-cpp = {
      url = "github:ggml-org/llama.cpp";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };"""
        in text
    )
    apply_plan(plan, commit=False)
    assert_nix_parses(repo / "flake.nix")


def test_dotted_style_gets_dotted_lines(tmp_path):
    head = """{
  inputs = {
    nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable"; # rolling
    nixpkgs-stable.url = "github:nixos/nixpkgs/nixos-25.11";
  };
"""
    _, plan = plan_for(tmp_path, head, follows="nixpkgs-stable")
    text = flake_after(plan)
    assert (
        """    nixpkgs-stable.url = "github:nixos/nixpkgs/nixos-25.11";
    llama-cpp.url = "github:ggml-org/llama.cpp";
    llama-cpp.inputs.nixpkgs.follows = "nixpkgs-stable";
  };"""
        in text
    )
    assert "# rolling\n" in text


def test_top_level_dotted_inputs(tmp_path):
    head = """{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
"""
    _, plan = plan_for(tmp_path, head, ref="b6000")
    text = flake_after(plan)
    assert (
        """  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
  inputs.llama-cpp.url = "github:ggml-org/llama.cpp/b6000";
  inputs.llama-cpp.inputs.nixpkgs.follows = "nixpkgs";
"""
        in text
    )


def test_existing_input_is_pinned_in_place_and_not_added_twice(tmp_path):
    head = """{
  inputs = {
    nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
    llama = {
      url = "github:ggerganov/llama.cpp";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };
"""
    repo, plan = plan_for(tmp_path, head, ref="b6000")
    text = flake_after(plan)
    assert text.count("llama.cpp") == 1
    assert 'url = "github:ggml-org/llama.cpp/b6000";' in text
    assert plan.input_name == "llama"
    module = plan.change("llama-cpp/default.nix").new.decode()
    assert "args.inputs.llama or" in module
    apply_plan(plan, commit=False)
    again = make_plan(load_flake(repo), Answers(machines={"alpha": MachineAnswer("cpu")}, ref="b6000"))
    assert again.is_empty


def test_outputs_without_ellipsis_name_the_new_input(tmp_path):
    repo = make_repo(
        tmp_path / "repo",
        {
            "flake.nix": """{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
  outputs = {
    self,
    nixpkgs,
  }@inputs: {
    nixosConfigurations.alpha = nixpkgs.lib.nixosSystem {
      specialArgs = { inherit inputs; };
      modules = [ ./alpha.nix ];
    };
  };
}
""",
            "alpha.nix": "{ ... }: { }\n",
        },
    )
    plan = make_plan(load_flake(repo), Answers(machines={"alpha": MachineAnswer("cpu")}))
    text = flake_after(plan)
    assert "    self,\n    nixpkgs,\n    llama-cpp,\n  }@inputs:" in text
    apply_plan(plan, commit=False)
    assert_nix_parses(repo / "flake.nix")
