# The NixOS options the generated module reads or sets, declared as NixOS declares them
# (services.llama-cpp is in ./llama-cpp.nix, the options it sets in ./systemd.nix).
{ lib, ... }:
let
  settingsValue = lib.types.oneOf [
    lib.types.bool
    lib.types.int
    lib.types.str
    (lib.types.listOf lib.types.str)
  ];
in
{
  options = {
    assertions = lib.mkOption {
      type = lib.types.listOf lib.types.unspecified;
      internal = true;
      default = [ ];
    };
    warnings = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      internal = true;
      default = [ ];
    };
    environment.systemPackages = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [ ];
    };
    nix.settings = lib.mkOption {
      type = lib.types.submodule { freeformType = lib.types.attrsOf settingsValue; };
      default = { };
    };
    # Host-specific options, to find the file that defines a machine.
    networking.hostName = lib.mkOption {
      type = lib.types.str;
      default = "nixos";
    };
    system.stateVersion = lib.mkOption {
      type = lib.types.str;
      default = "25.11";
    };
    hardware.graphics.enable = lib.mkEnableOption "hardware accelerated graphics";
  };
}
