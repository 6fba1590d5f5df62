"""Applying a plan to real git repositories: what is committed, what is left alone, what is refused."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import git
import pytest
from conftest import make_repo, requires_nix
from repo_state import committed_paths, demo_plan, repo_state, write_hook

from tui.cli import main
from tui.core.apply import (
    ApplyOptions,
    CommitRejected,
    PreflightError,
    ValidationError,
    apply_plan,
    commit_message,
)
from tui.core.preflight import preflight
from tui.core.validate import Check
from tui.core.write import WriteError

PLAN_ARGS = ["--host", "carbon=cuda", "--cuda", "carbon=8.6", "--host", "boron=cpu", "--yes"]


def unrelated_work(root: Path) -> None:
    """A staged new file, an unstaged edit, and a file with one staged and one unstaged hunk."""
    repo = git.Repo(root)
    (root / "notes.txt").write_text("staged, not for the commit\n")
    repo.git.add("notes.txt")
    with (root / "README.md").open("a") as handle:
        handle.write("\nAn unstaged edit.\n")
    partial = root / "machines/beryllium.nix"
    text = partial.read_text()
    partial.write_text(text.replace("services.fwupd.enable = true;", "services.fwupd.enable = false;"))
    repo.git.add("machines/beryllium.nix")
    partial.write_text(partial.read_text().replace('fsType = "btrfs";', 'fsType = "ext4";'))


def test_unrelated_staged_and_unstaged_changes_survive_and_stay_out_of_the_commit(demo_repo):
    unrelated_work(demo_repo)
    repo = git.Repo(demo_repo)
    staged_before = repo.git.diff("--cached", "--", "notes.txt", "machines/beryllium.nix")
    unstaged_before = repo.git.diff("--", "README.md", "machines/beryllium.nix")
    plan = demo_plan(demo_repo)
    result = apply_plan(plan)

    assert committed_paths(demo_repo) == sorted(c.path for c in plan.changes)
    assert repo.git.diff("--cached", "--", "notes.txt", "machines/beryllium.nix") == staged_before
    assert repo.git.diff("--", "README.md", "machines/beryllium.nix") == unstaged_before
    status = repo.git.status("--porcelain", "--untracked-files=all").splitlines()
    assert sorted(status) == sorted(["A  notes.txt", " M README.md", "MM machines/beryllium.nix"])
    assert result.commit == repo.head.commit.hexsha
    assert repo.head.commit.message.rstrip().endswith("Generated-by: llamaflake 0.1.0")


def test_new_files_are_in_the_commit_and_intent_to_added_before_validation(demo_repo):
    plan = demo_plan(demo_repo)
    new = sorted(c.path for c in plan.changes if c.old is None)
    assert new, "the demo plan creates the module and the machine files"
    seen_during_validation: list[set[str]] = []

    def progress(event):
        if isinstance(event, Check):
            seen_during_validation.append(set(git.Repo(demo_repo).git.ls_files().split()))

    apply_plan(plan, progress=progress)
    assert seen_during_validation
    assert all(set(new) <= files for files in seen_during_validation)
    tree = git.Repo(demo_repo).head.commit.tree
    for path in new:
        assert tree[path].data_stream.read() == (demo_repo / path).read_bytes()


def test_no_commit_writes_and_marks_new_files_intent_to_add(demo_repo):
    plan = demo_plan(demo_repo)
    head = git.Repo(demo_repo).head.commit.hexsha
    result = apply_plan(plan, commit=False)
    repo = git.Repo(demo_repo)
    assert result.commit is None and repo.head.commit.hexsha == head
    status = {line[3:]: line[:2] for line in repo.git.status("--porcelain").splitlines()}
    for change in plan.changes:
        assert status[change.path] == (" A" if change.old is None else " M")


def test_the_options_are_one_value_and_a_field_named_on_the_call_changes_it(demo_repo):
    repo = git.Repo(demo_repo)
    head = repo.head.commit.hexsha
    write_only = ApplyOptions(commit=False, message="not used")
    before = repo_state(demo_repo)
    with pytest.raises(TypeError):
        apply_plan(demo_plan(demo_repo), write_only, comit=True)  # a misspelt option is no silent default
    assert repo_state(demo_repo).differences(before) == []
    result = apply_plan(demo_plan(demo_repo), write_only, commit=True, message="llama.cpp for the machines")
    assert result.commit == repo.head.commit.hexsha != head
    assert repo.head.commit.message.startswith("llama.cpp for the machines\n")
    assert write_only.commit is False  # the caller's options are not changed


def test_failing_pre_commit_hook_aborts_and_restores_tree_and_index_byte_for_byte(demo_repo):
    unrelated_work(demo_repo)
    write_hook(demo_repo, "pre-commit", 'echo "nixfmt: flake.nix is not formatted" >&2\nexit 1\n')
    before = repo_state(demo_repo)
    with pytest.raises(CommitRejected) as caught:
        apply_plan(demo_plan(demo_repo))
    assert "nixfmt: flake.nix is not formatted" in caught.value.output
    assert "nixfmt: flake.nix is not formatted" in caught.value.message
    assert caught.value.restored and caught.value.pending is None
    assert repo_state(demo_repo).differences(before) == []


def test_rejected_commit_can_be_kept_fixed_and_retried(demo_repo):
    write_hook(demo_repo, "pre-commit", 'test -e allow || { echo "not yet" >&2; exit 1; }\n')
    plan = demo_plan(demo_repo)
    with pytest.raises(CommitRejected) as caught:
        apply_plan(plan, keep_on_reject=True)
    pending = caught.value.pending
    assert pending is not None and not caught.value.restored
    assert all((demo_repo / c.path).read_bytes() == c.new for c in plan.changes)
    (demo_repo / "allow").write_text("")
    result = pending.commit()
    assert committed_paths(demo_repo) == sorted(c.path for c in plan.changes)
    assert result.commit == git.Repo(demo_repo).head.commit.hexsha


def test_rejected_commit_kept_then_aborted_restores_everything(demo_repo):
    unrelated_work(demo_repo)
    write_hook(demo_repo, "pre-commit", "exit 1\n")
    before = repo_state(demo_repo)
    with pytest.raises(CommitRejected) as caught:
        apply_plan(demo_plan(demo_repo), keep_on_reject=True)
    assert repo_state(demo_repo).differences(before) != []
    caught.value.pending.abort()
    assert repo_state(demo_repo).differences(before) == []


def test_headless_apply_with_failing_hook_exits_non_zero_prints_the_output_and_restores(demo_repo, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal: nothing to read
    write_hook(demo_repo, "pre-commit", 'echo "hook says no: secrets found" >&2\nexit 1\n')
    before = repo_state(demo_repo)
    assert main(["apply", "--flake", str(demo_repo), *PLAN_ARGS]) != 0
    err = capsys.readouterr().err
    assert "hook says no: secrets found" in err
    assert "back as they were" in err
    assert repo_state(demo_repo).differences(before) == []


def test_commit_msg_hook_that_edits_the_message_is_honoured(demo_repo):
    write_hook(demo_repo, "commit-msg", 'printf "\\nReviewed-by: hook\\n" >> "$1"\n')
    result = apply_plan(demo_plan(demo_repo))
    message = git.Repo(demo_repo).head.commit.message
    assert message.rstrip().endswith("Reviewed-by: hook")
    assert "Generated-by: llamaflake" in message
    assert result.message == message


def test_commit_message_lists_machines_variants_caches_and_trailer(demo_repo):
    message = commit_message(demo_plan(demo_repo))
    subject, blank, *body = message.splitlines()
    assert subject == "llama-cpp: build llama.cpp from its flake for carbon, boron" and blank == ""
    assert "- carbon: cuda, all CPU variants, CUDA 8.6" in body
    assert any(line.startswith("- boron: cpu, CPU ") for line in body)
    assert "- https://cache.nixos-cuda.org" in body
    assert body[-1] == "Generated-by: llamaflake 0.1.0" and body[-2] == ""


def test_missing_identity_is_refused_with_the_config_lines_and_nothing_written(demo_repo, tmp_path, monkeypatch):
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    repo = git.Repo(demo_repo)
    for key in ("user.name", "user.email"):
        repo.git.config("--unset-all", key, with_exceptions=False)
    before = repo_state(demo_repo)
    with pytest.raises(PreflightError) as caught:
        apply_plan(demo_plan(demo_repo))
    assert "user.name and user.email" in caught.value.message
    assert 'git config --global user.name "Your Name"' in caught.value.hint
    assert 'git config --global user.email "you@example.org"' in caught.value.hint
    assert repo_state(demo_repo).differences(before) == []


def test_merge_in_progress_is_refused_and_nothing_written(demo_repo):
    repo = git.Repo(demo_repo)
    repo.git.switch("-c", "side")
    (demo_repo / "README.md").write_text("side\n")
    repo.git.commit("-am", "side")
    repo.git.switch("main")
    (demo_repo / "README.md").write_text("main\n")
    repo.git.commit("-am", "main")
    with pytest.raises(git.GitCommandError):
        repo.git.merge("side")
    before = repo_state(demo_repo)
    with pytest.raises(PreflightError) as caught:
        apply_plan(demo_plan(demo_repo))
    assert "a merge is in progress" in caught.value.message
    assert "git merge --abort" in caught.value.hint
    assert repo_state(demo_repo).differences(before) == []


def test_dirty_target_file_is_refused_unless_allowed(demo_repo):
    with (demo_repo / "flake.nix").open("a") as handle:
        handle.write("# my own edit\n")
    plan = demo_plan(demo_repo)
    before = repo_state(demo_repo)
    with pytest.raises(PreflightError) as caught:
        apply_plan(plan)
    assert "flake.nix (unstaged changes)" in caught.value.message
    assert "--allow-dirty" in caught.value.hint
    assert repo_state(demo_repo).differences(before) == []

    result = apply_plan(plan, allow_dirty=True)
    assert any(f.code == "dirty" and f.level == "warning" for f in result.findings)
    assert b"# my own edit" in git.Repo(demo_repo).head.commit.tree["flake.nix"].data_stream.read()


def test_not_a_repository_is_refused_and_init_makes_one(tmp_path, demo_repo):
    plain = tmp_path / "plain"
    shutil.copytree(demo_repo, plain, ignore=shutil.ignore_patterns(".git"))
    plan = demo_plan(plain)
    files_before = sorted(p.relative_to(plain).as_posix() for p in plain.rglob("*"))
    with pytest.raises(PreflightError) as caught:
        apply_plan(plan)
    assert "is not inside a git repository" in caught.value.message
    assert "--init" in caught.value.hint
    assert sorted(p.relative_to(plain).as_posix() for p in plain.rglob("*")) == files_before

    result = apply_plan(plan, init=True)
    repo = git.Repo(plain)
    assert result.commit == repo.head.commit.hexsha
    assert committed_paths(plain) == sorted(c.path for c in plan.changes)
    first = repo.head.commit.parents[0]
    assert "machines/carbon.nix" in [b.path for b in first.tree.traverse()]
    assert repo.git.status("--porcelain") == ""


def test_flake_in_a_subfolder_commits_repository_relative_paths(tmp_path):
    from tui.core.demo import demo_source

    root = make_repo(tmp_path / "dotfiles", {"README.md": "dotfiles\n"})
    shutil.copytree(demo_source(), root / "nixos-config")
    repo = git.Repo(root)
    repo.git.add("-A")
    repo.git.commit("-m", "config")
    plan = demo_plan(root / "nixos-config")
    result = apply_plan(plan)
    assert any(f.code == "subfolder" for f in result.findings)
    assert committed_paths(root) == sorted("nixos-config/" + c.path for c in plan.changes)
    assert repo.git.status("--porcelain") == ""


def test_detached_head_warns_and_proceeds(demo_repo):
    repo = git.Repo(demo_repo)
    repo.git.checkout("--detach")
    result = apply_plan(demo_plan(demo_repo))
    assert [f.code for f in result.findings if f.level == "warning"] == ["detached-head"]
    assert repo.head.is_detached and repo.head.commit.hexsha == result.commit


def test_preflight_accepts_a_clean_repository(demo_repo):
    assert [f for f in preflight(demo_plan(demo_repo)) if f.level != "note"] == []


def test_crash_between_two_writes_leaves_every_file_old_and_no_temporary_file(demo_repo, monkeypatch):
    plan = demo_plan(demo_repo)
    assert len(plan.changes) >= 2
    before = repo_state(demo_repo)
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        if "/.git/" in str(dst):  # the apply journal, written before the plan's files
            return real_replace(src, dst)
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(WriteError) as caught:
        apply_plan(plan)
    monkeypatch.setattr(os, "replace", real_replace)
    assert "No space left on device" in caught.value.message and "nothing was changed" in caught.value.message
    assert repo_state(demo_repo).differences(before) == []
    assert not [p for p in demo_repo.rglob("*.tmp")]
    assert not (demo_repo / "nixos/llama-cpp").exists()


def test_file_that_fails_to_parse_aborts_before_the_commit_and_restores(demo_repo):
    unrelated_work(demo_repo)
    plan = demo_plan(demo_repo)
    module = next(c for c in plan.changes if c.path.endswith("llama-cpp/default.nix"))
    module.new = module.new.replace(b"options.local.llama-cpp = {", b"options.local.llama-cpp = {{", 1)
    before = repo_state(demo_repo)
    with pytest.raises(ValidationError) as caught:
        apply_plan(plan)
    failed = [c for c in caught.value.checks if c.failed]
    assert [c.subject for c in failed] == [f"parse {module.path}"]
    assert repo_state(demo_repo).differences(before) == []


def test_plan_made_before_the_file_changed_is_refused(demo_repo):
    plan = demo_plan(demo_repo)
    (demo_repo / "flake.nix").write_bytes((demo_repo / "flake.nix").read_bytes() + b"\n")
    git.Repo(demo_repo).git.commit("-am", "edit after planning")
    before = repo_state(demo_repo)
    with pytest.raises(WriteError, match="changed since the plan was made"):
        apply_plan(plan)
    assert repo_state(demo_repo).differences(before) == []


@requires_nix
def test_nix_parse_is_reported_per_file(demo_repo):
    result = apply_plan(demo_plan(demo_repo))
    parsed = [c for c in result.checks if c.subject.startswith("parse ")]
    assert parsed and all(c.status == "ok" and c.detail == "nix-instantiate --parse" for c in parsed)
    assert any(c.status == "not checked" and "not evaluated (--no-eval)" in c.detail for c in result.checks)


def test_cli_apply_refusal_is_a_clear_error_without_traceback(demo_repo, capsys):
    (demo_repo / "flake.nix").write_text((demo_repo / "flake.nix").read_text() + "# mine\n")
    assert main(["apply", "--flake", str(demo_repo), *PLAN_ARGS]) == 2
    err = capsys.readouterr().err
    assert "llamaflake: files the change touches have changes that are not committed: flake.nix" in err
    assert "Traceback" not in err


def test_cli_apply_json_reports_commit_and_checks(demo_repo, capsys):
    import json

    assert main(["apply", "--flake", str(demo_repo), "--json", *PLAN_ARGS]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["commit"] == git.Repo(demo_repo).head.commit.hexsha
    assert {c["status"] for c in data["checks"]} <= {"ok", "not checked"}


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_commit_signing_configured_in_the_repository_is_honoured(demo_repo, tmp_path):
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    repo = git.Repo(demo_repo)
    with repo.config_writer() as config:
        config.set_value("commit", "gpgsign", "true")
        config.set_value("gpg", "format", "ssh")
        config.set_value("user", "signingkey", f"{key}.pub")
    apply_plan(demo_plan(demo_repo))
    assert "-----BEGIN SSH SIGNATURE-----" in repo.git.cat_file("commit", "HEAD")


class FakeTerminal:
    """Standard input of a terminal where the user types ``replies`` in turn."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.replies.pop(0) + "\n"


def test_cli_apply_on_a_terminal_retries_a_rejected_commit_when_asked(demo_repo, capsys, monkeypatch):
    write_hook(
        demo_repo, "pre-commit", 'test -e .git/seen || { touch .git/seen; echo "first try fails" >&2; exit 1; }\n'
    )
    monkeypatch.setattr(sys, "stdin", FakeTerminal("r"))
    assert main(["apply", "--flake", str(demo_repo), *PLAN_ARGS]) == 0
    assert "first try fails" in capsys.readouterr().err
    assert "Generated-by: llamaflake" in git.Repo(demo_repo).head.commit.message


def test_cli_apply_on_a_terminal_aborts_a_rejected_commit_when_asked(demo_repo, capsys, monkeypatch):
    write_hook(demo_repo, "pre-commit", 'echo "always fails" >&2\nexit 1\n')
    before = repo_state(demo_repo)
    monkeypatch.setattr(sys, "stdin", FakeTerminal("r", "a"))
    assert main(["apply", "--flake", str(demo_repo), *PLAN_ARGS]) == 2
    err = capsys.readouterr().err
    assert err.count("always fails") == 2 and "aborted" in err
    assert repo_state(demo_repo).differences(before) == []


def test_permission_bits_of_an_edited_file_are_kept(demo_repo):
    (demo_repo / "flake.nix").chmod(0o600)
    apply_plan(demo_plan(demo_repo))
    assert (demo_repo / "flake.nix").stat().st_mode & 0o777 == 0o600


def test_staged_change_in_a_target_file_is_refused(demo_repo):
    flake = demo_repo / "flake.nix"
    flake.write_text(flake.read_text() + "# staged edit\n")
    git.Repo(demo_repo).git.add("flake.nix")
    with pytest.raises(PreflightError, match=r"flake.nix \(staged changes\)"):
        apply_plan(demo_plan(demo_repo))


def test_init_without_identity_is_refused_before_git_init(tmp_path, demo_repo, monkeypatch, capsys):
    plain = tmp_path / "plain"
    shutil.copytree(demo_repo, plain, ignore=shutil.ignore_patterns(".git"))
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    assert main(["apply", "--flake", str(plain), "--init", *PLAN_ARGS]) == 2
    err = capsys.readouterr().err
    assert "git does not know who you are" in err and 'git config --global user.email "you@example.org"' in err
    assert not (plain / ".git").exists()


def test_cli_apply_init_makes_the_repository_and_commits(tmp_path, demo_repo, capsys):
    plain = tmp_path / "plain"
    shutil.copytree(demo_repo, plain, ignore=shutil.ignore_patterns(".git"))
    assert main(["apply", "--flake", str(plain), "--init", *PLAN_ARGS]) == 0
    assert "committed its files as they were" in capsys.readouterr().err
    assert len(list(git.Repo(plain).iter_commits())) == 2


def test_a_repository_above_a_ceiling_directory_is_not_the_flakes(tmp_path, monkeypatch):
    """git does not look above GIT_CEILING_DIRECTORIES for a repository, and neither does llamaflake."""
    from tui.core.gitrepo import find_repo

    outer = make_repo(tmp_path / "outer", {"README.md": "a repository around the flake\n"})
    flake = outer / "work" / "config"
    flake.mkdir(parents=True)
    monkeypatch.delenv("GIT_CEILING_DIRECTORIES", raising=False)
    assert find_repo(flake) is not None and find_repo(flake / "missing.nix") is None
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(outer / "work"))
    assert find_repo(flake) is None
    assert find_repo(outer / "work") is not None  # the ceiling itself is still looked at, as git does
    assert find_repo(outer) is not None
