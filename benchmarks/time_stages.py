"""Benchmark: wall time of every pipeline stage, run one by one in DAG order by `dvc repro -s`.

    python benchmarks/time_stages.py [--out reports/benchmarks/stage_times.json] [--force]

Stages already up to date take ~1 s (DVC's check) unless --force; the report says which ran. The
machine's matmul speed is measured before and after (benchmarks/yardstick.py), so that a chain timed
on a slow day can be told from a slow chain. A speed goal is measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import subprocess
import time

from yardstick import cpu, machine, matmul_gflops

from psrlm.outputs import Outputs


def stages_in_order() -> list[str]:
    from dvc.repo import Repo

    with Repo(".") as repo:
        import networkx as nx

        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        return [s.addressing for s in reversed(list(nx.topological_sort(graph)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reports/benchmarks/stage_times.json")
    ap.add_argument("--force", action="store_true", help="rerun stages that are up to date")
    args = ap.parse_args()
    gflops = [matmul_gflops()]
    rows, total = [], time.time()
    for name in stages_in_order():
        start = time.time()
        res = subprocess.run(["dvc", "repro", "-s", *(["-f"] if args.force else []), name],
                             capture_output=True, text=True)
        wall = time.time() - start
        if res.returncode != 0:
            raise SystemExit(f"{name} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
        ran = "Running stage" in res.stdout
        rows.append({"stage": name, "ran": ran, "seconds": round(wall, 1)})
        print(f"{name:16s} {'ran' if ran else 'up to date':10s} {wall:8.1f} s", flush=True)
    total = time.time() - total
    gflops.append(matmul_gflops())
    report = {"machine": machine(), "cpu": cpu(), "matmul_gflops": gflops, "total_seconds": round(total, 1),
              "ran_seconds": round(sum(r["seconds"] for r in rows if r["ran"]), 1), "stages": rows}
    with Outputs() as o:
        o.json(args.out, report)


if __name__ == "__main__":
    main()
