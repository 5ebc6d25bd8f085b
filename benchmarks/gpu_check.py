"""Benchmark: the smoke DAG's stages on a GPU (HF engine, a larger scratch model), with throughput.

    python benchmarks/gpu_check.py [--budget 420] [--out reports/benchmarks/gpu_check.json]

In a throwaway copy of the repository (tracked files, one git commit, no data) it writes the smoke
params (psrlm/smoke_params.yaml) with a ~25M-parameter scratch model, the hf engine and bf16
training, then runs the stages one by one in DAG order with `dvc repro -s`, timing each, until the
budget's seconds are spent (the first GPU check must fit in 8 minutes of a 15-minute loan). It
reports per stage its wall time and, from the stages' own reports, SFT/DPO training tokens per
second and generation seconds, with the device's name and memory. It stops at the first failing
stage and says which. Run it where the project is installed (`pip install -e .`); `--allow-cpu`
runs it on a CPU to check the script itself, with the smoke model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from psrlm.outputs import Outputs
from psrlm.repocopy import copy_repo, smoke_params

ROOT = Path(__file__).resolve().parents[1]
# ~25M parameters: wide enough that a GPU, not Python, sets the pace; trains in about a minute.
GPU_MODEL = {"hidden_size": 512, "num_layers": 8, "num_heads": 8, "num_kv_heads": 8, "intermediate_size": 2048}


def params(gpu: bool) -> dict:
    """The tests' smoke params, on the hf engine, with the larger model and bf16 on a GPU."""
    p = smoke_params(ROOT)
    p["engine"]["backend"] = "hf"
    if gpu:
        p["model"].update(GPU_MODEL)
        p["training"]["bf16"] = True
        p["engine"]["hf_batch_size"] = 128
    return p


def stages_in_order(repo: Path) -> list[str]:
    import networkx as nx
    from dvc.repo import Repo

    with contextlib.chdir(repo), Repo(".") as r:  # edges point from a stage to the stages it depends on
        return [s.addressing for s in reversed(list(nx.topological_sort(r.index.graph)))]


def throughput(repo: Path) -> dict:
    """What the stages measured themselves (their DVC metrics)."""
    out = {}
    for name, path in (("sft", "reports/sft/metrics.json"), ("dpo_1", "reports/dpo/1.json"),
                       ("evaluate_m1", "reports/eval/m1.json")):
        f = repo / path
        if f.is_file():
            r = json.loads(f.read_text())
            out[name] = {k: r[k] for k in ("tokens_per_second", "train_seconds", "generation_seconds",
                                          "tts_seconds", "steps") if k in r}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=420.0, help="seconds; no stage starts after them")
    ap.add_argument("--out", default="reports/benchmarks/gpu_check.json")
    ap.add_argument("--allow-cpu", action="store_true", help="run without a GPU (checks the script)")
    args = ap.parse_args()
    import torch

    gpu = torch.cuda.is_available()
    if not gpu and not args.allow_cpu:
        sys.exit("gpu_check: no CUDA device (use --allow-cpu to check the script on a CPU)")
    device = ({"name": torch.cuda.get_device_name(0),
               "memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)}
              if gpu else {"name": "cpu"})
    rows, start, failed = [], time.time(), None
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        p = params(gpu)
        copy_repo(ROOT, repo, p)
        for name in stages_in_order(repo):
            if time.time() - start > args.budget:
                rows.append({"stage": name, "ran": False, "seconds": None})
                continue
            t = time.time()
            res = subprocess.run(["dvc", "repro", "-s", name], cwd=repo, capture_output=True, text=True)
            rows.append({"stage": name, "ran": res.returncode == 0, "seconds": round(time.time() - t, 1)})
            print(f"{name:20s} {'ok' if res.returncode == 0 else 'FAILED':7s} {rows[-1]['seconds']:8.1f} s", flush=True)
            if res.returncode != 0:
                failed = {"stage": name, "tail": (res.stdout + res.stderr)[-3000:]}
                break
        report = {"device": device, "model": p["model"], "engine": p["engine"]["backend"],
                  "bf16": p["training"]["bf16"], "budget_seconds": args.budget,
                  "total_seconds": round(time.time() - start, 1), "stages": rows,
                  "stages_run": sum(r["ran"] for r in rows), "failed": failed, "throughput": throughput(repo)}
    with Outputs() as o:
        o.json(args.out, report)
    print(json.dumps(report["throughput"], indent=1))
    if failed:
        sys.exit(f"gpu_check: stage {failed['stage']} failed")


if __name__ == "__main__":
    main()
