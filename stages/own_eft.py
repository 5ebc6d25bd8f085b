"""Stage `own_eft`: pairwise judge examples from the SFT model's own candidate steps (method.md §3).

The SFT model writes its own solution of every problem step by step, sampling w candidates at
each step and going on with the first (psrlm/owneft.py); the task's checker labels every candidate
relative to the prefix the model wrote (psrlm.task: psrlm.arith.step_truth on the synthetic task),
or, with `own_eft.labels: rollouts`, k completions sampled after it do (Monte-Carlo labels, as
Math-Shepherd's: right when one reaches the gold answer), for data no exact checker covers; the
checker's labels are then kept for the report only (how often the two agree); every step with a right and a
wrong candidate gives up to `own_eft.pairs_per_step` (right, wrong) pairs, each in both orders,
with the target judgment. Run on `judge_train` it is the judge's training data (stage judge_sft);
on `judge_test` the held-out own-sample judge test every model is evaluated on.

Reads:  params.yaml [own_eft, prompts, engine, prepare.task]; --model (the SFT model); --problems (PROBLEMS).
Writes: --out/steps.parquet (OWN_STEPS), --out/eft.parquet (EFT); --report, candidate accuracy,
        steps that give pairs, pairs by the wrong candidate's error, and with rollout labels their
        agreement with the checker (DVC metrics).

Run: dvc repro own_eft@train   (or: python stages/own_eft.py --model data/models/sft
     --problems data/prepare/judge_train.parquet --out data/own_eft/train
     --report reports/own_eft/train.json)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Annotated, Literal
from pathlib import Path

import polars as pl

from psrlm import engine, owneft, prompts
from psrlm.errors import run
from psrlm.outputs import Outputs
from psrlm.params import Count, Positive, Probability, Range, Rate, load_section
from psrlm.stagekit import load_generation
from psrlm.tables import EFT, OWN_STEPS, PROBLEMS, read_table, write_tables


@dataclass(frozen=True)
class OwnEftParams:
    seed: Count
    width: Annotated[int, Range(ge=2)]  # a pair needs two candidates
    temperature: Rate  # sampling: greedy would write one candidate
    top_p: Probability
    max_step_tokens: Positive
    pairs_per_step: Positive
    labels: Literal["checker", "rollouts"]
    rollouts: Annotated[int, Range(ge=1)]
    rollout_max_tokens: Positive


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
    # An unknown task or judge prompt fails before the model loads.
    templates, the_task, engine_p = load_generation(args.params)

    table = read_table(args.problems, PROBLEMS).collect()
    problems = {r["problem_id"]: r for r in table.iter_rows(named=True)}
    eng = engine.build(engine_p, args.model, p.seed)
    solve_t = prompts.template(templates.solve)
    sp = engine.Sampling(p.temperature, p.top_p, p.max_step_tokens, ("\n",))

    start = time.time()
    rows = owneft.rollouts(
        [(pid, q["problem"], the_task.max_steps(q)) for pid, q in problems.items()],
        lambda ps, n, seed: eng.generate(ps, n, sp, seed, "sample"), p.width, p.seed,
        lambda text, steps: prompts.step_context(eng.chat, solve_t, text, steps))
    for r in rows:
        r["truth"] = the_task.step_truth(problems[r["problem_id"]], r["prefix_steps"], r["text"])
        r["correct"] = r["truth"] == "correct"
    agreement = None
    if p.labels == "rollouts":
        # k completions after every candidate, one batch; the checker's labels only measure them.
        roll_sp = engine.Sampling(p.temperature, p.top_p, p.rollout_max_tokens, ())
        finals = [prompts.is_final(r["text"]) for r in rows]
        todo = [i for i, f in enumerate(finals) if not f]
        outs = eng.generate([eng.chat(prompts.solve_prompt(solve_t, problems[rows[i]["problem_id"]]["problem"]),
                                      "".join(s + "\n" for s in rows[i]["prefix_steps"] + [rows[i]["text"]]))
                             for i in todo], p.rollouts, roll_sp, p.seed, "rollouts")
        completions = [[""] * p.rollouts for _ in rows]
        for i, o in zip(todo, outs):
            completions[i] = o
        labels = owneft.rollout_labels([(r["text"], f) for r, f in zip(rows, finals)], completions,
                                       [problems[r["problem_id"]]["gold_answer"] for r in rows], the_task.answer_right)
        agreement = sum((t == "correct") == r["correct"] for (t, _), r in zip(labels, rows))
        for r, (t, _) in zip(rows, labels):
            r["truth"], r["correct"] = t, t == "correct"
    steps = pl.DataFrame(rows, schema=OWN_STEPS.polars_schema())
    eft = pl.DataFrame(owneft.own_pairs(rows, problems, p.pairs_per_step, p.seed,
                                        f"own:{Path(args.model).name}", the_task),
                       schema=EFT.polars_schema())
    out = Path(args.out)
    metrics = report(steps, eft, len(problems)) | {"seconds": round(time.time() - start, 1), "labels": p.labels}
    if agreement is not None:  # rollout labels against the task's checker, candidate by candidate
        metrics["rollout_checker_agreement"] = round(agreement / len(rows), 4) if rows else None
    with Outputs() as o:
        write_tables([(steps, out / "steps.parquet", OWN_STEPS), (eft, out / "eft.parquet", EFT)], o)
        o.json(args.report, metrics)
    print(f"own_eft ({eng.name}): {metrics}")


if __name__ == "__main__":
    run(main, "own_eft")
