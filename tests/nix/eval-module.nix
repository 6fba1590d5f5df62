# Evaluates a generated machine file (which imports the generated module) under the NixOS module
# system with real nixpkgs `lib`, against a stand-in for the llama.cpp flake whose packages record
# how they were overridden. Used by tests/test_module_eval.py.
{ lib, machineFile, system ? "x86_64-linux", withRocm ? true, withInputs ? true }:
let
  mkPkg =
    name: attrs:
    let
      self = {
        type = "derivation";
        inherit name;
        outPath = "/nix/store/00000000000000000000000000000000-${name}";
        drvPath = "/nix/store/00000000000000000000000000000000-${name}.drv";
        cmakeFlags = attrs.cmakeFlags or [ ];
        overrideArgs = attrs.overrideArgs or { };
        overrideAttrs = f: mkPkg name (attrs // { cmakeFlags = (f self).cmakeFlags or self.cmakeFlags; });
        override = lib.setFunctionArgs (
          args: mkPkg name (attrs // { overrideArgs = (attrs.overrideArgs or { }) // args; })
        ) { useCuda = true; useVulkan = true; useRocm = true; useBlas = true; rocmGpuTargets = true; };
      };
    in
    self;
  flakePackages = {
    default = mkPkg "llama-cpp-blas" { cmakeFlags = [ "-DGGML_NATIVE:BOOL=FALSE" ]; };
    vulkan = mkPkg "llama-cpp-vulkan" { };
    cuda = mkPkg "llama-cpp-cuda" { cmakeFlags = [ "-DCMAKE_CUDA_ARCHITECTURES:STRING=75;80;86" ]; };
  } // lib.optionalAttrs withRocm { rocm = mkPkg "llama-cpp-rocm" { }; };
  llamaFlake = { packages.${system} = flakePackages; };

  # The NixOS options the module sets, declared as NixOS declares them.
  nixosStubs = {
    options = {
      assertions = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
      nixpkgs.overlays = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
      environment.systemPackages = lib.mkOption { type = lib.types.listOf lib.types.package; default = [ ]; };
      nix.settings = lib.mkOption { type = lib.types.attrsOf lib.types.unspecified; default = { }; };
      hardware.graphics.enable = lib.mkOption { type = lib.types.bool; default = false; };
      services.llama-cpp.enable = lib.mkOption { type = lib.types.bool; default = false; };
      services.llama-cpp.package = lib.mkOption { type = lib.types.package; default = flakePackages.default; };
    };
  };
  pkgs = {
    stdenv.hostPlatform = {
      inherit system;
      isx86 = lib.hasPrefix "x86_64" system;
    };
  };
  evaluated = lib.evalModules {
    specialArgs = lib.optionalAttrs withInputs { inputs = { llama-cpp = llamaFlake; }; };
    modules = [
      nixosStubs
      { _module.args.pkgs = pkgs; }
      machineFile
      { services.llama-cpp.enable = true; }
    ];
  };
  config = evaluated.config;
  cfg = config.local.llama-cpp;
  overlaid = lib.foldl' (acc: overlay: acc // overlay acc acc) { } config.nixpkgs.overlays;
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
in
{
  variant = cfg.variant;
  packageName = cfg.package.name;
  cmakeFlags = cfg.package.cmakeFlags;
  overrideArgs = cfg.package.overrideArgs;
  overlayNames = lib.attrNames overlaid;
  llamaCppName = overlaid.llama-cpp.name or null;
  nixpkgsStyleOverride = (overlaid.llama-cpp.override { cudaSupport = true; vulkanSupport = false; somethingElse = 1; }).overrideArgs or null;
  substituters = config.nix.settings.extra-substituters or [ ];
  trustedKeys = config.nix.settings.extra-trusted-public-keys or [ ];
  graphics = config.hardware.graphics.enable;
  servicePackage = config.services.llama-cpp.package.name;
  systemPackages = map (p: p.name) config.environment.systemPackages;
  inherit failedAssertions;
}
