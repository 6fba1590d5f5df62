"""Hostile files and states give one-line refusals (exit 2) in bounded time, never a hang, a crash or a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hostile_repos import assert_one_line_refusal, run_cli, small_repo

from tui.core.answers import Answers, MachineAnswer
from tui.core.caches import key_problem, url_problem
from tui.core.errors import AnswerError

APPLY = ["--host", "boron=cpu", "--yes"]


def tree_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


# ---- 13. reports that are no regular file ------------------------------------------------------


@pytest.mark.parametrize("kind", ["device", "fifo", "huge", "folder"])
def test_a_report_that_is_no_small_regular_file_is_refused_at_once(tmp_path, kind):
    root = small_repo(tmp_path / "repo", ["boron"])
    if kind == "device":
        report = Path("/dev/zero")
    elif kind == "fifo":
        report = tmp_path / "report.fifo"
        os.mkfifo(report)
    elif kind == "huge":
        report = tmp_path / "huge.json"
        with report.open("wb") as handle:
            handle.truncate(4 * 1024**3)  # sparse: 4 GiB that takes no disk
    else:
        report = tmp_path
    result = run_cli(["plan", "--flake", str(root), "--report", f"boron={report}"], timeout=30)
    assert_one_line_refusal(result)
    assert str(report) in result.stderr


@pytest.mark.parametrize(
    "report",
    [
        {"source": "this-machine", "system": "x86_64-linux", "gpus": [{"vendor": "nvidia", "compute_capability": 8.6}]},
        {"source": "this-machine", "system": ["x86_64-linux"], "cpu": {"arch": "x86_64", "flags": ["avx2"]}},
        {"source": "this-machine", "cpu": {"arch": "x86_64", "flags": ["avx2"], "cores": "four"}},
        {"source": "this-machine", "cpu": "a cpu", "gpus": []},
        {"source": "this-machine", "gpus": [{"vendor": 10}]},
        {"hardware": {"cpu": [{"model_name": 5, "features": "avx2", "architecture": ["x"]}]}, "system": "x86_64-linux"},
    ],
)
def test_report_fields_of_the_wrong_type_are_one_line_refusals(tmp_path, report):
    root = small_repo(tmp_path / "repo", ["boron"])
    (tmp_path / "r.json").write_text(json.dumps(report))
    result = run_cli(["plan", "--flake", str(root), "--report", f"boron={tmp_path / 'r.json'}"])
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        assert_one_line_refusal(result)


# ---- 14. files the native parser cannot take ----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 50000 + "]" * 50000,
        "-" * 100000 + "1",
        '[ "]" ' * 30000 + "]" * 30000,
    ],
    ids=["list", "minus", "list-with-strings"],
)
@pytest.mark.parametrize("where", ["hosts/h0.nix", "unrelated/deep.nix"])
def test_a_deeply_nested_file_is_refused_by_name_not_a_crash(tmp_path, text, where):
    root = small_repo(tmp_path / "repo", ["boron"], files={where: text})
    result = run_cli(["hosts", "--flake", str(root), "--json"], timeout=60)
    assert result.returncode in (0, 2), (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    if where == "hosts/h0.nix":
        assert "hosts/h0.nix" in result.stdout + result.stderr
    before = tree_files(root)
    applied = run_cli(["apply", "--flake", str(root), *APPLY], timeout=60)
    assert applied.returncode in (0, 2, 3), (applied.returncode, applied.stderr)
    assert "Traceback" not in applied.stderr
    if applied.returncode != 0:
        assert tree_files(root) == before


# ---- 15. states that gave tracebacks ---------------------------------------------------------------


def test_a_present_index_lock_is_a_one_line_refusal(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    (root / ".git/index.lock").write_text("")
    before = tree_files(root)
    result = run_cli(["apply", "--flake", str(root), *APPLY])
    assert_one_line_refusal(result)
    assert "index.lock" in result.stderr
    assert tree_files(root) == before and (root / ".git/index.lock").exists()


def test_an_unreadable_index_is_a_one_line_refusal(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    index = root / ".git/index"
    index.unlink()
    index.mkdir()  # unreadable as a file, whoever runs the test (root reads through permissions)
    before = tree_files(root)
    result = run_cli(["apply", "--flake", str(root), *APPLY])
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr
    assert tree_files(root) == before


def test_a_machine_name_climbing_out_in_a_git_repository_is_one_line(tmp_path):
    root = small_repo(tmp_path / "repo", ["../x"])
    result = run_cli(["apply", "--flake", str(root), "--host", "../x=cpu", "--yes"])
    assert_one_line_refusal(result)
    assert not (tmp_path / "x.nix").exists() and not (root / "llama-cpp").exists()


# ---- 16. whole-string, ASCII-only validation -------------------------------------------------------


@pytest.mark.parametrize("ref", ["master\n", "v1\n", "a b", "\u0661\u0662"])
def test_a_ref_with_a_trailing_newline_or_odd_characters_is_refused(ref):
    with pytest.raises(AnswerError):
        Answers(ref=ref).validate()


@pytest.mark.parametrize("cap", ["\u0668.\u0666", "8.6\n", "\uff18.6", "8.6 "])
def test_cuda_capabilities_take_ascii_digits_only(cap):
    with pytest.raises(AnswerError):
        MachineAnswer("cuda", cuda_capabilities=[cap]).validate("boron")


@pytest.mark.parametrize("flag", ["avx2\n", "ａvx2"])
def test_cpu_flags_and_rocm_targets_are_whole_ascii_matches(flag):
    with pytest.raises(AnswerError):
        MachineAnswer("cpu", cpu_flags=[flag]).validate("boron")
    with pytest.raises(AnswerError):
        MachineAnswer("rocm", rocm_targets=["gfx1100\n"]).validate("boron")


def test_cache_urls_and_keys_are_whole_ascii_matches():
    assert url_problem("https://cache.example.org\n") is not None
    assert url_problem("https://cache.example.org/\u202e") is not None
    assert key_problem("cache.nixos-cuda.org:74DUi4Ye579gUqzH4ziL9IyiJBlDpMRn9MBN8oNan9M=\nx") is not None


def test_the_command_line_refuses_a_ref_with_a_newline(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    result = run_cli(["plan", "--flake", str(root), "--host", "boron=cpu", "--ref", "master\n"])
    assert_one_line_refusal(result)


@pytest.mark.parametrize("command", [["detect", "--report"], ["plan", "--report", "boron="]])
def test_a_report_with_a_number_too_long_to_convert_is_a_one_line_refusal(tmp_path, command):
    root = small_repo(tmp_path / "repo", ["boron"])
    report = tmp_path / "long.json"
    report.write_text('{"source": "this-machine", "cpu": {"flags": [], "cores": ' + "9" * 5000 + "}}")
    *options, last = command
    args = [*options, last + str(report)] if last.endswith("=") else [*command, str(report)]
    if command[0] == "plan":
        args += ["--flake", str(root), "--no-nix"]
    result = run_cli(args)
    assert_one_line_refusal(result)
    assert str(report) in result.stderr


@pytest.mark.parametrize("folder", ["/etc/llama-cpp", "~/llama-cpp"])
def test_an_absolute_module_folder_is_refused_not_made_relative(tmp_path, folder):
    root = small_repo(tmp_path / "repo", ["boron"])
    result = run_cli(["plan", "--flake", str(root), "--no-nix", "--module-dir", folder, *APPLY[:2]])
    assert_one_line_refusal(result)
    assert "absolute" in result.stderr and folder in result.stderr


# ---- terminal control characters from report text -------------------------------------------------


def test_a_refusal_shows_control_characters_as_escapes(tmp_path):
    """A value in a refusal neither colours the terminal nor starts a line of its own."""
    root = small_repo(tmp_path / "repo", ["boron"])
    result = run_cli(
        ["plan", "--flake", str(root), "--no-nix", "--host", "boron=cuda", "--cuda", "boron=8.6\n\x1b[31mpwned"]
    )
    assert "\x1b" not in result.stderr and "\\x1b" in result.stderr, result.stderr
    assert result.returncode == 2
    assert_one_line_refusal(result)


def test_control_characters_in_a_report_reach_the_terminal_as_nothing_raw(tmp_path):
    root = small_repo(tmp_path / "repo", ["boron"])
    report = {
        "source": "this-machine",
        "cpu": {"arch": "x86_64", "flags": ["avx2"]},
        "gpus": [
            {
                "vendor": "nvidia",
                "name": "GPU \x1b[31mred",
                "compute_capability": "8.6\n\x1b[31mpwned",
                "capability_source": "NVML",
            }
        ],
    }
    (tmp_path / "r.json").write_text(json.dumps(report))
    result = run_cli(["plan", "--flake", str(root), "--no-nix", "--report", f"boron={tmp_path / 'r.json'}"])
    assert "\x1b" not in result.stderr and "\x1b" not in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["unrelated/pipe.nix", "hosts/h0.nix"])
def test_a_fifo_named_like_a_nix_file_does_not_hang_the_reading(tmp_path, where):
    root = small_repo(tmp_path / "repo", ["boron"])
    fifo = root / where
    fifo.parent.mkdir(parents=True, exist_ok=True)
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    result = run_cli(["hosts", "--flake", str(root), "--no-nix"], timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 2), result.stderr


@pytest.mark.parametrize("url", ["github:../..", "github:a/b/c/d", "github:owner", "gitlab:a/../b", "github:a/b?x#y"])
def test_forge_urls_must_be_owner_and_repository(url):
    with pytest.raises(AnswerError, match="malformed flake URL"):
        Answers(url=url).validate()


@pytest.mark.parametrize(
    "url",
    [
        "github:ggml-org/llama.cpp",
        "github:me/llama.cpp/b6500",
        "sourcehut:~me/llama.cpp",
        "github:ggml-org/llama.cpp?ref=master",
    ],
)
def test_forge_urls_of_the_right_shape_pass(url):
    Answers(url=url).validate()
