"""Text that reads like rich markup (a machine named ``lab[/]1``, a GPU named with ``[bold]``) on the command line:
printed as written, never parsed, never dropped."""

from __future__ import annotations

import json

from conftest import make_repo
from hostile_repos import run_cli

# lab[bold]2:fire: cannot be wired (its file is no plain module): its name is printed again below the table.
FLAKE = """{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
  outputs = { nixpkgs, ... }@inputs:
    let
      mkHost = name: nixpkgs.lib.nixosSystem {
        specialArgs = { inherit inputs; };
        modules = [ ./hosts/${name}.nix ];
      };
    in {
      nixosConfigurations = {
        "lab[/]1" = mkHost "lab";
        "lab[bold]2:fire:" = mkHost "lab[bold]2:fire:";
      };
    };
}
"""


def test_hosts_prints_names_that_read_like_markup_as_written(tmp_path):
    root = make_repo(
        tmp_path / "lab[bold]repo",
        {
            "flake.nix": FLAKE,
            "hosts/lab.nix": '{ networking.hostName = "lab"; }\n',
            "hosts/lab[bold]2:fire:.nix": "{ lib, ... }:\nlib.mkMerge [ { } ]\n",
        },
    )
    result = run_cli(["hosts", "--flake", str(root), "--no-nix"])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    # The title, as written; a long temporary folder (another worker's, another TMPDIR) may wrap it.
    title = out.split("┏")[0]
    assert "".join(title.split()) == "".join(f"Machines in {root}".split()), title
    rows = [line for line in out.splitlines() if line.startswith("│ lab")]
    assert [row.split("│")[1].strip() for row in rows] == ["lab[/]1", "lab[bold]2:fire:"]
    # the machine that cannot be wired: its name before the refusal, and in the snippet's comment
    assert "lab[bold]2:fire:: hosts/lab[bold]2:fire:.nix is not a plain module" in out
    assert '"/llama-cpp/machines/lab[bold]2:fire:.nix"' in out
    assert "in a module that only lab[bold]2:fire: imports" in out


def test_detect_prints_a_report_that_reads_like_markup_as_written(tmp_path):
    report = tmp_path / "saved.json"
    report.write_text(
        json.dumps(
            {
                "source": "detected",
                "hostname": "lab[/]1",
                "system": "x86_64-linux",
                "cpu": {
                    "vendor": "AuthenticAMD",
                    "model": "[bold]Ryzen[/] :fire:",
                    "arch": "x86_64",
                    "cores": 8,
                    "flags": ["avx2", "fma"],
                },
                "gpus": [
                    {
                        "vendor": "nvidia",
                        "name": "GPU [bold]X[/bold] [/]",
                        "compute_capability": "8.9",
                        "capability_source": "NVML",
                    }
                ],
                "notes": ["a [/] note \x1b[31mred"],
            }
        )
    )
    result = run_cli(["detect", "--report", str(report)])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "Hardware of lab[/]1 (saved report)" in out
    assert "[bold]Ryzen[/] :fire: (x86_64, 8 cores)" in out
    assert "GPU [bold]X[/bold] [/], compute 8.9" in out
    assert "a [/] note \\x1b[31mred" in out and "\x1b" not in out
    assert "cuda (CUDA 8.9) [report]" in out  # the confidence in brackets is not taken for a style


def test_a_line_break_in_a_machine_name_stays_in_its_row(tmp_path):
    flake = FLAKE.replace('"lab[/]1" = mkHost', '"lab\\nb[/bold]" = mkHost')
    assert flake != FLAKE
    root = make_repo(
        tmp_path / "repo",
        {
            "flake.nix": flake,
            "hosts/lab.nix": '{ networking.hostName = "lab"; }\n',
            "hosts/lab[bold]2:fire:.nix": "{ lib, ... }:\nlib.mkMerge [ { } ]\n",
        },
    )
    result = run_cli(["hosts", "--flake", str(root), "--no-nix"])
    assert result.returncode == 0, result.stderr
    rows = [line.split("│")[1].strip() for line in result.stdout.splitlines() if line.startswith("│ ")]
    assert "lab\\nb[/bold]" in rows
    assert "b[/bold]" not in rows


def test_with_no_machine_answered_the_plan_says_what_to_pass(tmp_path):
    from conftest import demo_source

    root = make_repo(tmp_path / "demo", source=demo_source())
    result = run_cli(["plan", "--flake", str(root), "--no-nix"])
    assert result.returncode == 0, result.stderr
    assert "nothing to change: no machine was answered for; pass --host NAME=VARIANT" in result.stderr


def test_hosts_names_each_llama_cpp_service_setting(tmp_path):
    root = make_repo(
        tmp_path / "repo",
        {
            "flake.nix": FLAKE,
            "hosts/lab.nix": '{ networking.hostName = "lab"; services.llama-cpp.enable = true; }\n',
            "hosts/lab[bold]2:fire:.nix": "{ lib, ... }:\nlib.mkMerge [ { } ]\n",
        },
    )
    result = run_cli(["hosts", "--flake", str(root), "--no-nix"])
    assert result.returncode == 0, result.stderr
    assert "  hosts/lab.nix:1  services.llama-cpp.enable" in result.stdout
