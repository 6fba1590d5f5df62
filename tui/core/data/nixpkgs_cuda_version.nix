# The CUDA release of `cudaPackages` in a locked nixpkgs (`locked`: its flake.lock node's `locked`, as JSON).
{ locked, system }:
let
  src = builtins.fetchTree (builtins.fromJSON locked);
  cuda =
    (import src {
      inherit system;
      config = {
        allowUnfree = true;
      };
      overlays = [ ];
    }).cudaPackages;
in
cuda.cudaMajorMinorVersion or cuda.cudaVersion
