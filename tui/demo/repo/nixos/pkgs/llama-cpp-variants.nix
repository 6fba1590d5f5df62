# My attempt at llama.cpp variants. TODO: CUDA never built, and is this even using AVX?
final: prev: {
  llama-cpp-cpu = prev.llama-cpp.overrideAttrs (old: {
    cmakeFlags = old.cmakeFlags ++ ["-DGGML_NATIVE=ON"];
    NIX_CFLAGS_COMPILE = old.NIX_CFLAGS_COMPILE or "" + " -march=native";
  });
  llama-cpp-cuda = prev.llama-cpp.override {cudaSupport = true;};
  llama-cpp-vulkan = prev.llama-cpp.override {vulkanSupport = true;};
}
