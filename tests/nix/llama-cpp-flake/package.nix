# The llama.cpp flake's package (.devops/nix/package.nix) reduced to what decides its build. The
# formal arguments are upstream's, exactly and without `...`: an unknown argument to `override` is an
# error, `rocmGpuTargets` is a `;`-joined string, and the backends default from the package set's
# config (cudaSupport, rocmSupport), as upstream's do.
{
  lib,
  glibc,
  config,
  stdenv,
  runCommand,
  cmake,
  ninja,
  pkg-config,
  git,
  mpi,
  blas,
  cudaPackages,
  autoAddDriverRunpath,
  rocmPackages,
  vulkan-headers,
  vulkan-loader,
  openssl,
  shaderc,
  spirv-headers,
  useBlas ?
    builtins.all (x: !x) [
      useCuda
      useMetalKit
      useRocm
      useVulkan
    ]
    && blas.meta.available,
  useCuda ? config.cudaSupport,
  useMetalKit ? stdenv.isAarch64 && stdenv.isDarwin,
  useMpi ? false,
  useRocm ? config.rocmSupport,
  rocmGpuTargets ? builtins.concatStringsSep ";" rocmPackages.clr.gpuTargets,
  useVulkan ? false,
  useRpc ? false,
  llamaVersion ? "0.0.0",
  effectiveStdenv ? if useCuda then cudaPackages.backendStdenv else stdenv,
  enableStatic ? effectiveStdenv.hostPlatform.isStatic,
  precompileMetalShaders ? false,
  useWebUi ? true,
}:
let
  suffices =
    lib.optionals useBlas [ "BLAS" ]
    ++ lib.optionals useCuda [ "CUDA" ]
    ++ lib.optionals useMetalKit [ "MetalKit" ]
    ++ lib.optionals useMpi [ "MPI" ]
    ++ lib.optionals useRocm [ "ROCm" ]
    ++ lib.optionals useVulkan [ "Vulkan" ];
  pnameSuffix = lib.optionalString (suffices != [ ]) "-${lib.concatMapStringsSep "-" lib.toLower suffices}";
in
effectiveStdenv.mkDerivation (finalAttrs: {
  pname = "llama-cpp${pnameSuffix}";
  version = llamaVersion;
  nativeBuildInputs = [
    cmake
    ninja
    pkg-config
    git
    spirv-headers
  ]
  ++ lib.optionals useCuda [
    cudaPackages.cuda_nvcc
    autoAddDriverRunpath
  ];
  buildInputs =
    lib.optionals useCuda [
      cudaPackages.cuda_cudart
      cudaPackages.cuda_cccl
      cudaPackages.libcublas
    ]
    ++ lib.optionals useMpi [ mpi ]
    ++ lib.optionals useRocm [
      rocmPackages.clr
      rocmPackages.hipblas
      rocmPackages.rocblas
    ]
    ++ lib.optionals useBlas [ blas ]
    ++ lib.optionals useVulkan [
      vulkan-headers
      vulkan-loader
      shaderc
    ]
    ++ [ openssl ];
  cmakeFlags = [
    (lib.cmakeBool "LLAMA_BUILD_SERVER" true)
    (lib.cmakeBool "LLAMA_BUILD_WEBUI" useWebUi)
    (lib.cmakeBool "BUILD_SHARED_LIBS" (!enableStatic))
    (lib.cmakeBool "CMAKE_SKIP_BUILD_RPATH" true)
    (lib.cmakeBool "GGML_NATIVE" false)
    (lib.cmakeBool "GGML_BLAS" useBlas)
    (lib.cmakeBool "GGML_CUDA" useCuda)
    (lib.cmakeBool "GGML_HIP" useRocm)
    (lib.cmakeBool "GGML_METAL" useMetalKit)
    (lib.cmakeBool "GGML_VULKAN" useVulkan)
    (lib.cmakeBool "GGML_STATIC" enableStatic)
    (lib.cmakeBool "GGML_RPC" useRpc)
  ]
  ++ lib.optionals useCuda [
    (lib.cmakeFeature "CMAKE_CUDA_ARCHITECTURES" (
      builtins.concatStringsSep ";" (map cudaPackages.flags.dropDot cudaPackages.flags.cudaCapabilities)
    ))
  ]
  ++ lib.optionals useRocm [
    (lib.cmakeFeature "CMAKE_HIP_COMPILER" "${rocmPackages.llvm.clang}/bin/clang")
    (lib.cmakeFeature "CMAKE_HIP_ARCHITECTURES" rocmGpuTargets)
  ];
  env = lib.optionalAttrs useRocm {
    ROCM_PATH = "${rocmPackages.clr}";
  };
  postInstall = ''
    mkdir -p $out/include
    cp $src/include/llama.h $out/include/
  '';
  meta = {
    badPlatforms = lib.optionals useCuda lib.platforms.darwin;
    broken = useMetalKit && !effectiveStdenv.isDarwin;
    license = lib.licenses.mit;
    mainProgram = "llama-cli";
  };
})
