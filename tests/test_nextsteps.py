from __future__ import annotations

import shlex

from tui.core.answers import Answers, MachineAnswer
from tui.core.caches import cache_by_name
from tui.core.nextsteps import next_steps, rebuild_command
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan


def test_first_rebuild_passes_new_caches_only_where_they_apply(demo_repo):
    answers = Answers(
        machines={"carbon": MachineAnswer("cuda"), "boron": MachineAnswer("cpu")},
        caches=[cache_by_name("nixos-cuda"), cache_by_name("nix-community")],
    )
    plan = make_plan(load_flake(demo_repo), answers)
    carbon = shlex.split(rebuild_command(plan, "carbon"))
    assert carbon[:5] == ["sudo", "nixos-rebuild", "switch", "--flake", ".#carbon"]
    assert carbon[carbon.index("extra-substituters") + 1] == "https://cache.nixos-cuda.org https://nix-community.cachix.org"
    boron = shlex.split(rebuild_command(plan, "boron"))
    assert boron[boron.index("extra-substituters") + 1] == "https://nix-community.cachix.org"
    assert next_steps(plan)[-1].startswith("llamaflake undo")


def test_no_caches_no_options(demo_repo):
    plan = make_plan(load_flake(demo_repo), Answers(machines={"boron": MachineAnswer("cpu")}))
    assert rebuild_command(plan, "boron") == "sudo nixos-rebuild switch --flake '.#boron'"
