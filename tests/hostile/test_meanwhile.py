"""Others at work while an apply runs: an editor saving a file, a hook re-staging, git told not to look."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import git
from hostile_repos import run_cli, small_repo

APPLY = ["--host", "boron=cpu", "--cpu-flags", "boron=avx2,fma", "--yes"]
MINE = "# saved in my editor while the apply ran\n"


def fake_nix(tmp_path: Path, script: str) -> dict[str, str]:
    """An environment whose ``nix`` runs ``script`` (sh) and fails, as an evaluation that fails would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("nix", "nix-instantiate"):
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\n" + (script if name == "nix" else "exit 0\n"))
        tool.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_a_file_saved_while_the_apply_ran_is_kept_when_the_commit_is_refused(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    flake = root / "flake.nix"
    hook = Path(git.Repo(root).git_dir) / "hooks/pre-commit"
    # The editor saves flake.nix while git runs the hook; the hook then refuses the commit.
    hook.write_text(f"#!/bin/sh\nprintf '{MINE}' >> '{flake}'\nexit 1\n")
    hook.chmod(0o755)
    result = run_cli(["apply", "--flake", str(root), "--no-eval", *APPLY])
    assert result.returncode == 2, result.stderr
    assert "flake.nix changed while the apply ran" in result.stderr and "Traceback" not in result.stderr
    assert flake.read_text().endswith(MINE)
    assert not (root / "llama-cpp").exists()
    assert git.Repo(root).head.commit.message == "initial\n"


def test_a_file_saved_while_nix_evaluates_is_kept_and_nothing_is_committed(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    flake = root / "flake.nix"
    # Nix fails; while it runs (once the apply has written the module), the editor saves flake.nix.
    env = fake_nix(
        tmp_path,
        'if [ "$1" = --version ]; then echo "nix (Nix) 2.18.1"; exit 0; fi\n'
        f"if [ -f '{root}/llama-cpp/default.nix' ]; then printf '{MINE}' >> '{flake}'; fi\nexit 1\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tui", "apply", "--flake", str(root), *APPLY],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        env={**os.environ, **env},
    )
    assert result.returncode == 2, result.stderr
    assert "flake.nix changed while the apply ran" in result.stderr and "Traceback" not in result.stderr
    assert flake.read_text().endswith(MINE)
    assert not (root / "llama-cpp").exists()
    repo = git.Repo(root)
    assert repo.head.commit.message == "initial\n"
    assert "Generated-by" not in repo.git.log("--format=%B")


def test_a_hook_that_formats_and_adds_files_leaves_the_index_as_git_commit_would(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    hook = Path(git.Repo(root).git_dir) / "hooks/pre-commit"
    hook.write_text(
        "#!/bin/sh\nsed -i 's/  */ /g' flake.nix && git add flake.nix\n"
        "echo entry > CHANGELOG.md && git add CHANGELOG.md\n"
    )
    hook.chmod(0o755)
    result = run_cli(["apply", "--flake", str(root), "--no-eval", *APPLY])
    assert result.returncode == 0, result.stderr
    repo = git.Repo(root)
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""
    assert repo.git.show("HEAD:flake.nix").encode() + b"\n" == (root / "flake.nix").read_bytes()
    assert "  " not in repo.git.show("HEAD:flake.nix")
    assert repo.git.show("HEAD:CHANGELOG.md") == "entry"
    assert "flake.nix: a hook rewrote it; the commit holds the hook's version" in result.stderr
    assert "does not hold" not in result.stderr


def test_a_commit_that_does_not_hold_what_was_written_is_said(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    hook = Path(git.Repo(root).git_dir) / "hooks/pre-commit"
    # The hook stages another text for the machine file and leaves the work tree as llamaflake wrote it.
    machine = "llama-cpp/machines/boron.nix"
    hook.write_text(
        "#!/bin/sh\nblob=$(printf '{ }\\n' | git hash-object -w --stdin)\n"
        f"git update-index --cacheinfo 100644,$blob,{machine}\n"
    )
    hook.chmod(0o755)
    result = run_cli(["apply", "--flake", str(root), "--no-eval", *APPLY])
    assert result.returncode == 0, result.stderr
    assert git.Repo(root).git.show(f"HEAD:{machine}") == "{ }"
    assert f"{machine}: the commit does not hold what llamaflake wrote" in result.stderr
    assert "git diff" in result.stderr


def test_ctrl_c_at_the_retry_prompt_puts_everything_back_and_says_so(tmp_path):
    import pty
    import select
    import signal

    root = small_repo(tmp_path / "repo", ["boron"])
    hook = Path(git.Repo(root).git_dir) / "hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho 'not yet' >&2\nexit 1\n")
    hook.chmod(0o755)
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "tui", "apply", "--flake", str(root), "--no-eval", *APPLY],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)

    def read_until(text: str | None) -> str:
        seen = b""
        while text is None or text.encode() not in seen:
            ready, _, _ = select.select([controller], [], [], 60)
            assert ready, seen.decode()
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        return seen.decode()

    err = read_until("[r/A]")
    child.send_signal(signal.SIGINT)
    err += read_until(None)
    child.wait(timeout=60)
    os.close(controller)
    assert child.returncode == 130, err
    assert "[r]etry" in err and "Traceback" not in err
    assert "interrupted: nothing was committed; every file and the index are back as they were" in err
    repo = git.Repo(root)
    assert repo.head.commit.message == "initial\n"
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""


def test_a_path_git_is_told_not_to_look_at_is_refused(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    repo = git.Repo(root)
    for flag in ("assume-unchanged", "skip-worktree"):
        repo.git.update_index(f"--{flag}", "flake.nix")
        result = run_cli(["apply", "--flake", str(root), "--no-eval", *APPLY])
        assert result.returncode == 2, result.stderr
        assert f"flake.nix is marked {flag}" in result.stderr and "Traceback" not in result.stderr
        assert repo.head.commit.message == "initial\n"
        assert not (root / "llama-cpp").exists()
        repo.git.update_index(f"--no-{flag}", "flake.nix")


def test_with_a_formatting_hook_the_same_answers_again_change_nothing(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    hook = Path(git.Repo(root).git_dir) / "hooks/pre-commit"
    hook.write_text(
        "#!/bin/sh\nfor f in $(git diff --cached --name-only -- '*.nix'); do\n"
        '  [ -f "$f" ] && sed -i \'s/  */ /g\' "$f" && git add "$f"\ndone\n'
    )
    hook.chmod(0o755)
    first = run_cli(["apply", "--flake", str(root), "--no-eval", *APPLY])
    assert first.returncode == 0, first.stderr
    repo = git.Repo(root)
    head = repo.head.commit.hexsha

    again = run_cli(["apply", "--flake", str(root), "--no-eval", *APPLY])

    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stderr
    assert repo.head.commit.hexsha == head
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""
    other = run_cli(["apply", "--flake", str(root), "--no-eval", "--host", "boron=vulkan", "--yes"])
    assert other.returncode == 0, other.stderr
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""
    assert repo.git.show("--name-only", "--format=", "HEAD").split() == ["llama-cpp/machines/boron.nix"]


def test_a_nix_too_old_for_the_lock_file_is_not_verified_not_failed(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    env = fake_nix(
        tmp_path,
        'if [ "$1" = --version ]; then echo "nix (Nix) 2.8.1"; exit 0; fi\n'
        "echo \"error: unsupported tarball input attribute 'lastModified'\" >&2\nexit 1\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tui", "apply", "--flake", str(root), *APPLY],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    assert (
        "your Nix (2.8.1) cannot read this flake.lock (unsupported tarball input attribute 'lastModified'): "
        "upgrade Nix, or run without evaluation (--no-eval)"
    ) in result.stderr
    assert "✗" not in result.stderr and "Traceback" not in result.stderr
