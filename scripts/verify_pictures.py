"""Write what ``llamaflake verify`` prints to ``screenshots/verify.svg`` (every check passing, with ``--bench``) and
``screenshots/verify-failures.svg`` (a CPU build shadowing the CUDA one, a service that failed), from the tests'
fakes: fake store paths, a copied /proc and /sys, a fake systemctl and llama-server's endpoints on 127.0.0.1.

Run from the repository root: ``python scripts/verify_pictures.py`` (``make screenshots`` runs it too).
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def shown_as_on_the_machine(result, fake_root: Path):
    """The result with the temporary folder the fakes live in taken out of its paths: /nix/store, /run/..."""
    prefix = str(fake_root)

    def real(text: str) -> str:
        return text.replace(f"{prefix}/system/", "/run/current-system/sw/").replace(prefix, "")

    checks = [replace(c, detail=real(c.detail), fix=real(c.fix) if c.fix else c.fix) for c in result.checks]
    return replace(result, checks=checks)


def picture(result, fake_root: Path, title: str, out: Path) -> None:
    from rich.console import Console

    from tui.commands.verify import print_verification

    console = Console(record=True, width=110, file=open(os.devnull, "w"), force_terminal=True)  # noqa: SIM115
    console.print(f"$ {title}")
    print_verification(shown_as_on_the_machine(result, fake_root), console)
    console.save_svg(str(out), title="llamaflake verify")


def main() -> None:
    from tests.test_verify import FakeServer, cuda_machine, profile, store_build
    from tui.core.verify import verify_machine

    out = ROOT / "screenshots"
    server = FakeServer()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            answer, probes, _system = cuda_machine(root, server)
            result = verify_machine("carbon", answer, probes, settings_file="llama-cpp/machines/carbon.nix", bench=True)
            picture(result, root, "llamaflake verify --bench", out / "verify.svg")
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            answer, probes, _system = cuda_machine(
                root, server, ActiveState="failed", SubState="failed", Result="exit-code"
            )
            cpu = store_build(root, "llama-cpp-blas-0.0.0", [])
            probes.path = os.pathsep.join([str(profile(root, "home/alice/.nix-profile", cpu)), probes.path])
            result = verify_machine("carbon", answer, probes, settings_file="llama-cpp/machines/carbon.nix")
            picture(result, root, "llamaflake verify", out / "verify-failures.svg")
    finally:
        server.close()


if __name__ == "__main__":
    main()
