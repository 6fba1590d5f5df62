"""A report that disagrees with the machine's own configuration is said, with the clue it disagrees with."""

from __future__ import annotations

from pathlib import Path

from tui.core.hardware.hints import hints_from_config
from tui.core.hardware.mismatch import report_mismatches
from tui.core.hardware.model import HardwareReport
from tui.core.hardware.reports import load_report
from tui.core.nix.flake import load_flake

FACTER = Path(__file__).parents[1] / "fixtures" / "hardware" / "facter"


def config_of(demo_repo, host):
    flake = load_flake(demo_repo)
    return hints_from_config(flake, flake.host(host))


def test_a_report_without_the_configured_nvidia_gpu_is_said_with_the_line(demo_repo):
    """carbon's configuration sets up NVIDIA (and Intel) graphics; a report of the RTX 3060 desktop agrees on
    NVIDIA, one of a machine in a VM has neither."""
    config = config_of(demo_repo, "carbon")
    vm = report_mismatches(config, load_report(FACTER / "gpus" / "qemu-vm.facter.json"), "carbon")
    assert (
        "carbon's configuration sets up NVIDIA graphics (machines/carbon.nix:19), and the report shows no NVIDIA GPU"
        in vm
    )
    assert any(
        line.startswith("the report was made in a virtual machine (kvm), and carbon's configuration is of real")
        for line in vm
    ), vm
    assert vm[-1].startswith("is the report of another machine?") and "t (this machine)" in vm[-1]


def test_another_cpu_vendor_and_missing_graphics_are_said(demo_repo):
    """beryllium is an AMD Framework laptop; the ThinkPad's report has an Intel CPU and no AMD graphics."""
    found = report_mismatches(
        config_of(demo_repo, "beryllium"), load_report(FACTER / "thinkpad-x1-extreme.facter.json"), "beryllium"
    )
    assert any(
        "beryllium's configuration is for an AMD CPU (" in line and "the report shows an Intel CPU" in line
        for line in found
    ), found
    assert any("sets up AMD graphics" in line and "no AMD GPU" in line for line in found), found


def test_a_report_that_agrees_or_a_configuration_that_says_nothing_gives_no_mismatch(demo_repo):
    framework = load_report(FACTER / "framework-13-7840u.facter.json")
    assert report_mismatches(config_of(demo_repo, "beryllium"), framework, "beryllium") == []
    assert report_mismatches(HardwareReport(source="hints"), framework, "beryllium") == []
    assert report_mismatches(None, framework, "beryllium") == []


def test_another_system_is_said(demo_repo):
    arm = load_report(FACTER / "arm-vm.facter.json")
    found = report_mismatches(config_of(demo_repo, "boron"), arm, "boron")
    assert f"boron's configuration builds x86_64-linux, and the report is of an {arm.system} machine" in found


def test_the_command_line_warns_about_a_report_of_another_machine(demo_repo, capsys):
    from tui.cli import main

    report = FACTER / "thinkpad-x1-extreme.facter.json"
    assert main(["plan", "--flake", str(demo_repo), "--no-nix", "--report", f"beryllium={report}"]) == 0
    err = capsys.readouterr().err
    assert "llamaflake: warning: beryllium's configuration is for an AMD CPU (" in err, err
    assert "llamaflake: warning: is the report of another machine? Keep it, or settle it with --this-machine" in err


def test_the_line_said_for_missing_graphics_is_the_one_about_graphics(demo_repo):
    """carbon's `kvm-intel` (line 16) names Intel too, but it is the CPU's: Intel graphics are its PRIME intelBusId."""
    found = report_mismatches(
        config_of(demo_repo, "carbon"), load_report(FACTER / "gpus" / "ada-rtx-4090.facter.json"), "carbon"
    )
    assert found[:-1] == [
        "carbon's configuration sets up Intel graphics (machines/carbon.nix:26), and the report shows no Intel GPU"
    ], found


def test_a_report_made_in_the_virtual_machine_the_configuration_is_of_is_no_mismatch(tmp_path):
    """nixos-generate-config in a KVM guest with nested virtualisation writes `kvm-intel` next to the qemu-guest
    profile: a report made in that VM is of that machine."""
    from conftest import make_repo

    root = make_repo(
        tmp_path / "config",
        {
            "flake.nix": '{\n  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n'
            "  outputs = { self, nixpkgs, ... }: {\n"
            "    nixosConfigurations.vm = nixpkgs.lib.nixosSystem { modules = [ ./vm.nix ]; };\n"
            "    nixosConfigurations.box = nixpkgs.lib.nixosSystem { modules = [ ./box.nix ]; };\n  };\n}\n",
            "vm.nix": '{ lib, modulesPath, ... }: {\n  imports = [ (modulesPath + "/profiles/qemu-guest.nix") ];\n'
            '  boot.kernelModules = [ "kvm-intel" ];\n  nixpkgs.hostPlatform = "x86_64-linux";\n}\n',
            "box.nix": '{ lib, ... }: {\n  services.qemuGuest.enable = true;\n  boot.kernelModules = [ "kvm-intel" ];\n'
            '  nixpkgs.hostPlatform = "x86_64-linux";\n}\n',
        },
    )
    flake = load_flake(root)
    vm_report = load_report(FACTER / "gpus" / "qemu-vm.facter.json")
    for host in ("vm", "box"):
        config = hints_from_config(flake, flake.host(host))
        assert config.guest is not None, config.hints
        assert report_mismatches(config, vm_report, host) == [], host
