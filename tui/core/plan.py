"""From answers to a plan: the list of file changes, each with its old and new text and a reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.core import ggml
from tui.core.answers import Answers, MachineAnswer, input_url
from tui.core.boundary import check_folder_text, check_machine_name, check_writable_paths, inside_git_dir, name_problem
from tui.core.caches import Cache, default_caches
from tui.core.changes import FileChange, Offer
from tui.core.choice import fill_from_read_back
from tui.core.cleanup import cleanup_offers
from tui.core.errors import AnswerError, LlamaflakeError
from tui.core.footprint import (
    MARKER_BYTES,
    MODULE_MARKER,
    find_module_dir,
    is_generated_module,
    left_alone_damage,
    machine_path,
    machines_dir,
    module_file,
    read_left_alone,
)
from tui.core.hardware.support import is_jetson
from tui.core.machine_file import update_machine_file
from tui.core.nix import inputs as input_edits
from tui.core.nix.edits import Edit, apply_edits_at
from tui.core.nix.flake import Flake, relative_path
from tui.core.nix.syntax import check, nix_relative_path, parse
from tui.core.nix.wiring import (  # noqa: F401  (keyed_path: known from here too)
    ATTACH_REASON,
    FileEdit,
    Refusal,
    copied_refusal,
    foreign_reason,
    foreign_settings,
    keyed_path,
    wiring_of,
)
from tui.core.read_back import read_machine_settings, read_module_caches, serve_not_plain
from tui.core.render import render_machine, render_module
from tui.core.shell import shell_join
from tui.core.variants import variants_for


@dataclass
class Plan:
    flake: Flake
    changes: list[FileChange]
    machines: dict[str, MachineAnswer]
    caches: list[Cache]
    input_name: str
    follows: str | None
    module_dir: str
    refusals: list[Refusal] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # the machines this run answers for (the rest keep theirs)
    warnings: list[str] = field(default_factory=list)  # what will fail as planned (a capability CUDA no longer builds)
    attached: list[str] = field(default_factory=list)  # machines that get the import of their settings now
    input_changed: bool = False  # the llama.cpp input is added or changed in flake.nix
    left_alone: list[str] = field(default_factory=list)  # machines remembered as left alone on purpose
    module_rebuilds: bool = True  # the module's change is Nix, not only its header (the machines left alone)

    def rebuilds_every_machine(self) -> bool:
        """Whether a change of the module or the input changes every wired machine's build."""
        module = self.change(module_file(self.module_dir))
        return (module is not None and self.module_rebuilds) or self.input_changed

    def changed_builds(self) -> list[str]:
        """The machines whose llama.cpp build this plan changes: every wired machine when the module or the
        input changes, else those whose settings file changes or that are attached now."""
        if self.rebuilds_every_machine():
            return list(self.machines)
        changed = {c.path for c in self.changes}
        return [
            name for name in self.machines if name in self.attached or machine_path(self.module_dir, name) in changed
        ]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def change(self, path: str) -> FileChange | None:
        return next((c for c in self.changes if c.path == path), None)

    @property
    def refused_requested(self) -> list[Refusal]:
        """The machines the user asked for that are not wired (the apply is then not done for them)."""
        return [r for r in self.refusals if r.requested]


def existing_module_dir(flake: Flake) -> str | None:
    """The folder of a module this wizard wrote before, if there is one."""
    return find_module_dir(flake.root)


def choose_module_dir(flake: Flake, answer: str | None) -> str:
    if answer:
        check_folder_text(answer, "module folder")
        if answer.startswith(("/", "~")):
            raise AnswerError(
                f"module folder {answer!r} is an absolute path; give it relative to the flake's folder "
                "(e.g. nixos/llama-cpp)"
            )
        given = answer if answer.startswith(("./", "../")) else "./" + answer.strip("/")
        rel = relative_path("flake.nix", given)
        if not rel or rel == ".":
            raise AnswerError(f"module folder '{answer}' must be a folder inside the repository")
        if inside_git_dir(rel):
            raise AnswerError(f"module folder '{answer}' is inside .git, which llamaflake never writes")
        existing = existing_module_dir(flake)
        if existing is not None and existing != rel:
            raise AnswerError(
                f"llamaflake's module is already in {existing}/; a second one in {rel}/ would set every option twice. "
                f"To move it: {shell_join(['git', 'mv', existing, rel])}, fix the import lines, and run again"
            )
        check_module_folder(flake, rel, given=True)
        return rel
    existing = existing_module_dir(flake)
    if existing:
        return existing
    from tui.core.nix.hosts import auto_imported_dirs

    # A folder whose every .nix file is imported as a flake-parts module (import-tree) must not get a NixOS module.
    avoid = auto_imported_dirs(flake)

    def allowed(folder: str) -> bool:
        return not any(a == "." or folder == a or folder.startswith(a + "/") for a in avoid)

    for candidate in ("nixos", "modules/nixos", "modules", "hosts/common", "common"):
        if (flake.root / candidate).is_dir() and allowed(f"{candidate}/llama-cpp"):
            return check_module_folder(flake, f"{candidate}/llama-cpp", given=False)
    if not allowed("llama-cpp"):
        raise AnswerError(
            "every .nix file of the repository is imported as a flake-parts module (import-tree): "
            "choose a folder for the llama.cpp module outside it with --module-dir"
        )
    return check_module_folder(flake, "llama-cpp", given=False)


def check_module_folder(flake: Flake, folder: str, given: bool) -> str:
    """``folder`` when its ``default.nix`` is absent or llamaflake's; a file of the user's there is refused."""
    module = module_file(folder)
    path = flake.root / module
    if not path.exists() and not path.is_symlink():
        return folder
    try:
        with open(path, "rb") as handle:
            head = handle.read(MARKER_BYTES)
    except OSError as error:
        raise AnswerError(
            f"{module} cannot be read ({error.strerror}): llamaflake writes over its own files only"
        ) from error
    if is_generated_module(head):
        return folder
    advice = (
        f"choose a folder of its own, e.g. --module-dir {folder}/llama-cpp"
        if given
        else "remove it if the new module replaces it, or choose another folder with --module-dir"
    )
    raise AnswerError(
        f"{module} is not a file llamaflake wrote (it lacks the line '{MODULE_MARKER}') and is left alone: {advice}"
    )


def choose_input_name(flake: Flake) -> str:
    existing = flake.llama_input()
    if existing:
        return existing.name
    for name in ("llama-cpp", "llama-cpp-flake", "llamacpp"):
        if flake.input(name) is None:
            return name
    raise AnswerError("every name the wizard would give the llama.cpp input is taken")


def choose_follows(flake: Flake, answer: str | None) -> str | None:
    if answer == "":
        return None
    if answer is not None:
        if flake.input(answer) is None:
            names = ", ".join(flake.nixpkgs_inputs()) or "none"
            raise AnswerError(f"there is no input '{answer}' to follow (nixpkgs inputs: {names})")
        return answer
    existing = flake.llama_input()
    if existing and "nixpkgs" in existing.follows:
        return existing.follows["nixpkgs"]
    from tui.core.nix.hosts import machines_nixpkgs

    most_used, _notes = machines_nixpkgs(flake)  # the nixpkgs the machines are really built from
    if most_used:
        return most_used
    if flake.input("nixpkgs"):
        return "nixpkgs"
    candidates = flake.nixpkgs_inputs()
    return candidates[0] if candidates else None


def follows_cuda_release(flake: Flake, follows: str | None) -> tuple[str | None, str]:
    """The CUDA release of the nixpkgs llama.cpp will follow (``follows`` as answered), read with Nix,
    and a note on where it came from; None where Nix cannot tell (nixpkgs' default is assumed)."""
    from tui.core.hardware.support import flake_cuda_release

    try:
        input_name = choose_follows(flake, follows)
    except LlamaflakeError:
        input_name = None  # the plan says why
    return flake_cuda_release(flake.root, input_name)


class _Edits:
    """Edits gathered per file, applied together, each with the part of the change it is for."""

    def __init__(self, flake: Flake) -> None:
        self.flake = flake
        self.by_file: dict[str, list[Edit]] = {}
        self.parts: dict[str, list[str]] = {}
        self.reasons: dict[str, list[str]] = {}

    def add(self, rel: str, edit: Edit, reason: str, machine: str | None = None) -> None:
        """Add an edit for ``reason``; ``machine`` where it is one machine's alone (its review hunk is its own)."""
        listed = self.by_file.setdefault(rel, [])
        parts = self.parts.setdefault(rel, [])
        part = machine or reason
        if edit not in listed:
            listed.append(edit)
            parts.append(part)
        elif parts[listed.index(edit)] != part:  # hosts built by one helper share its specialArgs edit
            parts[listed.index(edit)] = reason
        self.reasons.setdefault(rel, [])
        if reason not in self.reasons[rel]:
            self.reasons[rel].append(reason)

    def add_all(self, edits: list[FileEdit]) -> None:
        """Add the edits the wiring engine returned, each with its reason and machine."""
        for item in edits:
            self.add(item.file, item.edit, item.reason, item.machine)

    def changes(self) -> list[FileChange]:
        result = []
        for rel, edits in self.by_file.items():
            source = self.flake.source_file(rel).source
            new, spans = apply_edits_at(source, edits)
            if new != source:
                check(new, rel)  # an edit must never leave a file that does not parse
                parts = tuple((start, end, part) for (start, end), part in zip(spans, self.parts[rel], strict=True))
                result.append(FileChange(rel, source, new, "; ".join(_grouped_reasons(self.reasons[rel])), parts=parts))
        return result


def _grouped_reasons(reasons: list[str]) -> list[str]:
    """The reasons for one file's edits, the machines attached there named in one reason."""
    attached = [r.removeprefix(ATTACH_REASON) for r in reasons if r.startswith(ATTACH_REASON)]
    if len(attached) < 2:
        return reasons
    first = next(i for i, r in enumerate(reasons) if r.startswith(ATTACH_REASON))
    others = [r for r in reasons if not r.startswith(ATTACH_REASON)]
    return others[:first] + [ATTACH_REASON + ", ".join(attached)] + others[first:]


def unknown_host(flake: Flake, name: str) -> AnswerError:
    """The error for an answer about a machine the flake does not have, naming those it has."""
    # With none found, why: a file the outputs go through that does not parse is named with its line.
    known = ", ".join(h.name for h in flake.hosts) or "none found" + (f": {flake.notes[0]}" if flake.notes else "")
    return AnswerError(f"unknown host '{name}' (hosts: {known})")


def make_plan(flake: Flake, answers: Answers) -> Plan:
    """Decide every change for ``answers``; nothing is written."""
    answers.validate()
    for name in list(answers.machines) + answers.skip:
        if flake.host(name) is None:
            raise unknown_host(flake, name)
    for name, machine in answers.machines.items():
        check_machine_name(name)
        host = flake.host(name)
        assert host is not None, "every machine answered for was looked up above"
        if machine.variant not in variants_for(host.system):
            raise AnswerError(f"{name}: the llama.cpp flake has ROCm only on x86_64-linux, and {name} is {host.system}")
        jetson = [c for c in machine.cuda_capabilities if is_jetson(c)]
        if jetson and host.system and host.system != "aarch64-linux":
            raise AnswerError(
                f"{name}: the Jetson CUDA capabilities {', '.join(jetson)} are built on aarch64-linux only, "
                f"and {name} is {host.system}"
            )

    input_name = choose_input_name(flake)
    follows = choose_follows(flake, answers.follows)
    module_dir = choose_module_dir(flake, answers.module_dir)
    module_path = module_file(module_dir)
    edits = _Edits(flake)
    changes: list[FileChange] = []
    notes: list[str] = []
    refusals: list[Refusal] = []

    # Machines: what each one ends up with (new answers, or what is already in the repository).
    machines: dict[str, MachineAnswer] = {}
    existing: dict[str, MachineAnswer] = {}
    for host in flake.hosts:
        if name_problem(host.name) is not None:
            continue  # never read or written; refused above if asked for
        rel = machine_path(module_dir, host.name)
        if (flake.root / rel).is_file():
            source = flake.source_file(rel).source
            settings = read_machine_settings(source, rel)
            if settings is not None:
                existing[host.name] = settings
                unread = serve_not_plain(source, rel) if settings.serve is None else None
                if unread is not None:
                    notes.append(f"{host.name}: the model {rel} serves is not read back ({unread})")
    for host in flake.hosts:
        if host.name in answers.skip:
            continue
        answer = answers.machines.get(host.name)
        if answer is None:
            if host.name in existing:
                machines[host.name] = existing[host.name]
            continue
        machines[host.name] = complete_answer(answer, existing.get(host.name))

    # How each machine gets its settings, as the wiring engine says (what `hosts` shows too). A machine that
    # imports another machine's settings (a copied host folder) would load both.
    wirings = {
        host.name: wiring_of(flake, host, machine_path(module_dir, host.name), requested=host.name in answers.machines)
        for host in flake.hosts
        if host.name in machines
    }
    replaced: set[str] = set()
    attached: list[str] = []
    for host in flake.hosts:
        wiring = wirings.get(host.name)
        foreign = wiring.foreign if wiring is not None else foreign_settings(flake, host, machines_dir(module_dir))
        if not foreign:
            continue
        reason = foreign_reason(foreign)
        if wiring is not None and wiring.can_wire and host.name in answers.machines:
            edits.add_all(wiring.edits)
            others = ", ".join(dict.fromkeys(other for other, _file, _path in foreign))
            notes.append(
                f"{host.name}: {reason}; the import is changed to its own settings "
                f"({wiring.settings}), shown in the diff, so it no longer loads {others}'s"
            )
            replaced.add(host.name)
        elif wiring is not None:  # a machine not asked for keeps its files: its own import is not written
            refusals.append(
                wiring.refusal
                or copied_refusal(host, foreign, wiring.settings, requested=host.name in answers.machines)
            )
            del machines[host.name]
        else:
            notes.append(f"{host.name}: {reason}, so it is built with that machine's llama.cpp settings")

    # Machines the engine cannot wire get nothing written unless the user asks (--write-refused).
    written: dict[str, MachineAnswer] = {}
    for host in flake.hosts:
        if host.name not in machines:
            continue
        wiring = wirings[host.name]
        if wiring.can_wire:
            written[host.name] = machines[host.name]
            continue
        assert wiring.refusal is not None, "a machine that cannot be wired has its refusal"
        refusals.append(wiring.refusal)
        if answers.write_refused and host.name in answers.machines:
            written[host.name] = machines[host.name]
        del machines[host.name]

    # The input.
    any_machine = bool(written)
    llama = flake.llama_input()
    input_changed = False
    if any_machine:
        for rel, edit, reason in input_edits.input_edits(
            flake,
            input_name,
            input_url(answers.ref, answers.url),
            follows,
            answers.ref,
            url_given=answers.url is not None,
        ):
            edits.add(rel, edit, reason)
            input_changed = True

    # The module and the caches.
    old_module = _read(flake, module_path)
    if answers.caches is not None:
        caches = answers.caches
    else:
        existing_caches = read_module_caches(old_module, module_path) if old_module is not None else None
        caches = default_caches(existing_caches, (answer.variant for answer in written.values()))
        if existing_caches is None and caches:
            notes.append(
                f"binary caches: {', '.join(cache.name for cache in caches)} set, as recommended for the "
                "CUDA builds (choose others with --cache, or none with --no-caches)"
            )
    # Machines left alone on purpose are remembered in the module's header, so that a later run does not
    # suggest a build for them again; an answer for one, or its own settings, ends that.
    left_alone = sorted(
        (set(read_left_alone(old_module)) | set(answers.skip)) - set(written) - set(answers.machines) - set(existing)
    )
    damage = left_alone_damage(old_module)
    if damage is not None:
        notes.append(
            f"{module_path}: the header's list of machines left alone cannot be read ({damage}): machines "
            "left alone before are suggested again; skip them again to have the line written anew"
        )
    module_rebuilds = True
    if any_machine:
        new_module = render_module(input_name, caches, left_alone=left_alone)
        if new_module != old_module and not same_but_for_layout(old_module, new_module, module_path):
            module_rebuilds = not same_nix(old_module, new_module, module_path)
            reason = (
                "the NixOS module that builds llama.cpp from the flake"
                if old_module is None
                else "regenerated module"
                if module_rebuilds
                else "the machines left alone, in the module's header"
            )
            changes.append(FileChange(module_path, old_module, new_module, reason))

    # Each machine's settings, attached with one line.
    for host in flake.hosts:
        if host.name not in written:
            continue
        answer = written[host.name]
        rel = machine_path(module_dir, host.name)
        old = _read(flake, rel)
        if old is None:
            new = render_machine(host.name, answer, nix_relative_path(rel, module_path))
        elif host.name in answers.machines:
            new = update_machine_file(old, rel, host.name, answer)  # the user's own lines in it stay
        else:
            new = old  # a machine not asked about keeps its file byte for byte
        if new != old:
            changes.append(FileChange(rel, old, new, f"llama.cpp settings for {host.name}: {describe(answer)}"))
        if host.name in machines and host.name not in replaced and wirings[host.name].edits:
            edits.add_all(wirings[host.name].edits)
            attached.append(host.name)

    untouched = [host for host in flake.hosts if host.name not in machines]
    offers, cleanup_edits, removals, cleanup_notes = cleanup_offers(flake, module_dir, untouched)
    notes.extend(cleanup_notes)
    if answers.cleanup:
        for rel, file_edits in cleanup_edits.items():
            for edit in file_edits:
                edits.add(rel, edit, "remove what the new set-up supersedes")
        changes.extend(removals)
        offers = []
    changes = edits.changes() + changes
    check_writable_paths(flake.root, [c.path for c in changes])
    plan = Plan(
        flake,
        changes,
        machines,
        caches,
        input_name,
        follows,
        module_dir,
        refusals,
        offers,
        notes,
        asked=[name for name in machines if name in answers.machines],
        attached=attached + sorted(replaced),
        input_changed=input_changed,
        left_alone=left_alone,
        module_rebuilds=module_rebuilds,
    )
    if follows is not None and answers.follows is None:
        from tui.core.nix.hosts import machines_nixpkgs

        most_used, nixpkgs_notes = machines_nixpkgs(flake)
        if most_used == follows:
            plan.notes.extend(nixpkgs_notes)
    if llama is not None and llama.name != "llama-cpp":
        plan.notes.append(f"using the existing llama.cpp input `{llama.name}`")
    plan.warnings.extend(_capability_notes(machines, answers.cuda_release))  # builds known to fail
    return plan


def _capability_notes(machines: dict[str, MachineAnswer], cuda_release: str | None = None) -> list[str]:
    """A warning for each CUDA capability the CUDA release does not build for (given by hand, or read back)."""
    from tui.core.hardware.support import cuda_verdict, default_cuda_version

    version = cuda_release or default_cuda_version()
    notes = []
    for host, answer in machines.items():
        for capability in answer.cuda_capabilities:
            verdict = cuda_verdict(capability, version)
            if not verdict.supported:
                notes.append(
                    f"{host}: CUDA capability {capability} {verdict.reason}; the build will fail "
                    "(the vulkan variant runs on any NVIDIA GPU with its driver)"
                )
    return notes


def complete_answer(answer: MachineAnswer, previous: MachineAnswer | None) -> MachineAnswer:
    """Fill in what the answer leaves open from the machine's file (``previous``; :mod:`tui.core.choice`'s rule),
    else the portable all-variants build; of the CPU flags given, those ggml uses."""
    result = MachineAnswer(
        variant=answer.variant,
        cpu_flags=list(answer.cpu_flags),
        all_variants=answer.all_variants,
        cuda_capabilities=list(dict.fromkeys(answer.cuda_capabilities)),
        rocm_targets=list(dict.fromkeys(answer.rocm_targets)),
        notes=list(answer.notes),
        cuda_source=answer.cuda_source if answer.cuda_capabilities else None,
        serve=answer.serve,
        stop_serving=answer.stop_serving,
    )
    fill_from_read_back(result, previous)
    if answer.cpu_flags or answer.all_variants:
        result.cpu_flags = ggml.filter_flags(answer.cpu_flags)
    elif not result.cpu_flags and not result.all_variants:
        result.all_variants = True
    return result


def describe(answer: MachineAnswer) -> str:
    parts = [answer.variant]
    if answer.all_variants:
        parts.append("all CPU variants")
    elif answer.cpu_flags:
        options = [o.removeprefix("GGML_") for o, on in ggml.ggml_options(answer.cpu_flags).items() if on]
        parts.append("CPU " + " ".join(options))
    if answer.cuda_capabilities:
        parts.append(
            "CUDA "
            + " ".join(answer.cuda_capabilities)
            + (f" (capability from {answer.cuda_source})" if answer.cuda_source else "")
        )
    if answer.rocm_targets:
        parts.append("ROCm " + " ".join(answer.rocm_targets))
    if answer.serve is not None:
        parts.append(f"serving {answer.serve.model.repo} {answer.serve.model.name}")
    return ", ".join(parts)


def _read(flake: Flake, rel: str) -> bytes | None:
    path = flake.root / rel
    if not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LlamaflakeError(f"{rel}: cannot read: {exc.strerror or exc}") from None


def same_nix(old: bytes | None, new: bytes, path: str) -> bool:
    """Whether ``old`` and ``new`` are the same Nix code: they differ only in blanks, line breaks and comments."""
    if old is None:
        return False
    try:

        def tokens(source: bytes) -> list[tuple[str, str]]:
            return [
                (n.kind, n.text)
                for n in parse(source, path).walk()
                if n.is_token and n.kind not in ("TOKEN_WHITESPACE", "TOKEN_COMMENT")
            ]

        return tokens(old) == tokens(new)
    except LlamaflakeError:
        return False


def same_but_for_layout(old: bytes | None, new: bytes, path: str) -> bool:
    """Whether ``old`` is ``new`` with other blanks and line breaks (a formatter's hook ran over it); the
    machines its header remembers as left alone count too."""
    return same_nix(old, new, path) and read_left_alone(old) == read_left_alone(new)
