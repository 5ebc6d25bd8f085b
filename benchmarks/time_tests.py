"""Benchmark: wall time of the README's test command (issue 27: the whole suite <= 600 s, the quick
subset <= 180 s on 2 cores), with its slowest tests.

    python benchmarks/time_tests.py [--out reports/benchmarks/test_times.json] [-- PYTEST ARGS ...]

Runs `python -m pytest` (pyproject.toml's addopts: two xdist workers, the 25 slowest tests listed),
then the quick subset `python -m pytest -m "not slow"`, each in this checkout, and writes their wall
times, test counts and slowest tests beside the machine's matmul speed before and after
(benchmarks/yardstick.py). Arguments after `--` go to both runs (e.g. `-n 0` for one process). A
speed goal is measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

from yardstick import cpu, machine, matmul_gflops

from psrlm.outputs import Outputs

SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected)")
DURATION = re.compile(r"^\s*([\d.]+)s (call|setup|teardown)\s+(\S+)")
FAILED = re.compile(r"^(FAILED|ERROR) (\S+)")  # the -ra summary's lines (pyproject.toml's addopts)


def run(args: list[str]) -> dict:
    """One pytest run: wall seconds, the counts of its summary line, what failed, its slowest phases."""
    start = time.time()
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                         capture_output=True, text=True)
    seconds = round(time.time() - start, 1)
    lines = res.stdout.splitlines()
    counts = {kind.rstrip("s") if kind.startswith("error") else kind: int(n)
              for n, kind in SUMMARY.findall(lines[-1] if lines else "")}
    slowest = [{"seconds": float(m[1]), "phase": m[2], "test": m[3]}
               for m in map(DURATION.match, lines) if m]
    # A run that failed is no time to compare with: name what failed, so the report says why.
    failed = [f"{m[1]} {m[2]}" for m in map(FAILED.match, lines) if m]
    return {"args": args, "returncode": res.returncode, "wall_seconds": seconds, "counts": counts,
            "summary": lines[-1] if lines else res.stderr[-500:], "failed": failed, "slowest": slowest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reports/benchmarks/test_times.json")
    ap.add_argument("pytest_args", nargs="*", help="after --: passed to both pytest runs")
    args = ap.parse_args()
    gflops = [matmul_gflops()]
    runs = {"suite": run(args.pytest_args), "quick": run(["-m", "not slow", *args.pytest_args])}
    gflops.append(matmul_gflops())
    report = {"machine": machine(), "cpu": cpu(), "matmul_gflops": gflops, **runs}
    with Outputs() as o:
        o.json(args.out, report)
    for name, r in runs.items():
        print(f"{name}: {r['summary']} ({r['wall_seconds']} s wall)")


if __name__ == "__main__":
    main()
