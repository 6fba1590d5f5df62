# A reduced nixpkgs for tests, built the way nixpkgs builds its package set (pkgs/top-level/stage.nix):
# `pkgs` is the fixpoint of the base set extended by every overlay in order, each layer being
# `prev // overlay final prev`. So reading any attribute of `pkgs` first needs the attribute names of
# every overlay, as in a real nixpkgs. Only what the generated module meets is modelled.
#
#   nixpkgsFun = import ./tests/nix/nixpkgs { lib = import <nixpkgs lib>; };
#   pkgs = nixpkgsFun { system = "x86_64-linux"; config = { }; overlays = [ ]; };
#   (crossSystem, as in nixpkgs, builds on localSystem for another platform.)
{ lib }:
let
  nixpkgsFun =
    {
      localSystem ? { system = args.system; },
      crossSystem ? null,
      config ? { },
      overlays ? [ ],
      ...
    }@args:
    let
      buildPlatform = lib.systems.elaborate localSystem;
      hostPlatform = if crossSystem == null then buildPlatform else lib.systems.elaborate crossSystem;
      # nixpkgs' config defaults (pkgs/top-level/config.nix) for the options modelled here.
      fullConfig = {
        allowUnfree = false;
        allowUnfreePredicate = _: false;
        allowBroken = false;
        cudaSupport = false;
        rocmSupport = false;
      } // config;
      base = import ./packages.nix {
        inherit lib buildPlatform hostPlatform overlays nixpkgsFun;
        config = fullConfig;
        arguments = args;
      };
    in
    lib.fix (lib.foldl' (lib.flip lib.extends) (_: { }) ([ base ] ++ overlays));
in
nixpkgsFun
