# A reduced NixOS for tests: lib.nixosSystem as nixos/lib/eval-config.nix builds it (the legacy
# `system` argument sets nixpkgs.system; `pkgs` and specialArgs as upstream treats them), with the
# nixpkgs module and the options the generated module meets, declared as NixOS declares them.
{ lib, nixpkgsFun }:
let
  baseModules = [
    ./nixpkgs.nix
    ./options.nix
    ./systemd.nix
    ./llama-cpp.nix
  ];
  nixosSystem =
    {
      system ? null,
      pkgs ? null,
      modules,
      specialArgs ? { },
    }:
    let
      pkgsModule = {
        _file = ./default.nix;
        key = ./default.nix;
        config = lib.mkMerge (
          lib.optional (system != null) { nixpkgs.system = lib.mkDefault system; }
          ++ lib.optional (pkgs != null) { _module.args.pkgs = lib.mkForce pkgs; }
        );
      };
      evaluated = lib.evalModules {
        specialArgs = { inherit nixpkgsFun; } // specialArgs;
        modules = baseModules ++ [ pkgsModule ] ++ modules;
      };
    in
    evaluated // { inherit (evaluated._module.args) pkgs; };
in
{
  inherit nixosSystem;
  # nixpkgs.nixosModules.readOnlyPkgs
  readOnlyPkgs = ./read-only.nix;
}
