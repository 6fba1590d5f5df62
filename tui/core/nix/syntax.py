"""The one module that parses Nix: a lossless syntax tree with UTF-8 byte ranges.

The parser is rnix (through ``pynix-parser``): it accepts every valid file we measured, including
nixfmt's trailing commas, and its tree round-trips the source byte for byte. The rest of the engine
sees only :class:`Node`, so the parser can be swapped here without touching anything else.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import TypeGuard

from tui.core.errors import LlamaflakeError, NixSyntaxError

_rnix: ModuleType | None
try:  # pragma: no cover - depends on the platform's wheels
    import pynix_parser as _rnix
except ImportError:  # pragma: no cover
    _rnix = None


@dataclass(eq=False, slots=True)
class Node:
    """A node or token of the syntax tree; ``start``/``end`` are byte offsets into ``source``."""

    kind: str
    start: int
    end: int
    source: bytes = field(repr=False)
    parent: Node | None = field(default=None, repr=False)
    children: list[Node] = field(default_factory=list, repr=False)

    @property
    def is_token(self) -> bool:
        return self.kind.startswith("TOKEN_")

    @property
    def raw(self) -> bytes:
        return self.source[self.start : self.end]

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8")

    def nodes(self) -> list[Node]:
        """Child nodes, tokens left out."""
        return [c for c in self.children if not c.is_token]

    def tokens(self) -> list[Node]:
        return [c for c in self.children if c.is_token]

    def first(self, kind: str) -> Node | None:
        for c in self.children:
            if c.kind == kind:
                return c
        return None

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, in source order (tokens included)."""
        stack = [self]
        while stack:
            n = stack.pop()
            yield n
            stack.extend(reversed(n.children))

    def ancestors(self) -> Iterator[Node]:
        n = self.parent
        while n is not None:
            yield n
            n = n.parent


def _convert(root, source: bytes, parent: Node | None) -> Node:
    """Our tree from rnix's, built without recursion (long ``++`` or ``//`` chains nest deeply)."""
    new = object.__new__
    top = new(Node)
    top.kind = root.kind()
    top.start, top.end = root.text_range()
    top.source, top.parent = source, parent
    stack = [(root, top)]
    while stack:
        element, node = stack.pop()
        children = []
        for child in element.children_with_tokens():
            item = new(Node)
            item.kind = kind = child.kind()
            item.start, item.end = child.text_range()
            item.source, item.parent = source, node
            children.append(item)
            if kind.startswith("NODE_"):
                stack.append((child.as_node(), item))
            else:
                item.children = []
        node.children = children
    return top


_ERROR_AT = re.compile(r"at (\d+)\.\.(\d+)")
_TOKEN_WORDS = {
    "SEMICOLON": "';'",
    "COLON": "':'",
    "COMMA": "','",
    "DOT": "'.'",
    "ASSIGN": "'='",
    "L_BRACE": "'{'",
    "R_BRACE": "'}'",
    "L_PAREN": "'('",
    "R_PAREN": "')'",
    "L_BRACK": "'['",
    "R_BRACK": "']'",
    "STRING_START": "a string",
    "IDENT": "a name",
    "REC": "'rec'",
    "INTERPOL_START": "'${'",
    "IN": "'in'",
    "THEN": "'then'",
    "ELSE": "'else'",
}


def line_column(source: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a byte offset."""
    before = source[:offset]
    line = before.count(b"\n") + 1
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    return line, column


def _parse_raw(source: bytes, path: str):
    if _rnix is None:
        raise LlamaflakeError(
            "the Nix parser (pynix-parser) is not available on this platform",
            hint="llamaflake needs an x86_64 Linux build of pynix-parser",
        )
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = line_column(source, exc.start)
        raise NixSyntaxError(path, line, column, "the file is not valid UTF-8") from None
    if len(source) > MAX_SOURCE_BYTES:
        raise NixSyntaxError(
            path, 1, 1, f"the file is larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB; llamaflake does not read it"
        )
    try:
        return _rnix.parse(text)
    except ValueError as exc:
        message = str(exc)
        first = message.split(";")[0].strip()
        match = _ERROR_AT.search(first)
        offset = int(match.group(1)) if match else len(source)
        line, column = line_column(source, offset)
        detail = re.sub(r"\s+,", ",", _ERROR_AT.sub("", first)).strip()
        detail = re.sub(r"TOKEN_([A-Z_]+)", lambda m: _TOKEN_WORDS.get(m.group(1), m.group(1).lower()), detail)
        raise NixSyntaxError(path, line, column, detail) from None


MAX_SOURCE_BYTES = 8 * 1024 * 1024
# rnix recurses without a limit into nested lists and unary minus, about 300 bytes of stack per level:
# the main thread's 8 MiB hold some 20,000 levels. Deeper files are parsed on a thread with a stack sized
# for them, and refused beyond that, instead of a segmentation fault taking the process down.
_MAIN_STACK_LEVELS = 5000
MAX_NESTING = 2000  # real configurations stay below 100; rnix's time grows with the square of the depth
_NESTING_TOKENS = re.compile(rb'#[^\n]*|/\*.*?\*/|"(?:[^"\\]|\\.)*"|\'\'.*?\'\'|[\[({]|[\])}]|(?:[-!]\s*)+', re.S)
_STACK_PER_LEVEL = 512
_MAX_STACK = 1024 * 1024 * 1024
_stack_lock = threading.Lock()


def nesting_depth(source: bytes) -> int:
    """An estimate of how deeply ``source`` nests (brackets, and chains of ``-``/``!``), strings and comments skipped."""
    depth = deepest = 0
    for match in _NESTING_TOKENS.finditer(source):
        token = match.group()
        first = token[:1]
        if first in (b"[", b"(", b"{"):
            depth += 1
        elif first in (b"]", b")", b"}"):
            depth = max(depth - 1, 0)
        elif first in (b"-", b"!"):
            deepest = max(deepest, depth + token.count(b"-") + token.count(b"!"))
            continue
        else:
            continue
        deepest = max(deepest, depth)
    return deepest


def _on_a_big_enough_stack(source: bytes, path: str, work):
    """``work()`` (which parses ``source`` and keeps nothing of rnix's: its nodes stay on their thread)."""
    levels = sum(source.count(c) for c in b"[({-!")
    if levels < _MAIN_STACK_LEVELS:
        return work()
    if nesting_depth(source) > MAX_NESTING:
        raise NixSyntaxError(
            path, 1, 1, f"the file nests deeper than {MAX_NESTING} levels; llamaflake does not read it"
        )
    size = max(64 * 1024 * 1024, levels * _STACK_PER_LEVEL)
    if size > _MAX_STACK:
        raise NixSyntaxError(path, 1, 1, "the file nests too deeply (or is too large) to read safely")
    outcome: list = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # handed to the calling thread
            outcome.append((False, exc))

    with _stack_lock:
        previous = threading.stack_size(size)
        try:
            worker = threading.Thread(target=run, name="nix-parse")
            worker.start()
        finally:
            threading.stack_size(previous)
    worker.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def parse(source: bytes, path: str = "<string>") -> Node:
    """Parse Nix source into its root node, or raise :class:`NixSyntaxError` with line and column."""
    return _on_a_big_enough_stack(source, path, lambda: _convert(_parse_raw(source, path), source, None))


def check(source: bytes, path: str = "<string>") -> None:
    """Raise :class:`NixSyntaxError` if ``source`` does not parse (without building the tree)."""
    _on_a_big_enough_stack(source, path, lambda: _parse_raw(source, path) and None)


# ---- small helpers over the tree -------------------------------------------------------------


def unwrap(node: Node | None) -> Node | None:
    """Skip parentheses and the root wrapper."""
    while node is not None and node.kind in ("NODE_ROOT", "NODE_PAREN"):
        inner = node.nodes()
        node = inner[0] if inner else None
    return node


def inside(node: Node | None, container: Node | None) -> TypeGuard[Node]:
    """Whether ``node`` is ``container`` or lies within it, in the same file."""
    return (
        node is not None
        and container is not None
        and node.source is container.source
        and container.start <= node.start
        and node.end <= container.end
    )


def module_attrset(tree: Node) -> Node | None:
    """The attribute set a module file evaluates to: under ``{ ... }:`` and ``let … in`` too."""
    node = unwrap(tree)
    while node is not None and node.kind in ("NODE_LAMBDA", "NODE_LET_IN"):
        node = unwrap(node.nodes()[-1])
    return node if node is not None and node.kind == "NODE_ATTR_SET" else None


def attrpath_names(attrpath: Node) -> list[str] | None:
    """The names of an attribute path (``a.b."c"``), or None if a part is dynamic."""
    names: list[str] = []
    for part in attrpath.nodes():
        if part.kind == "NODE_IDENT":
            names.append(part.text)
        elif part.kind == "NODE_STRING":
            value = string_value(part)
            if value is None:
                return None
            names.append(value)
        else:
            return None
    return names


def string_value(node: Node | None) -> str | None:
    """The value of a plain string literal (no interpolation), else None."""
    node = unwrap(node)
    if node is None or node.kind != "NODE_STRING":
        return None
    parts = []
    for c in node.children:
        if c.kind in ("TOKEN_STRING_START", "TOKEN_STRING_END"):
            continue
        if c.kind == "TOKEN_STRING_CONTENT":
            parts.append(c.text)
        else:
            return None
    value = "".join(parts)
    if node.raw.startswith(b"''"):
        return _dedent_indented(value)
    return _ESCAPE.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(1)), value)


_ESCAPE = re.compile(r"\\(.)", re.S)
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def _dedent_indented(value: str) -> str:
    lines = value.split("\n")
    if lines and lines[0].strip() == "":
        lines = lines[1:]
    indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(line[cut:] for line in lines)


@dataclass(slots=True)
class Binding:
    """``path = value;`` inside an attribute set or let block."""

    node: Node
    path: list[str] | None
    value: Node | None


def bindings(attrset: Node) -> list[Binding]:
    """The ``path = value;`` entries of an attribute set or let block (``inherit`` left out)."""
    result = []
    for child in attrset.nodes():
        if child.kind == "NODE_ATTRPATH_VALUE":
            parts = child.nodes()
            path = attrpath_names(parts[0]) if parts and parts[0].kind == "NODE_ATTRPATH" else None
            value = parts[1] if len(parts) > 1 else None
            result.append(Binding(child, path, value))
    return result


def inherited_names(attrset: Node) -> list[tuple[str, Node]]:
    """Names brought in by ``inherit`` / ``inherit (x)`` entries, with their inherit node."""
    names = []
    for child in attrset.nodes():
        if child.kind == "NODE_INHERIT":
            for ident in child.nodes():
                if ident.kind == "NODE_IDENT":
                    names.append((ident.text, child))
                elif ident.kind == "NODE_STRING":
                    value = string_value(ident)
                    if value is not None:
                        names.append((value, child))
    return names


def select_path(node: Node | None) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"] for an identifier or a select expression, else None."""
    node = unwrap(node)
    if node is None:
        return None
    if node.kind == "NODE_IDENT":
        return [node.text]
    if node.kind == "NODE_SELECT":
        parts = node.nodes()
        if len(parts) < 2 or parts[1].kind != "NODE_ATTRPATH":
            return None
        head = select_path(parts[0])
        tail = attrpath_names(parts[1])
        if head is None or tail is None:
            return None
        return head + tail
    return None


def indent_of(source: bytes, offset: int) -> bytes:
    """The leading whitespace of the line that holds ``offset``."""
    line_start = source.rfind(b"\n", 0, offset) + 1
    end = line_start
    while end < len(source) and source[end : end + 1] in (b" ", b"\t"):
        end += 1
    return source[line_start:end]


def starts_line(source: bytes, offset: int) -> bool:
    """True if only whitespace stands between the line start and ``offset``."""
    line_start = source.rfind(b"\n", 0, offset) + 1
    return source[line_start:offset].strip() == b""


def relative_path_literal(node: Node | None) -> str | None:
    """The text of a relative path literal without interpolation (``./a/b.nix``), else None."""
    node = unwrap(node)
    if node is None or node.kind != "NODE_PATH_REL":
        return None
    if any(c.kind == "NODE_INTERPOL" for c in node.children):
        return None
    return node.text


# ---- writing Nix: every piece of outside text goes through one of these --------------------------

NIX_KEYWORDS = frozenset({"assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_'-]*", re.ASCII)
_PATH_PART = re.compile(r"[A-Za-z0-9._+-]+", re.ASCII)
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def nix_string(value: str) -> str:
    """Text escaped for the inside of a double-quoted Nix string (no ``${`` interpolation survives)."""
    escaped = "".join(_STRING_ESCAPES.get(ch, ch) for ch in value)
    return escaped.replace("${", "\\${")


def nix_string_literal(value: str) -> str:
    """A double-quoted Nix string holding exactly ``value``."""
    return f'"{nix_string(value)}"'


def is_identifier(name: str) -> bool:
    """Whether ``name`` can be written bare as a Nix identifier (and so as a function argument)."""
    return bool(_IDENTIFIER.fullmatch(name)) and name not in NIX_KEYWORDS


def nix_attr_name(name: str) -> str:
    """One attribute name: bare where it is an identifier, else quoted (``"llama.cpp"``)."""
    return name if is_identifier(name) else nix_string_literal(name)


def nix_attr_path(names: list[str]) -> str:
    """An attribute path (``inputs."llama.cpp".url``), each part through :func:`nix_attr_name`."""
    return ".".join(nix_attr_name(n) for n in names)


def nix_comment(text: str) -> str:
    """Text fit for one ``#`` comment line: control characters (line breaks included) become spaces."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(cleaned.split())


def nix_relative_path(from_file: str, target: str) -> str:
    """An expression for the path of ``target`` (relative to the root) as seen from ``from_file``.

    A plain path literal (``./machines/a.nix``) where every part is made of the characters a literal
    allows, else a path joined with a string in parentheses (``(./. + "/my modules/a.nix")``, one list
    element), whose text Nix never reads as code.
    """
    base = [p for p in from_file.split("/")[:-1] if p not in ("", ".")]
    parts = [p for p in target.split("/") if p not in ("", ".")]
    common = 0
    while common < len(base) and common < len(parts) and base[common] == parts[common]:
        common += 1
    up = [".."] * (len(base) - common)
    rest = parts[common:]
    if all(_PATH_PART.fullmatch(p) for p in rest):
        rel = "/".join(up + rest) or "."
        return rel if up else "./" + rel
    anchor = "/".join(up) + "/." if up else "./."
    return f"({anchor} + {nix_string_literal('/' + '/'.join(rest))})"


def nix_keyed_path(from_file: str, folder: str, key: str) -> str:
    """The path of ``<folder>/${key}.nix`` as seen from ``from_file``, ``key`` being a name in scope there
    (``./llama-cpp/machines/${name}.nix``): one file per value of ``key``."""
    if not is_identifier(key):
        raise LlamaflakeError(f"{key!r} is not a Nix name")
    placeholder = "KEY.nix"  # path characters only, so it is written as the folder's path is
    head, _, tail = nix_relative_path(from_file, f"{folder}/{placeholder}").rpartition(placeholder)
    return head + "${" + key + "}.nix" + tail


def path_expression_target(node: Node | None) -> str | None:
    """The relative path an expression written by :func:`nix_relative_path` names (``./a/b.nix`` or
    ``(./. + "/a b.nix")``), as text from the writing file's folder; None for anything else."""
    node = unwrap(node)
    literal = relative_path_literal(node)
    if literal is not None:
        return literal
    if node is None or node.kind != "NODE_BIN_OP":
        return None
    operands = node.nodes()
    operator = [t for t in node.tokens() if t.kind == "TOKEN_ADD"]
    if len(operands) != 2 or not operator:
        return None
    anchor = relative_path_literal(operands[0])
    suffix = string_value(operands[1])
    if anchor is None or suffix is None or not suffix.startswith("/"):
        return None
    return anchor.rstrip("/") + suffix
