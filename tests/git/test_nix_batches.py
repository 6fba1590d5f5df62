"""The proof asks Nix about several machines in one ``nix eval`` (a batch per job), with each machine's verdict
its own: a machine that fails in a batch is asked again alone, and so is every other machine of that batch.

The flake is the small one of test_validate_nix (a stand-in ``nixosSystem`` that merges the modules' attribute
sets); the real ``nix`` runs behind a wrapper on PATH that logs each ``nix eval`` it is asked for.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from conftest import make_repo

from tui.core.nix_run import nix_support, run_streaming
from tui.core.validate import LeftAlone, evaluate_machines, lock_check

requires_nix_command = pytest.mark.skipif(shutil.which("nix") is None, reason="nix is not installed (Debian: nix-bin)")

FAKE_NIXPKGS = """{
  outputs = { self }: {
    lib.nixosSystem = { modules, ... }: rec {
      config = builtins.foldl' (acc: m: acc // import m) { } modules;
      pkgs.llama-cpp.drvPath = "/nix/store/cccc-llama-cpp.drv";
    };
  };
}
"""

# Machine names as Nix writes them in the flake (keys of nixosConfigurations), and as they are.
HOSTILE = {
    r'"quo\"te"': 'quo"te',
    r'"dollar\${builtins.abort \"injected\"}"': 'dollar${builtins.abort "injected"}',
    r'"back\\slash\\"': "back\\slash\\",
    r'"end\"; question = \"leftAlone\"; } ] ++ [ { name = \"x"': 'end"; question = "leftAlone"; } ] ++ [ { name = "x',
}


def drv(name: str) -> str:
    return f'{{ local.llama-cpp.package.drvPath = "/nix/store/{name}-llama-cpp.drv"; }}\n'


def flake(tmp_path: Path, machines: dict[str, str]) -> Path:
    """A committed flake whose machines (the key as Nix writes it -> its module's text) each load their own file."""
    fake = tmp_path / "fake-nixpkgs"
    fake.mkdir()
    (fake / "flake.nix").write_text(FAKE_NIXPKGS)
    entries = "".join(
        f"    nixosConfigurations.{key} = nixpkgs.lib.nixosSystem {{ modules = [ ./machines/m{i}.nix ]; }};\n"
        for i, key in enumerate(machines)
    )
    files = {f"machines/m{i}.nix": text for i, text in enumerate(machines.values())}
    text = (
        f'{{\n  inputs.nixpkgs.url = "path:{fake}";\n  outputs = {{ self, nixpkgs, ... }}: {{\n' + entries + "  };\n}\n"
    )
    root = make_repo(tmp_path / "config", {"flake.nix": text, **files})
    assert lock_check(root, 60).status == "ok", "locked first, as the proof does"
    return root


@pytest.fixture
def nix_log(tmp_path, monkeypatch) -> Path:
    """A ``nix`` first on PATH that logs each ``nix eval`` (``batch`` where it asks several machines, else
    ``alone``) and runs the real one."""
    monkeypatch.setenv("NIX_CONFIG", "experimental-features = nix-command flakes")
    if not nix_support().flakes:
        pytest.skip(f"nix cannot run with flakes here: {nix_support().reason}")
    real = shutil.which("nix")
    log = tmp_path / "nix.log"
    bin_dir = tmp_path / "logging-bin"
    bin_dir.mkdir()
    script = bin_dir / "nix"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do\n'
        '  if [ "$a" = eval ]; then\n'
        '    case "$*" in *".batch) ["*) echo batch ;; *) echo alone ;; esac >> "$NIX_LOG"\n'
        "    break\n"
        "  fi\n"
        "done\n"
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("NIX_LOG", str(log))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return log


def evals(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@requires_nix_command
@pytest.mark.parametrize("jobs", [2, 3])
def test_n_machines_take_one_nix_eval_per_batch(tmp_path, nix_log, jobs):
    names = [f"host{i}" for i in range(6)]
    root = flake(tmp_path, {n: drv(n) for n in names})
    checks = evaluate_machines(root, names, 60, jobs=jobs)
    assert [(c.host, c.status, c.detail) for c in checks] == [(n, "ok", f"/nix/store/{n}-llama-cpp.drv") for n in names]
    assert evals(nix_log) == ["batch"] * jobs
    again = evaluate_machines(root, names, 60, jobs=jobs)
    assert all(c.cached and c.status == "ok" for c in again)
    assert evals(nix_log) == ["batch"] * jobs, "a cached machine is not asked again"


@requires_nix_command
def test_a_machine_failing_in_a_batch_is_reported_with_its_own_error_and_the_others_pass(tmp_path, nix_log):
    machines = {n: drv(n) for n in ("alpha", "beta", "gamma", "delta")}
    root = flake(tmp_path, machines)
    # The change breaks beta and gamma (each its own way), not as committed: they fail, not "fails before".
    (root / "machines" / "m1.nix").write_text('{ local.llama-cpp.package.drvPath = throw "no llama for beta"; }\n')
    (root / "machines" / "m2.nix").write_text("{ local.llama-cpp.package.drvPath = gamma-is-undefined; }\n")
    events: list[object] = []
    checks = {c.host: c for c in evaluate_machines(root, list(machines), 60, jobs=1, progress=events.append)}
    assert (checks["alpha"].status, checks["alpha"].detail) == ("ok", "/nix/store/alpha-llama-cpp.drv")
    assert (checks["delta"].status, checks["delta"].detail) == ("ok", "/nix/store/delta-llama-cpp.drv")
    assert checks["beta"].status == "failed" and "no llama for beta" in checks["beta"].detail
    assert "gamma-is-undefined" not in checks["beta"].detail
    assert checks["gamma"].status == "failed" and "gamma-is-undefined" in checks["gamma"].detail
    assert "no llama for beta" not in checks["gamma"].detail
    # One batch, then each of its machines alone (and beta and gamma as committed, where they evaluate).
    assert evals(nix_log) == ["batch", "alone", "alone", "alone", "alone", "alone", "alone"]
    announced = [e for e in events if isinstance(e, str) and e.startswith("evaluating ")]
    assert {f"evaluating {n} ..." for n in machines} <= set(announced)
    # The failures are definite answers: kept, and not asked again.
    again = {c.host: c for c in evaluate_machines(root, list(machines), 60, jobs=1)}
    assert again["beta"].cached and "no llama for beta" in again["beta"].detail
    assert evals(nix_log).count("batch") == 1


@requires_nix_command
def test_hostile_machine_names_are_evaluated_as_data(tmp_path, nix_log):
    machines = {"alpha": drv("alpha"), **{key: drv(f"h{i}") for i, key in enumerate(HOSTILE)}}
    root = flake(tmp_path, machines)
    names = ["alpha", *HOSTILE.values()]
    ghost = 'ghost"; ${builtins.abort "injected"} \\'
    left = LeftAlone(written=("machines/m0.nix",))
    checks = evaluate_machines(root, [*names, ghost], 60, jobs=1, intended={ghost: left})
    assert [(c.host, c.status, c.detail) for c in checks[:-1]] == [
        (name, "ok", f"/nix/store/{'alpha' if i == 0 else f'h{i - 1}'}-llama-cpp.drv") for i, name in enumerate(names)
    ]
    assert (checks[-1].host, checks[-1].status, checks[-1].detail) == (
        ghost,
        "not checked",
        "Nix lists no machine of that name",
    )
    assert evals(nix_log) == ["batch"], "every machine answered in the one batch"


def test_a_step_line_gives_the_next_step_its_own_time_limit():
    """Each machine of a batch has the time limit alone: a batch of steps that each end in time is not stopped."""
    started = time.monotonic()
    lines: list[str] = []
    script = (
        "import sys, time\n"
        "for i in range(4):\n"
        "    print(f'trace: llamaflake-machine {i}', file=sys.stderr, flush=True)\n"
        "    time.sleep(0.6)\n"
        "print('{}')\n"
    )
    result = run_streaming(
        [sys.executable, "-c", script], Path.cwd(), 1.0, lines.append, step=lambda line: "llamaflake-machine" in line
    )
    assert not result.timed_out and result.returncode == 0 and result.stdout.strip() == "{}"
    assert lines == [], "the step lines are not progress"
    assert time.monotonic() - started >= 2.4


def test_the_machine_running_when_its_time_is_up_times_out_alone(tmp_path, monkeypatch):
    """In a batch, the machine Nix was evaluating when its time ran out has timed out; the others are asked alone."""
    from tui.core import validate

    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "nix"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "nix (Nix) 2.18.1"; exit 0; fi\n'
        'case "$*" in\n'
        "  *'.batch) ['*) echo 'trace: llamaflake-machine 0' >&2; echo 'trace: llamaflake-machine 1' >&2;"
        " exec sleep 30 ;;\n"
        '  *) echo \'{"package": "/nix/store/alone.drv"}\' ;;\n'
        "esac\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    root = make_repo(tmp_path / "config", {"flake.nix": "{ outputs = _: { }; }\n"})
    started = time.monotonic()
    checks = validate.evaluate_machines(root, ["alpha", "beta", "gamma"], 1.0, jobs=1, cache=False)
    assert [(c.host, c.status) for c in checks] == [("alpha", "ok"), ("beta", "timed out"), ("gamma", "ok")]
    assert checks[1].detail == "`nix eval` did not finish in 1 s"
    assert time.monotonic() - started < 15


@pytest.mark.skipif(
    shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed (Debian: nix-bin)"
)
def test_the_files_are_parsed_in_one_nix_instantiate_and_a_broken_one_alone(tmp_path, monkeypatch):
    from tui.core.validate import parse_checks

    real = shutil.which("nix-instantiate")
    log = tmp_path / "instantiate.log"
    bin_dir = tmp_path / "logging-bin"
    bin_dir.mkdir()
    script = bin_dir / "nix-instantiate"
    script.write_text(f'#!/bin/sh\necho "$#" >> "{log}"\nexec {real} "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    files = {f"m{i}.nix": drv(f"m{i}") for i in range(5)}
    root = make_repo(tmp_path / "config", files)
    checks = parse_checks(root, list(files))
    assert [(c.subject, c.status) for c in checks] == [(f"parse {rel}", "ok") for rel in files]
    assert log.read_text().split() == ["6"], "one nix-instantiate --parse for the five files"
    (root / "m3.nix").write_text("{ broken = ; }\n")
    log.unlink()
    checks = parse_checks(root, list(files))
    assert [c.status for c in checks] == ["ok", "ok", "ok", "failed", "ok"]
    assert "m3.nix:1:" in checks[3].detail and "syntax error" in checks[3].detail
    assert log.read_text().split() == ["6", "2", "2", "2", "2", "2"], "then each file alone"
