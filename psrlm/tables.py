"""Every Parquet table of the pipeline: its schema, declared once, and the only read/write functions.

`write_table` checks the frame against the schema, sorts it by the key and writes it atomically with
fixed settings, so the same params give byte-identical files. `read_table` checks the file against the
schema (columns, dtypes, nulls, duplicate keys, and each schema's value rules: enums, ranges, flags
that must agree) and returns a LazyFrame; every error names the file, the column, the rule and the
first row that breaks it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from psrlm.errors import PsrlmError


class TableError(PsrlmError):
    """A table does not match its declared schema."""


@dataclass(frozen=True)
class Rule:
    """A value rule of a table: `ok` is true (or null, for a null in a nullable column) on every
    row that keeps it; `says` is the rule in words, for the error."""
    column: str
    says: str
    ok: pl.Expr


def one_of(column: str, values: tuple[str, ...]) -> Rule:
    return Rule(column, f"one of {', '.join(values)}", pl.col(column).is_in(list(values)))


def at_least(column: str, low: int) -> Rule:
    return Rule(column, f">= {low}", pl.col(column) >= low)


def verdict_rules() -> tuple[Rule, ...]:
    """A parsed judge verdict: A or B, null exactly when the status says why (never coerced)."""
    return (one_of("verdict", VERDICTS), one_of("verdict_status", VERDICT_STATUSES),
            Rule("verdict", "null exactly when verdict_status is not ok",
                 pl.col("verdict").is_null() == (pl.col("verdict_status") != "ok")))


def truth_rule() -> Rule:
    return Rule("correct", "true exactly when truth is 'correct'",
                pl.col("correct").eq_missing(pl.col("truth") == "correct"))


VERDICTS = ("A", "B")
VERDICT_STATUSES = ("ok", "no_verdict", "both_verdicts")  # psrlm.prompts.parse_verdict
SOLVE_STATUSES = ("correct", "wrong", "no_answer")
# What psrlm.grade says of a benchmark answer (it imports this list).
BENCHMARK_STATUSES = ("correct", "wrong", "no_answer", "no_gold", "timeout", "parse_error")
OPS = ("+", "-", "*", "/")


@dataclass(frozen=True)
class Schema:
    name: str
    columns: dict[str, pl.DataType]
    key: tuple[str, ...]
    nullable: frozenset[str] = frozenset()
    rules: tuple[Rule, ...] = ()

    def polars_schema(self) -> pl.Schema:
        return pl.Schema(self.columns)


# Problems: IFT train, prompt pools and the held-out test share this schema, whatever the task
# (psrlm.task). On the synthetic task `start`, `ops`, `operands` make every step checkable exactly;
# real-data rows (gsm8k, files) have no such structure: `start` null, `ops` and `operands` empty,
# their steps checked by their calculator annotations. `gold_*` stay out of the search.
PROBLEMS = Schema(
    name="problems",
    columns={
        "problem_id": pl.String(),
        "problem": pl.String(),
        "start": pl.Int64(),
        "ops": pl.List(pl.String()),
        "operands": pl.List(pl.Int64()),
        "gold_steps": pl.List(pl.String()),
        "solution": pl.String(),
        "gold_answer": pl.String(),
    },
    key=("problem_id",),
    nullable=frozenset({"start"}),
    rules=(
        Rule("ops", f"a list of {' '.join(OPS)}, non-empty exactly when start is set",
             ((pl.col("ops").list.len() > 0) == pl.col("start").is_not_null())
             & pl.col("ops").list.eval(pl.element().is_in(list(OPS))).list.all()),
        Rule("operands", "one per op", pl.col("operands").list.len() == pl.col("ops").list.len()),
        Rule("gold_steps", "one per op (when there are ops), at least one",
             (pl.col("gold_steps").list.len() == pl.col("ops").list.len())
             | (pl.col("ops").list.len() == 0) & (pl.col("gold_steps").list.len() > 0)),
    ),
)

# Step-wise pairwise judge examples (method.md §3). Independent of how the candidates were made:
# `origin` records it (e.g. "synthetic:wrong_result", or a model name for sampled candidates).
EFT = Schema(
    name="eft",
    columns={
        "pair_id": pl.String(),
        "problem_id": pl.String(),
        "problem": pl.String(),
        "step_idx": pl.Int64(),  # 1-based index of the step being judged
        "prefix_steps": pl.List(pl.String()),
        "candidate_a": pl.String(),
        "candidate_b": pl.String(),
        "a_correct": pl.Boolean(),
        "b_correct": pl.Boolean(),
        "better": pl.String(),  # "A" or "B"
        "origin": pl.String(),
        "judgment": pl.String(),  # target: explanation, then [[A]] or [[B]]
    },
    key=("pair_id",),
    rules=(
        at_least("step_idx", 1),
        one_of("better", VERDICTS),
        Rule("b_correct", "false where a_correct is true (at most one right candidate)",
             ~(pl.col("a_correct") & pl.col("b_correct"))),
        # Where both are wrong (prepare.both_wrong_share) the better one is the smaller error,
        # which the judgment's field checks state and its verdict ends in (the rule below).
        Rule("better", "the right candidate's letter",
             pl.when(pl.col("a_correct")).then(pl.col("better") == "A")
             .when(pl.col("b_correct")).then(pl.col("better") == "B").otherwise(pl.lit(True))),
        Rule("judgment", "ends in the verdict [[better]]",
             pl.col("judgment").str.strip_chars().str.ends_with(pl.lit("[[") + pl.col("better") + pl.lit("]]"))),
    ),
)

# The six benchmarks of the paper mapped to one schema (answers as published; see benchmarks.py).
BENCHMARKS = Schema(
    name="benchmarks",
    columns={
        "benchmark": pl.String(),
        "id": pl.String(),
        "question": pl.String(),
        "gold_answer": pl.String(),
    },
    key=("benchmark", "id"),
    nullable=frozenset({"gold_answer"}),  # published empty: counted by prepare, never guessed
)

# Greedy solutions of a model on a problem set (evaluate): one row per problem.
EVAL_SOLVE = Schema(
    name="eval_solve",
    columns={
        "problem_id": pl.String(),
        "tier": pl.String(),  # base (the held-out test) or a prepare.tiers name (its held-out test)
        "output": pl.String(),
        "answer": pl.String(),  # last \boxed{} of the output; null when there is none
        "gold_answer": pl.String(),
        "status": pl.String(),  # correct | wrong | no_answer
        "steps_right": pl.Boolean(),  # every step is the gold step (psrlm.arith.solution_right)
        "arithmetic_right": pl.Int64(),  # written steps whose result fits their own operands
        "steps_written": pl.Int64(),  # leading lines that parse as steps
    },
    key=("problem_id",),
    nullable=frozenset({"answer"}),
    rules=(
        one_of("status", SOLVE_STATUSES),
        Rule("status", "no_answer exactly when answer is null",
             (pl.col("status") == "no_answer") == pl.col("answer").is_null()),
        at_least("steps_written", 0),
        Rule("arithmetic_right", "between 0 and steps_written",
             pl.col("arithmetic_right").is_between(0, pl.col("steps_written"))),
    ),
)

# Greedy solutions of a model on the benchmarks (evaluate): one row per benchmark problem.
EVAL_BENCHMARK = Schema(
    name="eval_benchmark",
    columns={
        "benchmark": pl.String(),
        "id": pl.String(),
        "output": pl.String(),
        "answer": pl.String(),  # last \boxed{} of the output; null when there is none
        "gold_answer": pl.String(),  # null where the source publishes none
        # correct | wrong | no_answer | no_gold | timeout | parse_error (psrlm/grade.py)
        "status": pl.String(),
    },
    key=("benchmark", "id"),
    nullable=frozenset({"answer", "gold_answer"}),
    rules=(one_of("status", BENCHMARK_STATUSES),),
)

# Greedy judgments of a model on held-out EFT pairs (evaluate): one row per pair.
EVAL_JUDGE = Schema(
    name="eval_judge",
    columns={
        "pair_id": pl.String(),
        "better": pl.String(),
        "output": pl.String(),
        "verdict": pl.String(),  # A | B; null when unparseable (never coerced)
        "verdict_status": pl.String(),  # ok | no_verdict | both_verdicts
        "correct": pl.Boolean(),
    },
    key=("pair_id",),
    nullable=frozenset({"verdict"}),
    rules=(one_of("better", VERDICTS), *verdict_rules(),
           Rule("correct", "true exactly when verdict equals better",
                pl.col("correct") == (pl.col("verdict") == pl.col("better")).fill_null(False))),
)

# Search (method.md §5), one row per distinct candidate of every loop of every problem.
SEARCH_STEPS = Schema(
    name="search_steps",
    columns={
        "problem_id": pl.String(),
        "iteration": pl.Int64(),
        "loop": pl.Int64(),  # loop iteration of this problem (at most 20, method.md §5)
        "step_idx": pl.Int64(),  # 1-based index of the step the candidates are for
        "candidate_idx": pl.Int64(),  # first-seen order among distinct candidates
        "prompt": pl.String(),  # exactly what the model was given: solve prompt + steps so far
        "prefix_steps": pl.List(pl.String()),  # the chosen steps this candidate was written after
        "text": pl.String(),
        "multiplicity": pl.Int64(),  # how many of the w samples were this text
        "score": pl.Int64(),  # Eq. 2 wins (+ search.multiplicity_weight x multiplicity); null if alone
        "tie_rank": pl.Int64(),  # seeded order that breaks ties for best and worst (lower first)
        "chosen": pl.Boolean(),
        "rejected": pl.Boolean(),
        # Ends the solution (psrlm.prompts.is_final: a \boxed{} answer or the end of the sequence);
        # the one place pairs and dpo learn where EOS goes.
        "is_final": pl.Boolean(),
        "kept": pl.Boolean(),  # chosen and never rolled back: part of the final solution
        # Ground truth, audit only (never read by the search): psrlm.arith.step_truth's label of
        # the step relative to its prefix ("correct", "wrong_result", ...); null without it.
        "truth": pl.String(),
        "correct": pl.Boolean(),  # truth == "correct"
    },
    key=("problem_id", "iteration", "loop", "candidate_idx"),
    nullable=frozenset({"score", "truth", "correct"}),
    rules=(
        at_least("iteration", 1), at_least("loop", 0), at_least("step_idx", 1),
        at_least("candidate_idx", 0), at_least("multiplicity", 1), at_least("score", 0),
        at_least("tie_rank", 0),
        Rule("rejected", "never true with chosen", ~(pl.col("chosen") & pl.col("rejected"))),
        Rule("kept", "true only when chosen", ~pl.col("kept") | pl.col("chosen")),
        truth_rule(),
    ),
)

# Search judge calls: one row per ordered comparison (both orders of every distinct pair).
SEARCH_JUDGMENTS = Schema(
    name="search_judgments",
    columns={
        "problem_id": pl.String(),
        "iteration": pl.Int64(),
        "loop": pl.Int64(),
        "step_idx": pl.Int64(),
        "candidate_a": pl.Int64(),  # candidate_idx shown as A
        "candidate_b": pl.Int64(),  # candidate_idx shown as B
        "judgment": pl.String(),  # raw judge text
        "verdict": pl.String(),  # A | B; null when unparseable (never coerced)
        "verdict_status": pl.String(),  # ok | no_verdict | both_verdicts
    },
    key=("problem_id", "iteration", "loop", "candidate_a", "candidate_b"),
    nullable=frozenset({"verdict"}),
    rules=(
        at_least("iteration", 1), at_least("loop", 0), at_least("step_idx", 1),
        at_least("candidate_a", 0), at_least("candidate_b", 0),
        Rule("candidate_b", "not candidate_a", pl.col("candidate_a") != pl.col("candidate_b")),
        *verdict_rules(),
    ),
)

# Search outcome per problem: the chosen trajectory.
SEARCH_SOLUTIONS = Schema(
    name="search_solutions",
    columns={
        "problem_id": pl.String(),
        "iteration": pl.Int64(),
        "steps": pl.List(pl.String()),
        "finished": pl.Boolean(),  # ended on a \boxed{} answer (or end of sequence)
        "loops": pl.Int64(),
        "rollbacks": pl.Int64(),
        "answer": pl.String(),  # last \boxed{} of the final step; null when unfinished
        "gold_answer": pl.String(),  # audit only, never read by the search
        "correct": pl.Boolean(),  # audit only
    },
    key=("problem_id", "iteration"),
    nullable=frozenset({"answer", "gold_answer", "correct"}),
    rules=(at_least("iteration", 1), at_least("loops", 0),
           Rule("rollbacks", "between 0 and loops", pl.col("rollbacks").is_between(0, pl.col("loops")))),
)

# The SFT model's own candidate steps on the judge problems (own_eft), one row per distinct
# candidate of every step of its own sampled solution; labelled by the exact checker.
OWN_STEPS = Schema(
    name="own_steps",
    columns={
        "problem_id": pl.String(),
        "step_idx": pl.Int64(),  # 1-based index of the step the candidates are for
        "candidate_idx": pl.Int64(),  # first-seen order among distinct candidates
        "prefix_steps": pl.List(pl.String()),  # the model's own earlier steps, right or wrong
        "text": pl.String(),
        "multiplicity": pl.Int64(),  # how many of the w samples were this text
        "continued": pl.Boolean(),  # the solution went on with it (the first sample)
        "truth": pl.String(),  # psrlm.arith.step_truth's label, relative to the prefix
        "correct": pl.Boolean(),  # truth == "correct"
    },
    key=("problem_id", "step_idx", "candidate_idx"),
    rules=(at_least("step_idx", 1), at_least("candidate_idx", 0), at_least("multiplicity", 1), truth_rule()),
)

# Step-level preference pairs (PPD) in TRL's columns, one per kept step with distinct scores.
PAIRS = Schema(
    name="pairs",
    columns={
        "problem_id": pl.String(),
        "iteration": pl.Int64(),
        "step_idx": pl.Int64(),
        "loop": pl.Int64(),
        "prompt": pl.String(),  # as at search time: solve prompt + the previous steps
        "chosen": pl.String(),  # one step
        "rejected": pl.String(),  # one step
        "chosen_score": pl.Int64(),
        "rejected_score": pl.Int64(),
        "is_final_step": pl.Boolean(),  # the search's is_final of the chosen step: EOS after it
        "rejected_is_final": pl.Boolean(),  # the same of the rejected step
        "chosen_correct": pl.Boolean(),  # ground truth, audit only
        "rejected_correct": pl.Boolean(),
    },
    key=("problem_id", "iteration", "step_idx"),
    nullable=frozenset({"chosen_correct", "rejected_correct"}),
    rules=(at_least("iteration", 1), at_least("step_idx", 1), at_least("loop", 0),
           Rule("rejected", "a different step from chosen", pl.col("chosen") != pl.col("rejected"))),
)

# The outcome-based SRLM baseline's judge examples (Yuan et al. 2024): a whole solution, its 0-5
# additive rubric score (psrlm.outcome) and the target judgment that ends in it.
SCORE_EFT = Schema(
    name="score_eft",
    columns={
        "example_id": pl.String(),
        "problem_id": pl.String(),
        "problem": pl.String(),
        "start": pl.Int64(),
        "ops": pl.List(pl.String()),
        "operands": pl.List(pl.Int64()),
        "solution": pl.String(),
        "origin": pl.String(),  # "gold", "synthetic:<corruption>" or (real data) "gold:<corruption>"
        "score": pl.Int64(),  # the rubric's points, 0-5
        "correct": pl.Boolean(),  # the solution is right step by step (score 5)
        "judgment": pl.String(),  # target: checked steps, points, then Score: [[score]]
    },
    key=("example_id",),
    nullable=frozenset({"start"}),  # real-data tasks: as in PROBLEMS
    rules=(
        Rule("score", "between 0 and 5", pl.col("score").is_between(0, 5)),
        Rule("correct", "true exactly when score is 5", pl.col("correct") == (pl.col("score") == 5)),
        Rule("judgment", "ends in Score: [[score]]", pl.col("judgment").str.strip_chars().str.ends_with(
            pl.lit("Score: [[") + pl.col("score").cast(pl.String) + pl.lit("]]"))),
    ),
)

SCORE_STATUSES = ("ok", "no_score", "several_scores", "out_of_range")  # psrlm.outcome.parse_score


def score_rules() -> tuple[Rule, ...]:
    """A parsed self-score: 0-5, null exactly when the status says why (never coerced)."""
    return (Rule("score", "between 0 and 5", pl.col("score").is_between(0, 5)),
            one_of("score_status", SCORE_STATUSES),
            Rule("score", "null exactly when score_status is not ok",
                 pl.col("score").is_null() == (pl.col("score_status") != "ok")))


# SRLM's self-rewarding data (stage srlm): N whole solutions per prompt, each scored by the model
# itself; the best and the worst make the iteration's pair (in the PAIRS table, step_idx 1).
OUTCOME_SAMPLES = Schema(
    name="outcome_samples",
    columns={
        "problem_id": pl.String(),
        "iteration": pl.Int64(),
        "sample_idx": pl.Int64(),
        "prompt": pl.String(),  # exactly what the model was given
        "text": pl.String(),  # the whole sampled solution
        "answer": pl.String(),  # its last \boxed{}; null without one
        "is_final": pl.Boolean(),  # ends in a boxed answer: DPO puts EOS after it
        "judgment": pl.String(),  # the model's own judgment of it (greedy)
        "score": pl.Int64(),  # read from the judgment; null when unreadable (never coerced)
        "score_status": pl.String(),
        "chosen": pl.Boolean(),
        "rejected": pl.Boolean(),
        "truth_score": pl.Int64(),  # the rubric's score from the exact checker: audit only
        "correct": pl.Boolean(),  # right step by step: audit only
    },
    key=("problem_id", "iteration", "sample_idx"),
    nullable=frozenset({"answer", "score"}),
    rules=(at_least("iteration", 1), at_least("sample_idx", 0), *score_rules(),
           Rule("truth_score", "between 0 and 5", pl.col("truth_score").is_between(0, 5)),
           Rule("rejected", "never true with chosen", ~(pl.col("chosen") & pl.col("rejected")))),
)

# A score judge's greedy scores of held-out SCORE_EFT solutions (evaluate --judge score).
EVAL_SCORE = Schema(
    name="eval_score",
    columns={
        "example_id": pl.String(),
        "truth_score": pl.Int64(),
        "output": pl.String(),
        "score": pl.Int64(),  # read from the output; null when unreadable (never coerced)
        "score_status": pl.String(),
        "correct": pl.Boolean(),  # score == truth_score
    },
    key=("example_id",),
    nullable=frozenset({"score"}),
    rules=(*score_rules(),
           Rule("correct", "true exactly when score equals truth_score",
                pl.col("correct") == (pl.col("score") == pl.col("truth_score")).fill_null(False))),
)

TTS_METHODS = ("greedy", "self", "oracle", "majority")

# Test-time scaling (evaluate): one row per problem and method, with what the answer cost.
EVAL_TTS = Schema(
    name="eval_tts",
    columns={
        "source": pl.String(),  # "synthetic" (the test), "tier:<name>" (a tier's test) or a benchmark's name
        "problem_id": pl.String(),
        "method": pl.String(),  # greedy | self | oracle | majority
        "steps": pl.List(pl.String()),  # the solution the method settled on
        "answer": pl.String(),
        "gold_answer": pl.String(),
        "status": pl.String(),  # correct | wrong | no_answer (benchmarks: grade's statuses)
        "correct": pl.Boolean(),
        "judge_calls": pl.Int64(),
        "generated_tokens": pl.Int64(),  # sampled and judgment tokens, every sample counted
    },
    key=("source", "problem_id", "method"),
    nullable=frozenset({"answer", "gold_answer"}),
    rules=(one_of("method", TTS_METHODS), one_of("status", BENCHMARK_STATUSES),
           Rule("correct", "true exactly when status is correct", pl.col("correct") == (pl.col("status") == "correct")),
           at_least("judge_calls", 0), at_least("generated_tokens", 0)),
)

# Fixed writer settings: part of the byte-for-byte reproducibility promise.
_COMPRESSION = "zstd"
_COMPRESSION_LEVEL = 3
_ROW_GROUP_SIZE = 64 * 1024


def _check(lf: pl.LazyFrame, got: pl.Schema, schema: Schema, source: str, exact: bool) -> None:
    """Raise TableError naming `source`, the column and the problem if `lf` breaks `schema`: a
    missing column, a wrong dtype, an extra column (when `exact`), a null in a non-nullable column,
    a duplicated key."""
    for col, dtype in schema.columns.items():
        if col not in got:
            raise TableError(f"{source}: column '{col}' is missing (table '{schema.name}')")
        if got[col] != dtype:
            raise TableError(f"{source}: column '{col}' has dtype {got[col]}, expected {dtype}")
    extra = [c for c in got if c not in schema.columns]
    if exact and extra:
        raise TableError(f"{source}: column '{extra[0]}' is not in the schema of '{schema.name}'")
    required = [c for c in schema.columns if c not in schema.nullable]
    broken = [(~r.ok).fill_null(False) for r in schema.rules]
    try:  # reads every page of every column: a corrupt page fails here, named, not in a later stage
        checks = lf.select(
            pl.struct(list(schema.key)).is_duplicated().sum().alias("__dup"),
            *[pl.col(c).null_count().alias(f"__null_{c}") for c in schema.columns],
            *[b.sum().alias(f"__rule_{i}") for i, b in enumerate(broken)],
            *[b.arg_max().alias(f"__first_{i}") for i, b in enumerate(broken)],
        ).collect().row(0, named=True)
    except pl.exceptions.PolarsError as e:
        raise TableError(f"{source}: not a readable Parquet file ({e.__class__.__name__}: "
                         f"{str(e).splitlines()[0][:200]})") from None
    dup = checks["__dup"]
    if dup:
        raise TableError(f"{source}: key column(s) '{', '.join(schema.key)}' have {dup} "
                         f"duplicated row(s) (table '{schema.name}')")
    for col in required:
        if checks[f"__null_{col}"]:
            raise TableError(f"{source}: column '{col}' has {checks[f'__null_{col}']} null value(s) "
                             f"but is not nullable")
    for i, rule in enumerate(schema.rules):
        if checks[f"__rule_{i}"]:
            raise TableError(f"{source}: column '{rule.column}' must be {rule.says}; "
                             f"{checks[f'__rule_{i}']} row(s) are not (first: row {checks[f'__first_{i}']})")


def validate(df: pl.DataFrame, schema: Schema, source: str) -> pl.DataFrame:
    """Return `df` in schema column order; raise TableError naming `source`, the column and the
    problem if it breaks `schema`."""
    _check(df.lazy(), df.schema, schema, source, exact=True)
    return df.select(list(schema.columns))


def write_table(df: pl.DataFrame, path: str | Path, schema: Schema, name: str | Path | None = None) -> Path:
    """Check, sort by key and write atomically (temporary file in the same folder, then rename).
    Errors name `name` (the final path, when `path` is a stage's staged copy) or `path`."""
    path = Path(path)
    df = validate(df, schema, str(path)).sort(list(schema.key))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.write_parquet(tmp, compression=_COMPRESSION, compression_level=_COMPRESSION_LEVEL,
                         row_group_size=_ROW_GROUP_SIZE, statistics=True)
        os.replace(tmp, path)
    except pl.exceptions.PolarsError as e:  # polars reports a full disk as a ComputeError, not an OSError
        Path(tmp).unlink(missing_ok=True)
        lines = str(e).strip().splitlines()
        raise TableError(f"{name or path}: cannot write the table ({lines[0] if lines else type(e).__name__})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_tables(items: list[tuple[pl.DataFrame, str | Path, Schema]], outputs=None) -> None:
    """Validate every table first (errors name the final path), then write them, through
    `outputs` (a psrlm.outputs.Outputs: moved into place when the stage succeeds) when given."""
    checked = [(validate(df, schema, str(path)), path, schema) for df, path, schema in items]
    for df, path, schema in checked:
        write_table(df, outputs.path(path) if outputs is not None else path, schema, path)


def read_table(path: str | Path, schema: Schema) -> pl.LazyFrame:
    """Scan a Parquet file after checking it against its schema; raise TableError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: file not found (table '{schema.name}')")
    try:
        lf = pl.scan_parquet(path)
        got = lf.collect_schema()
    except Exception as e:  # a truncated or non-Parquet file
        raise TableError(f"{path}: not a readable Parquet file ({e.__class__.__name__})") from e
    _check(lf, got, schema, str(path), exact=False)
    return lf.select(list(schema.columns))
