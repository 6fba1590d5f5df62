# The base layer of the reduced nixpkgs: stdenv, callPackage and scopes, the dependencies the
# llama.cpp packages take (CUDA's libraries under the CUDA licence, ROCm, Vulkan, BLAS), nixpkgs' own
# llama-cpp with nixpkgs' argument names, packages of nixpkgs that override it with those names, and
# fetchurl and linkFarm as far as evaluation sees them (a fixed-output path from the name and hash).
{
  lib,
  buildPlatform,
  hostPlatform,
  config,
  overlays,
  nixpkgsFun,
  arguments,
}:
final: prev:
let
  mkDerivation = import ./mk-derivation.nix { inherit lib config hostPlatform; };
  stdenv = {
    inherit buildPlatform hostPlatform mkDerivation;
    targetPlatform = hostPlatform;
    system = hostPlatform.system;
    inherit (hostPlatform) isLinux isDarwin isAarch64 isx86_64;
    isx86 = hostPlatform.isx86;
  };
  package =
    pname: attrs:
    mkDerivation (
      {
        inherit pname;
        version = "1.0";
      }
      // attrs
    );
  cudaLicence = {
    shortName = "CUDA EULA";
    fullName = "CUDA Toolkit End User License Agreement (EULA)";
    free = false;
  };
in
{
  _type = "pkgs";
  inherit lib config overlays stdenv;
  # What NixOS uses as its `pkgs` argument; here the set itself.
  __splicedPackages = final;
  callPackage = lib.callPackageWith final;
  newScope = extra: lib.callPackageWith (final // extra);
  appendOverlays =
    extra: if extra == [ ] then final else nixpkgsFun (arguments // { overlays = overlays ++ extra; });
  extend = overlay: final.appendOverlays [ overlay ];
  # Package sets for other platforms, made as nixpkgs makes them (pkgs/top-level/stage.nix): the same
  # arguments, overlays included, for another host platform.
  pkgsCross.aarch64-multiplatform = nixpkgsFun (arguments // { crossSystem = lib.systems.examples.aarch64-multiplatform; });
  pkgsStatic = nixpkgsFun (arguments // {
    crossSystem = {
      isStatic = true;
      config = "${hostPlatform.parsed.cpu.name}-unknown-linux-musl";
    };
  });

  runCommand = name: env: script: package name { };
  # pkgs/build-support/fetchurl: exactly one hash; the output path of a fixed-output download depends on
  # its name and hash, not on the URL. Nothing is downloaded.
  fetchurl =
    {
      url,
      name ? baseNameOf url,
      sha256 ? "",
      hash ? "",
      ...
    }:
    let
      outputHash =
        if (sha256 == "") == (hash == "") then throw "fetchurl ${url}: give exactly one of sha256 and hash" else sha256 + hash;
      digest = builtins.hashString "sha256" "fixed:out:${outputHash}:${name}";
    in
    {
      type = "derivation";
      inherit name url outputHash;
      urls = [ url ];
      outputHashAlgo = if sha256 != "" then "sha256" else null;
      outputHashMode = "flat";
      drvPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" "drv:${url}:${digest}")}-${name}.drv";
      outPath = "/nix/store/${builtins.substring 0 32 digest}-${name}";
      outputs = [ "out" ];
    };
  # pkgs/build-support/trivial-builders: a folder of links, its entries in passthru.
  linkFarm =
    name: entries:
    let
      listed = if builtins.isList entries then entries else lib.mapAttrsToList (name: path: { inherit name path; }) entries;
    in
    package name {
      inherit name;
      passthru.entries = listed;
      env.links = builtins.toJSON (map (entry: { inherit (entry) name; path = "${entry.path}"; }) listed);
    };
  glibc = package "glibc" { } // {
    static = package "glibc-static" { };
  };
  cmake = package "cmake" { };
  ninja = package "ninja" { };
  pkg-config = package "pkg-config" { };
  git = package "git" { };
  curl = package "curl" { };
  openssl = package "openssl" { };
  mpi = package "openmpi" { };
  blas = package "blas" { } // {
    meta.available = true;
  };
  clblast = package "clblast" { };
  shaderc = package "shaderc" { };
  spirv-headers = package "spirv-headers" { };
  vulkan-headers = package "vulkan-headers" { };
  vulkan-loader = package "vulkan-loader" { };
  autoAddDriverRunpath = package "auto-add-driver-runpath-hook" { };

  cudaPackages = lib.makeScope final.newScope (cudaSelf: {
    backendStdenv = stdenv;
    cuda_cudart = package "cuda_cudart" { meta.license = cudaLicence; };
    cuda_cccl = package "cuda_cccl" { meta.license = cudaLicence; };
    cuda_nvcc = package "cuda_nvcc" { meta.license = cudaLicence; };
    libcublas = package "libcublas" { meta.license = cudaLicence; };
    flags = {
      cudaCapabilities = config.cudaCapabilities or [ "7.5" "8.0" "8.6" "8.9" "9.0" "10.0" "12.0" ];
      dropDot = lib.replaceStrings [ "." ] [ "" ];
    };
  });

  rocmPackages = lib.makeScope final.newScope (rocmSelf: {
    clr = package "clr" { } // {
      gpuTargets = [ "gfx900" "gfx906" "gfx908" "gfx90a" "gfx942" "gfx1030" "gfx1100" ];
    };
    hipblas = package "hipblas" { };
    rocblas = package "rocblas" { };
    rocm-device-libs = package "rocm-device-libs" { };
    llvm.clang = package "rocm-clang" { };
  });

  llama-cpp = final.callPackage ./llama-cpp.nix { };
  # pkgs/by-name/ll/llama-cpp-{vulkan,cuda,rocm}: nixpkgs' llama-cpp with a backend switched on.
  llama-cpp-vulkan = final.callPackage ({ llama-cpp }: llama-cpp.override { vulkanSupport = true; }) { };
  llama-cpp-cuda = final.callPackage ({ llama-cpp }: llama-cpp.override { cudaSupport = true; }) { };
  llama-cpp-rocm = final.callPackage ({ llama-cpp }: llama-cpp.override { rocmSupport = true; }) { };

  # Packages of nixpkgs that take llama-cpp and override it with nixpkgs' argument names.
  tabby = final.callPackage (
    {
      llama-cpp,
      config,
      cudaSupport ? config.cudaSupport,
      rocmSupport ? config.rocmSupport,
    }:
    package "tabby" {
      buildInputs = [ (llama-cpp.override { inherit cudaSupport rocmSupport; }) ];
    }
  ) { };
  ramalama = final.callPackage (
    { llama-cpp }:
    package "ramalama" {
      buildInputs = [ (llama-cpp.override { vulkanSupport = true; }) ];
    }
  ) { };
}
