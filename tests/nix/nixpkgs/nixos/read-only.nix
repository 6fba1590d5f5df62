# nixpkgs.nixosModules.readOnlyPkgs (nixos/modules/misc/nixpkgs/read-only.nix), reduced: it replaces
# the nixpkgs module; pkgs is exactly nixpkgs.pkgs, and nixpkgs.overlays may not be defined by modules.
{ lib, config, ... }:
let
  cfg = config.nixpkgs;
in
{
  disabledModules = [ ./nixpkgs.nix ];
  options.nixpkgs = {
    pkgs = lib.mkOption {
      type = lib.types.pkgs;
      description = "The pkgs module argument.";
    };
    config = lib.mkOption {
      internal = true;
      type = lib.types.unique { message = "nixpkgs.config is set to read-only"; } lib.types.anything;
      description = "The config pkgs was made with.";
    };
    overlays = lib.mkOption {
      internal = true;
      type = lib.types.unique { message = "nixpkgs.overlays is set to read-only"; } lib.types.anything;
      description = "The overlays pkgs was made with.";
    };
    hostPlatform = lib.mkOption {
      internal = true;
      readOnly = true;
      description = "The platform of the machine.";
    };
  };
  config = {
    _module.args.pkgs = builtins.seq cfg.config builtins.seq cfg.overlays builtins.seq cfg.hostPlatform cfg.pkgs.__splicedPackages;
    nixpkgs.config = cfg.pkgs.config;
    nixpkgs.overlays = cfg.pkgs.overlays;
    nixpkgs.hostPlatform = cfg.pkgs.stdenv.hostPlatform;
  };
}
