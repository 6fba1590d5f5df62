"""The data files shipped in ``tui/core/data``: every Nix expression parses with Nix, and the installed package
(the wheel, unpacked) holds and loads every one of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tui.core.data import nix_expression

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tui" / "core" / "data"
NIX_FILES = sorted(p.name for p in DATA.glob("*.nix"))


def test_the_nix_expressions_are_the_data_files():
    assert {"machine_questions.nix", "host_option_files.nix", "nixpkgs_cuda_version.nix"} <= set(NIX_FILES)
    from tui.core import judge, validate
    from tui.core.hardware import support

    assert f"({nix_expression('machine_questions')}).evaluate" == validate.EVAL_APPLY
    assert (DATA / "host_option_files.nix").read_text() == judge._WHERE_APPLY
    assert (DATA / "nixpkgs_cuda_version.nix").read_text() == support._CUDA_VERSION_EXPR


@pytest.mark.nix
@pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed")
@pytest.mark.parametrize("name", NIX_FILES)
def test_each_nix_file_parses_with_nix(name):
    result = subprocess.run(["nix-instantiate", "--parse", str(DATA / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.nix
@pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed")
def test_each_question_as_given_to_nix_parses():
    """The ``--apply`` functions as they are put together (a file's text in parentheses, one attribute of it)."""
    from tui.core import judge, validate

    for apply in (validate.EVAL_APPLY, validate.LEFT_ALONE_APPLY, validate.BASELINE_APPLY, judge._WHERE_APPLY):
        expression = validate.select_machine(apply, 'a "machine" ${x}')
        result = subprocess.run(["nix-instantiate", "--parse", "-E", expression], capture_output=True, text=True)
        assert result.returncode == 0, (apply[-40:], result.stderr)


def test_the_wheel_holds_every_data_file_and_the_installed_package_loads_them(tmp_path):
    builders = pytest.importorskip(
        "hatchling.builders.wheel", reason="building the wheel needs hatchling (in the test extras)"
    )
    built = list(builders.WheelBuilder(str(ROOT)).build(directory=str(tmp_path / "dist"), versions=["standard"]))
    assert len(built) == 1
    with zipfile.ZipFile(built[0]) as wheel:
        names = set(wheel.namelist())
        wheel.extractall(tmp_path / "site")
    shipped = {f"tui/core/data/{p.name}" for p in DATA.iterdir() if p.suffix in (".toml", ".nix")}
    assert shipped and shipped <= names, sorted(shipped - names)
    # The unpacked wheel alone on the path (not this checkout): each file loads from where it was installed.
    script = (
        "import tui, tui.core.data as d, pathlib, sys\n"
        "assert pathlib.Path(tui.__file__).is_relative_to(sys.argv[1]), tui.__file__\n"
        "for p in pathlib.Path(d.__file__).parent.iterdir():\n"
        "    if p.suffix == '.toml': assert d.load(p.stem)\n"
        "    if p.suffix == '.nix': assert d.nix_expression(p.stem).strip()\n"
        "from tui.core import judge, validate\n"
        "print(len(validate.EVAL_APPLY), len(judge._WHERE_APPLY))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "site")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
