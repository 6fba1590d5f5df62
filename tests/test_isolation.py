"""What every test may take for granted, in every pytest-xdist worker: no git repository above its folders."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from tui.core.gitrepo import find_repo


def test_no_repository_is_found_above_a_temporary_folder(tmp_path):
    with tempfile.TemporaryDirectory() as made_by_tempfile:
        for folder in (tmp_path, Path(made_by_tempfile)):
            assert find_repo(folder) is None, folder
            git = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=folder, capture_output=True, text=True)
            assert git.returncode != 0, (folder, git.stdout)
