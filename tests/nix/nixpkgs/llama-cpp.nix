# nixpkgs' own llama-cpp, reduced to its formal arguments (nixpkgs' names: cudaSupport, rocmSupport,
# rocmGpuTargets as a list, vulkanSupport, blasSupport, cpuArchDynamicDispatch, ...), the build options they
# decide, and its main program (`bin/llama`, a link to llama-cli).
{
  lib,
  stdenv,
  config,
  cmake,
  ninja,
  git,
  pkg-config,
  curl,
  blas,
  clblast,
  shaderc,
  vulkan-headers,
  vulkan-loader,
  autoAddDriverRunpath,
  cudaSupport ? config.cudaSupport,
  cudaPackages ? { },
  rocmSupport ? config.rocmSupport,
  rocmPackages ? { },
  rocmGpuTargets ? rocmPackages.clr.gpuTargets,
  cpuArchDynamicDispatch ? true,
  openclSupport ? false,
  metalSupport ? stdenv.hostPlatform.isDarwin && stdenv.hostPlatform.isAarch64 && !openclSupport,
  vulkanSupport ? false,
  rpcSupport ? false,
  blasSupport ? builtins.all (x: !x) [
    cudaSupport
    metalSupport
    openclSupport
    rocmSupport
    vulkanSupport
  ],
}:
stdenv.mkDerivation (finalAttrs: {
  pname = "llama-cpp-nixpkgs";
  version = "7000";
  nativeBuildInputs = [ cmake ninja git pkg-config ] ++ lib.optionals cudaSupport [ cudaPackages.cuda_nvcc ];
  buildInputs =
    [ curl ]
    ++ lib.optionals cudaSupport [ cudaPackages.cuda_cudart cudaPackages.libcublas ]
    ++ lib.optionals rocmSupport [ rocmPackages.clr rocmPackages.hipblas rocmPackages.rocblas ]
    ++ lib.optionals vulkanSupport [ vulkan-headers vulkan-loader shaderc ]
    ++ lib.optionals blasSupport [ blas ];
  cmakeFlags = [
    (lib.cmakeBool "GGML_NATIVE" false)
    (lib.cmakeBool "GGML_BLAS" blasSupport)
    (lib.cmakeBool "GGML_CUDA" cudaSupport)
    (lib.cmakeBool "GGML_HIP" rocmSupport)
    (lib.cmakeBool "GGML_VULKAN" vulkanSupport)
    (lib.cmakeBool "GGML_RPC" rpcSupport)
  ]
  ++ lib.optionals cpuArchDynamicDispatch [
    (lib.cmakeBool "GGML_CPU_ALL_VARIANTS" true)
    (lib.cmakeBool "GGML_BACKEND_DL" true)
  ]
  ++ lib.optionals rocmSupport [
    (lib.cmakeFeature "CMAKE_HIP_ARCHITECTURES" (builtins.concatStringsSep ";" rocmGpuTargets))
  ];
  postInstall = ''
    ln -sf llama-cli $out/bin/llama
  '';
  meta.mainProgram = "llama";
})
