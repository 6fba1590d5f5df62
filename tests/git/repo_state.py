"""The whole state of a repository that an apply or an undo may touch, to compare before and after."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from tui.core.answers import Answers, MachineAnswer
from tui.core.caches import cache_by_name
from tui.core.nix.flake import load_flake
from tui.core.plan import Plan, make_plan


@dataclass
class RepoState:
    files: dict[str, tuple[bytes, int]]
    index: bytes
    staged: str
    stage_entries: str
    head: str

    def differences(self, other: RepoState) -> list[str]:
        result = []
        for name in ("files", "index", "staged", "stage_entries", "head"):
            if getattr(self, name) != getattr(other, name):
                result.append(name)
        if self.files != other.files:
            keys = set(self.files) | set(other.files)
            result.extend(sorted(k for k in keys if self.files.get(k) != other.files.get(k)))
        return result


def repo_state(path: Path) -> RepoState:
    """Every file of the work tree (bytes and mode), the index file's bytes, ``git diff --cached``, ``ls-files -s``."""
    files = {}
    for file in sorted(path.rglob("*")):
        rel = file.relative_to(path)
        if rel.parts[0] == ".git" or not file.is_file():
            continue
        files[rel.as_posix()] = (file.read_bytes(), file.stat().st_mode)
    repo = git.Repo(path)
    index = (Path(repo.git_dir) / "index").read_bytes()
    return RepoState(files, index, repo.git.diff("--cached"), repo.git.ls_files("-s"), repo.head.commit.hexsha)


def demo_plan(root: Path, cleanup: bool = False, **machines: MachineAnswer) -> Plan:
    """A real plan for the demo repository: by default carbon on CUDA and boron on CPU, with one cache."""
    answers = Answers(
        machines=machines
        or {
            "carbon": MachineAnswer("cuda", cuda_capabilities=["8.6"]),
            "boron": MachineAnswer("cpu", cpu_flags=["sse4_2", "avx", "avx2", "fma", "f16c"]),
        },
        caches=[cache_by_name("nixos-cuda")],
        cleanup=cleanup,
    )
    return make_plan(load_flake(root), answers)


def write_hook(root: Path, name: str, script: str) -> None:
    hooks = Path(git.Repo(root).git_dir) / "hooks"
    hooks.mkdir(exist_ok=True)
    hook = hooks / name
    hook.write_text("#!/bin/sh\n" + script)
    hook.chmod(0o755)


def committed_paths(root: Path, rev: str = "HEAD") -> list[str]:
    out = git.Repo(root).git.diff_tree("--no-commit-id", "-r", "--name-only", "--root", rev)
    return sorted(out.split())
