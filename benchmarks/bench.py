"""Benchmarks against the brief's targets; prints a table.

- detect: median wall time of `llamaflake detect --json` (target < 150 ms)
- plan: load + plan on synthetic repositories of 1, 10, 100 and 500 machines (target < 2 s at 500)
- first screen: process start to the wizard's first screen (target < 0.5 s), and its ratio to a bare Textual app
  timed turn about in the same run (target <= 1.15)
- machines visible: process start to the demo's machines shown, with Nix on PATH (asked in the background) and
  with --no-nix, turn about in the same run; their ratio (target <= 1.5)
- proof with nix: lock + parallel evaluation of 1, 10 and 50 machines on stand-in flakes (tests/nix), each
  machine's intent compared, next to the static plan time of the same flake; the same proof again from the
  evaluation cache (target: instant), and the ratio of 10 machines to one (target <= 1.5x)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_repo(folder: Path, machines: int) -> Path:
    """A flake with ``machines`` literal nixosSystem hosts, each with its own module file."""
    hosts = []
    for i in range(machines):
        name = f"host{i:03d}"
        hosts.append(
            f"""      # machine {i}
      {name} = nixpkgs.lib.nixosSystem {{
        specialArgs = {{ inherit inputs; }};
        modules = [
          ./common
          ./hosts/{name}.nix
        ];
      }};
"""
        )
        host_file = folder / "hosts" / f"{name}.nix"
        host_file.parent.mkdir(parents=True, exist_ok=True)
        host_file.write_text(
            f'{{ lib, ... }}: {{\n  networking.hostName = "{name}";\n  nixpkgs.hostPlatform = lib.mkDefault "x86_64-linux";\n}}\n'
        )
    (folder / "common").mkdir(exist_ok=True)
    (folder / "common" / "default.nix").write_text('{ ... }: { time.timeZone = "UTC"; }\n')
    (folder / "flake.nix").write_text(
        '{\n  inputs = {\n    nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";\n  };\n\n'
        "  outputs = { self, nixpkgs, ... }@inputs: {\n    nixosConfigurations = {\n"
        + "".join(hosts)
        + "    };\n  };\n}\n"
    )
    return folder


def time_plan(machines: int, runs: int = 3) -> float:
    from tui.core.answers import Answers, MachineAnswer
    from tui.core.nix.flake import load_flake
    from tui.core.plan import make_plan

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = synthetic_repo(Path(tmp), machines)
        for _ in range(runs):
            start = time.perf_counter()
            flake = load_flake(repo)
            answers = Answers(machines={h.name: MachineAnswer("cpu", cpu_flags=["avx2", "fma"]) for h in flake.hosts})
            plan = make_plan(flake, answers)
            times.append(time.perf_counter() - start)
            assert len(plan.changes) == machines + 2, len(plan.changes)
    return statistics.median(times)


def time_command(argv: list[str], runs: int = 15) -> float | None:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            return None
    return statistics.median(times)


def time_proof(machines: int) -> tuple[float, float, float] | None:
    """Seconds for the static plan, for the added proof (lock + parallel nix eval, the intent of each machine
    compared), and for the same proof again from the evaluation cache; None without nix."""
    import os
    import shutil

    if shutil.which("nix") is None:
        return None
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "git")]
    import nix_flakes
    from conftest import NIXPKGS_LIB

    from tui.core.answers import Answers, MachineAnswer
    from tui.core.apply import apply_plan, intended
    from tui.core.nix.flake import load_flake
    from tui.core.plan import make_plan
    from tui.core.validate import validate

    if not NIXPKGS_LIB:
        return None
    os.environ.setdefault("NIX_CONFIG", "download-attempts = 1\nflake-registry = ")
    for key, value in (
        ("GIT_AUTHOR_NAME", "bench"),
        ("GIT_AUTHOR_EMAIL", "bench@example.org"),
        ("GIT_COMMITTER_NAME", "bench"),
        ("GIT_COMMITTER_EMAIL", "bench@example.org"),
    ):
        os.environ.setdefault(key, value)
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(where / "cache")  # a cold evaluation cache for the first proof
        nixpkgs = nix_flakes.nixpkgs_flake(where)
        llama = nix_flakes.llama_flake(where, nixpkgs)
        names = tuple(f"host{i:03d}" for i in range(machines))
        repo = nix_flakes.outputs_elsewhere(where / "config", nixpkgs, hosts=names)
        start = time.perf_counter()
        flake = load_flake(repo)
        plan = make_plan(
            flake,
            Answers(
                machines={n: MachineAnswer("cpu", cpu_flags=["avx2", "fma"]) for n in names},
                url=f"path:{llama}",
                caches=[],
            ),
        )
        static = time.perf_counter() - start
        start = time.perf_counter()
        result = apply_plan(plan, commit=False, evaluate=True)
        proof = time.perf_counter() - start
        assert sum(1 for c in result.checks if c.host and c.status == "ok" and c.chosen) == machines, result.checks
        start = time.perf_counter()
        again = validate(repo, result.paths, list(names), evaluate=True, intended=intended(plan))
        cached = time.perf_counter() - start
        assert all(c.cached for c in again if c.host), again
    return static, proof, cached


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    rows: list[tuple[str, str, str]] = []

    detect = time_command([sys.executable, "-m", "tui", "detect", "--json"], runs)
    rows.append(("detect --json (median)", "n/a" if detect is None else f"{detect * 1000:.0f} ms", "< 150 ms"))
    for machines in (1, 10, 100, 500):
        seconds = time_plan(machines, runs=1 if args.quick else 3)
        rows.append(
            (f"plan, {machines} machines (median)", f"{seconds * 1000:.0f} ms", "< 2000 ms" if machines == 500 else "")
        )
    proofs = {machines: time_proof(machines) for machines in (1, 10, 50)}
    for machines, timed in proofs.items():
        if timed is None:
            rows.append((f"proof with nix, {machines} machines", "n/a", "needs nix and nixpkgs' lib"))
            continue
        rows.append(
            (
                f"proof with nix, {machines} machines",
                f"{timed[1] * 1000:.0f} ms",
                f"static plan {timed[0] * 1000:.0f} ms",
            )
        )
        rows.append(("  the same proof again (cached)", f"{timed[2] * 1000:.0f} ms", "instant"))
    if proofs[1] is not None and proofs[10] is not None:
        rows.append(("  proof of 10 machines / proof of 1", f"{proofs[10][1] / proofs[1][1]:.2f}x", "<= 1.5x"))
    first = ROOT / "benchmarks" / "first_screen.py"
    if first.exists():
        result = subprocess.run(
            [sys.executable, str(first), "--runs", "5" if args.quick else "15"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if ":" in line}
        value = lines.get("first screen", "").split("median ")[-1].split(" over")[0] or "n/a"
        bare = lines.get("a bare Textual app (header, one line, footer) on the same machine", "").split("median ")[-1]
        ratio = lines.get("ratio", "").split("ratio: ")[-1].split(" ")[0] or "n/a"
        rows.append(("first screen (median)", value, "< 500 ms"))
        if bare:
            rows.append(("  a bare Textual app, for scale", bare, ""))
        rows.append(("  first screen / bare app", ratio, "<= 1.15 (brief: 1.10)"))
        with_nix = lines.get("machines visible with nix on PATH", "").split("median ")[-1].split(" over")[0]
        without_nix = lines.get("machines visible with --no-nix", "").split("median ")[-1]
        machines_ratio = lines.get("machines ratio", "").split("machines ratio: ")[-1].split(" ")[0]
        rows.append(("machines visible, nix on PATH (median)", with_nix or "n/a", "" if with_nix else "needs nix"))
        if without_nix:
            rows.append(("  machines visible, --no-nix", without_nix, ""))
        rows.append(("  with nix / --no-nix", machines_ratio or "n/a", "<= 1.5"))
    else:
        rows.append(("first screen", "n/a", "< 500 ms"))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>10}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>10}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
