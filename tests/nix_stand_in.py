"""A ``nix`` first on PATH that answers which machines a flake has, as ``nix eval`` of ``nixosConfigurations`` does,
when the test lets it: the demo's inputs are on GitHub, out of reach of the tests, and a test needs Nix to be slow
on purpose (still asked while the wizard shows the machines)."""

from __future__ import annotations

import json
import os
from pathlib import Path

STORE_SOURCE = "/nix/store/" + "0" * 32 + "-source/"
HELD_AT_MOST = 20


class NixStandIn:
    """``machines``: what ``builtins.attrNames`` answers; ``own_files``: per machine, the repository file that
    defines its host options (the second question, where the machines live). ``error``: Nix fails with it.
    ``held``: Nix waits to answer until :meth:`release` (at most :data:`HELD_AT_MOST` seconds: a test that fails
    before it releases Nix does not hang). ``chatter``: the lines Nix writes on stderr first (warnings, traces)."""

    def __init__(
        self,
        folder: Path,
        monkeypatch,
        machines: list[str],
        own_files: dict[str, str] | None = None,
        error: str | None = None,
        held: bool = False,
        chatter: int = 0,
    ) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.gate = folder / "release"
        self.asked = folder / "asked"
        self.stopped = folder / "stopped"
        (folder / "names.json").write_text(json.dumps(machines))
        where = {
            name: {"files": [[STORE_SOURCE + rel]], "inputs": True, "system": "x86_64-linux"}
            for name, rel in (own_files or {}).items()
        }
        (folder / "where.json").write_text(json.dumps(where))
        if not held:
            self.release()
        answer = f'echo "error: {error}" >&2; exit 1' if error else f'cat "{folder}/names.json"'
        script = folder / "nix"
        script.write_text(
            "#!/bin/sh\n"
            'if [ "$1" = --version ]; then echo "nix (Nix) 2.18.1"; exit 0; fi\n'
            'case "$*" in\n'
            "  *attrNames*)\n"
            f'    touch "{self.asked}"\n'
            f"    trap 'touch \"{self.stopped}\"; exit 143' TERM\n"
            f'    yes "trace: evaluation warning: a deprecated option" | head -n {chatter} >&2\n'
            '    echo "evaluating the flake" >&2\n'
            f'    waited=0; while [ ! -e "{self.gate}" ] && [ $waited -lt {HELD_AT_MOST * 20} ]; do\n'
            "      sleep 0.05; waited=$((waited + 1)); done\n"
            f"    {answer} ;;\n"
            f'  *) cat "{folder}/where.json" ;;\n'
            "esac\n"
        )
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")

    def release(self) -> None:
        """Let Nix answer."""
        self.gate.touch()
