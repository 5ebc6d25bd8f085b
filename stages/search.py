"""Stage `search`: one self-rewarding iteration's step-by-step search with self-judging (method.md §5).

M(i) writes w candidate next steps for every prompt of the pool, every ordered pair of distinct
candidates is judged, the best continues the solution and (prefix, best, worst) is left behind.
`search.judge` says who judges: `self`, M(i) itself, greedy (the method); `oracle`, the task's
checker (psrlm.task; on the synthetic task exact, the best a judge could do); `random`, a seeded coin (the worst). Everything
else is identical, and so are the tables. Sampling, tie-breaking and the coin are seeded by
`pipeline.seed`. No gold answer is read by the search; the ground truth of every candidate
(`truth`, `correct`) and of every solution is added afterwards, for audit only (the oracle judge
reads the same checker: that is its definition).

Generation goes through the engine the `engine` params section picks (hf or vllm, psrlm/engine.py).

Data parallel: with N `search.shards`, --shard k searches every N-th prompt of the pool (dvc.yaml
runs one stage per shard, search@<i>-<k>; pairs@<i> merges them).

Reads:  params.yaml [search, prompts, engine, pipeline.seed, prepare.task, pairs.chosen_said_right];
        --model (M(i) folder); --pool (PROBLEMS).
Writes: --out/steps.parquet (SEARCH_STEPS), --out/judgments.parquet (SEARCH_JUDGMENTS),
        --out/solutions.parquet (SEARCH_SOLUTIONS).

Run: dvc repro search@1-0   (or: python stages/search.py --iteration 1 --shard 0 --model data/models/m1
     --pool data/prepare/pools/iter_1.parquet --out data/search/iter_1/shard_0)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

from psrlm import engine, prompts, search
from psrlm.errors import PsrlmError, run
from psrlm.outputs import Outputs
from psrlm.params import Count, load_key, load_section
from psrlm.stagekit import load_generation
from psrlm.tables import (PROBLEMS, SEARCH_JUDGMENTS, SEARCH_SOLUTIONS, SEARCH_STEPS, read_table,
                          write_tables)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--iteration", type=int, required=True)
    ap.add_argument("--shard", type=int, default=0, help="which of the search.shards this run searches")
    ap.add_argument("--model", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    p = load_section(args.params, "search", search.SearchParams)
    if p.judge != "self" and load_key(args.params, "pairs.chosen_said_right", bool):
        # Checked here, before the search's minutes, not only where pairs@i would stop after them.
        raise PsrlmError(f"search.judge: {p.judge} writes no 'A: ... Right.' line, so pairs.chosen_said_right: "
                         f"true would keep no pair; set it false (dvc exp run -S search.judge={p.judge} "
                         "-S pairs.chosen_said_right=false)")
    seed = load_key(args.params, "pipeline.seed", Count)
    templates, the_task, engine_p = load_generation(args.params)

    if args.shard not in p.shards:
        raise PsrlmError(f"--shard {args.shard}: not one of search.shards {list(p.shards)}")
    pool = read_table(args.pool, PROBLEMS)
    pool = (pool.head(p.pool_limit) if p.pool_limit is not None else pool)
    pool = search.shard_of(pool, args.shard, len(p.shards)).collect()
    eng = engine.build(engine_p, args.model, seed)
    solve_t, judge_t = prompts.template(templates.solve), prompts.template(templates.judge)
    label = search.truth_labeler(pool, the_task)

    def solve_prompt(problem: str, steps: list[str]) -> str:
        return prompts.step_context(eng.chat, solve_t, problem, steps)

    cfg = search.SearchConfig(p.width, p.max_loops, p.both_orders, seed, p.multiplicity_weight)
    start = time.time()
    steps, judgments, solutions = search.run_search(
        list(zip(pool["problem_id"], pool["problem"])), search.Bound(eng, p, judge_t, label, seed), cfg,
        solve_prompt)
    it = pl.lit(args.iteration, dtype=pl.Int64)

    def frame(rows: list[dict], schema, added: tuple[str, ...]) -> pl.DataFrame:
        # Declared dtypes even for an empty or all-null column (no judge call, no step kept).
        return pl.DataFrame(rows, schema={c: t for c, t in schema.columns.items() if c not in added})

    steps_df = search.with_truth(frame(steps, SEARCH_STEPS, ("iteration", "truth", "correct")), label)
    sols = frame(solutions, SEARCH_SOLUTIONS, ("iteration", "gold_answer", "correct")).join(
        pool.select("problem_id", "gold_answer"), on="problem_id")
    right = [the_task.answer_right(a, g) for a, g in sols.select("answer", "gold_answer").iter_rows()]
    sols = sols.with_columns(iteration=it, correct=pl.Series(right, dtype=pl.Boolean))
    out = Path(args.out)
    with Outputs() as o:
        write_tables([
            (steps_df.with_columns(iteration=it), out / "steps.parquet", SEARCH_STEPS),
            (frame(judgments, SEARCH_JUDGMENTS, ("iteration",)).with_columns(iteration=it),
             out / "judgments.parquet", SEARCH_JUDGMENTS),
            (sols, out / "solutions.parquet", SEARCH_SOLUTIONS),
        ], o)
    print(f"search ({eng.name}, judge {p.judge}): {len(pool)} prompts, {len(steps)} candidates, {len(judgments)} judge calls, "
          f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    run(main, "search")
