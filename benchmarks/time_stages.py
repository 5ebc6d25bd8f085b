"""Benchmark: wall time of every pipeline stage, run one by one in DAG order by `dvc repro -s`.

    python benchmarks/time_stages.py [TARGET ...] [--out reports/benchmarks/stage_times.json] [--force]

TARGETs (stage names, e.g. `report`) time only those stages and what they depend on, as `dvc repro
TARGET` would run them. Stages already up to date take ~1 s (DVC's check) unless --force; the
report says which ran. It is rewritten after every stage ("complete": false until the last), so a
run stopped part-way keeps what it measured. The
machine's matmul speed is measured before and after (benchmarks/yardstick.py), so that a chain timed
on a slow day can be told from a slow chain. A speed goal is measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import subprocess
import time

from yardstick import cpu, machine, matmul_gflops

from psrlm.outputs import Outputs


def stages_in_order(targets: list[str]) -> list[str]:
    from dvc.repo import Repo

    with Repo(".") as repo:
        import networkx as nx

        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        if targets:
            by_name = {s.addressing: s for s in graph}
            unknown = sorted(set(targets) - set(by_name))
            if unknown:
                raise SystemExit(f"no stage named {', '.join(unknown)} in dvc.yaml")
            keep = set()
            for t in targets:
                keep |= {by_name[t], *nx.descendants(graph, by_name[t])}
            graph = graph.subgraph(keep)
        return [s.addressing for s in reversed(list(nx.topological_sort(graph)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", help="stages to time with what they depend on (default: all)")
    ap.add_argument("--out", default="reports/benchmarks/stage_times.json")
    ap.add_argument("--force", action="store_true", help="rerun stages that are up to date")
    args = ap.parse_args()
    order = stages_in_order(args.targets)
    gflops = [matmul_gflops()]
    rows, total = [], time.time()

    def write(complete: bool) -> None:
        report = {"machine": machine(), "cpu": cpu(), "matmul_gflops": gflops, "targets": args.targets,
                  "complete": complete, "total_seconds": round(time.time() - total, 1),
                  "ran_seconds": round(sum(r["seconds"] for r in rows if r["ran"]), 1), "stages": rows}
        with Outputs() as o:
            o.json(args.out, report)

    for name in order:
        start = time.time()
        res = subprocess.run(["dvc", "repro", "-s", *(["-f"] if args.force else []), name],
                             capture_output=True, text=True)
        wall = time.time() - start
        if res.returncode != 0:
            raise SystemExit(f"{name} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
        ran = "Running stage" in res.stdout
        rows.append({"stage": name, "ran": ran, "seconds": round(wall, 1)})
        print(f"{name:16s} {'ran' if ran else 'up to date':10s} {wall:8.1f} s", flush=True)
        write(complete=False)
    gflops.append(matmul_gflops())
    write(complete=True)


if __name__ == "__main__":
    main()
