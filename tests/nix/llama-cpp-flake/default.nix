# The llama.cpp flake's outputs as its flake.nix lays them out (38898cc): per system, `default` from
# the flake's plain nixpkgs instance (unfree off), `vulkan` as default.override { useVulkan = true; },
# `cuda` from an instance with cudaSupport and the CUDA licences allowed (Linux only), `rocm` from one
# with rocmSupport (x86_64-linux only).
{ lib, nixpkgsFun }:
let
  perSystem =
    system:
    let
      pkgs = nixpkgsFun { inherit system; };
      pkgsCuda = nixpkgsFun {
        inherit system;
        config = {
          cudaSupport = true;
          allowUnfreePredicate =
            p:
            builtins.all (
              license:
              license.free
              || builtins.elem license.shortName [
                "CUDA EULA"
                "cuDNN EULA"
              ]
            ) (p.meta.licenses or (lib.toList p.meta.license));
        };
      };
      pkgsRocm = nixpkgsFun {
        inherit system;
        config.rocmSupport = true;
      };
      scope = set: set.callPackage ./scope.nix { llamaVersion = "0.0.0"; };
      default = (scope pkgs).llama-cpp;
    in
    {
      inherit default;
      vulkan = default.override { useVulkan = true; };
    }
    // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
      cuda = (scope pkgsCuda).llama-cpp;
      mpi-cpu = default.override { useMpi = true; };
    }
    // lib.optionalAttrs (system == "x86_64-linux") {
      rocm = (scope pkgsRocm).llama-cpp;
    };
in
{
  packages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] perSystem;
}
