"""Real signals on real processes: a killed apply is finished or rolled back by the next one."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import git
import pytest
from hostile_repos import small_repo

HOSTS = ["boron", "carbon"]
ARGS = ["apply", "--host", "boron=cpu", "--cpu-flags", "boron=avx2,fma", "--host", "carbon=vulkan", "--yes"]


def start_apply(root: Path) -> subprocess.Popen:
    """``llamaflake apply`` in its own process group, as a terminal would run it."""
    return subprocess.Popen(
        [sys.executable, "-m", "tui", *ARGS, "--flake", str(root)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def work_tree_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def journal_leftovers(root: Path) -> list[str]:
    """Files in .git/llamaflake besides the apply lock, which stays (a lock file is never removed)."""
    folder = root / ".git/llamaflake"
    return sorted(p.name for p in folder.iterdir() if p.name != "lock") if folder.exists() else []


def apply_paused_in_hook(root: Path, tmp_path: Path, hook_name: str) -> subprocess.Popen:
    """``llamaflake apply`` started and waited for until git runs its ``hook_name`` hook, which then sleeps."""
    marker = tmp_path / f"in-{hook_name}"
    hook = root / ".git/hooks" / hook_name
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 30\n")
    hook.chmod(0o755)
    proc = start_apply(root)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    return proc


def llamaflake_commits(repo: git.Repo) -> int:
    return sum("Generated-by: llamaflake" in c.message for c in repo.iter_commits("HEAD"))


@pytest.mark.slow
def test_apply_killed_at_random_moments_is_finished_by_the_next_apply(tmp_path):
    base = small_repo(tmp_path / "base", HOSTS)
    # The reference: one apply that nobody interrupts, and how long it takes.
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    started = time.monotonic()
    done = start_apply(reference)
    _, err = done.communicate(timeout=120)
    duration = time.monotonic() - started
    assert done.returncode == 0, err
    expected = work_tree_files(reference)

    rng = random.Random(20260)
    outcomes = {"rolled back": 0, "finished": 0, "no journal": 0}
    for run in range(30):
        root = tmp_path / f"run{run}"
        shutil.copytree(base, root)
        victim = start_apply(root)
        time.sleep(rng.uniform(0.05, duration))
        os.killpg(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=60)

        journal = (root / ".git/llamaflake/apply.json").exists()
        again = subprocess.run(
            [sys.executable, "-m", "tui", *ARGS, "--flake", str(root)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, (run, again.stderr)
        assert "Traceback" not in again.stderr
        if journal:
            said = (
                "rolled back"
                if "was rolled back" in again.stderr
                else "finished"
                if "finished it" in again.stderr
                else None
            )
            assert said, (run, again.stderr)
            outcomes[said] += 1
        else:
            outcomes["no journal"] += 1

        repo = git.Repo(root)
        assert work_tree_files(root) == expected, run
        assert repo.git.status("--porcelain", "--untracked-files=all") == "", run
        assert llamaflake_commits(repo) == 1, run
        assert not (root / ".git/index.lock").exists()
        assert journal_leftovers(root) == [], run
        assert not [p for p in root.rglob("*.tmp")], run
        shutil.rmtree(root)
    assert outcomes["rolled back"] + outcomes["finished"] > 0, outcomes


def test_an_interrupt_after_the_commit_landed_says_it_is_done(tmp_path):
    root = small_repo(tmp_path / "repo", HOSTS)
    proc = apply_paused_in_hook(root, tmp_path, "post-commit")
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C reaches the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "had landed" in err and "Traceback" not in err, err
    repo = git.Repo(root)
    assert "Generated-by: llamaflake" in repo.head.commit.message
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""
    assert not (root / ".git/llamaflake/apply.json").exists()


def test_an_interrupt_before_the_commit_puts_everything_back(tmp_path):
    root = small_repo(tmp_path / "repo", HOSTS)
    before = work_tree_files(root)
    proc = apply_paused_in_hook(root, tmp_path, "pre-commit")
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (2, 130), err
    assert "Traceback" not in err
    repo = git.Repo(root)
    assert repo.head.commit.message == "initial\n"
    assert work_tree_files(root) == before
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""


def test_an_apply_killed_while_starting_its_journal_leaves_nothing_behind(tmp_path):
    """Killed between the index copy and the journal itself: nothing was written yet; the next run
    clears what it left and applies."""
    root = small_repo(tmp_path / "config", HOSTS)
    folder = root / ".git/llamaflake"
    folder.mkdir()
    (folder / "index.before").write_bytes((root / ".git/index").read_bytes())
    (folder / ".apply.json.k3x9.tmp").write_text("{")
    again = subprocess.run(
        [sys.executable, "-m", "tui", *ARGS, "--flake", str(root)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert journal_leftovers(root) == []
    assert llamaflake_commits(git.Repo(root)) == 1


def killed_before_its_commit(root: Path, tmp_path: Path) -> None:
    """An apply SIGKILLed while git runs the pre-commit hook: every file written, nothing committed."""
    proc = apply_paused_in_hook(root, tmp_path, "pre-commit")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    (root / ".git/hooks/pre-commit").unlink()
    assert (root / ".git/llamaflake/apply.json").exists()
    assert (root / "llama-cpp/default.nix").exists()


def run_again(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui", *(args or ARGS), "--flake", str(root)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_commit_made_after_the_kill_is_not_rolled_back(tmp_path):
    root = small_repo(tmp_path / "config", HOSTS)
    killed_before_its_commit(root, tmp_path)
    repo = git.Repo(root)
    (root / ".git/index.lock").unlink(missing_ok=True)  # as git tells the user to
    (root / "notes.txt").write_text("mine\n")
    repo.git.add("notes.txt")
    repo.git.commit("-q", "-m", "my own commit")
    mine = repo.head.commit.hexsha
    written = (root / "llama-cpp/default.nix").read_bytes()
    again = run_again(root)
    assert again.returncode == 2, again.stderr
    assert "a commit was made since" in again.stderr and "Traceback" not in again.stderr
    assert repo.head.commit.hexsha == mine
    assert (root / "llama-cpp/default.nix").read_bytes() == written
    assert (root / ".git/llamaflake/apply.json").exists()  # kept, and the hint says how to clear it
    assert "apply.json" in again.stderr


def test_a_hand_edit_of_a_written_file_after_the_kill_is_not_rolled_back(tmp_path):
    root = small_repo(tmp_path / "config", HOSTS)
    killed_before_its_commit(root, tmp_path)
    module = root / "llama-cpp/default.nix"
    module.write_text(module.read_text() + "# my edit\n")
    again = run_again(root)
    assert again.returncode == 2, again.stderr
    assert "llama-cpp/default.nix was changed" in again.stderr
    assert module.read_text().endswith("# my edit\n")
    assert (root / ".git/llamaflake/apply.json").exists()


def test_undo_says_what_recovery_did_even_when_it_cannot_undo(tmp_path):
    root = small_repo(tmp_path / "config", HOSTS)
    killed_before_its_commit(root, tmp_path)
    result = run_again(root, "undo", "--yes")
    assert result.returncode == 2, result.stderr
    assert "was rolled back" in result.stderr and "no commit made by llamaflake" in result.stderr
    assert not (root / "llama-cpp").exists()
    assert git.Repo(root).git.status("--porcelain", "--untracked-files=all") == ""


def test_a_journal_whose_process_id_was_reused_is_rolled_back(tmp_path):
    root = small_repo(tmp_path / "config", HOSTS)
    killed_before_its_commit(root, tmp_path)
    journal = root / ".git/llamaflake/apply.json"
    record = json.loads(journal.read_text())
    record["pid"] = os.getpid()  # a live process that is no llamaflake apply
    journal.write_text(json.dumps(record))
    again = run_again(root)
    assert again.returncode == 0, again.stderr
    assert "was rolled back" in again.stderr
    assert llamaflake_commits(git.Repo(root)) == 1


def test_an_apply_while_another_holds_the_lock_is_refused(tmp_path):
    root = small_repo(tmp_path / "config", HOSTS)
    (root / ".git/llamaflake").mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"f = open({str(root / '.git/llamaflake/lock')!r}, 'a')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = run_again(root)
        assert refused.returncode == 2, refused.stderr
        assert "another llamaflake apply is running" in refused.stderr
        assert llamaflake_commits(git.Repo(root)) == 0
    finally:
        holder.kill()
        holder.wait()
    # The kernel released the lock with the process: the next apply goes ahead.
    done = run_again(root)
    assert done.returncode == 0, done.stderr
    assert llamaflake_commits(git.Repo(root)) == 1
