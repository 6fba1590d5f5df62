"""Median wall time of `python -m tui detect --json` (process start included), over a number of runs.

Usage: python benchmarks/detect_bench.py [RUNS]   (the goal: under 150 ms)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 150.0


def measure(runs: int = 15) -> list[float]:
    """Wall times in milliseconds, after one warm-up run that fills the file and bytecode caches."""
    command = [sys.executable, "-m", "tui", "detect", "--json"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    times = measure(runs)
    median = statistics.median(times)
    verdict = "ok" if median < GOAL_MS else "SLOW"
    print(
        f"detect --json: median {median:.1f} ms over {runs} runs "
        f"(min {min(times):.1f}, max {max(times):.1f}; goal < {GOAL_MS:.0f} ms) {verdict}"
    )
    return 0 if median < GOAL_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
