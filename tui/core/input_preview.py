"""The flake input on its own: what ``flake.nix`` gains for the llama.cpp input, before any machine."""

from __future__ import annotations

from tui.core.answers import Answers, input_url
from tui.core.nix.edits import apply_edits
from tui.core.nix.flake import Flake
from tui.core.plan import FileChange, choose_follows, choose_input_name


def input_change(
    flake: Flake, follows: str | None = None, ref: str | None = None, url: str | None = None
) -> FileChange | None:
    """The change to ``flake.nix`` that adds (or pins, or re-follows, or points elsewhere) the input; None if
    nothing changes.

    ``follows``, ``ref`` and ``url`` mean what they mean in :class:`Answers` (None keeps what is there).
    """
    from tui.core.nix import inputs as input_edits

    Answers(ref=ref, url=url).validate()
    name = choose_input_name(flake)
    chosen = choose_follows(flake, follows)
    edits = [
        edit
        for _, edit, _ in input_edits.input_edits(
            flake, name, input_url(ref, url), chosen, ref, url_given=url is not None
        )
    ]
    if not edits:
        return None
    source = flake.file.source
    new = apply_edits(source, edits)
    if new == source:
        return None
    return FileChange("flake.nix", source, new, f"the `{name}` flake input")
