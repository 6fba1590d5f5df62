"""The SSH scan: its shell script really runs under `sh` against the fake machines, with fake
`uname`/`nvidia-smi`/`ssh` programs on PATH; only the network hop is left out."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest
from hardware_fakes import copy_machine, icd_dirs, machine

from tui.core.errors import LlamaflakeError
from tui.core.hardware.recommendation import recommend
from tui.core.hardware.ssh import SCAN_SCRIPT, parse_scan, scan_over_ssh, ssh_command
from tui.core.hardware.this_machine import detect_this_machine

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")


def program(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def local_runner(root: Path, bin_dir: Path, seen: list):
    """Runs what ssh would run on the remote machine (``sh -s`` with the script on stdin), here."""

    def run(argv: list[str], stdin: str) -> tuple[int, str, str]:
        seen.append(argv)
        assert argv[:1] == ["ssh"] and argv[-2:] == ["sh", "-s"]
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "LLAMAFLAKE_SCAN_ROOT": str(root), "LC_ALL": "C"}
        done = subprocess.run(argv[-2:], input=stdin, capture_output=True, text=True, env=env, timeout=30)
        return done.returncode, done.stdout, done.stderr

    return run


@pytest.fixture
def bin_dir(tmp_path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    program(folder, "uname", 'case "$1" in -m) echo x86_64 ;; -n) echo remote-box ;; *) echo Linux ;; esac\n')
    return folder


@pytest.fixture
def no_host_nvidia_smi():
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has a real nvidia-smi on PATH")


def comparable(report):
    data = asdict(report)
    for key in ("source", "notes", "hostname", "hints"):
        data.pop(key)
    return data


@pytest.mark.parametrize("name", ["tigerlake-laptop", "zen4-desktop", "framework-13-7840u"])
def test_ssh_scan_reads_what_local_detection_reads(name, bin_dir, no_host_nvidia_smi):
    root = machine(name)
    seen = []
    remote = scan_over_ssh("remote-box", runner=local_runner(root, bin_dir, seen))
    local = detect_this_machine(root / "proc", root / "sys", icd_dirs=icd_dirs(root), machine="x86_64")
    assert seen == [ssh_command("remote-box")]
    assert remote.source == "ssh" and remote.hostname == "remote-box"
    assert comparable(remote) == comparable(local)
    assert remote.memory_mib is not None  # RAM, for the models that fit a CPU build
    assert recommend(remote).variant == recommend(local).variant == "vulkan"


def test_ssh_scan_of_the_nvidia_workstation_uses_nvidia_smi(bin_dir):
    program(bin_dir, "nvidia-smi", 'echo "NVIDIA GeForce RTX 4090, 24564, 8.9, 550.78"\n')
    report = scan_over_ssh("ws", runner=local_runner(machine("nvidia-workstation"), bin_dir, []))
    [gpu] = report.gpus
    assert (gpu.name, gpu.memory_mib, gpu.compute_capability, gpu.driver_version) == (
        "NVIDIA GeForce RTX 4090",
        24564,
        "8.9",
        "550.78",
    )
    assert gpu.pci_id == "10de:2684" and gpu.pci_slot == "0000:01:00.0"
    assert gpu.capability_source == "nvidia-smi"  # the machine's own answer, not the PCI id table
    rec = recommend(report)
    assert (rec.variant, rec.cuda_capabilities, rec.confidence) == ("cuda", ["8.9"], "detected")
    assert "NVIDIA GeForce RTX 4090, compute capability 8.9 (from nvidia-smi) → CUDA build for 8.9" in rec.reasons
    assert rec.cuda_source == "nvidia-smi"


def test_ssh_scan_names_gpus_from_the_remote_pci_ids(tmp_path, bin_dir, no_host_nvidia_smi):
    if shutil.which("awk") is None:
        pytest.skip("needs awk, as the remote machine does")
    root = copy_machine(tmp_path, "zen4-desktop")
    database = root / "run/current-system/sw/share/hwdata/pci.ids"  # a NixOS system profile
    database.parent.mkdir(parents=True)
    shutil.copy(Path(__file__).parent.parent / "fixtures/hardware/pci-ids/pci.ids", database)
    report = scan_over_ssh("remote-box", runner=local_runner(root, bin_dir, []))
    dgpu, igpu = report.gpus
    assert dgpu.name == "AMD Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M (Navi 31)"  # from the remote pci.ids
    assert igpu.name == "AMD Radeon Graphics (Raphael)"  # not in it: the project's table
    assert (dgpu.rocm_target, dgpu.rocm_target_source) == ("gfx1100", "KFD topology")


def test_old_nvidia_smi_without_compute_cap(bin_dir):
    program(
        bin_dir,
        "nvidia-smi",
        'case "$*" in *compute_cap*) echo \'Field "compute_cap" is not a valid field to query.\'; exit 2 ;; esac\n'
        'echo "NVIDIA GeForce RTX 4090, 24564, 470.256.02"\n',
    )
    report = scan_over_ssh("ws", runner=local_runner(machine("nvidia-workstation"), bin_dir, []))
    [gpu] = report.gpus
    assert gpu.name == "NVIDIA GeForce RTX 4090" and gpu.driver_version == "470.256.02"
    assert any("too old" in n for n in report.notes)
    # the PCI id (from /sys) still says which chip it is
    assert (gpu.compute_capability, gpu.capability_source) == ("8.9", "PCI id table: Ada")
    rec = recommend(report)
    assert rec.cuda_capabilities == ["8.9"] and rec.cuda_source == "PCI id table"


def test_nvidia_card_without_nvidia_smi(bin_dir, no_host_nvidia_smi):
    report = scan_over_ssh("ws", runner=local_runner(machine("nvidia-workstation"), bin_dir, []))
    [gpu] = report.gpus
    assert gpu.vendor == "nvidia" and gpu.name == "NVIDIA GeForce RTX 4090"
    assert (gpu.compute_capability, gpu.capability_source) == ("8.9", "PCI id table: Ada")
    assert any("no nvidia-smi" in n for n in report.notes)
    rec = recommend(report)
    assert rec.cuda_capabilities == ["8.9"]
    assert (
        "NVIDIA GeForce RTX 4090, compute capability 8.9 (from the PCI id table: Ada) → CUDA build for 8.9"
        in rec.reasons
    )


def test_ssh_scan_of_a_raspberry_pi(bin_dir, no_host_nvidia_smi):
    program(bin_dir, "uname", 'case "$1" in -m) echo aarch64 ;; -n) echo pi ;; esac\n')
    report = scan_over_ssh("pi", runner=local_runner(machine("raspberry-pi-4"), bin_dir, []))
    assert report.system == "aarch64-linux" and report.cpu.model.startswith("ARM Cortex-A72")
    assert report.cpu.ggml_options == {} and report.vulkan_driver is True
    rec = recommend(report)
    assert rec.variant == "cpu" and rec.cpu_flags == [] and rec.all_variants is False


def test_unreadable_and_missing_files_on_the_remote(tmp_path, bin_dir, no_host_nvidia_smi):
    root = copy_machine(tmp_path, "zen4-desktop")
    (root / "proc/cpuinfo").unlink()
    (root / "proc/cpuinfo").mkdir()
    shutil.rmtree(root / "sys/class/drm")
    report = scan_over_ssh("box", runner=local_runner(root, bin_dir, []))
    assert report.cpu.flags == [] and any("cpuinfo" in n for n in report.notes)
    assert any("class/drm" in n for n in report.notes)
    assert [g.pci_id for g in report.gpus] == ["1002:744c", "1002:164e"]  # still found on the PCI bus
    assert recommend(report).all_variants is True


def test_ssh_failure_carries_ssh_message():
    def refused(argv, stdin):
        return 255, "", "ssh: connect to host box port 22: Connection refused\n"

    with pytest.raises(LlamaflakeError) as error:
        scan_over_ssh("box", runner=refused)
    assert "Connection refused" in error.value.message and "box" in error.value.message


def test_default_runner_calls_ssh_in_batch_mode(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv"
    program(bin_dir, "ssh", f'echo "$@" > {log}\necho "Permission denied (publickey)." >&2\nexit 255\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    with pytest.raises(LlamaflakeError, match=r"Permission denied \(publickey\)"):
        scan_over_ssh("box")
    assert log.read_text().split() == ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "box", "sh", "-s"]


def test_host_names_that_are_options_are_refused():
    with pytest.raises(LlamaflakeError):
        scan_over_ssh("-oProxyCommand=touch /tmp/x", runner=lambda argv, stdin: (0, "", ""))


def test_cut_short_output_is_an_error():
    with pytest.raises(LlamaflakeError, match="incomplete"):
        parse_scan("@@llamaflake-scan 1\n@@uname\nx86_64\n")


def test_the_script_writes_nothing():
    # read-only by construction: no redirection into a file, no program that changes the machine
    for line in SCAN_SCRIPT.splitlines():
        assert ">" not in re.sub(r"\d?>(/dev/null|&\d)", "", line), line
