"""Rendering the files the wizard owns from the Jinja2 templates in ``templates/``."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

from tui.core.answers import MachineAnswer
from tui.core.caches import Cache
from tui.core.footprint import MODULE_MARKER, left_alone_comment
from tui.core.ggml import feature_map
from tui.core.nix.syntax import nix_attr_name, nix_comment, nix_string
from tui.core.read_back import MACHINE_HEADER
from tui.core.serve_settings import serve_block
from tui.core.variants import VARIANTS

__all__ = ["MODULE_MARKER", "nix_string", "render_machine", "render_module", "templates_dir"]


def templates_dir() -> Path:
    """``tui/templates`` in an installed wheel, ``templates/`` in a source checkout."""
    packaged = resources.files("tui").joinpath("templates")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "templates"


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_module(input_name: str, caches: list[Cache], replace_nixpkgs: bool = True, left_alone=()) -> bytes:
    """The NixOS module the wizard owns; ``left_alone`` are the machines it remembers the user left alone."""
    text = (
        environment()
        .get_template("module.nix.j2")
        .render(
            left_alone_line=left_alone_comment(left_alone),
            # In code the attribute goes through the quoting helper; inside the module's strings it is text.
            input_attr=nix_attr_name(input_name),
            input_text=nix_string(nix_attr_name(input_name)),
            caches=[{"url": nix_string(c.url), "key": nix_string(c.key), "variants": list(c.variants)} for c in caches],
            feature_map=feature_map(),
            variants=VARIANTS,
            replace_note=replace_nixpkgs,
        )
    )
    return text.encode("utf-8")


def render_machine(host: str, answer: MachineAnswer, module_import: str) -> bytes:
    """One machine's settings file. ``module_import`` is a Nix path expression; every other value is
    text (from a report, the repository or a flag) and is written as a comment line or an escaped string."""
    text = (
        environment()
        .get_template("machine.nix.j2")
        .render(
            header=MACHINE_HEADER,
            host=nix_comment(host),
            notes=[line for line in (nix_comment(n) for n in answer.notes) if line],
            module_import=module_import,
            variant=nix_string(answer.variant),
            all_variants=answer.all_variants,
            cpu_flags=[nix_string(f) for f in answer.cpu_flags],
            cuda_capabilities=[nix_string(c) for c in answer.cuda_capabilities],
            rocm_targets=[nix_string(t) for t in answer.rocm_targets],
            serve_block=serve_block(answer.serve, b"    ").decode() if answer.serve is not None else "",
        )
    )
    return text.encode("utf-8")
