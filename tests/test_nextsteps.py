"""The first rebuild per machine, with new caches as options, as `apply` prints it."""

from __future__ import annotations

import shlex

from tui.cli import main
from tui.core.answers import Answers, MachineAnswer
from tui.core.caches import cache_by_name
from tui.core.next_steps import rebuild_commands, verify_line
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan


def test_first_rebuild_passes_new_caches_only_where_they_apply(demo_repo):
    answers = Answers(
        machines={"carbon": MachineAnswer("cuda"), "boron": MachineAnswer("cpu")},
        caches=[cache_by_name("nixos-cuda"), cache_by_name("nix-community")],
    )
    commands = rebuild_commands(make_plan(load_flake(demo_repo), answers))
    carbon = shlex.split(commands["carbon"])
    assert carbon[:5] == ["sudo", "nixos-rebuild", "switch", "--flake", ".#carbon"]
    assert (
        carbon[carbon.index("extra-substituters") + 1]
        == "https://cache.nixos-cuda.org https://nix-community.cachix.org"
    )
    boron = shlex.split(commands["boron"])
    assert boron[boron.index("extra-substituters") + 1] == "https://nix-community.cachix.org"


def test_apply_prints_the_rebuild_lines(demo_repo, capsys):
    argv = ["apply", "--flake", str(demo_repo), "--host", "carbon=cuda", "--cache", "nixos-cuda", "--yes"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "sudo nixos-rebuild switch --flake .#carbon --option extra-substituters https://cache.nixos-cuda.org" in err
    # Once the caches are in place, a later change needs no options.
    assert main(["apply", "--flake", str(demo_repo), "--host", "carbon=cuda", "--cuda", "carbon=8.6", "--yes"]) == 0
    err = capsys.readouterr().err
    assert "sudo nixos-rebuild switch --flake .#carbon\n" in err


def test_apply_ends_with_verify_on_each_switched_machine(demo_repo, capsys):
    argv = ["apply", "--flake", str(demo_repo), "--host", "carbon=cuda", "--host", "boron=cpu", "--yes"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    tail = err[err.index("llamaflake: next, on each machine:") :]
    assert "llamaflake: then, on that machine, check that its chosen build is what runs:\n" in tail
    assert "  llamaflake verify --host carbon\n" in tail and "  llamaflake verify --host boron\n" in tail
    assert shlex.split(verify_line("my host")) == ["llamaflake", "verify", "--host", "my host"]
