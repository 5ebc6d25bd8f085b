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

Reads:  params.yaml [evaluate, tts, prompts, engine, prepare.task]; --model (HF folder); --test (PROBLEMS); --tiers
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

from psrlm import grade, metrics, prompts, search, tts
from psrlm.engine import build, greedy
from psrlm.errors import PsrlmError, run
from psrlm.evaluation import JUDGES, score_benchmarks, score_solutions, tts_frame
from psrlm.outputs import Outputs
from psrlm.params import Count, Positive, Rate, load_section
from psrlm.stagekit import load_generation
from psrlm.tables import BENCHMARKS, EVAL_BENCHMARK, EVAL_SOLVE, EVAL_TTS, PROBLEMS, read_table, write_tables


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
    templates, the_task, engine_p = load_generation(args.params)

    test = read_table(args.test, PROBLEMS)
    test = (test.head(p.test_limit) if p.test_limit is not None else test).collect()
    tier_dir = Path(args.tiers)
    if not tier_dir.is_dir():
        raise PsrlmError(f"{tier_dir}: tiers folder not found (prepare writes it, empty without prepare.tiers)")
    tier_tests = {f.stem: read_table(f, PROBLEMS).collect() for f in sorted(tier_dir.glob("*.parquet"))}
    judge_kind = JUDGES[args.judge]
    paths = {"judge": args.eft, "judge_own": args.own_eft, "judge_score": args.score_eft}
    given = {}  # the judge's held-out tables (own pairs sorted by pair_id: both orders stay together)
    for name, (schema, limit_key) in judge_kind.inputs.items():
        limit, table = getattr(p, limit_key), read_table(paths[name], schema)
        given[name] = (table.head(limit) if limit is not None else table).collect()
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

    def solve(users: list[str], max_tokens: int, desc: str) -> list[str]:
        return greedy(engine, [engine.chat(u) for u in users], max_tokens, 0, desc)

    start = time.time()
    solve_out = solve([prompts.solve_prompt(solve_t, q) for q in test["problem"]], p.max_new_tokens_solve, "solve")
    tier_out = {name: solve([prompts.solve_prompt(solve_t, q) for q in t["problem"]], p.max_new_tokens_solve,
                            f"solve {name}") for name, t in tier_tests.items()}
    judge_tmpl = prompts.template(getattr(templates, judge_kind.template))
    judge_out = {name: solve([judge_kind.prompt(judge_tmpl, r) for r in t.iter_rows(named=True)],
                             getattr(p, judge_kind.max_tokens), name) for name, t in given.items()}
    bench_out = solve([prompts.solve_prompt(solve_t, q) for q in bench["question"]], p.max_new_tokens_benchmark,
                      "benchmarks")
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

    solved = pl.concat([score_solutions(test, solve_out, the_task),
                        *(score_solutions(t, tier_out[name], the_task, name) for name, t in tier_tests.items())])
    scored = score_benchmarks(bench, bench_out, p.grade_seconds, p.grade_workers)
    out = Path(args.out)
    judged = {name: judge_kind.read(t, judge_out[name]) for name, t in given.items()}
    report = {**metrics.solve_by_tier(solved), "judge": judge_kind.metrics(given, judged),
              "benchmarks": metrics.benchmarks(scored, p.benchmark_limits), "tts": metrics.test_time(tts_df),
              "generation_seconds": round(generation, 1), "tts_seconds": round(tts_seconds, 1)}
    with Outputs() as o:
        write_tables([(solved, out / "solve.parquet", EVAL_SOLVE),
                      *((t, out / f"{name}.parquet", judge_kind.table) for name, t in judged.items()),
                      (scored, out / "benchmarks.parquet", EVAL_BENCHMARK), (tts_df, out / "tts.parquet", EVAL_TTS)], o)
        o.json(args.report, judge_kind.report.check(report, args.report))
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
