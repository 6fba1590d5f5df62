"""Scan another machine over SSH: one read-only POSIX shell script, parsed like this machine's files."""

from __future__ import annotations

from collections.abc import Callable

from tui.core.bounded import amount, run_bounded
from tui.core.errors import LlamaflakeError
from tui.core.hardware.gpu_ids import PciIds
from tui.core.hardware.model import CpuInfo, HardwareReport
from tui.core.hardware.parse import (
    PciDevice,
    gpus_from_devices,
    merge_nvidia,
    parse_cpuinfo,
    parse_kfd_properties,
    parse_meminfo,
    parse_nvidia_smi,
    system_of,
)

# Runs ``argv`` with ``stdin`` as its input; returns (exit status, stdout, stderr).
Runner = Callable[[list[str], str], tuple[int, str, str]]

# Reads files and runs `uname`, `nvidia-smi` and `awk` (the lines of pci.ids that name the GPUs
# found); writes nothing. LLAMAFLAKE_SCAN_ROOT prefixes every
# path read (empty on a real machine) so the same script can be run against a copied file tree.
SCAN_SCRIPT = r"""R="${LLAMAFLAKE_SCAN_ROOT:-}"
IDS=""
echo "@@llamaflake-scan 1"
echo "@@uname"
uname -m
uname -n
echo "@@cpuinfo"
cat "$R/proc/cpuinfo" 2>/dev/null
echo "@@meminfo"
cat "$R/proc/meminfo" 2>/dev/null
echo "@@nvidia-smi"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version --format=csv,noheader,nounits 2>/dev/null ||
  { echo "@@columns name,memory.total,driver_version";
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits 2>/dev/null; } ||
  echo "@@failed"
else
  echo "@@absent"
fi
dev() {
  for f in vendor device class boot_vga mem_info_vram_total mem_info_vis_vram_total product_name; do
    if [ -f "$1/$f" ] && [ -r "$1/$f" ]; then printf '%s=%s\n' "$f" "$(cat "$1/$f" 2>/dev/null)"; fi
  done
  if d=$(readlink "$1/driver" 2>/dev/null); then echo "driver=${d##*/}"; fi
  if s=$(cd -P "$1" 2>/dev/null && pwd); then echo "slot=${s##*/}"; fi
  IDS="$IDS $(cat "$1/vendor" 2>/dev/null):$(cat "$1/device" 2>/dev/null)"
  if [ -f "$1/uevent" ] && [ -r "$1/uevent" ]; then
    while IFS= read -r line; do echo "uevent=$line"; done < "$1/uevent"
  fi
}
for c in "$R"/sys/class/drm/card*; do
  case "${c##*/}" in *-*) continue ;; esac
  [ -d "$c/device" ] || continue
  echo "@@device ${c##*/}"
  dev "$c/device"
done
for p in "$R"/sys/bus/pci/devices/*; do
  [ -f "$p/class" ] || continue
  case "$(cat "$p/class" 2>/dev/null)" in 0x03*) ;; *) continue ;; esac
  echo "@@device ${p##*/}"
  dev "$p"
done
for n in "$R"/sys/class/kfd/kfd/topology/nodes/*; do
  [ -f "$n/properties" ] || continue
  echo "@@kfd ${n##*/}"
  cat "$n/properties" 2>/dev/null
done
echo "@@pci-ids"
if command -v awk >/dev/null 2>&1; then
  for f in /run/current-system/sw/share/hwdata/pci.ids /run/current-system/sw/share/pci.ids \
           /usr/share/hwdata/pci.ids /usr/share/misc/pci.ids /usr/share/pci.ids; do
    [ -f "$R$f" ] && [ -r "$R$f" ] || continue
    awk -v want="$IDS" 'BEGIN { n = split(want, w, " ")
        for (i = 1; i <= n; i++) { v = substr(w[i], 3, 4); vendors[v] = 1; devices[v ":" substr(w[i], 10, 4)] = 1 } }
      /^[0-9a-f][0-9a-f][0-9a-f][0-9a-f] / { vendor = substr($0, 1, 4); if (vendor in vendors) print; next }
      /^\t[0-9a-f][0-9a-f][0-9a-f][0-9a-f] / { if ((vendor ":" substr($0, 2, 4)) in devices) print }' "$R$f"
    break
  done
fi
echo "@@vulkan"
for d in /run/opengl-driver/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d; do
  for f in "$R$d"/*.json; do [ -e "$f" ] && echo "${f##*/}"; done
done
[ -d "$R/sys" ] || echo "@@note no-sys"
[ -d "$R/sys/class/drm" ] || echo "@@note no-drm"
echo "@@end"
"""

SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
SSH_TIMEOUT = 120
MAX_SCAN_BYTES = 16 * 1024 * 1024  # the scan of a large server is well under 1 MiB
MAX_MESSAGE_BYTES = 64 * 1024  # the end of what ssh says on stderr


class AnswerTooLarge(Exception):
    """The remote answer passed :data:`MAX_SCAN_BYTES`; ssh was stopped."""


def ssh_command(host: str) -> list[str]:
    """The ssh invocation that runs the scan script (given on stdin) on ``host``."""
    return ["ssh", *SSH_OPTIONS, host, "sh", "-s"]


def run_command(argv: list[str], stdin: str) -> tuple[int, str, str]:
    """The default runner: run ``argv`` with ``stdin`` as its input; raises :class:`AnswerTooLarge` past
    :data:`MAX_SCAN_BYTES` of output."""
    try:
        done = run_bounded(
            argv,
            stdin=stdin,
            limit=MAX_SCAN_BYTES,
            tail=MAX_MESSAGE_BYTES,
            timeout=SSH_TIMEOUT,
            err_limit=MAX_SCAN_BYTES,
        )
    except FileNotFoundError:
        raise LlamaflakeError(
            f"{argv[0]}: command not found", hint="install OpenSSH's client to scan over SSH"
        ) from None
    if done.too_large:
        raise AnswerTooLarge()
    if done.timed_out or done.returncode is None:  # stopped: too large or too slow, both seen above
        raise LlamaflakeError(f"{' '.join(argv[:-2])}: no answer within {SSH_TIMEOUT} seconds")
    return done.returncode, done.stdout, done.stderr


def scan_over_ssh(host: str, runner: Runner | None = None) -> HardwareReport:
    """The hardware of ``host``, read over one SSH connection (non-interactive: keys or an agent)."""
    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise LlamaflakeError(f"{host!r} is not a host name for ssh")
    runner = runner or run_command
    try:
        code, out, err = runner(ssh_command(host), SCAN_SCRIPT)
    except AnswerTooLarge:
        raise LlamaflakeError(
            f"the answer from {host} (or what ssh printed besides it) is larger than {amount(MAX_SCAN_BYTES)}: "
            "the scan was stopped",
            hint=f"a scan prints well under 1 MiB: see what `ssh {host} sh -s` prints before it (a login script?)",
        ) from None
    if code != 0:
        detail = err.strip() or f"exit status {code}"
        raise LlamaflakeError(
            f"ssh {host} failed: {detail}",
            hint=f"check that `ssh {host} true` works without a password prompt (a key or an agent)",
        )
    report = parse_scan(out)
    report.notes.insert(0, f"scanned over SSH on {host}")
    return report


def parse_scan(text: str) -> HardwareReport:
    """A HardwareReport (source "ssh") from the output of :data:`SCAN_SCRIPT`."""
    lines = text.splitlines()
    if "@@llamaflake-scan 1" not in lines or "@@end" not in lines:
        raise LlamaflakeError(
            "the remote scan's output is incomplete or not understood",
            hint="the remote machine needs a POSIX shell (sh) and /proc",
        )
    sections: dict[str, list[str]] = {}
    devices: list[PciDevice] = []
    kfd: list[list[str]] = []
    notes: list[str] = []
    smi_columns: list[str] | None = None
    smi_state = None
    current: list[str] = []
    device: PciDevice | None = None
    for line in lines[lines.index("@@llamaflake-scan 1") + 1 :]:
        if line.startswith("@@"):
            word, _, rest = line[2:].partition(" ")
            device = None
            if word == "device":
                device = PciDevice(rest)
                devices.append(device)
            elif word == "kfd":
                current = []
                kfd.append(current)
            elif word == "columns":  # the first query failed: what it printed is an error message
                smi_columns = rest.split(",")
                current = sections["nvidia-smi"] = []
            elif word in ("absent", "failed"):
                smi_state = word
            elif word == "note":
                notes.append(rest)
            else:
                current = sections.setdefault(word, [])
            continue
        if device is not None:
            key, sep, value = line.partition("=")
            if sep and key == "uevent":
                device.fields["uevent"] = (device.fields.get("uevent", "") + "\n" + value).strip()
            elif sep:
                device.fields[key] = value.strip()
        else:
            current.append(line)

    uname = sections.get("uname", [])
    arch = uname[0].strip() if uname and uname[0].strip() else "unknown"
    report = HardwareReport(source="ssh", system=system_of(arch))
    report.hostname = uname[1].strip() if len(uname) > 1 and uname[1].strip() else None
    cpuinfo = "\n".join(sections.get("cpuinfo", []))
    if cpuinfo.strip():
        report.cpu = parse_cpuinfo(cpuinfo, arch)
    else:
        report.notes.append("the remote /proc/cpuinfo could not be read: the CPU's instruction sets are unknown")
        report.cpu = CpuInfo(vendor=None, model=None, arch=arch, cores=None, flags=[])
    report.memory_mib = parse_meminfo("\n".join(sections.get("meminfo", [])))
    if "no-sys" in notes:
        report.notes.append("no /sys on the remote machine (a container?): GPUs cannot be seen")
    elif "no-drm" in notes:
        report.notes.append(
            "no /sys/class/drm on the remote machine: no graphics driver is loaded, or it is a container"
        )
    names = sections.get("pci-ids")
    pci_ids = PciIds("\n".join(names), "the remote pci.ids") if names else None  # None: this machine's
    gpus = gpus_from_devices(devices, [parse_kfd_properties("\n".join(node)) for node in kfd], pci_ids)
    smi = "\n".join(sections.get("nvidia-smi", []))
    nvidia = parse_nvidia_smi(smi, smi_columns) if smi_state is None else []
    if smi_state == "failed":
        report.notes.append(
            "nvidia-smi failed on the remote machine: NVIDIA GPU details (compute capability) are unknown"
        )
    elif smi_state == "absent" and any(g.vendor == "nvidia" for g in gpus):
        report.notes.append("no nvidia-smi on the remote machine: the NVIDIA GPU's compute capability is unknown")
    elif smi_state is None and nvidia and not any(g.compute_capability for g in nvidia):
        report.notes.append("the remote nvidia-smi is too old to report the compute capability")
    report.gpus = merge_nvidia(nvidia, gpus)
    report.vulkan_driver = any(line.strip().endswith(".json") for line in sections.get("vulkan", []))
    return report
