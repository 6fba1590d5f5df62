"""The generated files for each variant: what they say, and that they parse."""

from __future__ import annotations

import re

import pytest

from tui.core.answers import MachineAnswer
from tui.core.caches import cache_by_name
from tui.core.nix.syntax import parse
from tui.core.read_back import read_machine_settings, read_module_caches
from tui.core.render import render_machine, render_module
from tui.core.variants import VARIANTS


@pytest.mark.parametrize(
    "answer, expected",
    [
        (MachineAnswer("cpu", cpu_flags=["sse4_2", "avx", "avx2"]), ['variant = "cpu";', '"avx2"']),
        (MachineAnswer("cpu", all_variants=True), ["cpu.allVariants = true;"]),
        (
            MachineAnswer("cuda", all_variants=True, cuda_capabilities=["8.6", "8.9"]),
            ['cuda.capabilities = [ "8.6" "8.9" ];'],
        ),
        (MachineAnswer("vulkan", cpu_flags=["avx2"]), ['variant = "vulkan";']),
        (MachineAnswer("rocm", all_variants=True, rocm_targets=["gfx1100"]), ['rocm.gpuTargets = [ "gfx1100" ];']),
        (MachineAnswer("cpu"), ["cpu.flags = [ ];"]),
    ],
)
def test_machine_file_per_variant_parses_and_reads_back(answer, expected):
    text = render_machine("alpha", answer, "../default.nix")
    parse(text)
    decoded = text.decode()
    for fragment in expected:
        assert fragment in decoded
    back = read_machine_settings(text)
    assert back.variant == answer.variant
    assert back.cpu_flags == answer.cpu_flags
    assert back.all_variants == answer.all_variants
    assert back.cuda_capabilities == answer.cuda_capabilities
    assert back.rocm_targets == answer.rocm_targets


def test_machine_file_keeps_notes_as_comments():
    answer = MachineAnswer(
        "cuda", notes=["NVIDIA RTX 3050 Ti, compute capability 8.6"], cuda_capabilities=["8.6"], all_variants=True
    )
    text = render_machine("carbon", answer, "../default.nix")
    assert b"# NVIDIA RTX 3050 Ti, compute capability 8.6\n" in text
    assert read_machine_settings(text).notes == ["NVIDIA RTX 3050 Ti, compute capability 8.6"]


@pytest.mark.parametrize("caches", [[], ["nixos-cuda"], ["nixos-cuda", "flox", "nix-community"]])
def test_module_parses_with_any_caches_and_reads_them_back(caches):
    chosen = [cache_by_name(name) for name in caches]
    text = render_module("llama-cpp", chosen)
    parse(text)
    assert [c.name for c in read_module_caches(text)] == caches
    decoded = text.decode()
    code = "\n".join(line.split("#")[0] for line in decoded.splitlines())
    assert "-march=native" not in code
    assert 'lib.cmakeBool "GGML_NATIVE" false' in code
    assert "import inputs.nixpkgs" not in code and "import nixpkgs" not in code
    assert "options.local.llama-cpp" in code and "config = lib.mkMerge" in code and "(lib.mkIf cfg.enable (" in code


def test_module_keeps_options_and_config_apart():
    tree = parse(render_module("llama-cpp", []))
    from tui.core.nix.syntax import bindings, unwrap

    body = unwrap(tree)
    while body.kind == "NODE_LAMBDA":
        body = unwrap(body.nodes()[-1])
    if body.kind == "NODE_LET_IN":
        body = unwrap(body.nodes()[-1])
    top = sorted({b.path[0] for b in bindings(body)})
    # `key` lets NixOS import the module once wherever it is imported from.
    assert top == ["config", "key", "options"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_has_a_build_and_a_package_name_in_the_module(variant):
    """A variant added to VARIANTS alone is not enough: the module must build it and give it its name."""
    module = render_module("llama-cpp", []).decode()
    variants_set = module[module.index("  variantsWith =") :]
    assert re.search(rf"\n      {variant} =\s", variants_set[: variants_set.index("\n    };")]), (
        f"no build of {variant} in `variantsWith`"
    )
    assert re.search(rf'\n +llama-cpp-{variant} = byName [^;\n]*"llama-cpp-{variant}" "{variant}";', module)


def test_all_variants_option_names_every_platform_ggml_builds_variants_for():
    module = render_module("llama-cpp", []).decode()
    [text] = re.findall(r"cpu\.allVariants = lib\.mkOption \{.*?description = \"([^\"]*)\"", module, re.S)
    assert "x86 CPU variant" not in text
    assert "x86-64, ARM, PowerPC, s390x and riscv64" in text
