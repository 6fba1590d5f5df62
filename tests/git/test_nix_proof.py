"""Proof before the commit: the real ``nix`` locks the new input and evaluates every changed machine on
stand-in flakes; a machine that does not evaluate blocks the commit with everything put back."""

from __future__ import annotations

import json
import subprocess

import git
import nix_flakes as flakes
from nix_flakes import _nix_env, stand_ins  # noqa: F401 - fixtures
from repo_state import committed_paths, repo_state

from tui.cli import main


def evaluated_name(root, host: str) -> str:
    """The name of the package the committed configuration gives ``host`` (read by nix, not by llamaflake)."""
    result = subprocess.run(
        [
            "nix",
            "--extra-experimental-features",
            "nix-command flakes",
            "eval",
            "--raw",
            f".#nixosConfigurations.{host}.pkgs.llama-cpp.name",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_apply_commits_a_change_every_machine_evaluates(tmp_path, stand_ins, capsys):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "alpha=vulkan",
            "--host",
            "beta=cpu",
            "--cpu-flags",
            "beta=avx2,fma,f16c",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "✓ alpha: llama-cpp-vulkan-0.0.0" in err
    assert "✓ beta: llama-cpp-blas-0.0.0" in err
    assert "as chosen: vulkan, all CPU variants · from llama-cpp/machines/alpha.nix" in err
    assert "as chosen: cpu, CPU f16c,fma,avx2 · from llama-cpp/machines/beta.nix" in err
    assert "flake.lock" in committed_paths(root)
    assert git.Repo(root).git.status("--porcelain") == ""
    lock = json.loads((root / "flake.lock").read_text())
    assert lock["nodes"]["llama-cpp"]["original"]["path"] == str(stand_ins["llama"])
    assert f'url = "path:{stand_ins["llama"]}";' in (root / "flake.nix").read_text()
    assert evaluated_name(root, "alpha") == "llama-cpp-vulkan-0.0.0"
    assert evaluated_name(root, "beta") == "llama-cpp-blas-0.0.0"


def test_a_pin_without_the_package_is_refused_with_the_machine_named(tmp_path, stand_ins, capsys):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    before = repo_state(root)
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama-no-vulkan']}",
            "--host",
            "alpha=vulkan",
            "--host",
            "beta=cpu",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "evaluate alpha" in err and "vulkan" in err
    assert "✓ beta" in err
    assert "Traceback" not in err
    assert repo_state(root).differences(before) == []
    assert not (root / "flake.lock").exists()


def test_no_eval_says_not_evaluated_and_leaves_the_lock_alone(tmp_path, stand_ins, capsys):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama-no-vulkan']}",
            "--host",
            "alpha=vulkan",
            "--no-caches",
            "--yes",
            "--no-eval",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "not evaluated (--no-eval)" in err
    assert "flake.lock" not in committed_paths(root)


def test_nix_absent_keeps_the_static_behaviour_with_a_note(tmp_path, stand_ins, capsys, monkeypatch):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    git_dir = subprocess.run(["sh", "-c", "dirname $(command -v git)"], capture_output=True, text=True).stdout.strip()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(f"{git_dir}/git")
    monkeypatch.setenv("PATH", str(bin_dir))
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "alpha=vulkan",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "machines not evaluated: not evaluated: nix is not installed" in err
    assert "flake.lock" not in committed_paths(root)


def test_malformed_url_is_refused(tmp_path, stand_ins, capsys):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    before = repo_state(root)
    code = main(["apply", "--flake", str(root), "--url", 'path:/x"; evil = "', "--host", "alpha=cpu", "--yes"])
    err = capsys.readouterr().err
    assert code == 2 and "malformed flake URL" in err
    assert repo_state(root).differences(before) == []


def test_a_ref_cannot_pin_a_path_url(tmp_path, stand_ins, capsys):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    code = main(
        ["plan", "--flake", str(root), "--url", f"path:{stand_ins['llama']}", "--ref", "b4000", "--host", "alpha=cpu"]
    )
    assert code == 2 and "give the revision in the URL itself" in capsys.readouterr().err


def test_offline_inputs_are_said_and_the_static_result_stands(demo_repo, capsys):
    """The demo's inputs are on GitHub and the tests run without a network: not verified, said as offline."""
    code = main(["apply", "--flake", str(demo_repo), "--host", "boron=cpu", "--no-caches", "--yes"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "not verified with nix" in err
    assert "offline: an input could not be fetched" in err
    assert "machines not evaluated: not verified: the flake's inputs are not locked" in err
    assert "llamaflake: flake.lock was not updated (offline: an input could not be fetched" in err
    assert "flake.lock" not in committed_paths(demo_repo)


def test_a_failure_of_the_users_own_config_does_not_block(tmp_path, stand_ins, capsys, monkeypatch):
    """beta fails its own assertion before any change: reported as not verified, and the change is committed.
    The repository is opened once, by the command, and handed to every step that needs it."""
    from tui.core import gitrepo

    opened = []
    find_repo = gitrepo.find_repo
    monkeypatch.setattr(gitrepo, "find_repo", lambda path: opened.append(path) or find_repo(path))
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    (root / "hosts/beta.nix").write_text(
        flakes.host_module("beta").replace(
            "}\n", '  assertions = [ { assertion = false; message = "beta: the disk is not set up yet"; } ];\n}\n'
        )
    )
    git.Repo(root).git.commit("-qam", "beta has its own problem")
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "alpha=vulkan",
            "--host",
            "beta=cpu",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "✓ alpha: llama-cpp-vulkan-0.0.0" in err
    assert "? beta: not verified: fails without this change too" in err
    assert "the disk is not set up yet" in err
    assert "llama-cpp/machines/beta.nix" in committed_paths(root)
    assert opened == [root], opened


def test_a_failure_the_change_causes_still_blocks_where_the_config_failed_before(tmp_path, stand_ins, capsys):
    """alpha failed before too, but not the way it fails with a Vulkan build its pinned llama.cpp lacks."""
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    (root / "hosts/alpha.nix").write_text(
        flakes.host_module("alpha").replace(
            "}\n", '  assertions = [ { assertion = false; message = "alpha: its own problem"; } ];\n}\n'
        )
    )
    git.Repo(root).git.commit("-qam", "alpha has its own problem")
    before = repo_state(root)
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama-no-vulkan']}",
            "--host",
            "alpha=vulkan",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert "✗ alpha: does not evaluate" in err
    assert repo_state(root).differences(before) == []


def test_a_second_identical_evaluation_comes_from_the_cache(tmp_path, stand_ins, monkeypatch):
    from tui.core import nix_run, validate

    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    (root / "flake.nix").write_text(
        (root / "flake.nix")
        .read_text()
        .replace("inputs = {\n", f'inputs = {{\n    llama-cpp.url = "path:{stand_ins["llama"]}";\n')
    )
    subprocess.run(["nix", *nix_run.NIX_FLAGS, "flake", "lock"], cwd=root, check=True, capture_output=True)
    git.Repo(root).git.add("-A")
    first = validate.evaluate_machines(root, ["alpha", "beta"], 300)
    assert [c.status for c in first] == ["failed", "failed"]  # no llama-cpp module yet: a real nix failure

    def no_nix(*_args, **_kwargs):
        raise AssertionError("evaluated again")

    monkeypatch.setattr(validate, "eval_check", no_nix)
    second = validate.evaluate_machines(root, ["alpha", "beta"], 300)
    assert [(c.status, c.detail) for c in second] == [(c.status, c.detail) for c in first]
    (root / "hosts/alpha.nix").write_text(flakes.host_module("alpha") + "# changed\n")
    try:
        validate.evaluate_machines(root, ["alpha"], 300)
    except AssertionError as exc:
        assert "evaluated again" in str(exc)  # a changed file is evaluated afresh
    else:
        raise AssertionError("a changed file came from the cache")


def test_machines_whose_names_no_flake_url_can_carry_are_evaluated(tmp_path, stand_ins, capsys):
    """A quote, ``${`` or non-ASCII in a machine's name: the name is selected inside ``--apply`` as an escaped
    Nix string, not put in the installable's URL fragment."""
    from conftest import make_repo

    from tui.core.nix.syntax import nix_attr_name

    hosts = ["café", 'q"t', "d${x}"]
    entries = "".join(
        f"    nixosConfigurations.{nix_attr_name(h)} = nixpkgs.lib.nixosSystem {{\n"
        f"      specialArgs = {{ inherit inputs; }};\n      modules = [ ./common.nix ./hosts/h{i}.nix ];\n    }};\n"
        for i, h in enumerate(hosts)
    )
    files = {
        "flake.nix": "{\n  inputs = {\n"
        f'    nixpkgs.url = "path:{stand_ins["nixpkgs"]}";\n'
        "  };\n\n  outputs = { self, nixpkgs, ... }@inputs: {\n" + entries + "  };\n}\n",
        "common.nix": flakes.COMMON,
    }
    files.update({f"hosts/h{i}.nix": flakes.host_module(f"h{i}") for i in range(len(hosts))})
    root = make_repo(tmp_path / "config", files)
    args = ["apply", "--flake", str(root), "--url", f"path:{stand_ins['llama']}", "--no-caches", "--yes"]
    for host in hosts:
        args += ["--host", f"{host}=cpu", "--cpu-flags", f"{host}=avx2,fma"]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    for host in hosts:
        assert f"✓ {host}: llama-cpp-blas-0.0.0" in err, err


def test_the_scratch_copy_holds_tracked_files_that_gitignore_matches(tmp_path):
    """A force-added file in an ignored folder is part of the configuration: the proof's copy must have it."""
    from tui.core.changes import FileChange
    from tui.core.proof import scratch_copy

    root = tmp_path / "repo"
    (root / "vendor").mkdir(parents=True)
    (root / ".gitignore").write_text("vendor/\n")
    (root / "flake.nix").write_text("{ outputs = _: { }; }\n")
    (root / "vendor" / "hw.nix").write_text("{ }\n")
    repo = git.Repo.init(root)
    repo.git.add("-A")
    repo.git.add("-f", "vendor/hw.nix")
    repo.git.commit("-q", "-m", "init", "--no-verify", author="t <t@t>")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    copy = scratch_copy(root, [FileChange("new.nix", None, b"{ }\n", "a new file")], scratch)
    listed = git.Repo(copy).git.ls_files().splitlines()
    assert "vendor/hw.nix" in listed
    assert "new.nix" in listed


def shared_overlay_repo(path, nixpkgs):
    """alpha and beta share common.nix, which applies a hand-written llama-cpp overlay; beta installs its package."""
    flake = (
        "{\n"
        f'  inputs.nixpkgs.url = "path:{nixpkgs}";\n'
        "  outputs = { self, nixpkgs, ... }@inputs: {\n"
        + "".join(
            f"    nixosConfigurations.{h} = nixpkgs.lib.nixosSystem {{\n"
            "      specialArgs = { inherit inputs; };\n"
            f"      modules = [ ./common.nix ./hosts/{h}.nix ];\n"
            "    };\n"
            for h in ("alpha", "beta")
        )
        + "  };\n}\n"
    )
    beta = (
        flakes.host_module("beta")
        .replace("{ ... }:", "{ pkgs, ... }:")
        .replace("}\n", "  environment.systemPackages = [ pkgs.llama-cpp-cpu ];\n}\n")
    )
    return flakes.make_repo(
        path,
        {
            "flake.nix": flake,
            "common.nix": "{ ... }:\n{\n  nixpkgs.overlays = [\n    (import ./overlays/llama-cpp.nix)\n  ];\n}\n",
            "overlays/llama-cpp.nix": "final: prev: {\n  llama-cpp-cpu = prev.llama-cpp;\n}\n",
            "hosts/alpha.nix": flakes.host_module("alpha"),
            "hosts/beta.nix": beta,
        },
    )


def beta_packages(root) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "nix",
            "--extra-experimental-features",
            "nix-command flakes",
            "eval",
            "--json",
            "--no-write-lock-file",
            ".#nixosConfigurations.beta.config.environment.systemPackages",
            "--apply",
            "map (p: p.name)",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cleanup_keeps_an_overlay_a_machine_left_alone_still_uses(tmp_path, stand_ins, capsys):
    root = shared_overlay_repo(tmp_path / "config", stand_ins["nixpkgs"])
    before = beta_packages(root)
    assert before.returncode == 0, before.stderr
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "alpha=cpu",
            "--host",
            "beta=none",
            "--cleanup",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "✓ alpha" in err
    assert "kept overlays/llama-cpp.nix (a hand-written llama-cpp overlay): beta uses it" in err
    committed = committed_paths(root)
    assert "overlays/llama-cpp.nix" not in committed and "common.nix" not in committed
    assert (root / "overlays/llama-cpp.nix").is_file()
    after = beta_packages(root)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)


def test_cleanup_removes_the_overlay_when_every_machine_using_it_is_wired(tmp_path, stand_ins, capsys):
    root = shared_overlay_repo(tmp_path / "config", stand_ins["nixpkgs"])
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "alpha=cpu",
            "--host",
            "beta=cpu",
            "--cleanup",
            "--no-caches",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "✓ alpha" in err and "✓ beta" in err
    assert not (root / "overlays/llama-cpp.nix").exists()
    assert "llama-cpp.nix" not in (root / "common.nix").read_text()
    after = beta_packages(root)
    assert after.returncode == 0, after.stderr


def test_a_machine_that_also_loads_another_machines_settings_is_caught_by_nix(tmp_path, stand_ins, capsys):
    """The static reading cannot follow an import built with genericClosure; Nix evaluates it, and the intent
    proof sees beta defined from alpha's settings file too (its flags merged with alpha's), though it evaluates."""
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    first = ["apply", "--flake", str(root), "--url", f"path:{stand_ins['llama']}", "--no-caches", "--yes"]
    assert (
        main(
            [
                *first,
                "--host",
                "alpha=cpu",
                "--cpu-flags",
                "alpha=avx2",
                "--host",
                "beta=cpu",
                "--cpu-flags",
                "beta=avx2",
            ]
        )
        == 0
    ), capsys.readouterr().err
    beta_loads_alphas_settings(root, "beta also loads alpha's settings")
    capsys.readouterr()
    before = repo_state(root)

    code = main([*first, "--host", "beta=cpu", "--cpu-flags", "beta=avx2,fma"])

    err = capsys.readouterr().err
    assert code == 2, err
    assert "✗ beta: not what was chosen: it would get cpu, CPU" in err
    assert "llama-cpp/machines/alpha.nix" in err and "from llama-cpp/machines/beta.nix alone" in err
    assert repo_state(root).differences(before) == []


def test_apply_json_gives_each_machine_what_nix_says_it_gets(tmp_path, stand_ins, capsys):
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    code = main(
        [
            "apply",
            "--flake",
            str(root),
            "--url",
            f"path:{stand_ins['llama']}",
            "--host",
            "alpha=cuda",
            "--cuda",
            "alpha=8.6",
            "--host",
            "beta=none",
            "--no-caches",
            "--yes",
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    alpha = next(c for c in json.loads(out)["checks"] if c["host"] == "alpha")
    assert alpha["status"] == "ok"
    assert alpha["intent"]["variant"] == "cuda" and alpha["intent"]["cuda"] == ["8.6"]
    assert alpha["chosen"].startswith("cuda, all CPU variants, CUDA 8.6 · from llama-cpp/machines/alpha.nix")


def test_a_machine_left_alone_that_loads_a_file_the_change_writes_is_caught_by_nix(tmp_path, stand_ins, capsys):
    """beta is not answered for and has no settings of its own, but loads alpha's settings through an import the
    static reading cannot follow: a change of alpha's settings would change beta's build, and Nix says so."""
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    first = ["apply", "--flake", str(root), "--url", f"path:{stand_ins['llama']}", "--no-caches", "--yes"]
    assert main([*first, "--host", "alpha=cpu", "--cpu-flags", "alpha=avx2"]) == 0
    err = capsys.readouterr().err
    assert "✓ beta: left alone: no setting this change writes reaches it" in err, err
    beta_loads_alphas_settings(root, "beta loads alpha's settings too")
    capsys.readouterr()
    before = repo_state(root)

    code = main([*first, "--host", "alpha=cpu", "--cpu-flags", "alpha=avx2,fma"])

    err = capsys.readouterr().err
    assert code == 2, err
    assert (
        "✗ beta: not left alone: it was not answered for, but would get cpu, CPU fma,avx2 from "
        "llama-cpp/machines/alpha.nix, which this change writes"
    ) in err, err
    assert "✓ alpha: " in err
    assert repo_state(root).differences(before) == []


def test_a_machine_left_alone_whose_name_cannot_be_a_file_name_is_checked_too(tmp_path, stand_ins, capsys):
    """`nixosConfigurations."lab/beta"` cannot get a settings file of its own, but it can load alpha's: Nix is
    given its name as a string, so it is checked like any machine left alone."""
    root = flakes.outputs_elsewhere(tmp_path / "config", stand_ins["nixpkgs"])
    outputs = root / "outputs.nix"
    outputs.write_text(outputs.read_text().replace("nixosConfigurations.beta", 'nixosConfigurations."lab/beta"'))
    repo = git.Repo(root)
    repo.git.commit("-qam", "beta is lab/beta", "--no-verify")
    first = ["apply", "--flake", str(root), "--url", f"path:{stand_ins['llama']}", "--no-caches", "--yes"]
    assert main([*first, "--host", "alpha=cpu", "--cpu-flags", "alpha=avx2"]) == 0
    err = capsys.readouterr().err
    assert "✓ lab/beta: left alone: no setting this change writes reaches it" in err, err
    beta_loads_alphas_settings(root, "lab/beta loads alpha's settings too")
    capsys.readouterr()
    before = repo_state(root)

    code = main([*first, "--host", "alpha=cpu", "--cpu-flags", "alpha=avx2,fma"])

    err = capsys.readouterr().err
    assert code == 2, err
    assert (
        "✗ lab/beta: not left alone: it was not answered for, but would get cpu, CPU fma,avx2 from "
        "llama-cpp/machines/alpha.nix, which this change writes" in err
    ), err
    assert repo_state(root).differences(before) == []


def beta_loads_alphas_settings(root, message: str) -> None:
    """Commit hosts/beta.nix importing alpha's settings file through genericClosure, an import the static
    reading cannot follow."""
    beta = root / "hosts/beta.nix"
    imports = (
        "  imports = map (entry: entry.key) (builtins.genericClosure {\n"
        '    startSet = [ { key = ./.. + "/llama-cpp/machines/alpha.nix"; } ]; operator = _: [ ]; });\n'
    )
    text = beta.read_text()
    if "{ ... }:\n{\n" in text:
        text = text.replace("{ ... }:\n{\n", "{ ... }:\n{\n" + imports, 1)
    else:
        text = text.replace("{\n", "{\n" + imports, 1).replace("{ ... }:\n  imports", "{ ... }:\n{\n  imports")
    beta.write_text(text)
    git.Repo(root).git.commit("-qam", message, "--no-verify")
