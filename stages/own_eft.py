"""Stage `own_eft`: pairwise judge examples from the SFT model's own candidate steps (method.md §3).

The SFT model writes its own solution of every problem step by step, sampling w candidates at
each step and going on with the first (psrlm/owneft.py); the exact checker labels every candidate
relative to the prefix the model wrote (psrlm.arith.step_truth); every step with a right and a
wrong candidate gives up to `own_eft.pairs_per_step` (right, wrong) pairs, each in both orders,
with the target judgment. Run on `judge_train` it is the judge's training data (stage judge_sft);
on `judge_test` the held-out own-sample judge test every model is evaluated on.

Reads:  params.yaml [own_eft, prompts, engine]; --model (the SFT model); --problems (PROBLEMS).
Writes: --out/steps.parquet (OWN_STEPS), --out/eft.parquet (EFT); --report, candidate accuracy,
        steps that give pairs, pairs by the wrong candidate's error (DVC metrics).

Run: dvc repro own_eft@train   (or: python stages/own_eft.py --model data/models/sft
     --problems data/prepare/judge_train.parquet --out data/own_eft/train
     --report reports/own_eft/train.json)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Annotated
from pathlib import Path

import polars as pl

from psrlm import arith, engine, owneft, prompts
from psrlm.errors import run
from psrlm.outputs import Outputs
from psrlm.params import Count, Positive, Probability, PromptsParams, Range, Rate, load_section
from psrlm.tables import EFT, OWN_STEPS, PROBLEMS, read_table, write_tables


@dataclass(frozen=True)
class OwnEftParams:
    seed: Count
    width: Annotated[int, Range(ge=2)]  # a pair needs two candidates
    temperature: Rate  # sampling: greedy would write one candidate
    top_p: Probability
    max_step_tokens: Positive
    pairs_per_step: Positive


def report(steps: pl.DataFrame, eft: pl.DataFrame, n_problems: int) -> dict:
    by_step = steps.group_by("problem_id", "step_idx").agg(
        right=pl.col("correct").any(), wrong=(~pl.col("correct")).any())
    return {
        "problems": n_problems,
        "candidates": steps.height,
        "candidate_accuracy": round(float(steps["correct"].mean()), 4) if steps.height else None,
        "steps": by_step.height,
        "steps_with_pairs": by_step.filter(pl.col("right") & pl.col("wrong")).height,
        "steps_all_wrong": by_step.filter(~pl.col("right")).height,
        "pair_rows": eft.height,
        "wrong_by_kind": dict(sorted(eft.group_by("origin").len().iter_rows())),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--model", required=True)
    ap.add_argument("--problems", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()
    p = load_section(args.params, "own_eft", OwnEftParams)
    templates = load_section(args.params, "prompts", PromptsParams)
    engine_p = load_section(args.params, "engine", engine.EngineParams)
    judgment = arith.judgment_for(templates.judge)  # an unknown prompt fails before the model loads

    table = read_table(args.problems, PROBLEMS).collect()
    problems = {r["problem_id"]: arith.Problem(r["start"], tuple(r["ops"]), tuple(r["operands"]),
                                               r["problem"])
                for r in table.iter_rows(named=True)}
    eng = engine.build(engine_p, args.model, p.seed)
    solve_t = prompts.template(templates.solve)
    sp = engine.Sampling(p.temperature, p.top_p, p.max_step_tokens, ("\n",))

    start = time.time()
    rows = owneft.rollouts(
        [(pid, q.text, len(q.ops)) for pid, q in problems.items()],
        lambda ps, n, seed: eng.generate(ps, n, sp, seed, "sample"), p.width, p.seed,
        lambda text, steps: eng.chat(prompts.solve_prompt(solve_t, text), "".join(s + "\n" for s in steps)))
    for r in rows:
        q = problems[r["problem_id"]]
        r["truth"] = arith.step_truth(r["text"], r["prefix_steps"], q.start, list(q.ops), list(q.operands))
        r["correct"] = r["truth"] == "correct"
    steps = pl.DataFrame(rows, schema=OWN_STEPS.polars_schema())
    eft = pl.DataFrame(owneft.own_pairs(rows, problems, p.pairs_per_step, p.seed,
                                        f"own:{Path(args.model).name}", judgment),
                       schema=EFT.polars_schema())
    out = Path(args.out)
    metrics = report(steps, eft, len(problems)) | {"seconds": round(time.time() - start, 1)}
    with Outputs() as o:
        write_tables([(steps, out / "steps.parquet", OWN_STEPS), (eft, out / "eft.parquet", EFT)], o)
        o.json(args.report, metrics)
    print(f"own_eft ({eng.name}): {metrics}")


if __name__ == "__main__":
    run(main, "own_eft")
