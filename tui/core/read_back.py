"""Reading back what :mod:`tui.core.render` wrote before: machine settings and the chosen caches."""

from __future__ import annotations

from dataclasses import dataclass

from tui.core.answers import MachineAnswer
from tui.core.caches import Cache, cache_for_url
from tui.core.errors import printable
from tui.core.nix.syntax import (
    Node,
    attrpath_names,
    bindings,
    inherited_names,
    module_attrset,
    parse,
    string_value,
    unwrap,
)
from tui.core.serve_settings import SERVE_LEAVES, SERVE_SETS, OptionPath, literal, read_serve, under_serve

# The first line of every machine file (the template writes it; notes are the comment lines after it).
MACHINE_HEADER = "# llama.cpp settings for the machine"


def _strings(node: Node | None) -> list[str]:
    node = unwrap(node)
    if node is None or node.kind != "NODE_LIST":
        return []
    values = [string_value(item) for item in node.nodes()]
    return [v for v in values if v is not None]


def _settings_values(source: bytes, path: str) -> dict[tuple[str, ...], Node | None] | None:
    """Each ``local.llama-cpp`` binding of a machine file (its path below ``local.llama-cpp`` -> its value, the
    served model's sets followed), or None if it sets none."""
    attrset = module_attrset(parse(source, path))
    if attrset is None:
        return None
    values: dict[tuple[str, ...], Node | None] = {}
    found = False
    for b in bindings(attrset):
        if not b.path or b.path[:2] != ["local", "llama-cpp"]:
            continue
        found = True
        rest = b.path[2:]
        if rest:
            _collect(values, tuple(rest), b.value)
        else:
            inner = unwrap(b.value)
            if inner is not None and inner.kind == "NODE_ATTR_SET":
                for ib in bindings(inner):
                    if ib.path:
                        _collect(values, tuple(ib.path), ib.value)
                _collect_inherited(values, (), inner)
    return values if found else None


def _collect_inherited(values: dict[OptionPath, Node | None], path: OptionPath, attrset: Node) -> None:
    """``inherit name;`` in an attribute set of the settings: each name is bound to its ``inherit``, which is
    no plain value (the read-back cannot see what it brings in)."""
    for name, node in inherited_names(attrset):
        values.setdefault(path + (name,), node)


def serve_switched_off(source: bytes, path: str = "<machine>") -> bool:
    """Whether a machine file turns its served model off by hand: ``serve.enable = false;`` written as a literal."""
    values = _settings_values(source, path)
    return values is not None and literal(values.get(("serve", "enable"))) is False


@dataclass(frozen=True)
class NotPlain:
    """A setting of the served model that is not a plain value, so the read-back does not see the model."""

    line: int
    text: str  # the line, as data: ``inherit host;``
    instead: str  # what to write instead

    def __str__(self) -> str:
        return f"line {self.line}, `{self.text}`, is not a plain value: {self.instead}"


def serve_not_plain(source: bytes, path: str = "<machine>") -> NotPlain | None:
    """Where the served model of a machine file is not read back because a setting of it is not a plain value
    (``inherit host;``, ``port = 8000 + 80;``, ``serve = import ./serve.nix;``); None where it is read back or
    the file serves none."""
    values = _settings_values(source, path)
    if values is None or not any(under_serve(key) for key in values) or read_serve(values) is not None:
        return None
    for key in (*SERVE_SETS, *SERVE_LEAVES):
        if key not in values:
            continue
        node = values[key]
        inner = unwrap(node)
        if key in SERVE_SETS and inner is not None and inner.kind == "NODE_ATTR_SET":
            continue
        if key in SERVE_SETS or literal(node) is None:
            start = node.start if node is not None else 0
            line_start = source.rfind(b"\n", 0, start) + 1
            line_end = source.find(b"\n", start)
            text = source[line_start : line_end if line_end >= 0 else len(source)].decode("utf-8", "replace")
            name = "local.llama-cpp." + ".".join(key)
            instead = (
                f"write {name} as an attribute set whose settings are plain values"
                if key in SERVE_SETS
                else f"write the value itself ({name} = …;)"
            )
            return NotPlain(source.count(b"\n", 0, start) + 1, printable(text.strip(), newlines=False)[:120], instead)
    return None


def read_machine_settings(source: bytes, path: str = "<machine>") -> MachineAnswer | None:
    """The ``local.llama-cpp`` settings of a machine file, or None if it has none."""
    values = _settings_values(source, path)
    if values is None:
        return None
    variant = string_value(values.get(("variant",))) or "cpu"
    all_variants = unwrap(values.get(("cpu", "allVariants")))
    notes = []
    for line in source.decode("utf-8", "replace").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# ") and not line.startswith(MACHINE_HEADER):
            notes.append(line[2:])
    return MachineAnswer(
        variant=variant,
        cpu_flags=_strings(values.get(("cpu", "flags"))),
        all_variants=all_variants is not None and all_variants.text == "true",
        cuda_capabilities=_strings(values.get(("cuda", "capabilities"))),
        rocm_targets=_strings(values.get(("rocm", "gpuTargets"))),
        notes=notes,
        serve=read_serve(values),
    )


def _collect(values: dict[tuple[str, ...], Node | None], path: tuple[str, ...], value: Node | None) -> None:
    """``path = value``, and the bindings inside it where it is one of the served model's attribute sets."""
    values[path] = value
    inner = unwrap(value)
    if path in SERVE_SETS and inner is not None and inner.kind == "NODE_ATTR_SET":
        for b in bindings(inner):
            if b.path:
                _collect(values, path + tuple(b.path), b.value)
        _collect_inherited(values, path, inner)


def read_module_caches(source: bytes, path: str = "<module>") -> list[Cache]:
    """The caches listed in ``binaryCaches`` of a module the wizard wrote."""
    tree = parse(source, path)
    caches: list[Cache] = []
    for node in tree.walk():
        if node.kind != "NODE_ATTRPATH_VALUE":
            continue
        parts = node.nodes()
        if not parts or attrpath_names(parts[0]) != ["binaryCaches"]:
            continue
        lst = unwrap(parts[1])
        if lst is None or lst.kind != "NODE_LIST":
            continue
        for entry in lst.nodes():
            item = unwrap(entry)
            if item is None or item.kind != "NODE_ATTR_SET":
                continue
            fields = {tuple(b.path or []): b.value for b in bindings(item)}
            url = string_value(fields.get(("url",)))
            key = string_value(fields.get(("key",)))
            if not url or not key:
                continue
            known = cache_for_url(url)
            if known is not None and known.key == key:
                caches.append(known)
            else:
                caches.append(
                    Cache(
                        name=url.split("//")[-1].split("/")[0],
                        url=url,
                        key=key,
                        variants=tuple(_strings(fields.get(("variants",)))),
                        title=url,
                        provides="your own cache",
                    )
                )
        break
    return caches
