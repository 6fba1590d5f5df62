# Evaluates one generated machine file (which imports the generated module) as a NixOS machine
# would: lib.nixosSystem of the reduced NixOS, pkgs the fixpoint of nixpkgs.overlays, against the
# stand-in llama.cpp flake. For every system x services.llama-cpp on/off x way of making pkgs it
# reports what the machine gets; errors a module may `throw` are reported as { error = true; }.
# Used by tests/test_module_eval.py.
{
  libPath,
  machineFile,
  systems ? [ "x86_64-linux" "aarch64-linux" ],
  pkgsModes ? [ "hostPlatform" "legacy-system" "nixpkgs.pkgs" "read-only" "specialArgs" ],
  services ? [ false true ],
  withInputs ? true,
  # "inputs": specialArgs.inputs; "flake": specialArgs.flake.inputs, as nixos-unified passes them;
  # "module-args-flake": _module.args.flake = { inputs; }, as a flake passing `self` does;
  # "self": specialArgs.self, the flake itself.
  inputsAs ? "inputs",
  # Modules the machine also imports, as values (not by path), to see a module imported twice.
  extraModules ? [ ],
  # false: let an error stop the evaluation, to see its message.
  catchErrors ? true,
  # The names of the report's fields to give (null: all), so that an error elsewhere is not reached.
  only ? null,
}:
let
  lib = import libPath;
  nixpkgsFun = import ./nixpkgs { inherit lib; };
  nixos = import ./nixpkgs/nixos { inherit lib nixpkgsFun; };
  llamaFlake = import ./llama-cpp-flake { inherit lib nixpkgsFun; };
  # "flat": the inputs themselves as specialArgs (specialArgs = inputs).
  inputs = lib.optionalAttrs (withInputs && inputsAs != "module-args-flake") (
    if inputsAs == "flake" then { flake.inputs.llama-cpp = llamaFlake; }
    else if inputsAs == "self" then { self.inputs.llama-cpp = llamaFlake; }
    else if inputsAs == "flat" then { llama-cpp = llamaFlake; }
    else { inputs.llama-cpp = llamaFlake; }
  );
  inputsModules = lib.optional (withInputs && inputsAs == "module-args-flake") {
    _module.args.flake.inputs.llama-cpp = llamaFlake;
  };

  machine =
    { system, pkgsMode, service }:
    let
      modules = [
        machineFile
        # A service turned on by hand names its own model (nixpkgs' asserts one); a served model's wins.
        {
          services.llama-cpp.enable = lib.mkDefault service;
          services.llama-cpp.model = lib.mkIf service (lib.mkDefault "/var/lib/models/by-hand.gguf");
        }
        # The pkgs that modules are given (with specialArgs.pkgs, not the one NixOS makes).
        (
          { pkgs, ... }:
          {
            options.testing.modulePkgs = lib.mkOption {
              type = lib.types.raw;
              readOnly = true;
              default = pkgs;
            };
          }
        )
      ] ++ inputsModules ++ map import extraModules;
    in
    if pkgsMode == "hostPlatform" then
      nixos.nixosSystem {
        specialArgs = inputs;
        modules = [ { nixpkgs.hostPlatform = system; } ] ++ modules;
      }
    else if pkgsMode == "legacy-system" then
      nixos.nixosSystem {
        inherit system modules;
        specialArgs = inputs;
      }
    else if pkgsMode == "nixpkgs.pkgs" then
      nixos.nixosSystem {
        specialArgs = inputs;
        modules = [ { nixpkgs.pkgs = nixpkgsFun { inherit system; }; } ] ++ modules;
      }
    else if pkgsMode == "read-only" then
      nixos.nixosSystem {
        specialArgs = inputs;
        modules = [
          nixos.readOnlyPkgs
          { nixpkgs.pkgs = nixpkgsFun { inherit system; }; }
        ] ++ modules;
      }
    else if pkgsMode == "specialArgs" then
      nixos.nixosSystem {
        specialArgs = inputs // { pkgs = nixpkgsFun { inherit system; }; };
        modules = [ { nixpkgs.hostPlatform = system; } ] ++ modules;
      }
    else
      throw "unknown pkgs mode ${pkgsMode}";

  attempt =
    value:
    let
      result = builtins.tryEval (builtins.deepSeq value value);
    in
    if !catchErrors then builtins.deepSeq value value else if result.success then result.value else { error = true; };
  built = package: attempt { inherit (package) name drvPath; };

  report =
    evaluated:
    let
      inherit (evaluated) config;
      pkgs = config.testing.modulePkgs;
      cfg = config.local.llama-cpp;
    in
    {
      package = built cfg.package // attempt { inherit (cfg.package) cmakeFlags; };
      # What `lib.getExe` runs, and how the build makes it.
      mainProgram = attempt (cfg.package.meta.mainProgram or null);
      pkgsLlamaCppExe = attempt (lib.getExe pkgs.llama-cpp);
      postInstall = attempt (cfg.package.drvAttrs.postInstall or null);
      pkgsLlamaCpp = built pkgs.llama-cpp;
      byName = lib.genAttrs [ "llama-cpp-cpu" "llama-cpp-vulkan" "llama-cpp-cuda" "llama-cpp-rocm" ] (
        name: if pkgs ? ${name} then built pkgs.${name} else null
      );
      service = if config.services.llama-cpp.enable then built config.services.llama-cpp.package else null;
      # The unit nixpkgs' service makes, and what the served model's settings put into it.
      unit =
        if config.services.llama-cpp.enable then
          attempt {
            inherit (config.systemd.services.llama-cpp.serviceConfig)
              ExecStart
              ProcSubset
              MemoryDenyWriteExecute
              PrivateUsers
              PrivateDevices
              DynamicUser
              ;
            SupplementaryGroups = config.systemd.services.llama-cpp.serviceConfig.SupplementaryGroups or null;
            model = config.services.llama-cpp.model;
            inherit (config.services.llama-cpp) host port extraFlags;
          }
        else
          null;
      firewallPorts = attempt config.networking.firewall.allowedTCPPorts;
      served =
        if cfg.serve.enable then
          attempt {
            fetches = map (fetch: {
              inherit (fetch) name url outputHash outputHashAlgo;
              out = fetch.outPath;
            }) cfg.serve.model.fetches;
            path = cfg.serve.model.path;
            folder =
              let
                folder = builtins.dirOf cfg.serve.model.path;
              in
              if builtins.length cfg.serve.model.fetches > 1 then folder else null;
          }
        else
          null;
      systemPackages = attempt (map (package: package.drvPath) config.environment.systemPackages);
      substituters = config.nix.settings.extra-substituters or [ ];
      trustedKeys = config.nix.settings.extra-trusted-public-keys or [ ];
      graphics = config.hardware.graphics.enable;
      failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
      warnings = config.warnings;
      # How nixpkgs packages call llama-cpp, with nixpkgs' argument names, where pkgs.llama-cpp is
      # the module's (not where pkgs was made without the module's overlay).
      overrides = lib.optionalAttrs (pkgs ? llama-cpp-cpu && cfg.replaceNixpkgsPackage) {
        cuda = built (pkgs.llama-cpp.override { cudaSupport = true; });
        rocmTargets = built (
          pkgs.llama-cpp.override {
            rocmSupport = true;
            rocmGpuTargets = [ "gfx1030" "gfx1100" ];
          }
        );
        rocmTargetsFlags = attempt (
          (pkgs.llama-cpp.override {
            rocmSupport = true;
            rocmGpuTargets = [ "gfx1030" "gfx1100" ];
          }).cmakeFlags
        );
        vulkanThenNoCuda = built ((pkgs.llama-cpp.override { vulkanSupport = true; }).override { cudaSupport = false; });
        attrsThenCuda = built ((pkgs.llama-cpp.overrideAttrs (old: { doCheck = false; })).override { cudaSupport = true; });
        attrsKeptThroughOverride = attempt (
          ((pkgs.llama-cpp.overrideAttrs (old: { cmakeFlags = old.cmakeFlags ++ [ "-DMARK=1" ]; })).override {
            blasSupport = false;
          }).cmakeFlags
        );
        unknownArgument = built (pkgs.llama-cpp.override { somethingElse = 1; });
        # Backends the flake does not build: nixpkgs' own OpenCL switch, and one nixpkgs does not take.
        opencl = built (pkgs.llama-cpp.override { openclSupport = true; });
        openclFlags = attempt (pkgs.llama-cpp.override { openclSupport = true; }).cmakeFlags;
        sycl = built (pkgs.llama-cpp.override { syclSupport = true; });
        dynamicDispatchFlags = attempt (pkgs.llama-cpp.override { cpuArchDynamicDispatch = true; }).cmakeFlags;
        noDynamicDispatchFlags = attempt (pkgs.llama-cpp.override { cpuArchDynamicDispatch = false; }).cmakeFlags;
        dynamicDispatchCuda = built (pkgs.llama-cpp.override { cpuArchDynamicDispatch = true; cudaSupport = true; });
        # `old` holds the machine's backend switches.
        sameArguments = built (pkgs.llama-cpp.override (old: { inherit (old) cudaSupport vulkanSupport rocmSupport; }));
      };
      dependents = {
        tabby = built pkgs.tabby;
        ramalama = built pkgs.ramalama;
      };
      # Package sets nixpkgs makes from pkgs for another platform: they get every overlay too.
      otherPlatforms = {
        cross = built pkgs.pkgsCross.aarch64-multiplatform.llama-cpp;
        crossVulkan = built pkgs.pkgsCross.aarch64-multiplatform.llama-cpp-vulkan;
        crossCpu =
          let crossPkgs = pkgs.pkgsCross.aarch64-multiplatform; in
          if crossPkgs ? llama-cpp-cpu then built crossPkgs.llama-cpp-cpu else null;
        static = built pkgs.pkgsStatic.llama-cpp;
      };
    };
in
lib.listToAttrs (
  lib.concatMap (
    system:
    lib.concatMap (
      pkgsMode:
      map (service: {
        name = "${system} ${pkgsMode} ${if service then "service" else "no-service"}";
        value =
          let
            full = report (machine { inherit system pkgsMode service; });
          in
          if only == null then full else lib.getAttrs only full;
      }) services
    ) pkgsModes
  ) systems
)
