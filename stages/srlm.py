"""Stage `srlm`: one iteration of the outcome-based SRLM baseline (Yuan et al. 2024; paper Table 1).

For every prompt of the pool (the same pools as the process-based chain), M(i) samples N whole
solutions, then scores each one itself, greedy, with the 0-5 additive rubric prompt (prompts.score,
psrlm/outcome.py; psrlm.tts.self_scores, as test-time best-of-w does); the highest and the lowest
valid score make the iteration's pair (psrlm.search.pick, as the step search picks: ties broken by
a seeded order; no pair when every valid score ties or fewer than two are valid; the pairs are
psrlm.pairs.outcome_pairs, rebuilt and checked from the samples before srlm_dpo trains). An unreadable
score is counted (`score_status`), never read as a score. The pairs go to the same `dpo` stage as
the process-based chain's, as one "step" each (step_idx 1: the whole solution, EOS after a boxed
answer). The ground truth of every sample (its rubric score and whether it is right step by step)
is added for audit only; no stage choice reads it.

Reads:  params.yaml [srlm, prompts, engine, pipeline.seed, prepare.task]; --model (M(i) folder);
        --pool (PROBLEMS).
Writes: --out/samples.parquet (OUTCOME_SAMPLES), --out/pairs.parquet (PAIRS); --report, the audit:
        score accuracy against the ground truth, judge accuracy on the model's own right-vs-wrong
        samples, pair precision, invalid scores (DVC metrics; keys: psrlm.metrics.SRLM).

Run: dvc repro srlm@1
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from psrlm import engine, prompts, search, tts
from psrlm.errors import run
from psrlm.metrics import SRLM, pair_precision, share
from psrlm.pairs import outcome_pairs
from psrlm.outputs import Outputs
from psrlm.params import Count, NonNegative, Positive, Probability, load_key, load_section
from psrlm.stagekit import load_generation
from psrlm.tables import OUTCOME_SAMPLES, PAIRS, PROBLEMS, read_table, write_tables


@dataclass(frozen=True)
class SrlmParams:
    samples: Positive
    temperature: NonNegative
    top_p: Probability
    max_new_tokens: Positive
    max_judge_tokens: Positive
    pool_limit: Positive | None  # 0 would sample nothing: refused (null = the whole pool)
    models_to_evaluate: tuple[str, ...]


def audit(samples: pl.DataFrame, pairs: pl.DataFrame) -> dict:
    """What the self-scores were worth, from the ground truth."""
    valid = samples.filter(pl.col("score").is_not_null())
    # Every (right, wrong) couple of one prompt's samples with valid scores: the judge is right when
    # it scores the right one higher (the outcome counterpart of the process judge's own-pair accuracy).
    right = valid.filter(pl.col("correct")).select("problem_id", hi="score")
    wrong = valid.filter(~pl.col("correct")).select("problem_id", lo="score")
    couples = right.join(wrong, on="problem_id")
    return {
        "prompts": samples["problem_id"].n_unique(), "samples": samples.height, "judge_calls": samples.height,
        "sample_accuracy": share(int(samples["correct"].sum()), samples.height),
        "invalid_scores": samples.height - valid.height,
        "invalid_by_reason": dict(sorted(samples.filter(pl.col("score").is_null())
                                         .group_by("score_status").len().iter_rows())),
        "score_accuracy": share(int((valid["score"] == valid["truth_score"]).sum()), valid.height),
        "scores": {str(k): v for k, v in sorted(valid.group_by("score").len().iter_rows())},
        "judge_accuracy_self": share(int((couples["hi"] > couples["lo"]).sum()), couples.height),
        "judge_self_pairs": couples.height,
        "pairs": pairs.height, "pairs_per_prompt": share(pairs.height, samples["problem_id"].n_unique()),
        "pair_precision": pair_precision(pairs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--iteration", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()
    p = load_section(args.params, "srlm", SrlmParams)
    templates, the_task, engine_p = load_generation(args.params)
    seed = load_key(args.params, "pipeline.seed", Count)
    pool = read_table(args.pool, PROBLEMS)
    pool = (pool.head(p.pool_limit) if p.pool_limit is not None else pool).collect()

    eng = engine.build(engine_p, args.model, seed)
    solve_t, score_t = prompts.template(templates.solve), prompts.template(templates.score)
    start = time.time()
    solve_prompts = [eng.chat(prompts.solve_prompt(solve_t, q)) for q in pool["problem"]]
    texts = eng.generate(solve_prompts, p.samples, engine.Sampling(p.temperature, p.top_p, p.max_new_tokens, ()),
                         seed, "sample")
    rows = []
    for r, prompt, sols in zip(pool.iter_rows(named=True), solve_prompts, texts):
        for k, text in enumerate(sols):
            text = text.strip()
            truth = the_task.rubric(r, text)
            rows.append({"problem_id": r["problem_id"], "problem": r["problem"], "sample_idx": k, "prompt": prompt,
                         "text": text, "answer": prompts.final_answer(text), "is_final": prompts.is_final(text),
                         "truth_score": truth.score,
                         "correct": the_task.solution_right(r, text)})
    groups = [rows[i:i + p.samples] for i in range(0, len(rows), p.samples)]  # one prompt's N samples
    scored = tts.self_scores(eng, [g[0]["problem"] for g in groups], [[x["text"] for x in g] for g in groups],
                                 score_t, p.max_judge_tokens, seed)
    for group, judged in zip(groups, scored):
        for x, (j, score, status) in zip(group, judged):
            x["judgment"], x["score"], x["score_status"] = j, score, status
        order = search.tie_order(seed, group[0]["problem_id"], 0, len(group))
        chosen, rejected = search.pick([x["score"] for x in group], order)
        for k, x in enumerate(group):
            x["chosen"], x["rejected"] = k == chosen, k == rejected
    schema = {c: t for c, t in OUTCOME_SAMPLES.columns.items() if c != "iteration"}
    samples = pl.DataFrame([{c: x[c] for c in schema} for x in rows], schema=schema).with_columns(
        iteration=pl.lit(args.iteration, pl.Int64))
    pairs = outcome_pairs(samples)
    report = audit(samples, pairs) | {"seconds": round(time.time() - start, 1)}
    out = Path(args.out)
    with Outputs() as o:
        write_tables([(samples, out / "samples.parquet", OUTCOME_SAMPLES), (pairs, out / "pairs.parquet", PAIRS)], o)
        o.json(args.report, SRLM.check(report, args.report))
    print(f"srlm ({eng.name}): {len(pool)} prompts, {samples.height} samples, {report['invalid_scores']} "
          f"invalid scores, score accuracy {report['score_accuracy']}, {pairs.height} pairs, "
          f"precision {report['pair_precision']}, {report['seconds']} s")


if __name__ == "__main__":
    run(main, "srlm")
