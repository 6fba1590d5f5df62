"""Changing the settings in a machine's file surgically, so that the user's own lines and comments stay."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.core.answers import MachineAnswer
from tui.core.errors import AnswerError, LlamaflakeError
from tui.core.nix.edits import Edit, add_binding, apply_edits, line_end_after
from tui.core.nix.syntax import (
    Node,
    bindings,
    check,
    indent_of,
    inherited_names,
    module_attrset,
    nix_string,
    parse,
    starts_line,
    string_value,
    unwrap,
)
from tui.core.read_back import read_machine_settings
from tui.core.serve_settings import (
    DEFAULTS,
    MODEL,
    SERVE,
    SERVE_LEAVES,
    SERVE_SETS,
    OptionPath,
    Value,
    leaf_text,
    literal,
    nix_value,
    serve_block,
    serve_leaves,
    serve_values,
    under_serve,
)

# The settings llamaflake owns in a machine file, as paths below ``local.llama-cpp`` (and the served model's,
# in tui.core.serve_settings).
OWNED = (("variant",), ("cpu", "allVariants"), ("cpu", "flags"), ("cuda", "capabilities"), ("rocm", "gpuTargets"))
ALL_VARIANTS_COMMENT = b"# The CPU is not known for certain: build every CPU variant and pick the best at run time."
# What an owned setting outside ``serve`` is written as: the variant, a list of flags or targets, all-variants.
Plain = str | list[str] | bool


class HandEditRefused(LlamaflakeError):
    """A setting in a machine file is written in a way llamaflake does not change; the message has the lines."""


@dataclass
class _Setting:
    """A binding of one owned setting: the whole binding and its value."""

    node: Node
    value: Node | None


@dataclass
class _Serve:
    """Where the served model is written: the bindings that hold it (at the level of the other settings), its
    attribute sets, and the ones bound to something that is not an attribute set (``serve = import ./x.nix;``)."""

    nodes: list[Node] = field(default_factory=list)
    holders: dict[tuple[str, ...], Node] = field(default_factory=dict)
    opaque: list[Node] = field(default_factory=list)


def owned_values(answer: MachineAnswer) -> dict[OptionPath, Plain | None]:
    """The value of each owned setting outside ``serve`` for ``answer`` (None: not written)."""
    return {
        ("variant",): answer.variant,
        ("cpu", "allVariants"): True if answer.all_variants else None,
        ("cpu", "flags"): None if answer.all_variants else list(answer.cpu_flags),
        ("cuda", "capabilities"): list(answer.cuda_capabilities) or None,
        ("rocm", "gpuTargets"): list(answer.rocm_targets) or None,
    }


def wanted(answer: MachineAnswer) -> dict[OptionPath, Plain | Value | None]:
    """The value of each owned setting for ``answer``, the served model's too (None: not written)."""
    return {**owned_values(answer), **serve_values(answer.serve)}


def _literal(value: Node | None) -> Plain | None:
    """A string, a list of strings or a boolean written as a literal; None for anything else."""
    node = unwrap(value)
    if node is None:
        return None
    if node.kind == "NODE_IDENT" and node.text in ("true", "false"):
        return node.text == "true"
    if node.kind == "NODE_LIST":
        items = [string_value(item) for item in node.nodes()]
        strings = [item for item in items if item is not None]
        return None if len(strings) != len(items) else strings
    return string_value(node)


def _same(key: OptionPath, current: Plain | None, want: Plain | None) -> bool:
    if want is None:  # `cpu.flags = [ ]` means "no CPU features", not "left out"
        return current in (None, False) or (current == [] and key != ("cpu", "flags"))
    if isinstance(want, list) and isinstance(current, list):
        return sorted(current) == sorted(want)  # the order of flags, capabilities and targets means nothing
    return current == want


def _unordered(values: dict) -> dict:
    return {key: sorted(value) if isinstance(value, list) else value for key, value in values.items()}


def _nix_value(want: Plain) -> str:
    if isinstance(want, bool):
        return "true" if want else "false"
    if isinstance(want, str):
        return f'"{nix_string(want)}"'
    return "[ " + "".join(f'"{nix_string(item)}" ' for item in want) + "]"


def _list_lines(items: list[str], indent: bytes, step: bytes) -> bytes:
    """A list with one element per line, closed at ``indent`` (as the template writes ``cpu.flags``)."""
    inner = b"".join(b"\n" + indent + step + f'"{nix_string(item)}"'.encode() for item in items)
    return b"[" + inner + b"\n" + indent + b"]" if items else b"[ ]"


def _one_per_line(key: tuple[str, ...], value: list[str], old: Node | None) -> bool:
    """Lists keep their layout; CPU flags, which the template writes one per line, start that way."""
    if old is not None and old.nodes():
        return b"\n" in old.raw
    return key == ("cpu", "flags") and bool(value)


def _binding_text(name: str, key: OptionPath, value: Plain, indent: bytes) -> bytes:
    """``name = value;`` as the template writes it, for a binding at ``indent``."""
    if isinstance(value, list) and _one_per_line(key, value, None):
        return name.encode() + b" = " + _list_lines(value, indent, b"  ") + b";"
    text = f"{name} = {_nix_value(value)};".encode()
    if key == ("cpu", "allVariants"):
        return ALL_VARIANTS_COMMENT + b"\n" + indent + text
    return text


def _comment_above(source: bytes, node: Node) -> int:
    """Where the template's comment above ``node`` starts (the binding's own start when there is none)."""
    line_start = source.rfind(b"\n", 0, node.start) + 1
    if line_start == 0 or source[line_start : node.start].strip():
        return node.start
    above = source.rfind(b"\n", 0, line_start - 1) + 1
    text = source[above : line_start - 1].rstrip(b"\r")
    if text.strip() == ALL_VARIANTS_COMMENT:
        return above + len(text) - len(text.lstrip())
    return node.start


def _owned_bindings(source: bytes, path: str) -> tuple[Node, Node, list[str], dict[tuple[str, ...], _Setting], _Serve]:
    """The attribute set that holds the settings, the prefix its bindings carry, each owned binding, and where
    the served model is."""
    attrset = module_attrset(parse(source, path))
    if attrset is None:
        raise AnswerError(
            f"{path} is not a llama.cpp settings file (it is not an attribute set of settings) and is "
            "left alone: llamaflake writes over its own files only; move it away, or choose another "
            "folder with --module-dir"
        )
    nested: Node | None = None
    found: dict[tuple[str, ...], _Setting] = {}
    serve = _Serve()
    for b in bindings(attrset):
        if not b.path or b.path[:2] != ["local", "llama-cpp"]:
            continue
        rest = tuple(b.path[2:])
        if not rest:
            inner = unwrap(b.value)
            if inner is None or inner.kind != "NODE_ATTR_SET" or nested is not None:
                raise _not_understood(source, path, b.node, "local.llama-cpp is not one attribute set")
            nested = inner
            for ib in bindings(inner):
                _take(source, path, found, tuple(ib.path or ()), ib.node, ib.value, serve)
            for name, inherit in inherited_names(inner):  # no plain value: what it brings in is not seen
                _take(source, path, found, (name,), inherit, inherit, serve)
        else:
            _take(source, path, found, rest, b.node, b.value, serve)
    if nested is None and not found:
        raise AnswerError(
            f"{path} is not a llama.cpp settings file (it sets no local.llama-cpp options) and is left "
            "alone: llamaflake writes over its own files only; move it away, or choose another folder "
            "with --module-dir"
        )
    if nested is not None:
        return attrset, nested, ["local", "llama-cpp"], found, serve
    return attrset, attrset, [], found, serve


def _take(
    source: bytes, path: str, found: dict, rest: tuple[str, ...], node: Node, value: Node | None, serve: _Serve
) -> None:
    if under_serve(rest):
        serve.nodes.append(node)
        _take_serve(found, rest, node, value, serve)
    elif rest in OWNED:
        found[rest] = _Setting(node, value)
    elif any(key[: len(rest)] == rest for key in OWNED):  # `cpu = { flags = … }`: a set around owned settings
        raise _not_understood(source, path, node, f"{'.'.join(rest)} is written as one attribute set")


def _take_serve(found: dict, rest: tuple[str, ...], node: Node, value: Node | None, serve: _Serve) -> None:
    """A binding below ``serve``: an owned leaf, or one of its attribute sets (whose bindings are taken in turn)."""
    if rest in SERVE_LEAVES:
        found[rest] = _Setting(node, value)
    elif rest in SERVE_SETS:
        inner = unwrap(value)
        if inner is None or inner.kind != "NODE_ATTR_SET":
            serve.opaque.append(node)
            return
        serve.holders.setdefault(rest, inner)
        for b in bindings(inner):
            if b.path:
                _take_serve(found, rest + tuple(b.path), b.node, b.value, serve)
        for name, inherit in inherited_names(inner):  # `inherit host;`: no plain value, refused where it matters
            _take_serve(found, rest + (name,), inherit, inherit, serve)


def _serve_changes(
    source: bytes, answer: MachineAnswer, found: dict, serve: _Serve, refused: list[str]
) -> tuple[list[Edit], list[tuple[str, ...]], bool]:
    """The edits that make the served model ``answer.serve``: values changed in place (or the bindings removed),
    the leaves to add once they are done, and whether the whole block is to be added."""
    if answer.serve is None:
        if not serve.nodes:
            return [], [], False
        unread = serve.opaque + [found[k].node for k in found if under_serve(k) and literal(found[k].value) is None]
        if unread:
            first = min(unread, key=lambda node: node.start)
            line = source[: first.start].count(b"\n") + 1
            text = first.text.splitlines()[0]
            refused.append(f"remove local.llama-cpp.serve (line {line}, `{text}`, is not a plain value)")
            return [], [], False
        return [_remove(source, node) for node in serve.nodes], [], False
    if not serve.nodes:
        return [], [], True
    values = serve_leaves(answer.serve)
    if serve.opaque:
        refused.extend(leaf_text(key, values[key]) for key in SERVE_LEAVES)
        return [], [], False
    changes: list[Edit] = []
    added: list[tuple[str, ...]] = []
    for key in SERVE_LEAVES:
        want = values[key]
        setting = found.get(key)
        if setting is None:
            default = DEFAULTS.get(key)
            if default is None or type(want) is not type(default) or want != default:
                added.append(key)  # left out, and the module's default is not what is wanted
            continue
        current = literal(setting.value)
        if current is None:
            refused.append(leaf_text(key, want))
        elif type(current) is not type(want) or current != want:
            node = unwrap(setting.value)
            assert node is not None, "a literal was read from it above"
            changes.append(Edit(node.start, node.end, nix_value(want, indent_of(source, setting.node.start))))
    return changes, added, False


def _serve_inserts(
    source: bytes, holder: Node, prefix: list[str], serve: _Serve, answer: MachineAnswer, added, whole: bool
) -> list[Edit]:
    """Bindings added to the served model (each in the innermost attribute set that exists), or the whole block."""
    assert answer.serve is not None
    inserts = []
    if whole:
        name = "serve" if prefix else "local.llama-cpp.serve"
        inserts.append(add_binding(source, holder, serve_block(answer.serve, _inner_indent(source, holder), name)))
        return inserts
    values = serve_leaves(answer.serve)
    for key in added:
        within = next((p for p in (MODEL, SERVE) if p in serve.holders and key[: len(p)] == p), None)
        target = serve.holders[within] if within else holder
        name = (
            ".".join(key[len(within) :]) if within else ".".join(key) if prefix else "local.llama-cpp." + ".".join(key)
        )
        indent = _inner_indent(source, target)
        inserts.append(add_binding(source, target, name.encode() + b" = " + nix_value(values[key], indent) + b";"))
    return inserts


def _inner_indent(source: bytes, attrset: Node) -> bytes:
    """The indent of a binding added to ``attrset``: its last binding's, else one step in from its brace."""
    entries = bindings(attrset)
    return indent_of(source, entries[-1].node.start) if entries else indent_of(source, attrset.start) + b"  "


def _not_understood(source: bytes, path: str, node: Node, why: str) -> HandEditRefused:
    line = source[: node.start].count(b"\n") + 1
    return HandEditRefused(f"{path}:{line}: {why}, which llamaflake does not change")


def _remove(source: bytes, node: Node) -> Edit:
    """Remove a binding; with its line when it stands alone on it, and the template's comment above it."""
    end = line_end_after(source, node.end)
    if not (starts_line(source, node.start) and end is not None):
        start = node.start
        while start > 0 and source[start - 1 : start] in (b" ", b"\t"):
            start -= 1
        return Edit(start, node.end, b"")
    start = source.rfind(b"\n", 0, node.start) + 1
    above = source.rfind(b"\n", 0, max(start - 1, 0)) + 1
    if start > 0 and source[above : start - 1].strip() == ALL_VARIANTS_COMMENT:
        start = above
    if source[end : end + 2] == b"\r\n":
        end += 1
    return Edit(start, min(end + 1, len(source)), b"")


def update_machine_file(source: bytes, path: str, host: str, answer: MachineAnswer) -> bytes:
    """``source`` with each owned setting set to ``answer``'s value; every other byte stays.

    A setting that is not a literal (an ``if``, a ``++``, a variable) and would change is refused with
    the lines to write by hand.
    """
    want = owned_values(answer)
    _top, holder, prefix, found, serve = _owned_bindings(source, path)
    changes: list[Edit] = []
    added: list[tuple[str, ...]] = []
    removed: dict[tuple[str, ...], Node] = {}
    refused: list[str] = []
    for key, value in want.items():
        setting = found.get(key)
        if setting is None:
            if value is not None:
                added.append(key)
            continue
        current = _literal(setting.value)
        if current is None:
            full = "local.llama-cpp." + ".".join(key)
            refused.append(f"remove {full}" if value is None else f"{full} = {_nix_value(value)};")
            continue
        if _same(key, current, value):
            continue
        if value is None:
            removed[key] = setting.node
            continue
        node = unwrap(setting.value)
        assert node is not None, "a literal was read from it above"
        indent = indent_of(source, setting.node.start)
        if isinstance(value, list) and _one_per_line(key, value, node):
            step = indent_of(source, node.nodes()[0].start)[len(indent) :] if node.nodes() else b""
            text = _list_lines(value, indent, step or b"  ")
        else:
            text = _nix_value(value).encode()
        changes.append(Edit(node.start, node.end, text))
    serve_edits, serve_added, whole_serve = _serve_changes(source, answer, found, serve, refused)
    changes.extend(serve_edits)
    if refused:
        raise HandEditRefused(
            f"{host}: {path} has settings llamaflake does not change (they are not plain values); "
            "set them by hand:\n  " + "\n  ".join(refused)
        )
    # CPU flags and all-variants take each other's place, where the template writes them.
    for key, partner in ((("cpu", "flags"), ("cpu", "allVariants")), (("cpu", "allVariants"), ("cpu", "flags"))):
        if key in added and partner in removed:
            node = removed.pop(partner)
            added.remove(key)
            indent = indent_of(source, node.start)
            start = _comment_above(source, node) if partner == ("cpu", "allVariants") else node.start
            name = ".".join(key) if prefix else "local.llama-cpp." + ".".join(key)
            wanted_value = want[key]
            assert wanted_value is not None, "only a setting with a value is added"
            changes.append(Edit(start, node.end, _binding_text(name, key, wanted_value, indent)))
    changes.extend(_remove(source, node) for node in removed.values())
    new = apply_edits(source, changes)
    if added or serve_added or whole_serve:
        _top, holder, prefix, _found, serve = _owned_bindings(new, path)
        inserts = []
        for key in added:
            value = want[key]
            assert value is not None, "only a setting with a value is added"
            name = ".".join(key) if prefix else "local.llama-cpp." + ".".join(key)
            entries = [b for b in bindings(holder)]
            indent = indent_of(new, entries[-1].node.start) if entries else indent_of(new, holder.start) + b"  "
            inserts.append(add_binding(new, holder, _binding_text(name, key, value, indent)))
        if serve_added or whole_serve:
            inserts.extend(_serve_inserts(new, holder, prefix, serve, answer, serve_added, whole_serve))
        new = apply_edits(new, inserts)
    check(new, path)
    read = read_machine_settings(new, path)
    if read is None or _unordered(wanted(read)) != _unordered(wanted(answer)):
        lines = [f"local.llama-cpp.{'.'.join(k)} = {_nix_value(v)};" for k, v in want.items() if v is not None]
        lines += [leaf_text(k, v) for k, v in serve_values(answer.serve).items() if v is not None]
        raise HandEditRefused(
            f"{host}: {path} could not be changed to the new settings without touching your lines; "
            "set them by hand:\n  " + "\n  ".join(lines)
        )
    return new
