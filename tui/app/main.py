"""Starting the wizard: ``run(path)`` is what ``llamaflake [PATH]`` and ``llamaflake --demo`` call."""

from __future__ import annotations

import os
import sys
from pathlib import Path

READY_FD = "LLAMAFLAKE_READY_FD"


def _signal_ready(app) -> None:
    """For the start-up benchmark: say the first screen is up, then quit."""
    os.write(int(os.environ[READY_FD]), b"ready\n")
    app.exit(return_code=0)


def run(
    path: Path, *, use_nix: bool = True, evaluate: bool = True, eval_timeout: float | None = None, refresh: bool = False
) -> int:
    """Run the wizard on the flake repository at ``path``; the exit status."""
    from tui.app.app import LlamaflakeApp
    from tui.app.proof_source import ProofSource

    ready = _signal_ready if os.environ.get(READY_FD) else None
    proof = ProofSource(use_nix=use_nix, evaluate=evaluate, timeout=eval_timeout, refresh=refresh)
    app = LlamaflakeApp(Path(path), proof=proof, on_first_screen=ready)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":  # python -m tui.app.main [--no-nix] [PATH], for the start-up benchmark
    arguments = sys.argv[1:]
    no_nix = "--no-nix" in arguments
    paths = [a for a in arguments if a != "--no-nix"]
    sys.exit(run(Path(paths[0] if paths else "."), use_nix=not no_nix))
