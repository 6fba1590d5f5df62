# NixOS's nixpkgs module (nixos/modules/misc/nixpkgs.nix), reduced: pkgs is made from
# nixpkgs.hostPlatform, or from the legacy nixpkgs.system where hostPlatform is not set, with
# nixpkgs.config and nixpkgs.overlays; with nixpkgs.pkgs set, the overlays go through appendOverlays.
{
  config,
  options,
  lib,
  nixpkgsFun,
  ...
}:
let
  cfg = config.nixpkgs;
  opt = options.nixpkgs;
  overlayType = lib.mkOptionType {
    name = "nixpkgs-overlay";
    description = "nixpkgs overlay";
    check = lib.isFunction;
    merge = lib.mergeOneOption;
  };
  defaultPkgs =
    if opt.hostPlatform.isDefined then
      nixpkgsFun { localSystem = cfg.hostPlatform; inherit (cfg) config overlays; }
    else
      nixpkgsFun { localSystem = { inherit (cfg) system; }; inherit (cfg) config overlays; };
  finalPkgs = if opt.pkgs.isDefined then cfg.pkgs.appendOverlays cfg.overlays else defaultPkgs;
in
{
  options.nixpkgs = {
    pkgs = lib.mkOption {
      type = lib.types.pkgs;
      description = "A package set to use instead of one made from the options below.";
    };
    config = lib.mkOption {
      type = lib.types.attrsOf lib.types.anything;
      default = { };
      description = "nixpkgs' config.";
    };
    overlays = lib.mkOption {
      type = lib.types.listOf overlayType;
      default = [ ];
      description = "Overlays applied to the package set.";
    };
    hostPlatform = lib.mkOption {
      type = lib.types.either lib.types.str lib.types.attrs;
      apply = lib.systems.elaborate;
      description = "The platform the configuration runs on.";
    };
    system = lib.mkOption {
      type = lib.types.str;
      default =
        if opt.hostPlatform.isDefined then
          throw "Neither nixpkgs.system nor any other option in nixpkgs.* is meant to be read by modules and configurations. Use pkgs.stdenv.hostPlatform instead."
        else
          throw "Neither nixpkgs.hostPlatform nor the legacy option nixpkgs.system has been set.";
      description = "Legacy: the platform, as a system name.";
    };
  };
  config._module.args.pkgs = finalPkgs.__splicedPackages;
}
