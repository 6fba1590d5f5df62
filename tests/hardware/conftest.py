"""Fixtures of the hardware tests (the fakes themselves are in hardware_fakes.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hardware_fakes import RTX_4090, FakeNvml, machine


@pytest.fixture
def rtx4090_nvml() -> FakeNvml:
    return FakeNvml([RTX_4090])


@pytest.fixture
def copy_machine(tmp_path):
    """A writable copy of a fixture machine, for tests that break it."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(machine(name), target, symlinks=True)
        return target

    return copy
