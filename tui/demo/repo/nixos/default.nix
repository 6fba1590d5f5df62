# Shared by every machine.
{
  inputs,
  outputs,
  lib,
  pkgs,
  ...
}: {
  imports = [
    ./nix.nix
    ./users.nix
    inputs.home-manager.nixosModules.home-manager
  ];

  nixpkgs = {
    overlays = [
      outputs.overlays.stable
      # llama.cpp builds, hand-made (CPU tuned, CUDA, Vulkan)
      (import ./pkgs/llama-cpp-variants.nix)
    ];
    config.allowUnfree = true;
  };

  home-manager = {
    useGlobalPkgs = true;
    extraSpecialArgs = {inherit inputs outputs;};
  };

  time.timeZone = "Europe/Berlin";
  i18n.defaultLocale = "en_GB.UTF-8";

  environment.systemPackages = with pkgs; [
    git
    htop
    ripgrep
  ];

  system.stateVersion = "25.05";
}
