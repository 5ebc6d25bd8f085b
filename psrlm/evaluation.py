"""What the evaluate stage measures, as pure functions from a model's outputs to the rows of its
tables (EVAL_SOLVE, EVAL_BENCHMARK, EVAL_JUDGE, EVAL_SCORE, EVAL_TTS), and the two kinds of judge it
measures (`JUDGES`): the method's pairwise step judge and the outcome-based SRLM baseline's 0-5
score judge. The figures computed from these rows are psrlm.metrics'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from psrlm import grade, metrics, outcome, prompts
from psrlm.tables import EFT, EVAL_JUDGE, EVAL_SCORE, EVAL_TTS, SCORE_EFT, Schema


def answer_statuses(answers: list[str | None], golds: list[str], the_task) -> pl.Series:
    """no_answer | correct | wrong, by the task's answer check (exact for synthetic integers,
    numeric for real data: `1,080` is `1080`)."""
    return pl.Series(["no_answer" if a is None else "correct" if the_task.answer_right(a, g) else "wrong"
                      for a, g in zip(answers, golds)], dtype=pl.String)


def score_solutions(test: pl.DataFrame, outputs: list[str], the_task, tier: str = "base") -> pl.DataFrame:
    """Greedy solutions of a test (PROBLEMS rows) as EVAL_SOLVE rows: the answer's status, every step
    right, and the steps whose arithmetic is right, by the task's checker."""
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
    """Benchmark solutions as EVAL_BENCHMARK rows, graded by mathematical equivalence (psrlm.grade)."""
    answers = [prompts.final_answer(o) for o in outputs]
    statuses = grade.grade(bench["gold_answer"].to_list(), answers, seconds, workers)
    return bench.select("benchmark", "id", "gold_answer").with_columns(
        output=pl.Series(outputs, dtype=pl.String), answer=pl.Series(answers, dtype=pl.String),
        status=pl.Series(statuses, dtype=pl.String))


def score_judgments(eft: pl.DataFrame, outputs: list[str]) -> pl.DataFrame:
    """A step judge's outputs on EFT pairs as EVAL_JUDGE rows, read back (never coerced)."""
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


@dataclass(frozen=True)
class JudgeKind:
    """How evaluate measures one kind of judge: the held-out tables it reads (its `inputs`: table
    name → the schema and the `evaluate` params key limiting its rows), the judge's prompt for a
    row, its outputs read back as rows of `table`, the `judge` section of the report and that
    report's declared keys."""
    inputs: dict[str, tuple[Schema, str]]
    template: str  # the prompts params key of its template
    max_tokens: str  # the evaluate params key of its generation budget
    prompt: Callable[[str, dict], str]
    read: Callable[[pl.DataFrame, list[str]], pl.DataFrame]
    table: Schema
    metrics: Callable[[dict[str, pl.DataFrame], dict[str, pl.DataFrame]], dict]
    report: metrics.Report


JUDGES = {
    # Held-out EFT pairs (gold step vs a corrupted copy) and the model's own right/wrong steps in
    # both orders (stage own_eft@test).
    "step": JudgeKind(
        inputs={"judge": (EFT, "eft_limit"), "judge_own": (EFT, "own_eft_limit")}, template="judge",
        max_tokens="max_new_tokens_judge",
        prompt=lambda t, r: prompts.judge_prompt(t, r["problem"], r["prefix_steps"], r["candidate_a"],
                                                 r["candidate_b"]),
        read=score_judgments, table=EVAL_JUDGE,
        metrics=lambda given, judged: metrics.step_judge(judged["judge"])
        | metrics.own_judge(given["judge_own"], judged["judge_own"]),
        report=metrics.EVAL),
    # Held-out whole solutions with their rubric scores.
    "score": JudgeKind(
        inputs={"judge_score": (SCORE_EFT, "eft_limit")}, template="score", max_tokens="max_new_tokens_score",
        prompt=lambda t, r: prompts.score_prompt(t, r["problem"], r["solution"]),
        read=score_judgments_of, table=EVAL_SCORE,
        metrics=lambda given, judged: metrics.score_judge(judged["judge_score"]), report=metrics.EVAL_SCORE),
}
