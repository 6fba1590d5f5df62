"""The served model in a machine's settings file: ``local.llama-cpp.serve``, written, read back and compared.

The file holds it as nested attribute sets, laid out as nixfmt lays them out::

    serve = {
      enable = true;
      host = "127.0.0.1";
      port = 8080;
      openFirewall = false;
      context = 4096;
      model = {
        repo = "owner/name";
        revision = "<commit id, 40 hex digits>";
        files = [
          {
            name = "name-00001-of-00002.gguf";
            sha256 = "<64 hex digits>";
            size = 4683073952;
          }
        ];
      };
    };

llamaflake owns the leaves in :data:`SERVE_LEAVES`; ``enable`` is written once and then left to the user, as
``local.llama-cpp.enable`` is. The same leaves may be written as dotted paths (``serve.port = 8080;``).
"""

from __future__ import annotations

from dataclasses import fields

from tui.core.answers import ModelChoice, ModelFile, ServeChoice
from tui.core.nix.syntax import Node, bindings, nix_string, string_value, unwrap

OptionPath = tuple[str, ...]  # an option's path below ``local.llama-cpp``
Value = str | int | bool | tuple[ModelFile, ...]

SERVE: OptionPath = ("serve",)
MODEL: OptionPath = ("serve", "model")
# The attribute sets the leaves live in (below ``local.llama-cpp``).
SERVE_SETS: tuple[OptionPath, ...] = (SERVE, MODEL)
SERVE_LEAVES: tuple[OptionPath, ...] = (
    ("serve", "host"),
    ("serve", "port"),
    ("serve", "openFirewall"),
    ("serve", "context"),
    ("serve", "model", "repo"),
    ("serve", "model", "revision"),
    ("serve", "model", "files"),
)
_FILE_KEYS = ("name", "sha256", "size")
# A size of 0 is no empty file: the size is not known (a model pinned offline, nothing looked up).
SIZE_UNKNOWN_COMMENT = b" # not known: pinned offline"
_CHOICE_FIELDS: dict[OptionPath, str] = {
    ("serve", "host"): "host",
    ("serve", "port"): "port",
    ("serve", "openFirewall"): "open_firewall",
    ("serve", "context"): "context",
}
# What the module gives a leaf that is not written (its option defaults are these, too).
DEFAULTS: dict[OptionPath, Value] = {
    key: f.default
    for f in fields(ServeChoice)
    for key, name in _CHOICE_FIELDS.items()
    if f.name == name and isinstance(f.default, str | int)  # every one of them has a default (bool is an int)
}


def under_serve(path: OptionPath) -> bool:
    return path[:1] == SERVE


def serve_values(serve: ServeChoice | None) -> dict[OptionPath, Value | None]:
    """The value of each owned leaf for ``serve`` (all None: no served model)."""
    if serve is None:
        return dict.fromkeys(SERVE_LEAVES)
    return {**serve_leaves(serve)}


def serve_leaves(serve: ServeChoice) -> dict[OptionPath, Value]:
    """The value of each owned leaf for ``serve``."""
    return {
        ("serve", "host"): serve.host,
        ("serve", "port"): serve.port,
        ("serve", "openFirewall"): serve.open_firewall,
        ("serve", "context"): serve.context,
        ("serve", "model", "repo"): serve.model.repo,
        ("serve", "model", "revision"): serve.model.revision,
        ("serve", "model", "files"): tuple(serve.model.files),
    }


def literal(node: Node | None) -> Value | None:
    """A leaf's value written as a literal (a string, a non-negative integer, true/false, or the list of
    files); None for anything else (a variable, an ``if``, a negative number, a file set with other keys)."""
    node = unwrap(node)
    if node is None:
        return None
    if node.kind == "NODE_IDENT" and node.text in ("true", "false"):
        return node.text == "true"
    if node.kind == "NODE_LITERAL":
        token = node.tokens()
        if len(token) == 1 and token[0].kind == "TOKEN_INTEGER":
            return int(token[0].text)
        return None
    if node.kind == "NODE_LIST":
        return _files(node)
    return string_value(node)


def _files(node: Node) -> tuple[ModelFile, ...] | None:
    files = []
    for entry in node.nodes():
        item = unwrap(entry)
        if item is None or item.kind != "NODE_ATTR_SET" or any(c.kind != "NODE_ATTRPATH_VALUE" for c in item.nodes()):
            return None
        entries = {tuple(b.path or ()): b.value for b in bindings(item)}
        if sorted(entries) != sorted((key,) for key in _FILE_KEYS):
            return None
        name, sha256, size = (literal(entries[(key,)]) for key in _FILE_KEYS)
        if not (isinstance(name, str) and isinstance(sha256, str) and type(size) is int):
            return None
        files.append(ModelFile(name, sha256, size))
    return tuple(files)


def read_serve(values: dict[OptionPath, Node | None]) -> ServeChoice | None:
    """The served model from the leaves found in a file (path below ``local.llama-cpp`` -> value), or None
    where there is none or a leaf is not a literal of its kind."""
    if not any(under_serve(path) for path in values):
        return None
    read = {key: literal(values[key]) if key in values else DEFAULTS.get(key) for key in SERVE_LEAVES}
    repo, revision, files = (read[key] for key in SERVE_LEAVES[4:])
    if not (isinstance(repo, str) and isinstance(revision, str) and isinstance(files, tuple) and files):
        return None
    host, port, open_firewall, context = (read[key] for key in SERVE_LEAVES[:4])
    if not (isinstance(host, str) and type(port) is int and type(open_firewall) is bool and type(context) is int):
        return None
    return ServeChoice(ModelChoice(repo, revision, files), port, host, open_firewall, context)


def nix_value(value: Value, indent: bytes = b"") -> bytes:
    """A leaf's value as the template writes it; the list of files closes at ``indent``."""
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str):
        return f'"{nix_string(value)}"'.encode()
    if not value:
        return b"[ ]"
    inner, step = indent + b"  ", indent + b"    "
    lines = [b"["]
    for file in value:
        if type(file.size) is not int:
            raise TypeError(f"the size of {file.name!r} is not an integer")
        lines += [
            inner + b"{",
            step + f'name = "{nix_string(file.name)}";'.encode(),
            step + f'sha256 = "{nix_string(file.sha256)}";'.encode(),
            step + f"size = {file.size};".encode() + (SIZE_UNKNOWN_COMMENT if file.size == 0 else b""),
            inner + b"}",
        ]
    return b"\n".join([*lines, indent + b"]"])


def serve_block(serve: ServeChoice, indent: bytes, name: str = "serve") -> bytes:
    """``serve = { … };`` for a binding at ``indent`` (its first line without the indent), as the template has it."""
    one, two = indent + b"  ", indent + b"    "
    lines = [
        f"{name} = {{".encode(),
        one + b"enable = true;",
        one + b"host = " + nix_value(serve.host) + b";",
        one + b"port = " + nix_value(serve.port) + b";",
        one + b"openFirewall = " + nix_value(serve.open_firewall) + b";",
        one + b"context = " + nix_value(serve.context) + b";",
        one + b"model = {",
        two + b"repo = " + nix_value(serve.model.repo) + b";",
        two + b"revision = " + nix_value(serve.model.revision) + b";",
        two + b"files = " + nix_value(tuple(serve.model.files), two) + b";",
        one + b"};",
        indent + b"};",
    ]
    return b"\n".join(lines)


def leaf_text(key: OptionPath, value: Value) -> str:
    """``local.llama-cpp.serve.port = 8080;`` as a line to set by hand."""
    text = nix_value(value, b"  ").decode()
    return f"local.llama-cpp.{'.'.join(key)} = {text};"


def serve_from_dict(data: dict | None) -> ServeChoice | None:
    """A served model from its plain-data form (``dataclasses.asdict`` of a :class:`ServeChoice`, as the settings
    read back for ``--json`` and the wizard hold it)."""
    if not data:
        return None
    model = data["model"]
    files = tuple(ModelFile(f["name"], f["sha256"], f["size"]) for f in model["files"])
    return ServeChoice(
        ModelChoice(model["repo"], model["revision"], files),
        port=data["port"],
        host=data["host"],
        open_firewall=data["open_firewall"],
        context=data["context"],
    )
