"""Write one SVG per wizard step to ``screenshots/``, from the demo repository and the tests' fixed hardware: at
120x40, and at 80x24 (a laptop's default terminal) in ``screenshots/80x24/``.

Run from the repository root: ``python scripts/screenshots.py`` (``make screenshots``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "app"))
sys.path.insert(0, str(ROOT / "tests" / "models"))  # the fake Hugging Face Hub: the pictures need no network
sys.path.insert(0, str(ROOT))

SIZES = {"": (120, 40), "80x24": (80, 24)}  # folder under screenshots/: terminal size


def picture_names() -> list[str]:
    """``1-repository``, ``2-flake-input``, ...: one per step of the wizard, in its order."""
    from tui.app.steps import STEPS

    return [f"{number}-{step.title.lower().replace(' ', '-')}" for number, step in enumerate(STEPS, 1)]


async def settle(pilot) -> None:
    for _ in range(2):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def take(out: Path, size: tuple[int, int]) -> list[Path]:
    from snapshot_app import make_app
    from textual.widgets import Input, TextArea

    from tui.core.demo import make_demo_repo

    Input._toggle_cursor = lambda self: None  # steady pictures
    TextArea._toggle_cursor_blink_visible = lambda self: None
    from hub_fake import QWEN_7B, running_hub

    written = []
    with tempfile.TemporaryDirectory() as scratch, running_hub() as (_hub, endpoint):
        os.environ.update(HF_ENDPOINT=endpoint, HF_HOME=str(Path(scratch) / "hf-home"), NO_PROXY="127.0.0.1")
        for name in ("HF_TOKEN", "HF_HUB_OFFLINE", "http_proxy", "HTTP_PROXY"):
            os.environ.pop(name, None)
        app = make_app(make_demo_repo(Path(scratch)))
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            names = picture_names()
            for index, name in enumerate(names):
                if index:
                    await pilot.press("ctrl+n")
                    await settle(pilot)
                written.append(Path(app.save_screenshot(f"{name}.svg", path=str(out))))
                if name.endswith("-machines"):  # and its variant picker, for boron, cuda highlighted
                    await pilot.press("down", "down", "enter", "down")
                    await settle(pilot)
                    written.append(Path(app.save_screenshot(f"{name}-picker.svg", path=str(out))))
                    await pilot.press("escape", "up", "up")
                    await settle(pilot)
                if name.endswith("-serve"):  # carbon's picker, Qwen2.5 7B looked up; then the step with it taken
                    await pilot.press("enter", *QWEN_7B, "enter")
                    await settle(pilot)
                    written.append(Path(app.save_screenshot(f"{name}-picker.svg", path=str(out))))
                    await pilot.press("enter")
                    await settle(pilot)
                    written.append(Path(app.save_screenshot(f"{name}-chosen.svg", path=str(out))))
            await pilot.press("ctrl+n", "enter")
            await settle(pilot)
            written.append(Path(app.save_screenshot(f"{len(names) + 1}-committed.svg", path=str(out))))
    return written


def main() -> int:
    for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        os.environ[name] = "2026-01-01T12:00:00+00:00"
    for folder, size in SIZES.items():
        out = ROOT / "screenshots" / folder
        out.mkdir(parents=True, exist_ok=True)
        for path in asyncio.run(take(out, size)):
            print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
