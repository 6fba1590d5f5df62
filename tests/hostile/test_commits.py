"""What the commit holds: every file the apply wrote, the trailers undo needs, and undo only of those."""

from __future__ import annotations

import git

from hostile_repos import run_cli, small_repo

APPLY = ["--host", "boron=cpu", "--cpu-flags", "boron=avx2,fma", "--yes"]


def test_allow_dirty_commits_the_untracked_file_it_overwrites(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    mine = root / "llama-cpp/machines/boron.nix"
    mine.parent.mkdir(parents=True)
    settings = '# my own notes, never committed\n{\n  local.llama-cpp.variant = "vulkan";\n}\n'
    mine.write_text(settings)
    refused = run_cli(["apply", "--flake", str(root), *APPLY])
    assert refused.returncode == 2 and "untracked" in refused.stderr
    assert mine.read_text() == settings

    result = run_cli(["apply", "--flake", str(root), "--allow-dirty", *APPLY])
    assert result.returncode == 0, result.stderr
    repo = git.Repo(root)
    committed = repo.git.show("--name-only", "--format=", "HEAD").split()
    assert "llama-cpp/machines/boron.nix" in committed
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""
    assert mine.read_text().startswith("# my own notes, never committed\n")  # changed where it sets llama.cpp only


def test_an_untracked_file_that_is_not_a_settings_file_is_never_written_over(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    mine = root / "llama-cpp/machines/boron.nix"
    mine.parent.mkdir(parents=True)
    mine.write_text("# my own notes, never committed\n{ }\n")
    for flags in ([], ["--allow-dirty"]):
        refused = run_cli(["apply", "--flake", str(root), *flags, *APPLY])
        assert refused.returncode == 2 and "not a llama.cpp settings file" in refused.stderr
        assert mine.read_text() == "# my own notes, never committed\n{ }\n"


def test_a_custom_message_keeps_the_trailers_and_undo_finds_the_commit(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    result = run_cli(["apply", "--flake", str(root), "--message", "my own words", *APPLY])
    assert result.returncode == 0, result.stderr
    repo = git.Repo(root)
    message = repo.head.commit.message
    assert message.startswith("my own words\n\n")
    assert "Generated-by: llamaflake" in message
    assert "Generated-file: llama-cpp/machines/boron.nix" in message
    undo = run_cli(["undo", "--flake", str(root), "--yes"])
    assert undo.returncode == 0, undo.stderr
    assert repo.head.commit.message == "initial\n"


def test_undo_refuses_a_commit_the_user_amended_with_their_own_file(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    (root / "mine.txt").write_text("my work\n")
    repo.git.add("mine.txt")
    repo.git.commit("--amend", "--no-edit")
    amended = repo.head.commit.hexsha
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 2, result.stderr
    assert "mine.txt" in result.stderr and "Traceback" not in result.stderr
    assert repo.head.commit.hexsha == amended
    assert (root / "mine.txt").read_text() == "my work\n"
    assert "mine.txt" in repo.git.ls_files().split()


def test_undo_refuses_a_commit_that_holds_the_users_own_edits_of_a_written_file(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    flake = root / "flake.nix"
    flake.write_text("# my own comment, not committed yet\n" + flake.read_text())
    result = run_cli(["apply", "--flake", str(root), "--allow-dirty", *APPLY])
    assert result.returncode == 0, result.stderr
    repo = git.Repo(root)
    assert "Generated-with-your-changes: flake.nix" in repo.head.commit.message
    assert "Generated-with-your-changes: llama-cpp" not in repo.head.commit.message
    committed = repo.head.commit.hexsha
    undo = run_cli(["undo", "--flake", str(root), "--yes"])
    assert undo.returncode == 2, undo.stderr
    assert "flake.nix" in undo.stderr and "git revert --no-commit" in undo.stderr and "Traceback" not in undo.stderr
    assert repo.head.commit.hexsha == committed
    assert flake.read_text().startswith("# my own comment, not committed yet\n")


def test_a_clean_apply_records_no_changes_of_the_user(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    assert "Generated-with-your-changes" not in git.Repo(root).head.commit.message


def _drop_file_trailers(repo: git.Repo) -> None:
    """The commit as an earlier version wrote it: ``Generated-by`` without ``Generated-file`` trailers."""
    message = "".join(line for line in repo.head.commit.message.splitlines(keepends=True)
                      if not line.startswith("Generated-file:"))
    repo.git.commit("--amend", "-m", message)


def test_undo_without_file_trailers_refuses_a_file_llamaflake_never_writes(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    (root / "mine.txt").write_text("my work\n")
    repo.git.add("mine.txt")
    _drop_file_trailers(repo)
    amended = repo.head.commit.hexsha
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 2, result.stderr
    assert "mine.txt" in result.stderr and "Traceback" not in result.stderr
    assert repo.head.commit.hexsha == amended
    assert (root / "mine.txt").read_text() == "my work\n"


def test_undo_without_file_trailers_refuses_other_edits_of_a_host_file(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    host = root / "hosts/h0.nix"
    host.write_text(host.read_text().replace('"x"', '"renamed"'))
    repo.git.add("hosts/h0.nix")
    _drop_file_trailers(repo)
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 2, result.stderr
    assert "hosts/h0.nix" in result.stderr
    assert '"renamed"' in host.read_text()


def test_undo_without_file_trailers_takes_back_what_llamaflake_writes(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    assert run_cli(["apply", "--flake", str(root), *APPLY]).returncode == 0
    repo = git.Repo(root)
    host = root / "hosts/h0.nix"
    # An import line of the module's folder in a machine's own file, as llamaflake writes in other layouts.
    host.write_text(host.read_text().replace("{\n", "{\n  imports = [\n    ../llama-cpp/machines/boron.nix\n  ];\n", 1))
    repo.git.add("hosts/h0.nix")
    _drop_file_trailers(repo)
    result = run_cli(["undo", "--flake", str(root), "--yes"])
    assert result.returncode == 0, result.stderr
    assert repo.head.commit.message == "initial\n"
    assert repo.git.status("--porcelain", "--untracked-files=all") == ""
