"""Benchmark: M1 across SFT seeds, so that a change that retrains M1 can be read against its spread.

    dvc repro prepare && python benchmarks/m1_seeds.py [--seeds 0 1 2] [--out reports/benchmarks/m1_seeds.json]

For every seed s it runs the real stages, as dvc.yaml does, with params.yaml and `model.seed` =
`sft.seed` = s (the model's initialisation and the SFT's data order and dropout): init_model → sft →
own_eft (the held-out own-sample pairs, from this seed's own SFT model) → evaluate, greedy only
(`tts.methods: []`: test-time scaling is not what this measures). The seed the params already
name (model.seed = sft.seed, 0 by default) is the default pipeline's own SFT: `dvc repro sft`
brings it up to date (a no-op when it is) and it is measured from data/models/sft, so the
lineage's M1 is one of the seeds and its training is not paid twice (`--no-lineage` trains it here
too). The report has, per seed, M1's solve rate, every-step-right rate, step arithmetic, held-out
EFT judge, own-pair judge and its position consistency, SFT tokens and seconds; then mean, min,
max and max - min of each over the seeds; the CPU and the machine's matmul speed before and after.
The report is written after every seed; `--resume` keeps every seed it already has (trained with
the same model, sft and prompts params, on the same prepared IFT and EFT tables, whose sha256 the
report records under `prepared`) and runs the --seeds it lacks.
Run one at a time (2 cores): a seed is its SFT (~8 min on an AVX-512 machine, ~27 on an AVX2 one)
plus ~4 minutes of evaluation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from yardstick import cpu, machine, matmul_gflops

from psrlm.metrics import EVAL, SFT
from psrlm.outputs import Outputs

ROOT = Path(__file__).resolve().parents[1]
# The M1 figures compared across seeds: report key ← path in reports/eval/<model>.json.
METRICS = {
    "solve": ("synthetic", "accuracy"),
    "steps_right": ("synthetic", "steps_right_accuracy"),
    "step_arithmetic": ("synthetic", "step_arithmetic"),
    "judge_eft": ("judge", "accuracy"),
    "judge_own": ("judge", "own_accuracy"),
    "own_consistency": ("judge", "own_position_consistency"),
}


def stage(name: str, *args: str) -> None:
    res = subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), *args], cwd=ROOT,
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{name} failed:\n{res.stdout[-1500:]}\n{res.stderr[-1500:]}")


def lineage_sft() -> tuple[Path, Path]:
    """The default pipeline's SFT model and report, brought up to date by DVC."""
    res = subprocess.run(["dvc", "repro", "sft"], cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"dvc repro sft failed:\n{res.stdout[-1500:]}\n{res.stderr[-1500:]}")
    return ROOT / "data/models/sft", ROOT / "reports/sft/metrics.json"


def one_seed(seed: int, params: dict, tmp: Path, prepared: Path, lineage: bool) -> dict:
    lineage = lineage and seed == params["model"]["seed"] == params["sft"]["seed"]
    params = {**params, "model": {**params["model"], "seed": seed}, "sft": {**params["sft"], "seed": seed},
              "tts": {**params["tts"], "methods": []}}
    p = tmp / "params.yaml"
    p.write_text(yaml.safe_dump(params, sort_keys=False))
    ift, eft = str(prepared / "ift_train.parquet"), str(prepared / "eft_train.parquet")
    start = time.time()
    if lineage:
        model, sft_report = lineage_sft()
    else:
        model, sft_report = tmp / "sft", tmp / "sft.json"
        stage("init_model", "--params", str(p), "--ift", ift, "--eft", eft, "--out", str(tmp / "m0"),
              "--report", str(tmp / "init.json"))
        stage("sft", "--params", str(p), "--ift", ift, "--eft", eft, "--model", str(tmp / "m0"),
              "--out", str(model), "--log", str(tmp / "loss.tsv"), "--report", str(sft_report))
    stage("own_eft", "--params", str(p), "--model", str(model), "--problems",
          str(prepared / "judge_test.parquet"), "--out", str(tmp / "own"), "--report", str(tmp / "own.json"))
    stage("evaluate", "--params", str(p), "--model", str(model), "--test", str(prepared / "test.parquet"),
          "--tiers", str(prepared / "tiers"), "--eft", str(prepared / "eft_test.parquet"), "--own-eft", str(tmp / "own/eft.parquet"),
          "--benchmarks", str(prepared / "benchmarks.parquet"), "--out", str(tmp / "eval"),
          "--report", str(tmp / "eval.json"))
    report = EVAL.load(tmp / "eval.json")
    sft = SFT.load(sft_report)
    row = {"seed": seed, "lineage": lineage}
    for key, (section, name) in METRICS.items():
        row[key] = report[section][name]
    tiers = {t: m["accuracy"] for t, m in report["synthetic_by_tier"].items() if t != "base"}
    if tiers:  # prepare.tiers: M1's greedy solve rate on each harder tier's test
        row["solve_by_tier"] = tiers
    row.update(sft_tokens=sft["tokens"], sft_seconds=sft["train_seconds"],
               seconds=None if lineage else round(time.time() - start, 1))
    print(json.dumps(row), flush=True)
    return row


def summary(rows: list[dict]) -> dict:
    out = {}
    for key in METRICS:
        vals = [r[key] for r in rows if r[key] is not None]
        if vals:
            out[key] = {"mean": round(statistics.mean(vals), 4), "min": min(vals), "max": max(vals),
                        "spread": round(max(vals) - min(vals), 4)}
    return out


# The params sections that make an M1 (recorded in the report; a resumed report must match them).
RECIPE = ("model", "sft", "prompts")
# ... and the tables SFT trains on (another prepare, e.g. other corruption_weights, is another
# recipe with the same three sections).
TRAINED_ON = ("ift_train.parquet", "eft_train.parquet")


def prepared_digest(folder: Path) -> dict[str, str]:
    """sha256 of each table SFT reads from prepare's folder."""
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in TRAINED_ON}


def resumed(report: dict, params: dict, prepared: dict[str, str]) -> tuple[list[dict], list[float]]:
    """The seeds and yardstick readings of an earlier report, all of them (a resumed run that adds
    seed 2 keeps 0 and 1), and only if they were trained with `params`' model, sft and prompts
    sections and on the same prepared tables (a report older than that record is taken on its
    params): seeds of two recipes are not one spread."""
    for section in RECIPE:
        if report["params"][section] != params[section]:
            raise ValueError(f"its seeds were trained with other `{section}` params")
    if report.get("prepared", prepared) != prepared:
        raise ValueError("its seeds were trained on other prepared tables (--prepared)")
    return report["seeds"], report["matmul_gflops"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--prepared", type=Path, default=ROOT / "data/prepare", help="prepare's tables")
    ap.add_argument("--out", default="reports/benchmarks/m1_seeds.json")
    ap.add_argument("--no-lineage", action="store_true", help="train the params' own seed here too")
    ap.add_argument("--resume", action="store_true", help="keep the seeds --out already has, run the rest")
    ap.add_argument("--keep", type=Path, help="keep each trained seed's M1 and own pairs in KEEP/seed<s>/ "
                    "(to evaluate them again, e.g. on a larger test)")
    args = ap.parse_args()
    if not (args.prepared / "ift_train.parquet").is_file():
        raise SystemExit(f"{args.prepared}: no prepared tables; run `dvc repro prepare` first")
    params = yaml.safe_load(Path(args.params).read_text())
    prepared = prepared_digest(args.prepared)
    rows, gflops_before = [], []
    if args.resume and Path(args.out).is_file():
        try:
            rows, gflops_before = resumed(json.loads(Path(args.out).read_text()), params, prepared)
        except ValueError as e:
            raise SystemExit(f"{args.out}: {e}; write another --out instead of --resume") from None
    done = {r["seed"] for r in rows}
    planned = sorted(done | set(args.seeds))
    gflops = [*gflops_before, matmul_gflops()]
    for seed in args.seeds:
        if seed in done:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(one_seed(seed, params, Path(tmp), args.prepared,
                                 not args.no_lineage and Path(args.params).resolve() == ROOT / "params.yaml"
                                 and args.prepared.resolve() == ROOT / "data/prepare"))
            if args.keep:
                for name in ("sft", "own", "eval", "sft.json", "eval.json", "loss.tsv"):
                    if (Path(tmp) / name).exists():
                        dest = args.keep / f"seed{seed}" / name
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.move(Path(tmp) / name, dest)
        # Written after every seed (a seed is half an hour on an AVX2 machine): a cut run keeps
        # what it measured, and --resume goes on from it.
        report = {"machine": machine(), "cpu": cpu(), "matmul_gflops": [*gflops, matmul_gflops()],
                  "params": {section: params[section] for section in RECIPE}, "prepared": prepared,
                  # the prepare params that made those tables (e.g. both_wrong_results): a record for
                  # the reader; the tables' digest, not these, is what --resume checks
                  "prepare": params["prepare"],
                  "seeds_planned": planned, "seeds": sorted(rows, key=lambda r: r["seed"]),
                  "summary": summary(rows)}
        with Outputs() as o:
            o.json(args.out, report)
    print(json.dumps(summary(rows), indent=2))


if __name__ == "__main__":
    main()
