"""Stage `evaluate`: greedy accuracy of one model on the held-out synthetic test and on the six
benchmarks, and its judge accuracy on the held-out EFT pairs (method.md §7) and on the held-out
own-sample pairs (the SFT model's own right and wrong steps, both orders; stage own_eft@test).

Difficulty tiers (prepare.tiers): every tier's held-out test in --tiers (<tier>.parquet; the folder
is empty without tiers) is solved greedily too, rows marked by `tier` in solve.parquet (the test's
rows are tier `base`), and gets its own test-time scaling.

Test-time scaling (paper Table 5, psrlm/tts.py): on the first `tts.test_limit` problems of the test
and of each tier (and the `tts.benchmark_limits` rows), the step search with the model's own judge
(`self`), with the exact checker (`oracle`) and majority voting over w sampled solutions
(`majority`), each graded like greedy and costed in judge calls and generated tokens. With
`--judge score` the model is the outcome-based SRLM baseline's: its judge is measured on held-out
whole-solution scores (--score-eft, SCORE_EFT) instead of step pairs, and its `self` is the best
of w by its own score.

The answer is the last \\boxed{} of the greedy solution. Synthetic gold answers are integers,
compared exactly; benchmark answers are graded by mathematical equivalence (math-verify in worker
processes under a time limit, psrlm/grade.py), each row with a status. The verdict is read from
[[A]]/[[B]]; an unparseable judgment counts as wrong and is counted separately, never read as a
verdict.

Reads:  params.yaml [evaluate, tts, prompts, engine]; --model (HF folder); --test (PROBLEMS); --tiers
        (a folder of PROBLEMS); --eft (EFT); --own-eft (EFT); --benchmarks (BENCHMARKS); with --judge
        score: --score-eft (SCORE_EFT) instead of --eft and --own-eft.
Writes: --out/solve.parquet (EVAL_SOLVE), --out/judge.parquet and --out/judge_own.parquet (EVAL_JUDGE),
        --out/benchmarks.parquet (EVAL_BENCHMARK), --out/tts.parquet (EVAL_TTS); with --judge score
        --out/judge_score.parquet (EVAL_SCORE) instead of the two judge tables; --report, the metrics JSON
        (DVC metrics) whose keys psrlm/metrics.py declares (EVAL; EVAL_SCORE with --judge score):
        accuracy on the test and per tier, judge accuracy (on own pairs too, with position
        consistency), benchmarks, test-time scaling per method with its cost and `tts.gap`.

Run: dvc repro evaluate@m1   (or: python stages/evaluate.py --model data/models/m1 ...)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from psrlm import grade, metrics, outcome, prompts, search, task, tts
from psrlm.errors import PsrlmError, run
from psrlm.engine import EngineParams, Sampling, build
from psrlm.outputs import Outputs
from psrlm.params import Count, Positive, PromptsParams, Rate, TaskName, load_key, load_section
from psrlm.tables import (BENCHMARKS, EFT, EVAL_BENCHMARK, EVAL_JUDGE, EVAL_SCORE, EVAL_SOLVE, EVAL_TTS,
                          PROBLEMS, SCORE_EFT, read_table, write_tables)


@dataclass(frozen=True)
class EvaluateParams:
    test_limit: Count | None
    eft_limit: Count | None
    own_eft_limit: Count | None
    max_new_tokens_solve: Positive
    max_new_tokens_judge: Positive
    max_new_tokens_score: Positive
    benchmark_limits: dict[str, Count | None]
    max_new_tokens_benchmark: Positive
    grade_seconds: Rate
    grade_workers: Positive


def answer_statuses(answers: list[str | None], golds: list[str], the_task) -> pl.Series:
    """no_answer | correct | wrong, by the task's answer check (exact for synthetic integers,
    numeric for real data: `1,080` is `1080`)."""
    return pl.Series(["no_answer" if a is None else "correct" if the_task.answer_right(a, g) else "wrong"
                      for a, g in zip(answers, golds)], dtype=pl.String)


def score_solutions(test: pl.DataFrame, outputs: list[str], the_task, tier: str = "base") -> pl.DataFrame:
    answers = [prompts.final_answer(o) for o in outputs]
    rows = list(test.iter_rows(named=True))
    steps_right = [the_task.solution_right(r, o) for o, r in zip(outputs, rows)]
    arithmetic = [the_task.arithmetic_right(o) for o in outputs]
    return test.select("problem_id", "gold_answer").with_columns(
        tier=pl.lit(tier, dtype=pl.String),
        output=pl.Series(outputs, dtype=pl.String), answer=pl.Series(answers, dtype=pl.String),
        steps_right=pl.Series(steps_right, dtype=pl.Boolean),
        arithmetic_right=pl.Series([r for r, _ in arithmetic], dtype=pl.Int64),
        steps_written=pl.Series([n for _, n in arithmetic], dtype=pl.Int64),
        status=answer_statuses(answers, test["gold_answer"].to_list(), the_task))


def score_benchmarks(bench: pl.DataFrame, outputs: list[str], seconds: float, workers: int) -> pl.DataFrame:
    answers = [prompts.final_answer(o) for o in outputs]
    statuses = grade.grade(bench["gold_answer"].to_list(), answers, seconds, workers)
    return bench.select("benchmark", "id", "gold_answer").with_columns(
        output=pl.Series(outputs, dtype=pl.String), answer=pl.Series(answers, dtype=pl.String),
        status=pl.Series(statuses, dtype=pl.String))


def score_judgments(eft: pl.DataFrame, outputs: list[str]) -> pl.DataFrame:
    parsed = [prompts.parse_verdict(o) for o in outputs]
    return eft.select("pair_id", "better").with_columns(
        output=pl.Series(outputs, dtype=pl.String),
        verdict=pl.Series([v for v, _ in parsed], dtype=pl.String),
        verdict_status=pl.Series([r for _, r in parsed], dtype=pl.String),
    ).with_columns(correct=(pl.col("verdict") == pl.col("better")).fill_null(False))


def score_judgments_of(score_eft: pl.DataFrame, outputs: list[str]) -> pl.DataFrame:
    """A score judge's outputs on held-out SCORE_EFT solutions, read back (never coerced)."""
    parsed = [outcome.parse_score(o) for o in outputs]
    return score_eft.select("example_id", truth_score="score").with_columns(
        output=pl.Series(outputs, dtype=pl.String),
        score=pl.Series([v for v, _ in parsed], dtype=pl.Int64),
        score_status=pl.Series([r for _, r in parsed], dtype=pl.String),
    ).with_columns(correct=(pl.col("score") == pl.col("truth_score")).fill_null(False))


def tts_frame(rows: list[dict], source: str, gold: dict[str, str | None], the_task) -> pl.DataFrame:
    """Test-time scaling rows of one source with their gold answers and the task's statuses
    (benchmark rows are graded again by equivalence after this)."""
    schema = {c: t for c, t in EVAL_TTS.columns.items() if c not in ("source", "gold_answer", "status", "correct")}
    df = pl.DataFrame(rows, schema=schema).with_columns(
        source=pl.lit(source), gold_answer=pl.col("problem_id").replace_strict(gold, return_dtype=pl.String))
    return df.with_columns(status=answer_statuses(df["answer"].to_list(), df["gold_answer"].to_list(), the_task)
                           ).with_columns(correct=pl.col("status") == "correct")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--model", required=True)
    ap.add_argument("--judge", choices=("step", "score"), default="step",
                    help="the model's judge: pairwise steps (the method) or 0-5 whole-solution scores (SRLM)")
    ap.add_argument("--test", default="data/prepare/test.parquet")
    ap.add_argument("--tiers", default="data/prepare/tiers",
                    help="folder of the other tiers' held-out tests (<tier>.parquet, PROBLEMS; may be empty)")
    ap.add_argument("--eft", default="data/prepare/eft_test.parquet")
    ap.add_argument("--own-eft", default="data/own_eft/test/eft.parquet")
    ap.add_argument("--score-eft", default="data/prepare/score_eft_test.parquet")
    ap.add_argument("--benchmarks", default="data/prepare/benchmarks.parquet")
    ap.add_argument("--out", required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()
    p = load_section(args.params, "evaluate", EvaluateParams)
    tp = load_section(args.params, "tts", tts.TtsParams)
    templates = load_section(args.params, "prompts", PromptsParams)
    the_task = task.for_name(load_key(args.params, "prepare.task", TaskName), templates.judge)
    engine_p = load_section(args.params, "engine", EngineParams)

    test = read_table(args.test, PROBLEMS)
    test = (test.head(p.test_limit) if p.test_limit is not None else test).collect()
    tier_dir = Path(args.tiers)
    if not tier_dir.is_dir():
        raise PsrlmError(f"{tier_dir}: tiers folder not found (prepare writes it, empty without prepare.tiers)")
    tier_tests = {f.stem: read_table(f, PROBLEMS).collect() for f in sorted(tier_dir.glob("*.parquet"))}
    if args.judge == "step":
        eft = read_table(args.eft, EFT)
        eft = (eft.head(p.eft_limit) if p.eft_limit is not None else eft).collect()
        own = read_table(args.own_eft, EFT)  # sorted by pair_id: both orders of a pair stay together
        own = (own.head(p.own_eft_limit) if p.own_eft_limit is not None else own).collect()
    else:
        score_eft = read_table(args.score_eft, SCORE_EFT)
        score_eft = (score_eft.head(p.eft_limit) if p.eft_limit is not None else score_eft).collect()
    bench_all = read_table(args.benchmarks, BENCHMARKS)
    present = set(bench_all.select("benchmark").unique().collect()["benchmark"])
    for key, limits in (("evaluate.benchmark_limits", p.benchmark_limits), ("tts.benchmark_limits", tp.benchmark_limits)):
        unknown = sorted(set(limits) - present)
        if unknown:
            raise PsrlmError(f"{key}: {', '.join(unknown)} not in {args.benchmarks} "
                             f"(it has {', '.join(sorted(present))})")

    def first_rows(limits: dict[str, int | None]) -> pl.DataFrame:
        # The first `limit` rows of each benchmark, in its published order (null = all of them).
        return pl.concat([bench_all.filter(pl.col("benchmark") == name).head(limit) if limit is not None
                          else bench_all.filter(pl.col("benchmark") == name) for name, limit in limits.items()],
                         how="vertical").collect() if limits else pl.DataFrame(schema=BENCHMARKS.polars_schema())

    bench = first_rows(p.benchmark_limits)
    engine = build(engine_p, args.model)
    solve_t, judge_t = prompts.template(templates.solve), prompts.template(templates.judge)
    score_t = prompts.template(templates.score)

    def greedy(users: list[str], max_tokens: int, desc: str) -> list[str]:
        sp = Sampling(0.0, 1.0, max_tokens, ())
        return [o[0] for o in engine.generate([engine.chat(u) for u in users], 1, sp, 0, desc)]

    start = time.time()
    solve_out = greedy([prompts.solve_prompt(solve_t, q) for q in test["problem"]],
                       p.max_new_tokens_solve, "solve")
    tier_out = {name: greedy([prompts.solve_prompt(solve_t, q) for q in t["problem"]],
                             p.max_new_tokens_solve, f"solve {name}") for name, t in tier_tests.items()}

    def judge(pairs: pl.DataFrame, desc: str) -> list[str]:
        return greedy([prompts.judge_prompt(judge_t, r["problem"], r["prefix_steps"], r["candidate_a"],
                                            r["candidate_b"]) for r in pairs.iter_rows(named=True)],
                      p.max_new_tokens_judge, desc)

    if args.judge == "step":
        judge_out, own_out = judge(eft, "judge"), judge(own, "judge own")
    else:
        score_out = greedy([prompts.score_prompt(score_t, r["problem"], r["solution"])
                            for r in score_eft.iter_rows(named=True)], p.max_new_tokens_score, "score")
    bench_out = greedy([prompts.solve_prompt(solve_t, q) for q in bench["question"]],
                       p.max_new_tokens_benchmark, "benchmarks")
    generation = time.time() - start

    # Test-time scaling on the first tts.test_limit problems of the test and of every tier, greedy's
    # answers beside it: self - greedy against oracle - greedy is the generation-verification gap.
    start = time.time()
    kw = {"judge_kind": args.judge, "solve_t": solve_t, "judge_t": judge_t, "score_t": score_t}

    def scaled(problems: pl.DataFrame, greedy_out: list[str], source: str) -> pl.DataFrame:
        first = problems.head(tp.test_limit) if tp.test_limit is not None else problems
        rows = tts.run(engine, tp, list(zip(first["problem_id"], first["problem"])),
                       label=search.truth_labeler(first, the_task), **kw) if tp.methods and first.height else []
        rows += tts.greedy_rows(engine, first["problem_id"], greedy_out)  # zip: the first rows
        return tts_frame(rows, source, dict(zip(first["problem_id"], first["gold_answer"])), the_task)

    frames = [scaled(test, solve_out, "synthetic"),
              *(scaled(t, tier_out[name], f"{metrics.TIER}{name}") for name, t in tier_tests.items())]
    tts_bench = first_rows(tp.benchmark_limits)
    for (name,), g in sorted(tts_bench.group_by("benchmark")) if tp.methods else []:
        # Benchmarks have no step checker: self and majority only, graded by equivalence.
        brows = tts.run(engine, tp, list(zip(g["id"], g["question"])), **kw)
        f = tts_frame(brows, name, dict(zip(g["id"], g["gold_answer"])), the_task)
        statuses = grade.grade(f["gold_answer"].to_list(), f["answer"].to_list(), p.grade_seconds, p.grade_workers)
        frames.append(f.with_columns(status=pl.Series(statuses, dtype=pl.String))
                      .with_columns(correct=pl.col("status") == "correct"))
    tts_df = pl.concat(frames, how="vertical")
    tts_seconds = time.time() - start

    solve = pl.concat([score_solutions(test, solve_out, the_task),
                       *(score_solutions(t, tier_out[name], the_task, name) for name, t in tier_tests.items())])
    scored = score_benchmarks(bench, bench_out, p.grade_seconds, p.grade_workers)
    out = Path(args.out)
    if args.judge == "step":
        judged, judged_own = score_judgments(eft, judge_out), score_judgments(own, own_out)
        report = {**metrics.solve_by_tier(solve), "judge": metrics.step_judge(judged) | metrics.own_judge(own, judged_own)}
        tables = [(judged, out / "judge.parquet", EVAL_JUDGE), (judged_own, out / "judge_own.parquet", EVAL_JUDGE)]
    else:
        judged = score_judgments_of(score_eft, score_out)
        report = {**metrics.solve_by_tier(solve), "judge": metrics.score_judge(judged)}
        tables = [(judged, out / "judge_score.parquet", EVAL_SCORE)]
    report |= {
        "benchmarks": metrics.benchmarks(scored, p.benchmark_limits),
        "tts": metrics.test_time(tts_df),
        "generation_seconds": round(generation, 1), "tts_seconds": round(tts_seconds, 1)}
    with Outputs() as o:
        write_tables([(solve, out / "solve.parquet", EVAL_SOLVE), *tables,
                      (scored, out / "benchmarks.parquet", EVAL_BENCHMARK), (tts_df, out / "tts.parquet", EVAL_TTS)], o)
        o.json(args.report, (metrics.EVAL if args.judge == "step" else metrics.EVAL_SCORE).check(report, args.report))
    t = report["tts"]
    print(f"evaluate: synthetic {report['synthetic']['accuracy']} of {report['synthetic']['n']}, "
          + "".join(f"tier {k} {v['accuracy']} of {v['n']}, " for k, v in report["synthetic_by_tier"].items()
                    if k != "base") +
          f"judge {report['judge']['accuracy']} ({report['judge']['invalid']} invalid), "
          f"judge own {report['judge'].get('own_accuracy')}, tts on {t.get('n')}: "
          + ", ".join(f"{m} {t.get(m)}" for m in ("greedy", "self", "oracle", "majority")) + "; benchmarks "
          + ", ".join(f"{k} {v['accuracy']} (n={v['n']})" for k, v in report["benchmarks"].items()))


if __name__ == "__main__":
    run(main, "evaluate")
