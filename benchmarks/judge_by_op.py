"""Benchmark: the step judge on a model's own held-out candidates, per operation (issue 28: a judge
whose check is easier than the step must be right on the operations where the solver is weak).

    python benchmarks/judge_by_op.py --own <own_eft>/eft.parquet --judged <evaluate --out>/judge_own.parquet \
        [--label judge_v4-seed0] [--out reports/benchmarks/judge_by_op.jsonl]

Synthetic task only: a pair's operation is the one its right candidate applies (both candidates of
an own pair start from the same prefix, so they share it). Per operation and overall: pairs, the
judge's accuracy, by the right step's position (A / B), unreadable verdicts and position
consistency, each by psrlm.metrics.own_judge (one definition with evaluate's report). Appends one
JSON line per run to --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl

from psrlm import arith
from psrlm.metrics import own_judge
from psrlm.tables import EFT, EVAL_JUDGE, read_table


def op_of(row: dict) -> str:
    right = row["candidate_a"] if row["better"] == "A" else row["candidate_b"]
    step = arith.parse_step(right)
    if step is None:
        raise SystemExit(f"{row['pair_id']}: the right candidate {right!r} is not a synthetic step")
    return step.op


def by_op(own: pl.DataFrame, judged: pl.DataFrame) -> dict:
    own = own.with_columns(op=pl.Series([op_of(r) for r in own.iter_rows(named=True)], dtype=pl.String))
    judged = judged.join(own.select("pair_id", "op"), on="pair_id")
    out = {"all": own_judge(own, judged.drop("op"))}
    for op in arith.OPS:
        o, j = own.filter(pl.col("op") == op), judged.filter(pl.col("op") == op)
        if len(j):
            out[op] = own_judge(o, j.drop("op"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--own", required=True, help="own_eft's eft.parquet (EFT)")
    ap.add_argument("--judged", required=True, help="evaluate's judge_own.parquet (EVAL_JUDGE)")
    ap.add_argument("--label", default="")
    ap.add_argument("--out", default="reports/benchmarks/judge_by_op.jsonl")
    args = ap.parse_args()
    own, judged = read_table(args.own, EFT).collect(), read_table(args.judged, EVAL_JUDGE).collect()
    own = own.filter(pl.col("pair_id").is_in(judged["pair_id"].implode()))  # evaluate may cap the pairs
    row = {"label": args.label, "by_op": by_op(own, judged)}
    for op, m in row["by_op"].items():
        print(f"{op:>4} n={m['own_n']:4d} accuracy={m['own_accuracy']} A={m['own_accuracy_a']} "
              f"B={m['own_accuracy_b']} invalid={m['own_invalid']} consistency={m['own_position_consistency']}")
    with Path(args.out).open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
