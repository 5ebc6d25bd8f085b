"""Stage `search`: one self-rewarding iteration's step-by-step search with self-judging (method.md §5).

M(i) writes w candidate next steps for every prompt of the pool, judges every ordered pair of
distinct candidates itself (greedy), continues with the best and leaves (prefix, best, worst) behind.
No gold answer is read by the search; the gold columns are joined afterwards, for audit only.

Generation goes through the engine the `engine` params section picks (hf or vllm, psrlm/engine.py).

Reads:  params.yaml [search, prompts, engine]; --model (M(i) folder); --pool (PROBLEMS).
Writes: --out/steps.parquet (SEARCH_STEPS), --out/judgments.parquet (SEARCH_JUDGMENTS),
        --out/solutions.parquet (SEARCH_SOLUTIONS).

Run: dvc repro search@1   (or: python stages/search.py --model data/models/m1 --pool ... --out ...)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from psrlm import arith, engine, prompts, search
from psrlm.errors import run
from psrlm.params import ParamsError, PromptsParams, load_section
from psrlm.tables import (PROBLEMS, SEARCH_JUDGMENTS, SEARCH_SOLUTIONS, SEARCH_STEPS, read_table,
                          write_tables)


@dataclass(frozen=True)
class SearchParams:
    seed: int
    width: int
    temperature: float
    top_p: float
    max_step_tokens: int
    max_judge_tokens: int
    max_loops: int
    both_orders: bool
    pool_limit: int | None

    def check(self) -> None:
        if self.width < 2:
            raise ParamsError("search: width must be at least 2")


def step_truth(steps: pl.DataFrame, pool: pl.DataFrame) -> pl.DataFrame:
    """Ground truth of every candidate (audit only; the search never sees it): does it apply the
    problem's operation for its step to the value the previous chosen step claims, correctly? A
    step after an unreadable step, or past the problem's last operation, is not correct."""
    gold = {r["problem_id"]: r for r in pool.iter_rows(named=True)}
    truth = []
    for r in steps.iter_rows(named=True):
        g, k = gold[r["problem_id"]], r["step_idx"]
        prev = g["start"]
        if k > 1:
            last = arith.parse_step(r["prompt"].rstrip("\n").rsplit("\n", 1)[-1])
            prev = None if last is None else last.c
        if prev is None or k > len(g["ops"]):
            truth.append(False)
            continue
        truth.append(arith.check_step(r["text"], k, prev, g["ops"][k - 1], g["operands"][k - 1],
                                      final=k == len(g["ops"])) == "correct")
    return steps.with_columns(correct=pl.Series(truth, dtype=pl.Boolean))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--iteration", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    p = load_section(args.params, "search", SearchParams)
    templates = load_section(args.params, "prompts", PromptsParams)
    engine_p = load_section(args.params, "engine", engine.EngineParams)

    pool = read_table(args.pool, PROBLEMS)
    pool = (pool.head(p.pool_limit) if p.pool_limit is not None else pool).collect()
    eng = engine.build(engine_p, args.model, p.seed)
    solve_t, judge_t = prompts.template(templates.solve), prompts.template(templates.judge)

    def solve_prompt(problem: str, steps: list[str]) -> str:
        return eng.chat(prompts.solve_prompt(solve_t, problem), "".join(s + "\n" for s in steps))

    def judge_prompt(problem: str, steps: list[str], a: str, b: str) -> str:
        return eng.chat(prompts.judge_prompt(judge_t, problem, steps, a, b))

    sample_sp = engine.Sampling(p.temperature, p.top_p, p.max_step_tokens, ("\n",))
    judge_sp = engine.Sampling(0.0, 1.0, p.max_judge_tokens, ())

    class Bound:  # the search's two engine calls, with this iteration's sampling settings
        def sample(self, prompts_, n, seed):
            return eng.generate(prompts_, n, sample_sp, seed)

        def judge(self, prompts_):
            return [o[0] for o in eng.generate(prompts_, 1, judge_sp, p.seed)]

    cfg = search.SearchConfig(p.width, p.max_loops, p.both_orders, p.seed)
    start = time.time()
    steps, judgments, solutions = search.run_search(
        list(zip(pool["problem_id"], pool["problem"])), Bound(), cfg, solve_prompt, judge_prompt)
    it = pl.lit(args.iteration, dtype=pl.Int64)

    def frame(rows: list[dict], schema, added: tuple[str, ...]) -> pl.DataFrame:
        # Declared dtypes even for an empty or all-null column (no judge call, no step kept).
        return pl.DataFrame(rows, schema={c: t for c, t in schema.columns.items() if c not in added})

    steps_df = step_truth(frame(steps, SEARCH_STEPS, ("iteration", "correct")), pool)
    sols = frame(solutions, SEARCH_SOLUTIONS, ("iteration", "gold_answer", "correct")).join(
        pool.select("problem_id", "gold_answer"), on="problem_id")
    sols = sols.with_columns(iteration=it, correct=(pl.col("answer") == pl.col("gold_answer")).fill_null(False))
    out = Path(args.out)
    write_tables([
        (steps_df.with_columns(iteration=it), out / "steps.parquet", SEARCH_STEPS),
        (frame(judgments, SEARCH_JUDGMENTS, ("iteration",)).with_columns(iteration=it),
         out / "judgments.parquet", SEARCH_JUDGMENTS),
        (sols, out / "solutions.parquet", SEARCH_SOLUTIONS),
    ])
    print(f"search ({eng.name}): {len(pool)} prompts, {len(steps)} candidates, {len(judgments)} judge calls, "
          f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    run(main, "search")
