"""Clues about a machine's hardware from its own NixOS configuration, each with its file and line."""

from __future__ import annotations

from tui.core.errors import LlamaflakeError
from tui.core.hardware.model import CpuInfo, GpuInfo, HardwareReport, Hint
from tui.core.hardware.vendors import (
    a_vendor_label,
    gpu_vendors,
    is_discrete_only,
    vendor_with_kernel_module,
    vendor_with_video_driver,
)
from tui.core.nix.flake import Flake, Host, SourceFile, relative_path
from tui.core.nix.hosts import list_literals
from tui.core.nix.syntax import (
    Node,
    attrpath_names,
    bindings,
    relative_path_literal,
    select_path,
    string_value,
    unwrap,
)

MAX_FILES = 60  # a host's own module tree; shared module libraries go deeper than this is worth

# The kernel modules and X11 drivers that name a GPU vendor are in data/gpu_vendors.toml.
CPU_MODULES = {"kvm-intel": "Intel", "kvm-amd": "AMD"}


class _Finder:
    def __init__(self, flake: Flake, host: Host) -> None:
        self.flake = flake
        self.host = host
        self.hints: list[Hint] = []
        self.gpus: dict[str, GpuInfo] = {}
        self.cpu_vendor: str | None = None
        self.cpu_clue = ""
        self.notes: list[str] = []
        self.facter: HardwareReport | None = None
        # Hints under `mkIf <option>`, kept apart until it is known whether this machine sets the option.
        self.conditional: dict[tuple[str, ...], _Finder] = {}
        self.set_true: dict[tuple[str, ...], str] = {}  # option path -> "file:line" where it is set to true
        self.nvidia_files: set[str] = set()  # files whose hardware.nvidia settings were counted once
        self.installer: str | None = None  # "file:line" of an installer image module it imports
        self.guest: str | None = None  # "file:line" of the first clue that it is a virtual machine
        self.system: str | None = None  # the system a board's module implies (a Raspberry Pi: aarch64-linux)
        self.board: str | None = None  # the board a nixos-hardware module names ("Raspberry Pi 4")

    def cpu(self, vendor: str, clue: str) -> None:
        """A CPU vendor read from ``clue``; the first one stands, and a second, different one is flagged."""
        if self.cpu_vendor is None:
            self.cpu_vendor = vendor
            self.cpu_clue = clue
        elif vendor != self.cpu_vendor and not any("conflicting CPU clues" in n for n in self.notes):
            self.notes.append(
                f"conflicting CPU clues: {self.cpu_clue} says {self.cpu_vendor}, {clue} says {vendor}; "
                "settle it with t (detect on this machine), i (import a report) or s (scan over SSH)"
            )

    def under(self, condition: tuple[str, ...]) -> _Finder:
        if condition not in self.conditional:
            self.conditional[condition] = _Finder(self.flake, self.host)
        return self.conditional[condition]

    def hint(self, text: str, file: SourceFile, node: Node) -> None:
        hint = Hint(text, file.rel, file.line(node))
        if hint not in self.hints:
            self.hints.append(hint)

    def gpu(self, vendor: str, integrated: bool | None = None) -> None:
        gpu = self.gpus.setdefault(vendor, GpuInfo(vendor=vendor))
        if integrated is not None and gpu.integrated is None:
            gpu.integrated = integrated


def hints_from_config(flake: Flake, host: Host) -> HardwareReport:
    """What ``host``'s own files say about its hardware (source "hints"); a facter report it names is read too."""
    finder = _Finder(flake, host)
    for name, file, node in _hardware_module_uses(flake, host):
        _module_name_hint(finder, name, file, node)
    seen: set[str] = set()
    queue = list(host.module_files)
    while queue and len(seen) < MAX_FILES:
        rel = queue.pop(0)
        if rel in seen:
            continue
        seen.add(rel)
        try:
            file = flake.source_file(rel)
        except LlamaflakeError as exc:
            finder.notes.append(f"{rel}: not read ({exc.message})")
            continue
        queue.extend(_scan(finder, file, file.tree))
    if host.attach is not None and host.attach.kind == "modules-list":  # inline modules in the host's list
        file = flake.source_file(host.attach.file)
        for item in host.attach.node.nodes():
            inner = unwrap(item)
            if inner is not None and inner.kind in ("NODE_ATTR_SET", "NODE_LAMBDA"):
                _scan(finder, file, inner)
            elif inner is not None:  # "${nixpkgs}/nixos/modules/installer/cd-dvd/installation-cd-minimal.nix"
                for node in inner.walk():
                    if node.kind in ("NODE_STRING", "NODE_PATH_ABS", "NODE_PATH_REL", "NODE_PATH_SEARCH"):
                        _installer_hint(finder, file, node)
    _settle_conditions(finder)
    return _report(finder)


def _settle_conditions(finder: _Finder) -> None:
    """Hints under ``mkIf <option>`` count where this machine sets the option to true, and only there."""
    for condition, sub in finder.conditional.items():
        option = ".".join(condition) if condition else "a condition llamaflake cannot read"
        where = finder.set_true.get(condition) if condition else None
        if where is None:
            if sub.hints:
                finder.notes.append(
                    f"left out: {len(sub.hints)} hint(s) under mkIf {option}, which "
                    f"{finder.host.name} does not set to true ({sub.hints[0].text}, "
                    f"{sub.hints[0].file}:{sub.hints[0].line})"
                )
            continue
        for vendor, gpu in sub.gpus.items():
            finder.gpu(vendor, gpu.integrated)
        if sub.cpu_vendor:
            finder.cpu(sub.cpu_vendor, sub.cpu_clue)
        finder.guest = finder.guest or sub.guest
        for hint in sub.hints:
            counted = Hint(f"{hint.text} (under mkIf {option}, set true at {where})", hint.file, hint.line)
            if counted not in finder.hints:
                finder.hints.append(counted)


def _hardware_module_uses(flake: Flake, host: Host):
    """(module name, file, node) for each ``...nixosModules.<name>`` in the host's module list."""
    wanted = set(host.hardware_modules)
    file = flake.source_file(host.file)
    scope = host.attach.node if host.attach is not None and host.attach.file == host.file else file.tree
    for node in scope.walk():
        if node.kind == "NODE_SELECT":
            path = select_path(node)
            if path and ".".join(path) in wanted:
                wanted.discard(".".join(path))
                yield path[-1], file, node
    for name in sorted(wanted):  # found by the host reader but not under its list: no better place
        yield name.split(".")[-1], file, scope


def _full_path(node: Node, top: Node) -> list[str] | None:
    """The attribute path of a binding with the paths of the sets around it (up to ``top``), ``config.`` left out."""
    parts = node.nodes()
    own = attrpath_names(parts[0]) if parts and parts[0].kind == "NODE_ATTRPATH" else None
    if own is None:
        return None
    path = list(own)
    child = node
    for ancestor in node.ancestors():
        if ancestor is top:
            break
        if ancestor.kind == "NODE_LET_IN" and child.kind == "NODE_ATTRPATH_VALUE":
            return None  # a let-bound value is not configuration (yet)
        if ancestor.kind == "NODE_ATTRPATH_VALUE":
            a_parts = ancestor.nodes()
            names = attrpath_names(a_parts[0]) if a_parts and a_parts[0].kind == "NODE_ATTRPATH" else None
            if names is None:
                return None
            path = names + path
        child = ancestor
    if path and path[0] == "config":
        path = path[1:]
    if path and path[0] in ("options", "_module"):
        return None
    return path


def _strings(node: Node | None) -> list[tuple[str, Node]]:
    """The strings of a list, through ``lib.mkDefault [...]`` and ``a ++ b``."""
    node = unwrap(node)
    if node is None:
        return []
    if node.kind == "NODE_LIST":
        found = []
        for item in node.nodes():
            value = string_value(item)
            if value is not None:
                found.append((value, item))
        return found
    if node.kind == "NODE_APPLY":
        return _strings(node.nodes()[-1])
    if node.kind == "NODE_BIN_OP":
        return [s for part in node.nodes() for s in _strings(part)]
    value = string_value(node)
    return [(value, node)] if value is not None else []


def _is_true(value: Node | None) -> bool:
    """Whether ``value`` is the literal ``true``, inside parentheses or `lib.mkDefault` and the like."""
    literal = _value(value)
    return literal is not None and literal.text == "true"


def _value(node: Node | None) -> Node | None:
    node = unwrap(node)
    while node is not None and node.kind == "NODE_APPLY":  # lib.mkDefault x, lib.mkForce x
        node = unwrap(node.nodes()[-1])
    return node


def _scan(finder: _Finder, file: SourceFile, tree: Node) -> list[str]:
    """Record the hints of one file; return the relative files it imports."""
    imports: list[str] = []
    for node in tree.walk():
        if node.kind == "NODE_SELECT":
            path = select_path(node)
            if path and "nixosModules" in path and path[-1] != "nixosModules":
                _module_name_hint(finder, path[-1], file, node)
            continue
        if node.kind == "NODE_PATH_SEARCH" and "nixos-hardware" in node.text:
            _module_name_hint(finder, node.text.strip("<>").split("/", 1)[-1].replace("/", "-"), file, node)
            continue
        if node.kind in ("NODE_STRING", "NODE_PATH_ABS", "NODE_PATH_REL", "NODE_PATH_SEARCH", "NODE_PATH_HOME"):
            _installer_hint(finder, file, node)
            if any(m in node.text for m in GUEST_MODULES) and not _installer_use(node):
                _guest_hint(finder, f"imports {node.text.strip(chr(34)).split('/')[-1]}", file, node)
            continue
        if node.kind != "NODE_ATTRPATH_VALUE":
            continue
        path = _full_path(node, tree)
        if not path:
            continue
        value = node.nodes()[1] if len(node.nodes()) > 1 else None
        if _is_true(value):
            finder.set_true.setdefault(tuple(path), f"{file.rel}:{file.line(node)}")
        if path == ["imports"]:
            for item in _list_items(value):
                literal = relative_path_literal(item)
                rel = relative_path(file.rel, literal) if literal else None
                if rel is not None:
                    target = finder.flake.root / rel
                    imports.append(f"{rel}/default.nix" if target.is_dir() else rel)
            continue
        condition = _mkif_condition(node, tree)
        _hint_from(finder if condition is None else finder.under(condition), file, node, path, value)
    return imports


def _mkif_condition(node: Node, top: Node) -> tuple[str, ...] | None:
    """The option a binding is conditional on (``lib.mkIf cfg.enable { … }``, ``cfg = config.a.b``: ``a.b.enable``),
    ``()`` for a condition that cannot be read, None for a binding under no ``mkIf``."""
    child = node
    for ancestor in node.ancestors():
        if ancestor is top:
            return None
        if ancestor.kind == "NODE_APPLY":
            parts = ancestor.nodes()
            fn = unwrap(parts[0]) if parts else None
            if fn is not None and fn.kind == "NODE_APPLY" and len(parts) > 1 and child is parts[-1]:
                inner = fn.nodes()
                name = select_path(unwrap(inner[0])) if inner else None
                if name and name[-1] in ("mkIf", "optionalAttrs") and len(inner) > 1:
                    return _option_path(inner[1], ancestor)
        child = ancestor
    return None


def _option_path(condition: Node, at: Node) -> tuple[str, ...]:
    """``config.a.b`` or ``cfg.b`` with ``cfg = config.a;`` bound around ``at``: the option path (``()`` if neither)."""
    path = select_path(unwrap(condition))
    if not path:
        return ()
    if path[0] == "config":
        return tuple(path[1:])
    for ancestor in at.ancestors():
        if ancestor.kind != "NODE_LET_IN":
            continue
        for binding in bindings(ancestor):
            if binding.path == [path[0]]:
                bound = select_path(unwrap(binding.value))
                if bound and bound[0] == "config":
                    return tuple(bound[1:] + path[1:])
                return ()
    return ()


def _hint_from(finder: _Finder, file: SourceFile, node: Node, path: list[str], value: Node | None) -> None:
    """Record the hint one binding gives, if any."""
    if path == ["services", "xserver", "videoDrivers"]:
        for driver, item in _strings(value):
            vendor = vendor_with_video_driver(driver)
            if vendor:
                finder.gpu(vendor, False if is_discrete_only(vendor) else None)
                finder.hint(f'services.xserver.videoDrivers has "{driver}"', file, item)
            elif driver == "modesetting":
                finder.hint(
                    'services.xserver.videoDrivers has "modesetting" (a kernel graphics driver, vendor not named)',
                    file,
                    item,
                )
    elif path[:2] == ["hardware", "nvidia"]:
        if path[2:3] == ["prime"] and path[-1] in ("intelBusId", "amdgpuBusId"):
            vendor = "intel" if path[-1] == "intelBusId" else "amd"
            finder.gpu(vendor, True)
            finder.hint(f"hardware.nvidia.prime.{path[-1]} is set: {a_vendor_label(vendor)} integrated GPU", file, node)
        if file.rel not in finder.nvidia_files:
            finder.gpu("nvidia", False)
            finder.hint(f"{'.'.join(path)} is set: an NVIDIA GPU", file, node)
            finder.nvidia_files.add(file.rel)
    elif path[:2] == ["hardware", "amdgpu"]:
        finder.gpu("amd")
        finder.hint(f"{'.'.join(path)} is set: an AMD GPU", file, node)
    elif path[:3] == ["hardware", "cpu", "intel"] or path[:3] == ["hardware", "cpu", "amd"]:
        vendor = "Intel" if path[2] == "intel" else "AMD"
        finder.cpu(vendor, f"{'.'.join(path)} ({file.rel}:{file.line(node)})")
        finder.hint(f"{'.'.join(path)} is set: an {vendor} CPU", file, node)
    elif path in (
        ["boot", "kernelModules"],
        ["boot", "initrd", "kernelModules"],
        ["boot", "initrd", "availableKernelModules"],
    ):
        for module, item in _strings(value):
            vendor = vendor_with_kernel_module(module)
            if vendor is not None:
                finder.gpu(vendor)
                finder.hint(f'{".".join(path)} has "{module}": {a_vendor_label(vendor)} GPU', file, item)
            elif module in GUEST_KERNEL_MODULES:
                _guest_hint(finder, f'{".".join(path)} has "{module}"', file, item)
            elif module in CPU_MODULES:
                finder.cpu(CPU_MODULES[module], f'{".".join(path)} "{module}" ({file.rel}:{file.line(item)})')
                finder.hint(f'{".".join(path)} has "{module}": an {CPU_MODULES[module]} CPU', file, item)
    elif path in (["nixpkgs", "config", "cudaSupport"], ["nixpkgs", "config", "rocmSupport"]):
        if _is_true(value):
            vendor = "nvidia" if path[-1] == "cudaSupport" else "amd"
            finder.gpu(vendor)
            finder.hint(f"{'.'.join(path)} = true: {a_vendor_label(vendor)} GPU", file, node)
    elif path in GUEST_OPTIONS:
        if _is_true(value):
            _guest_hint(finder, f"{'.'.join(path)} = true", file, node)
    elif path in (["hardware", "facter", "reportPath"], ["facter", "reportPath"]):
        _facter_hint(finder, file, node, path, value)


def _list_items(node: Node | None) -> list[Node]:
    """The elements of ``[ ... ]`` or ``[ ... ] ++ [ ... ]``."""
    return [item for lst in list_literals(node) for item in lst.nodes()]


# NixOS's own modules that make an installer image (`modulesPath + "/installer/cd-dvd/…"`, `iso-image.nix`).
INSTALLER_MARKERS = ("installer/cd-dvd/", "/iso-image.nix", "installation-cd-", "installer/netboot/")


# What nixos-generate-config writes in a virtual machine, and the guest options: the configuration is of a VM.
GUEST_MODULES = ("profiles/qemu-guest.nix", "virtualisation/qemu-vm.nix")
GUEST_KERNEL_MODULES = (
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",
    "hv_vmbus",
    "hv_storvsc",
    "xen_blkfront",
    "vmw_pvscsi",
)
GUEST_OPTIONS = (
    ["services", "qemuGuest", "enable"],
    ["virtualisation", "hypervGuest", "enable"],
    ["virtualisation", "virtualbox", "guest", "enable"],
    ["virtualisation", "vmware", "guest", "enable"],
    ["boot", "isContainer"],
)


def _guest_hint(finder: _Finder, clue: str, file: SourceFile, node: Node) -> None:
    """A clue that the machine is a virtual machine (or a container): a report made in one is no mismatch."""
    if finder.guest is None:
        finder.guest = f"{file.rel}:{file.line(node)}"
        finder.hint(f"{clue}: a virtual machine", file, node)


CONDITIONAL_FUNCTIONS = ("optional", "optionals", "optionalAttrs", "optionalString", "mkIf")


def _installer_use(node: Node) -> str | None:
    """Why a path naming an installer module does not make the machine an installer ("" where it does): it
    is imported under a condition (``lib.optionals isoBuild [ … ]``, ``if … then``), which a shared module
    uses to make an installer of the same files, or it is not imported at all (a string in some setting)."""
    child = node
    for ancestor in node.ancestors():
        if ancestor.kind == "NODE_IF_ELSE":
            return "under `if … then … else`"
        if ancestor.kind == "NODE_APPLY":
            parts = ancestor.nodes()
            fn = unwrap(parts[0]) if parts else None
            if fn is not None and fn.kind == "NODE_APPLY" and len(parts) > 1 and child is parts[-1]:
                name = select_path(unwrap(fn.nodes()[0])) if fn.nodes() else None
                if name and name[-1] in CONDITIONAL_FUNCTIONS:
                    return f"under {name[-1]}"
        if ancestor.kind == "NODE_ATTRPATH_VALUE":
            a_parts = ancestor.nodes()
            names = attrpath_names(a_parts[0]) if a_parts and a_parts[0].kind == "NODE_ATTRPATH" else None
            in_let = any(a.kind == "NODE_LET_IN" for a in ancestor.ancestors())
            if names and names[-1] not in ("imports", "modules") and not (in_let and len(names) == 1):
                return f"not imported (it is in {'.'.join(names)})"
            break
        child = ancestor
    return ""


def _installer_hint(finder: _Finder, file: SourceFile, node: Node) -> None:
    """A string or path naming one of NixOS's installer image modules: the machine is an installer."""
    text = node.text
    marker = next((m for m in INSTALLER_MARKERS if m in text), None)
    if marker is None or finder.installer is not None:
        return
    name = text.strip("\"'").split("/")[-1] or text
    why_not = _installer_use(node)
    if why_not:
        note = f"not an installer image: {name} at {file.rel}:{file.line(node)} is {why_not}"
        if note not in finder.notes:
            finder.notes.append(note)
        return
    finder.installer = f"{file.rel}:{file.line(node)}"
    finder.hint(f"imports {name}: an installer image, left alone by default", file, node)


def _board_hint(finder: _Finder, words: list[str], name: str, file: SourceFile, node: Node) -> bool:
    """A Raspberry Pi's nixos-hardware module (``raspberry-pi-4``): an aarch64 board whose GPU llama.cpp cannot use."""
    if words[:2] != ["raspberry", "pi"]:
        return False
    model = " ".join(words[2:3])
    finder.system = finder.system or "aarch64-linux"
    finder.board = finder.board or f"Raspberry Pi{' ' + model if model else ''}"
    finder.hint(
        f"nixos-hardware module {name}: a Raspberry Pi{' ' + model if model else ''} (aarch64-linux; its "
        "VideoCore GPU has no llama.cpp build: the CPU does the work)",
        file,
        node,
    )
    return True


def _module_name_hint(finder: _Finder, name: str, file: SourceFile, node: Node) -> None:
    """What a nixos-hardware module's name says: ``common-gpu-nvidia``, ``framework-13-7040-amd``..."""
    words = name.lower().replace("_", "-").split("-")
    if _board_hint(finder, words, name, file, node):
        return
    said = []
    named = [v for v in gpu_vendors() if v.variants and v.hint_word in words]
    for vendor in named:
        if not vendor.makes_cpus and "disable" not in words:  # common-gpu-nvidia, not common-gpu-nvidia-disable
            finder.gpu(vendor.name, False if vendor.discrete_only else None)
            said.append(f"{vendor.a_label} GPU")
    makers = [v for v in named if v.makes_cpus]
    if makers:
        vendor = makers[0]
        if "gpu" in words:
            finder.gpu(vendor.name, True if vendor.nixos_hardware_integrated else None)
            said.append(
                f"{vendor.a_label} integrated GPU" if vendor.nixos_hardware_integrated else f"{vendor.a_label} GPU"
            )
        elif "cpu" in words:
            finder.cpu(vendor.label, f"nixos-hardware module {name} ({file.rel}:{file.line(node)})")
            said.append(f"an {vendor.label} CPU")
            if vendor.nixos_hardware_integrated:  # common-cpu-intel brings the iGPU settings too
                finder.gpu(vendor.name, True)
                said.append(f"{vendor.a_label} integrated GPU")
        else:  # a machine module: framework-13-7040-amd
            finder.cpu(vendor.label, f"nixos-hardware module {name} ({file.rel}:{file.line(node)})")
            finder.gpu(vendor.name, True)
            said.append(f"{vendor.a_label} CPU with integrated graphics")
    if said:
        finder.hint(f"nixos-hardware module {name}: {' and '.join(said)}", file, node)


def _facter_hint(finder: _Finder, file: SourceFile, node: Node, path: list[str], value: Node | None) -> None:
    from tui.core.hardware.reports import load_report

    literal = relative_path_literal(value)
    rel = relative_path(file.rel, literal) if literal else None
    if rel is None:
        finder.hint(f"{'.'.join(path)} is set, to a path llamaflake cannot follow", file, node)
        return
    target = finder.flake.root / rel
    if not target.is_file():
        finder.hint(f"{'.'.join(path)} = {literal}, which does not exist", file, node)
        return
    try:
        finder.facter = load_report(target)
    except LlamaflakeError as exc:
        finder.hint(f"{'.'.join(path)} = {literal}, which cannot be used: {exc.message}", file, node)
        return
    finder.hint(f"{'.'.join(path)} = {literal}: a nixos-facter report, read", file, node)


def _report(finder: _Finder) -> HardwareReport:
    host = finder.host
    system = host.system or finder.system
    report = HardwareReport(
        source="hints",
        hostname=host.name,
        system=system,
        hints=finder.hints,
        installer=finder.installer,
        guest=finder.guest,
    )
    arch = system.split("-")[0] if system else "unknown"
    if finder.facter is not None:
        report.cpu = finder.facter.cpu
        report.gpus = finder.facter.gpus
        report.system = report.system or finder.facter.system
        report.notes.extend(finder.facter.notes)
    else:
        if finder.cpu_vendor or system:
            report.cpu = CpuInfo(vendor=finder.cpu_vendor, model=finder.board, arch=arch, cores=None, flags=[])
        order = {v.name: i for i, v in enumerate(gpu_vendors())}
        report.gpus = sorted(finder.gpus.values(), key=lambda g: order.get(g.vendor, len(order)))
        if not finder.hints:
            report.notes.append(f"{host.name}'s configuration says nothing about its CPU or GPU")
    report.notes.extend(finder.notes)
    return report
