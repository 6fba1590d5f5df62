"""GPUs known by their PCI id alone: model names (pci.ids, else the project's table), CUDA compute
capabilities and ROCm targets from the chip table, and what nixpkgs' CUDA and ROCm can build for."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest
from conftest import lock_to_fake_nixpkgs, locked_path
from hardware_fakes import FIXTURES

from tui.cli import main
from tui.core.answers import MachineAnswer
from tui.core.data import load
from tui.core.hardware.gpu_ids import PciIds, chip_of, model_name, nvidia_capability_from_name, system_pci_ids
from tui.core.hardware.model import GpuInfo, HardwareReport
from tui.core.hardware.recommendation import recommend
from tui.core.hardware.reports import load_report
from tui.core.hardware.support import cuda_verdict

GPUS = FIXTURES / "facter" / "gpus"
PCI_IDS = FIXTURES / "pci-ids" / "pci.ids"


@pytest.fixture
def fake_pci_ids(monkeypatch):
    monkeypatch.setenv("LLAMAFLAKE_PCI_IDS", str(PCI_IDS))
    system_pci_ids.cache_clear()


# fixture, model name (project's table), capability or target, its source, variant, CUDA capabilities
REPORTS = [
    ("maxwell-gtx-970", "NVIDIA GeForce GTX 970", "5.2", "PCI id table: Maxwell", "cuda", ["5.2"]),
    ("pascal-gtx-1080", "NVIDIA GeForce GTX 1080", "6.1", "PCI id table: Pascal", "cuda", ["6.1"]),
    ("turing-rtx-2070-super", "NVIDIA GeForce RTX 2070 SUPER", "7.5", "PCI id table: Turing", "cuda", ["7.5"]),
    ("ampere-rtx-3060", "NVIDIA GeForce RTX 3060", "8.6", "PCI id table: Ampere", "cuda", ["8.6"]),
    ("ada-rtx-4090", "NVIDIA GeForce RTX 4090", "8.9", "PCI id table: Ada", "cuda", ["8.9"]),
    ("blackwell-rtx-5090", "NVIDIA GeForce RTX 5090", "12.0", "PCI id table: Blackwell", "cuda", ["12.0"]),
    ("kepler-tesla-k80", "NVIDIA Tesla K80", "3.7", "PCI id table: Kepler", "vulkan", []),
    ("rdna2-rx-6600", "AMD Radeon RX 6600/6600 XT (Navi 23)", "gfx1032", "PCI id table: Navi 23", "vulkan", []),
    ("rdna3-rx-7900-xtx", "AMD Radeon RX 7900 XT/XTX (Navi 31)", "gfx1100", "PCI id table: Navi 31", "vulkan", []),
    ("intel-arc-a770", "Intel Arc A770", None, None, "vulkan", []),
    ("qemu-vm", "QEMU standard VGA", None, None, "cpu", []),
]


@pytest.mark.parametrize("name, model, fact, source, variant, caps", REPORTS, ids=[r[0] for r in REPORTS])
def test_facter_reports_without_a_driver(name, model, fact, source, variant, caps):
    report = load_report(GPUS / f"{name}.facter.json")
    gpu = report.gpus[0]
    assert gpu.name == model
    assert (gpu.compute_capability or gpu.rocm_target) == fact
    assert (gpu.capability_source or gpu.rocm_target_source) == source
    rec = recommend(report)
    assert (rec.variant, rec.cuda_capabilities) == (variant, caps)
    if variant == "cuda":
        assert rec.cuda_source == "PCI id table"
        assert f"{model}, compute capability {fact} (from the {source}) → CUDA build for {fact}" in rec.reasons
        assert MachineAnswer.from_recommendation(rec).cuda_source == "PCI id table"


def test_out_of_range_kepler_gets_vulkan_with_the_reason():
    rec = recommend(load_report(GPUS / "kepler-tesla-k80.facter.json"))
    [why] = [r for r in rec.reasons if "Tesla K80" in r]
    assert "compute capability 3.7 (from the PCI id table: Kepler) is not built by CUDA 12.9" in why
    assert "nixpkgs no longer has a CUDA package set that old (CUDA 11.8 was the last for it)" in why
    assert why.endswith("→ Vulkan build (NVIDIA's driver has a Vulkan driver)")


def test_pascal_under_cuda_13_is_vulkan_and_names_the_older_package_set():
    report = load_report(GPUS / "pascal-gtx-1080.facter.json")
    rec = recommend(report, cuda_version="13.0")
    assert (rec.variant, rec.cuda_capabilities) == ("vulkan", [])
    assert any(
        "is not built by CUDA 13.0" in r and "cudaPackages_12_9 (CUDA 12.9) was the last" in r for r in rec.reasons
    )
    assumed = recommend(report)  # nixpkgs' CUDA not known: its default, with the caveat
    assert assumed.cuda_capabilities == ["6.1"]
    assert any("newer than CUDA 12.9 does not (pin cudaPackages_12_9" in r for r in assumed.reasons)
    known = recommend(report, cuda_version="12.8")
    assert known.cuda_capabilities == ["6.1"] and not any("pin cudaPackages" in r for r in known.reasons)


def test_blackwell_needs_a_recent_cuda():
    rec = recommend(load_report(GPUS / "blackwell-rtx-5090.facter.json"), cuda_version="12.6")
    assert rec.variant == "vulkan"
    assert any("needs CUDA 12.8 or newer, and nixpkgs' cudaPackages is CUDA 12.6" in r for r in rec.reasons)


def test_one_gpu_out_of_range_is_left_out_of_the_cuda_build():
    gpus = [
        GpuInfo(vendor="nvidia", name="NVIDIA GeForce RTX 4090", compute_capability="8.9", capability_source="NVML"),
        GpuInfo(vendor="nvidia", name="NVIDIA GeForce GTX 970", compute_capability="5.2", capability_source="NVML"),
    ]
    from tui.core.hardware.model import HardwareReport

    rec = recommend(HardwareReport(source="detected", system="x86_64-linux", gpus=gpus), cuda_version="13.0")
    assert (rec.variant, rec.cuda_capabilities, rec.cuda_source) == ("cuda", ["8.9"], "NVML")
    assert "NVIDIA GeForce RTX 4090, compute capability 8.9 (from NVML) → CUDA build for 8.9" in rec.reasons
    assert any(
        r.startswith("NVIDIA GeForce GTX 970: compute capability 5.2 is not built by CUDA 13.0")
        and r.endswith("left out of the CUDA build")
        for r in rec.reasons
    )


def test_rocm_is_offered_only_for_targets_nixpkgs_builds():
    rdna3 = recommend(load_report(GPUS / "rdna3-rx-7900-xtx.facter.json"))
    assert rdna3.rocm_option == ["gfx1100"]  # the Raphael iGPU (gfx1036) beside it is not offered
    assert any(
        "ROCm is an option for AMD Radeon RX 7900 XT/XTX (Navi 31): gfx1100 (from the PCI id table: Navi 31);" in r
        for r in rdna3.reasons
    )
    rdna2 = recommend(load_report(GPUS / "rdna2-rx-6600.facter.json"))
    assert rdna2.rocm_option == []
    assert any(
        "ROCm is not offered for AMD Radeon RX 6600/6600 XT (Navi 23): its target gfx1032" in r
        and "Vulkan runs on it" in r
        for r in rdna2.reasons
    )
    phoenix = recommend(load_report(FIXTURES / "facter" / "framework-13-7840u.facter.json"))
    assert phoenix.rocm_option == [] and any("gfx1103" in r and "not offered" in r for r in phoenix.reasons)


@pytest.mark.parametrize(
    "pci_id, expected",
    [
        ("10de:1d81", ("Volta", "7.0")),  # Titan V: right after the consumer Pascal ids
        ("10de:1d01", ("Pascal", "6.1")),
        ("10de:20b0", ("Ampere", "8.0")),  # A100 beside consumer Ampere
        ("10de:2236", ("Ampere", "8.6")),  # A10
        ("10de:13ad", ("Maxwell", "5.2")),  # a GM204 inside GM107's block
        ("10de:13b0", ("Maxwell", "5.0")),
        ("10de:13be", ("Maxwell", "5.2")),  # GM204 per pci.ids, inside GM107's block
        ("10de:13bf", ("Maxwell", "5.2")),
        ("10de:13bd", ("Maxwell", "5.0")),  # Tesla M10, GM107
        ("10de:2f04", ("Blackwell", "12.0")),  # GB205, RTX 5070
        ("10de:2f80", None),  # GB205's audio function
        ("10de:2f95", None),  # Vera Rubin CPU
        ("1002:1506", None),  # Mendocino: no ROCm target (LLVM has no gfx1037)
        ("10de:102d", ("Kepler", "3.7")),  # Tesla K80 inside GK110's block
        ("10de:1003", ("Kepler", "3.5")),
        ("10de:2e12", ("Blackwell", "12.1")),  # GB10
        ("10de:2330", ("Hopper", "9.0")),
        ("10de:2901", ("Blackwell", "10.0")),
        ("1002:73f0", ("Navi 33", "gfx1102")),  # RX 7600M XT inside Navi 23's block
        ("1002:73ef", ("Navi 23", "gfx1032")),
        ("1002:1586", ("Strix Halo", "gfx1151")),
        ("10de:0000", None),
        ("10de:zz", None),
    ],
)
def test_chip_table_with_exceptions(pci_id, expected):
    vendor = "nvidia" if pci_id.startswith("10de") else "amd"
    chip = chip_of(vendor, pci_id)
    assert ((chip.name, chip.value) if chip else None) == expected


def test_every_table_capability_has_a_support_range():
    ranges = load("gpu_support")["cuda"]["capabilities"]
    for family in load("gpu_chips")["nvidia"]:
        assert family["capability"] in ranges, family
    assert cuda_verdict("7.5", "13.0").supported and not cuda_verdict("7.0", "13.0").supported


def test_names_from_pci_ids(fake_pci_ids):
    report = load_report(GPUS / "turing-rtx-2070-super.facter.json")
    assert report.gpus[0].name == "NVIDIA GeForce RTX 2070 SUPER (TU104)"
    assert load_report(GPUS / "rdna2-rx-6600.facter.json").gpus[0].name == "AMD Radeon RX 6600/6600 XT/6600M (Navi 23)"
    assert load_report(GPUS / "intel-arc-a770.facter.json").gpus[0].name == "Intel Arc A770 (DG2)"
    # pci.ids knows only a code name: the project's table has the model
    assert (
        load_report(FIXTURES / "facter" / "framework-13-7840u.facter.json").gpus[0].name == "AMD Radeon 780M (Phoenix)"
    )


def test_pci_ids_lookup_stays_in_its_vendor_section():
    ids = PciIds(PCI_IDS.read_text(), "test")
    assert ids.device_name("10de", "1ec7") == "TU104 [GeForce RTX 2070 SUPER]"
    assert ids.device_name("8086", "1ec7") is None
    assert ids.device_name("1002", "0e3b") is None  # a subsystem line, not a device
    assert ids.device_name("10de", "56a0") is None


def test_a_chip_only_pci_ids_names_gives_the_capability(fake_pci_ids):
    name = model_name("nvidia", "10de:3fff")
    assert name == "NVIDIA Test GPU beyond the id table (GB202)"
    assert nvidia_capability_from_name(name) == ("12.0", "GB202")
    assert nvidia_capability_from_name("nVidia GP104GL [Quadro P4000]") == ("6.1", "GP104")
    assert nvidia_capability_from_name("GB20B [GB10]") == ("12.1", "GB20B")


def test_no_model_name_anywhere_still_names_the_family():
    gpu = load_report_data({"vendor": "10de", "device": "1e30"})  # a Quadro RTX not in the project's table
    assert gpu.name == "NVIDIA Turing GPU 10de:1e30" and gpu.compute_capability == "7.5"


def load_report_data(card: dict) -> GpuInfo:
    from tui.core.hardware.reports import report_from_data

    data = {
        "hardware": {
            "graphics_card": [
                {
                    "vendor": {"hex": card["vendor"]},
                    "device": {"hex": card["device"]},
                    "model": "nVidia VGA compatible controller",
                    "driver": "nvidia",
                }
            ]
        }
    }
    return report_from_data(data).gpus[0]


def test_saved_report_sources_are_not_taken_on_trust(tmp_path):
    saved = tmp_path / "saved.json"
    saved.write_text(
        json.dumps(
            {
                "source": "detected",
                "gpus": [
                    {
                        "vendor": "nvidia",
                        "pci_id": "10de:2684",
                        "compute_capability": "8.9",
                        "capability_source": "NVML",
                    },
                    {
                        "vendor": "nvidia",
                        "pci_id": "10de:1ec7",
                        "compute_capability": "9.9",
                        "capability_source": "me; rm -rf /",
                    },
                    {"vendor": "nvidia", "compute_capability": "8.6", "capability_source": "anything"},
                ],
            }
        )
    )
    ours, table, unknown = load_report(saved).gpus
    assert (ours.compute_capability, ours.capability_source) == ("8.9", "NVML")
    assert (table.compute_capability, table.capability_source) == ("7.5", "PCI id table: Turing")
    assert (unknown.compute_capability, unknown.capability_source) == ("8.6", "report")


def test_detect_report_names_and_sources_in_the_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["detect", "--report", str(GPUS / "turing-rtx-2070-super.facter.json")]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA GeForce RTX 2070 SUPER" in out and "10de:1ec7" not in out
    assert "compute 7.5 (from the PCI id table: Turing)" in out
    assert "cuda (CUDA 7.5)" in out


def test_detect_json_keeps_the_sources():
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["detect", "--json", "--report", str(GPUS / "rdna3-rx-7900-xtx.facter.json")]) == 0
    data = json.loads(out.getvalue())
    assert data["gpus"][0]["rocm_target_source"] == "PCI id table: Navi 31"
    assert data["recommendation"]["rocm_option"] == ["gfx1100"]


def test_report_gives_the_machine_file_its_own_capability_and_the_commit_says_where_from(demo_repo, capsys):
    import git

    from tui.core.read_back import read_machine_settings

    report = GPUS / "turing-rtx-2070-super.facter.json"
    assert main(["apply", "--flake", str(demo_repo), "--report", f"boron={report}", "--yes"]) == 0
    settings = read_machine_settings((demo_repo / "nixos/llama-cpp/machines/boron.nix").read_bytes())
    assert (settings.variant, settings.cuda_capabilities) == ("cuda", ["7.5"])
    message = git.Repo(demo_repo).head.commit.message
    assert "- boron: cuda," in message and "CUDA 7.5 (capability from PCI id table)" in message


def test_rocm_chosen_by_hand_builds_for_the_gpu_target_alone(demo_repo, capsys):
    report = GPUS / "rdna3-rx-7900-xtx.facter.json"
    assert main(["plan", "--flake", str(demo_repo), "--report", f"boron={report}", "--host", "boron=rocm"]) == 0
    out = capsys.readouterr().out
    assert 'variant = "rocm";' in out and '"gfx1100"' in out and '"gfx1036"' not in out


@pytest.mark.skipif(__import__("shutil").which("nix-instantiate") is None, reason="nix-instantiate is not installed")
def test_cuda_version_read_from_the_flakes_own_nixpkgs(tmp_path):
    from tui.core.hardware.support import nixpkgs_cuda_version

    flake = tmp_path / "flake"
    flake.mkdir()
    lock_to_fake_nixpkgs(flake, tmp_path / "nixpkgs", "13.0")
    assert nixpkgs_cuda_version(flake) == "13.0"
    assert nixpkgs_cuda_version(flake, "nixpkgs-stable") is None  # no such input: not known
    assert nixpkgs_cuda_version(tmp_path) is None  # no lock file
    rec = recommend(load_report(GPUS / "pascal-gtx-1080.facter.json"), cuda_version=nixpkgs_cuda_version(flake))
    assert rec.variant == "vulkan"


@pytest.mark.skipif(__import__("shutil").which("nix-instantiate") is None, reason="nix-instantiate is not installed")
def test_cuda_version_follows_a_follows_path_in_the_lock(tmp_path):
    """``nixpkgs.follows = "foo/nixpkgs"``: the lock names the path root -> foo -> its nixpkgs, not foo itself."""
    from tui.core.hardware.support import nixpkgs_cuda_version

    for name, cuda in (("foo", "12.0"), ("np", "13.0")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "default.nix").write_text(
            f'{{ ... }}: {{ cudaPackages.cudaMajorMinorVersion = "{cuda}"; }}\n'
        )
    path = lambda name: {"type": "path", "path": str(tmp_path / name)}  # noqa: E731
    lock = {
        "version": 7,
        "root": "root",
        "nodes": {
            "root": {
                "inputs": {"nixpkgs": ["foo", "nixpkgs"], "foo": "foo", "stable": ["unstable"], "unstable": "np_2"}
            },
            "foo": {"inputs": {"nixpkgs": "np_2"}, "locked": locked_path(tmp_path / "foo"), "original": path("foo")},
            "np_2": {"locked": locked_path(tmp_path / "np"), "original": path("np")},
        },
    }
    flake = tmp_path / "flake"
    flake.mkdir()
    (flake / "flake.lock").write_text(json.dumps(lock))
    assert nixpkgs_cuda_version(flake) == "13.0"
    assert nixpkgs_cuda_version(flake, "stable") == "13.0"  # a follows path of one name, to a node named otherwise
    assert nixpkgs_cuda_version(flake, "foo") == "12.0"


@pytest.mark.skipif(__import__("shutil").which("nix-instantiate") is None, reason="nix-instantiate is not installed")
def test_detect_host_reads_the_cuda_release_of_the_flake(demo_repo, tmp_path, capsys):
    lock_to_fake_nixpkgs(demo_repo, tmp_path / "nixpkgs", "12.8")
    assert main(["detect", "--json", "--flake", str(demo_repo), "--host", "carbon"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "CUDA 12.8, read from the flake's nixpkgs" in data["notes"]


def test_fermi_is_named_and_explained_not_given_a_cuda_build():
    report = load_report_data({"vendor": "10de", "device": "06c0"})  # GeForce GTX 480
    assert report.compute_capability == "2.0" and report.capability_source == "PCI id table: Fermi"
    rec = recommend(_report_with(report))
    assert rec.variant == "vulkan"
    assert any("compute capability 2.0" in r and "CUDA 8.0 was the last" in r for r in rec.reasons), rec.reasons


def _report_with(gpu: GpuInfo):
    from tui.core.hardware.model import HardwareReport

    return HardwareReport(source="facter", system="x86_64-linux", gpus=[gpu])


@pytest.mark.parametrize("capability", ["99.9", "1.0", "0.0"])
def test_a_reported_capability_no_gpu_has_gets_vulkan_with_the_reason(tmp_path, capability):
    saved = tmp_path / "saved.json"
    saved.write_text(
        json.dumps(
            {
                "source": "detected",
                "system": "x86_64-linux",
                "gpus": [
                    {"vendor": "nvidia", "name": "GPU", "compute_capability": capability, "capability_source": "NVML"}
                ],
            }
        )
    )
    rec = recommend(load_report(saved))
    assert rec.variant == "vulkan" and rec.cuda_capabilities == []
    assert any("is not a compute capability of any NVIDIA GPU" in r for r in rec.reasons), rec.reasons


def test_a_capability_newer_than_the_table_passes():
    assert cuda_verdict("12.2", "12.9").supported and cuda_verdict("13.0", "13.1").supported


def test_a_saved_report_gpu_without_a_name_is_named_by_its_pci_id(tmp_path):
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps({"source": "detected", "gpus": [{"vendor": "nvidia", "pci_id": "10de:2204"}]}))
    assert load_report(saved).gpus[0].name == "NVIDIA GeForce RTX 3090"


def test_a_facter_model_that_is_not_text_is_left_out():
    data = {
        "hardware": {
            "graphics_card": [
                {"vendor": {"hex": "10de"}, "device": {"hex": "2204"}, "model": ["x"], "driver": "nvidia"}
            ]
        }
    }
    from tui.core.hardware.reports import report_from_data

    assert report_from_data(data).gpus[0].name == "NVIDIA GeForce RTX 3090"


def test_a_capability_given_by_hand_that_cuda_cannot_build_is_warned_about(demo_repo, capsys):
    assert main(["plan", "--flake", str(demo_repo), "--host", "carbon=cuda", "--cuda", "carbon=2.0", "--no-nix"]) == 0
    err = capsys.readouterr().err
    assert (
        "llamaflake: warning: carbon: CUDA capability 2.0 is not built by CUDA" in err and "the build will fail" in err
    )


@pytest.mark.skipif(__import__("shutil").which("nix-instantiate") is None, reason="nix-instantiate is not installed")
@pytest.mark.parametrize("cuda, variant", [("13.0", "vulkan"), ("12.8", "cuda")])
def test_plan_reads_the_cuda_release_of_the_nixpkgs_llama_cpp_follows(demo_repo, tmp_path, capsys, cuda, variant):
    """A Pascal GPU: CUDA 13 no longer builds for it, so a nixpkgs with CUDA 13 gives it the Vulkan build."""
    from tui.core.read_back import read_machine_settings

    lock_to_fake_nixpkgs(demo_repo, tmp_path / "nixpkgs", cuda)
    report = GPUS / "pascal-gtx-1080.facter.json"
    assert main(["apply", "--flake", str(demo_repo), "--no-nix", "--report", f"boron={report}", "--yes"]) == 0
    assert "nixpkgs' current CUDA release is assumed (Nix not asked)" in capsys.readouterr().err
    assert main(["undo", "--flake", str(demo_repo), "--yes"]) == 0
    assert main(["apply", "--flake", str(demo_repo), "--no-eval", "--report", f"boron={report}", "--yes"]) == 0
    assert read_machine_settings((demo_repo / "nixos/llama-cpp/machines/boron.nix").read_bytes()).variant == "cuda"
    assert main(["undo", "--flake", str(demo_repo), "--yes"]) == 0
    code = main(["plan", "--flake", str(demo_repo), "--report", f"boron={report}"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"CUDA {cuda}, read from the flake's nixpkgs" in captured.err
    assert f'variant = "{variant}";' in captured.out


@pytest.mark.skipif(__import__("shutil").which("nix-instantiate") is None, reason="nix-instantiate is not installed")
@pytest.mark.parametrize("cuda, warned", [("13.0", True), ("12.8", False)])
def test_a_capability_given_by_hand_is_checked_against_the_flakes_cuda_release(
    demo_repo, tmp_path, capsys, cuda, warned
):
    lock_to_fake_nixpkgs(demo_repo, tmp_path / "nixpkgs", cuda)
    assert main(["plan", "--flake", str(demo_repo), "--host", "boron=cuda", "--cuda", "boron=6.1"]) == 0
    err = capsys.readouterr().err
    assert f"CUDA {cuda}, read from the flake's nixpkgs" in err
    assert ("boron: CUDA capability 6.1" in err) is warned, err


def test_cuda_package_sets_nixpkgs_removed_are_never_offered():
    """nixpkgs 25.11 removed CUDA 11 and 12.0-12.5 alike: the oldest set left is 12.6."""
    from tui.core.hardware.support import still_packaged

    assert [v for v in ("11.8", "12.0", "12.2", "12.5", "12.6", "12.9") if still_packaged(v)] == ["12.6", "12.9"]
    xavier = cuda_verdict("7.2", "12.9")  # Jetson AGX Xavier: CUDA 12.2 was its last
    assert not xavier.supported and "cudaPackages_12_2" not in xavier.reason
    assert "nixpkgs no longer has a CUDA package set that old (CUDA 12.2 was the last for it)" in xavier.reason
    pascal = cuda_verdict("6.1", "13.0")
    assert "cudaPackages_12_9 (CUDA 12.9) was the last to build for it" in pascal.reason


def test_mendocino_has_no_rocm_target_and_gets_vulkan():
    from tui.core.hardware.gpu_ids import add_chip_facts

    [gpu] = add_chip_facts(
        [GpuInfo(vendor="amd", name="AMD Radeon 610M (Mendocino)", pci_id="1002:1506", integrated=True)]
    )
    assert gpu.rocm_target is None
    rec = recommend(HardwareReport(source="facter", system="x86_64-linux", gpus=[gpu]))
    assert rec.variant == "vulkan" and rec.rocm_option == []
    assert not any("gfx1037" in r for r in rec.reasons)
