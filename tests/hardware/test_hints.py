"""Hints from a machine's own configuration files, read with the project's Nix parser."""

from __future__ import annotations

import shutil

from conftest import make_repo  # the suite's conftest: real git repositories
from hardware_fakes import FIXTURES

from tui.core.hardware.hints import hints_from_config
from tui.core.hardware.recommendation import recommend
from tui.core.nix.flake import load_flake

FLAKE = """{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
  inputs.nixos-hardware.url = "github:NixOS/nixos-hardware";
  outputs = { self, nixpkgs, ... } @ inputs: {
    nixosConfigurations = {
      radeon = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [
          ./hosts/radeon
          inputs.nixos-hardware.nixosModules.common-cpu-amd
          inputs.nixos-hardware.nixosModules.common-gpu-nvidia-disable
        ];
      };
      reported = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [
          ./hosts/reported.nix
          { hardware.facter.reportPath = ./hosts/facter.json; }
        ];
      };
      lost = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ ./hosts/lost.nix ];
      };
      pi = nixpkgs.lib.nixosSystem {
        system = "aarch64-linux";
        modules = [ ./hosts/pi.nix ];
      };
    };
  };
}
"""

RADEON = """{ lib, ... }:
let
  # not configuration: a value kept for later
  unused = { services.xserver.videoDrivers = [ "nvidia" ]; };
in {
  imports = [ ./hardware-configuration.nix ];
  services.xserver = {
    enable = true;
    videoDrivers = lib.mkDefault [ "amdgpu" ];
  };
  hardware.amdgpu.opencl.enable = true;
}
"""

RADEON_HW = """{ config, lib, modulesPath, ... }: {
  boot.initrd.kernelModules = [ "amdgpu" ];
  boot.kernelModules = [ "kvm-amd" ];
  hardware.cpu.amd.updateMicrocode = lib.mkDefault config.hardware.enableRedistributableFirmware;
}
"""


def repo(tmp_path):
    root = make_repo(
        tmp_path / "config",
        {
            "flake.nix": FLAKE,
            "hosts/radeon/default.nix": RADEON,
            "hosts/radeon/hardware-configuration.nix": RADEON_HW,
            "hosts/reported.nix": '{ ... }: { networking.hostName = "reported"; }\n',
            "hosts/lost.nix": '{ ... }: { facter.reportPath = ./missing-facter.json; boot.kernelModules = [ "kvm-intel" ]; }\n',
            "hosts/pi.nix": '{ ... }: { boot.kernelModules = [ "v3d" ]; }\n',
        },
    )
    shutil.copy(FIXTURES / "facter/thinkpad-x1-extreme.facter.json", root / "hosts/facter.json")
    return load_flake(root)


def test_demo_laptop_with_nvidia_prime(demo_repo):
    flake = load_flake(demo_repo)
    report = hints_from_config(flake, flake.host("carbon"))
    assert report.source == "hints" and report.system == "x86_64-linux"
    texts = {(h.file, h.line, h.text) for h in report.hints}
    assert ("machines/carbon.nix", 19, 'services.xserver.videoDrivers has "nvidia"') in texts
    assert ("machines/carbon.nix", 20, "hardware.nvidia is set: an NVIDIA GPU") in texts
    assert ("machines/carbon.nix", 26, "hardware.nvidia.prime.intelBusId is set: an Intel integrated GPU") in texts
    assert ("machines/carbon.nix", 16, 'boot.kernelModules has "kvm-intel": an Intel CPU') in texts
    assert [(g.vendor, g.integrated) for g in report.gpus] == [("nvidia", False), ("intel", True)]
    assert report.cpu.vendor == "Intel" and report.cpu.flags == []
    rec = recommend(report)
    assert (rec.variant, rec.cuda_capabilities, rec.all_variants, rec.confidence) == ("cuda", [], True, "hints")
    assert any("nixpkgs' default list" in r for r in rec.reasons)


def test_demo_framework_from_its_nixos_hardware_module(demo_repo):
    flake = load_flake(demo_repo)
    report = hints_from_config(flake, flake.host("beryllium"))
    [module_hint] = [h for h in report.hints if "nixos-hardware" in h.text]
    assert module_hint.file == "flake.nix" and module_hint.line == 49
    assert "framework-13-7040-amd" in module_hint.text
    assert [(g.vendor, g.integrated) for g in report.gpus] == [("amd", True)]
    rec = recommend(report)
    assert (rec.variant, rec.all_variants, rec.rocm_option) == ("vulkan", True, [])


def test_demo_desktop_with_nothing_but_a_cpu_vendor(demo_repo):
    flake = load_flake(demo_repo)
    report = hints_from_config(flake, flake.host("boron"))
    assert report.gpus == [] and report.cpu.vendor == "AMD"
    rec = recommend(report)
    assert (rec.variant, rec.all_variants, rec.confidence) == ("cpu", True, "hints")


def test_imports_nested_sets_wrappers_and_disabled_modules(tmp_path):
    flake = repo(tmp_path)
    report = hints_from_config(flake, flake.host("radeon"))
    texts = [(h.file, h.line, h.text) for h in report.hints]
    assert ("hosts/radeon/default.nix", 9, 'services.xserver.videoDrivers has "amdgpu"') in texts
    assert ("hosts/radeon/hardware-configuration.nix", 2, 'boot.initrd.kernelModules has "amdgpu": an AMD GPU') in texts
    assert any(t.startswith("hardware.amdgpu.opencl.enable") for _, _, t in texts)
    assert any("common-cpu-amd" in t and "AMD CPU" in t for _, _, t in texts)
    # the let-bound set is not configuration, and "-disable" turns NVIDIA off
    assert all(g.vendor != "nvidia" for g in report.gpus)
    assert [g.vendor for g in report.gpus] == ["amd"] and report.cpu.vendor == "AMD"
    assert recommend(report).variant == "vulkan"


def test_facter_report_named_by_the_configuration_is_read(tmp_path):
    flake = repo(tmp_path)
    report = hints_from_config(flake, flake.host("reported"))
    [hint] = report.hints
    assert hint.file == "flake.nix" and hint.line == 18 and "nixos-facter report, read" in hint.text
    assert report.cpu.model.startswith("11th Gen Intel") and report.cpu.flags
    rec = recommend(report)
    assert (rec.variant, rec.cuda_capabilities, rec.confidence, rec.all_variants) == ("cuda", ["8.6"], "report", False)


def test_facter_report_that_does_not_exist(tmp_path):
    flake = repo(tmp_path)
    report = hints_from_config(flake, flake.host("lost"))
    assert any("does not exist" in h.text and h.file == "hosts/lost.nix" for h in report.hints)
    assert report.cpu.vendor == "Intel" and report.gpus == []


def test_arm_host_without_gpu_hints(tmp_path):
    flake = repo(tmp_path)
    report = hints_from_config(flake, flake.host("pi"))
    assert report.hints == [] and report.system == "aarch64-linux"
    assert any("says nothing" in n for n in report.notes)
    rec = recommend(report)
    assert (rec.variant, rec.all_variants, rec.cpu_flags, rec.confidence) == ("cpu", False, [], "none")


SHARED_NVIDIA = {
    "flake.nix": """{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
  outputs = { self, nixpkgs, ... }@inputs: {
    nixosConfigurations = {
      desktop = nixpkgs.lib.nixosSystem { system = "x86_64-linux"; modules = [ ./nixos ./hosts/desktop.nix ]; };
      laptop = nixpkgs.lib.nixosSystem { system = "x86_64-linux"; modules = [ ./nixos ./hosts/laptop.nix ]; };
    };
  };
}
""",
    "nixos/default.nix": "{ ... }: { imports = [ ./graphics/nvidia.nix ]; }\n",
    "nixos/graphics/nvidia.nix": """{ config, lib, ... }:
let
  cfg = config.my.graphics.nvidia;
in
{
  options.my.graphics.nvidia.enable = lib.mkEnableOption "the NVIDIA driver";
  config = lib.mkIf cfg.enable {
    services.xserver.videoDrivers = [ "nvidia" ];
    hardware.nvidia.modesetting.enable = true;
  };
}
""",
    "hosts/desktop.nix": "{ ... }: {\n  my.graphics = { nvidia.enable = true; };\n}\n",
    "hosts/laptop.nix": '{ ... }: {\n  boot.initrd.kernelModules = [ "amdgpu" ];\n}\n',
}


def test_a_shared_module_behind_mkif_counts_only_where_its_option_is_set(tmp_path):
    root = make_repo(tmp_path / "config", SHARED_NVIDIA)
    flake = load_flake(root)
    desktop = hints_from_config(flake, flake.host("desktop"))
    laptop = hints_from_config(flake, flake.host("laptop"))

    assert recommend(desktop).variant == "cuda"
    assert any("under mkIf my.graphics.nvidia.enable, set true at hosts/desktop.nix:2" in h.text for h in desktop.hints)
    assert [g.vendor for g in laptop.gpus] == ["amd"]
    assert recommend(laptop).variant != "cuda"
    assert not any("nvidia" in h.text for h in laptop.hints)
    assert any("under mkIf my.graphics.nvidia.enable, which laptop does not set to true" in n for n in laptop.notes)


def test_the_system_is_read_from_the_hardware_configuration_the_host_imports(tmp_path):
    from tui.core.variants import variants_for

    root = make_repo(
        tmp_path / "config",
        {
            "flake.nix": """{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
  outputs = { self, nixpkgs, ... }@inputs: {
    nixosConfigurations.pi = nixpkgs.lib.nixosSystem { modules = [ ./hosts/pi ]; };
    nixosConfigurations.board = nixpkgs.lib.nixosSystem { modules = [ ./hosts/board.nix ]; };
  };
}
""",
            "hosts/pi/default.nix": "{ ... }: {\n  imports = [ ./hardware-configuration.nix ];\n}\n",
            "hosts/pi/hardware-configuration.nix": '{ ... }: {\n  nixpkgs.hostPlatform.system = "aarch64-linux";\n}\n',
            "hosts/board.nix": '{ lib, ... }: {\n  nixpkgs.hostPlatform = lib.mkDefault { system = "aarch64-linux"; };\n}\n',
        },
    )
    flake = load_flake(root)
    assert {h.name: h.system for h in flake.hosts} == {"pi": "aarch64-linux", "board": "aarch64-linux"}
    assert "rocm" not in variants_for(flake.host("pi").system)


def test_conflicting_cpu_clues_name_the_vendor_each_read_and_are_flagged(tmp_path):
    root = make_repo(
        tmp_path / "config",
        {
            "flake.nix": """{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
  inputs.nixos-hardware.url = "github:NixOS/nixos-hardware";
  outputs = { self, nixpkgs, ... }@inputs: {
    nixosConfigurations.mixed = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./mixed.nix inputs.nixos-hardware.nixosModules.framework-13-7040-amd ];
    };
  };
}
""",
            "mixed.nix": '{ ... }: {\n  boot.kernelModules = [ "kvm-intel" ];\n  hardware.cpu.intel.updateMicrocode = true;\n}\n',
        },
    )
    flake = load_flake(root)
    report = hints_from_config(flake, flake.host("mixed"))
    texts = [h.text for h in report.hints]
    assert "hardware.cpu.intel.updateMicrocode is set: an Intel CPU" in texts
    conflicts = [n for n in report.notes if "conflicting CPU clues" in n]
    assert len(conflicts) == 1
    assert "Intel" in conflicts[0] and "AMD" in conflicts[0] and "framework-13-7040-amd" in conflicts[0]
    assert "t (detect on this machine), i (import a report) or s (scan over SSH)" in conflicts[0]


INSTALLER_AND_PI = """{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
  inputs.nixos-hardware.url = "github:NixOS/nixos-hardware";
  outputs = { self, nixpkgs, nixos-hardware, ... }: {
    nixosConfigurations = {
      iso = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [
          "${nixpkgs}/nixos/modules/installer/cd-dvd/installation-cd-minimal.nix"
          ./hosts/iso.nix
        ];
      };
      netboot = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ ./hosts/netboot.nix ];
      };
      pi = nixpkgs.lib.nixosSystem {
        modules = [ nixos-hardware.nixosModules.raspberry-pi-4 ./hosts/pi.nix ];
      };
      desktop = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ ./hosts/desktop.nix ];
      };
    };
  };
}
"""


def test_installer_images_are_left_alone_and_a_raspberry_pi_is_an_aarch64_cpu_machine(tmp_path):
    from tui.core.variants import NO_VARIANT

    root = make_repo(
        tmp_path / "config",
        {
            "flake.nix": INSTALLER_AND_PI,
            "hosts/iso.nix": '{ ... }: { isoImage.squashfsCompression = "zstd"; }\n',
            "hosts/netboot.nix": '{ modulesPath, ... }: {\n  imports = [ (modulesPath + "/installer/netboot/netboot-minimal.nix") ];\n}\n',
            "hosts/pi.nix": '{ ... }: { networking.hostName = "pi"; }\n',
            "hosts/desktop.nix": '{ ... }: { boot.kernelModules = [ "kvm-amd" ]; }\n',
        },
    )
    flake = load_flake(root)
    iso = hints_from_config(flake, flake.host("iso"))
    assert iso.installer == "flake.nix:9"
    assert any("installation-cd-minimal.nix: an installer image" in h.text for h in iso.hints), iso.hints
    rec = recommend(iso, "x86_64-linux")
    assert rec.variant == NO_VARIANT and "an installer image (flake.nix:9) → left alone" in rec.reasons[0]
    netboot = hints_from_config(flake, flake.host("netboot"))
    assert netboot.installer == "hosts/netboot.nix:2"
    assert recommend(netboot, "x86_64-linux").variant == NO_VARIANT

    pi = hints_from_config(flake, flake.host("pi"))
    assert pi.system == "aarch64-linux" and pi.installer is None and pi.cpu.model == "Raspberry Pi 4"
    assert any("a Raspberry Pi 4 (aarch64-linux" in h.text for h in pi.hints), pi.hints
    assert recommend(pi).variant == "cpu"
    desktop = hints_from_config(flake, flake.host("desktop"))
    assert desktop.installer is None and recommend(desktop, "x86_64-linux").variant == "cpu"


def test_an_installer_module_imported_under_a_condition_or_only_named_does_not_make_an_installer(tmp_path):
    """A module every machine imports that makes an installer of the same files (`lib.optionals isoBuild`), and a
    setting that merely names an installer module, leave the machines as they are, with a note that says why."""
    from tui.core.variants import NO_VARIANT

    root = make_repo(
        tmp_path / "config",
        {
            "flake.nix": INSTALLER_AND_PI.replace("./hosts/desktop.nix", "./hosts/desktop.nix ./common.nix"),
            "common.nix": "{ lib, modulesPath, isoBuild ? false, ... }: {\n"
            "  imports = [ ] ++ lib.optionals isoBuild [\n"
            '    (modulesPath + "/installer/cd-dvd/installation-cd-minimal.nix")\n  ];\n'
            '  environment.etc.motd.text = "reinstall from installer/netboot/netboot-minimal.nix";\n}\n',
            "hosts/iso.nix": "{ ... }: { }\n",
            "hosts/netboot.nix": "{ ... }: { }\n",
            "hosts/pi.nix": "{ ... }: { }\n",
            "hosts/desktop.nix": '{ ... }: { boot.kernelModules = [ "kvm-amd" ]; }\n',
        },
    )
    flake = load_flake(root)
    desktop = hints_from_config(flake, flake.host("desktop"))
    assert desktop.installer is None, desktop.hints
    assert recommend(desktop, "x86_64-linux").variant != NO_VARIANT
    assert "not an installer image: installation-cd-minimal.nix at common.nix:3 is under optionals" in desktop.notes
    assert any(
        "netboot-minimal.nix" in n and "not imported (it is in environment.etc.motd.text)" in n for n in desktop.notes
    ), desktop.notes
    # The installer machine itself still is one.
    assert hints_from_config(flake, flake.host("iso")).installer == "flake.nix:9"
