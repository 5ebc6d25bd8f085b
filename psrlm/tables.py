"""Every Parquet table of the pipeline: its schema, declared once, and the only read/write functions.

`write_table` checks the frame against the schema, sorts it by the key and writes it atomically with
fixed settings, so the same params give byte-identical files. `read_table` checks the file against the
schema (columns, dtypes, nulls, duplicate keys) and returns a LazyFrame; every error names the file,
the column and the problem.
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
class Schema:
    name: str
    columns: dict[str, pl.DataType]
    key: tuple[str, ...]
    nullable: frozenset[str] = frozenset()

    def polars_schema(self) -> pl.Schema:
        return pl.Schema(self.columns)


# Synthetic arithmetic problems: IFT train, prompt pools and the held-out test share this schema.
# `start`, `ops`, `operands` make every step checkable exactly; `gold_*` stay out of the search.
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
        "kept": pl.Boolean(),  # chosen and never rolled back: part of the final solution
        # Ground truth, audit only (never read by the search): psrlm.arith.step_truth's label of
        # the step relative to its prefix ("correct", "wrong_result", ...); null without it.
        "truth": pl.String(),
        "correct": pl.Boolean(),  # truth == "correct"
    },
    key=("problem_id", "iteration", "loop", "candidate_idx"),
    nullable=frozenset({"score", "truth", "correct"}),
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
        "is_final_step": pl.Boolean(),  # the chosen step holds the \boxed{} answer: EOS after it
        "chosen_correct": pl.Boolean(),  # ground truth, audit only
        "rejected_correct": pl.Boolean(),
    },
    key=("problem_id", "iteration", "step_idx"),
    nullable=frozenset({"chosen_correct", "rejected_correct"}),
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
    checks = lf.select(
        pl.struct(list(schema.key)).is_duplicated().sum().alias("__dup"),
        *[pl.col(c).null_count().alias(c) for c in required],
    ).collect().row(0, named=True)
    dup = checks.pop("__dup")
    if dup:
        raise TableError(f"{source}: key column(s) '{', '.join(schema.key)}' have {dup} "
                         f"duplicated row(s) (table '{schema.name}')")
    for col, n in checks.items():
        if n:
            raise TableError(f"{source}: column '{col}' has {n} null value(s) but is not nullable")


def validate(df: pl.DataFrame, schema: Schema, source: str) -> pl.DataFrame:
    """Return `df` in schema column order; raise TableError naming `source`, the column and the
    problem if it breaks `schema`."""
    _check(df.lazy(), df.schema, schema, source, exact=True)
    return df.select(list(schema.columns))


def write_table(df: pl.DataFrame, path: str | Path, schema: Schema) -> Path:
    """Check, sort by key and write atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    df = validate(df, schema, str(path)).sort(list(schema.key))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.write_parquet(tmp, compression=_COMPRESSION, compression_level=_COMPRESSION_LEVEL,
                         row_group_size=_ROW_GROUP_SIZE, statistics=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_tables(items: list[tuple[pl.DataFrame, str | Path, Schema]]) -> None:
    """Validate every table first, then write them: a bad one leaves no partial set of outputs."""
    checked = [(validate(df, schema, str(path)), path, schema) for df, path, schema in items]
    for df, path, schema in checked:
        write_table(df, path, schema)


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
