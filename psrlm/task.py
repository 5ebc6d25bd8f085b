"""The task a run is on (params `prepare.task`), as the stages see it.

A task builds its data (`build`: every table of the prepare stage, from psrlm/synthdata.py or
psrlm/realdata.py) and knows, for a problem row (psrlm.tables.PROBLEMS), the truth of a candidate
step after a prefix, whether a whole solution is right, the judge's target judgment of a step pair
and the SRLM rubric. `synthetic` (the embedded default) checks every step exactly from the problem's structure
(psrlm/arith.py); `gsm8k` and `files` (psrlm/textsteps.py) check each step's calculator
annotations and the boxed answer, their rows leave `start` null and `ops`/`operands` empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, NamedTuple, Protocol

import polars as pl

from psrlm import arith, outcome, realdata, synthdata, textsteps
from psrlm.params import Count, NonNegative, ParamsError, Positive, Range, Share, TaskName
from psrlm.synthdata import BASE

# Steps a real-data solution may run past its gold solution's length before the rest are
# "past_last_step": the model's own solutions split the work differently from the gold one.
TEXT_SLACK_STEPS = 2


@dataclass(frozen=True)
class PrepareParams:
    """The `prepare` params section: which task, its files or its difficulty, the split sizes, the
    tiers and the benchmarks (declared here, where both tasks' builders read it)."""
    task: TaskName
    files_dir: str
    files_train: str | None
    files_test: str | None
    files_eft: str | None
    files_columns: dict[Literal["problem", "solution", "steps", "answer", "id"], str | None]
    max_chars: Positive
    seed: Count
    num_ops_min: Positive
    num_ops_max: Positive
    start_min: Count
    start_max: Count
    addsub_min: Positive
    addsub_max: Positive
    muldiv_max: Annotated[int, Range(ge=2)]
    value_max: Positive
    op_weights: dict[Literal["+", "-", "*", "/"], NonNegative]
    corruption_weights: dict[Literal[arith.CORRUPTIONS], NonNegative]
    both_wrong_share: Share
    both_wrong_results: Share
    ift_train_size: Count
    eft_train_size: Count
    eft_test_size: Count
    test_size: Count
    judge_train_size: Count
    judge_test_size: Count
    pool_sizes: tuple[Positive, ...]  # an empty pool would train M(i+1) on nothing: refused
    tiers: dict[str, dict[Literal[arith.DIFFICULTY_KEYS], Count]] | None
    pool_tiers: dict[Positive, str] | None
    tier_test_size: Count
    benchmarks_dir: str
    benchmark_limits: dict[str, Count | None]

    def __post_init__(self) -> None:
        # null is none: `dvc exp run -S` merges a mapping into the one already there, so only
        # `-S prepare.tiers=null` clears the tiers of a params file that declares some.
        for key in ("tiers", "pool_tiers"):
            if getattr(self, key) is None:
                object.__setattr__(self, key, {})

    def pool_tier(self, iteration: int) -> str:
        """The tier iteration `iteration`'s pool is drawn from."""
        return self.pool_tiers.get(iteration, BASE)

    def check(self) -> None:
        if self.task == "files":
            for key in ("files_train", "files_test"):
                if getattr(self, key) is None:
                    raise ParamsError(f"prepare.{key}: the files task needs a JSONL or Parquet file")
            if self.files_columns.get("problem") is None:
                raise ParamsError("prepare.files_columns.problem: the files task needs the problem's column")
        if self.task != "synthetic" and (self.tiers or set(self.pool_tiers.values()) - {BASE}):
            raise ParamsError(f"prepare.tiers: difficulty tiers are the synthetic task's; the {self.task} "
                              "task needs tiers and pool_tiers null or {}")
        if self.both_wrong_results and not self.both_wrong_share:
            raise ParamsError("prepare.both_wrong_results: a share of the both-wrong pairs, and "
                              "prepare.both_wrong_share is 0 (there are none)")
        if self.task != "synthetic" and self.both_wrong_share:
            raise ParamsError(f"prepare.both_wrong_share: two-wrong judge pairs are made from the synthetic "
                              f"task's corruptions; the {self.task} task needs 0")
        synthdata.check_difficulty(synthdata.difficulty(self), "prepare")
        for name, change in self.tiers.items():
            if name == BASE or not name.isidentifier():
                raise ParamsError(f"prepare.tiers.{name}: a tier name is a plain word other than '{BASE}'")
            synthdata.check_difficulty(synthdata.tier_difficulty(self, name), f"prepare.tiers.{name}")
        for it, name in self.pool_tiers.items():
            if it > len(self.pool_sizes):
                raise ParamsError(f"prepare.pool_tiers.{it}: no such pool (pool_sizes has {len(self.pool_sizes)})")
            if name != BASE and name not in self.tiers:
                raise ParamsError(f"prepare.pool_tiers.{it}: unknown tier '{name}' (prepare.tiers has "
                                  f"{', '.join([BASE, *self.tiers])})")
        for key, table in (("op_weights", self.op_weights),
                           ("corruption_weights", self.corruption_weights)):
            if sum(table.values()) <= 0:
                raise ParamsError(f"prepare.{key}: needs a positive weight")


class Built(NamedTuple):
    """A task's data: (frame, name under the prepare folder, schema) per table, the pools by split
    name (pool<i>), and what was left out of them and why (real data: repeats, test problems)."""
    tables: list[tuple[pl.DataFrame, str, object]]
    pools: dict[str, pl.DataFrame]
    dropped: dict[str, int]


def split_sizes(p: PrepareParams) -> dict[str, int]:
    """The splits cut from the main stream, in their fixed order (a pool appended at the end moves
    no earlier split)."""
    return {"test": p.test_size, "eft_test": p.eft_test_size, "eft_train": p.eft_train_size,
            "ift_train": p.ift_train_size, **{f"pool{i}": n for i, n in enumerate(p.pool_sizes, start=1)}}


class Task(Protocol):
    name: str

    def build(self, p: PrepareParams) -> Built: ...

    def max_steps(self, row: dict) -> int: ...
    def step_truth(self, row: dict, prefix_steps: list[str], text: str) -> str: ...
    def solution_right(self, row: dict, output: str) -> bool: ...
    def arithmetic_right(self, output: str) -> tuple[int, int]: ...
    def answer_right(self, answer: str | None, gold: str) -> bool: ...
    def judgment(self, row: dict, prefix_steps: list[str], a: dict, b: dict, better: str) -> str: ...
    def rubric(self, row: dict, solution: str): ...


class Synthetic:
    """The embedded default's arithmetic chains (psrlm/arith.py): the judge's target judgment is the
    one prompts.judge names."""
    name = "synthetic"

    def __init__(self, judge_template: str):
        self._judgment = arith.judgment_for(judge_template)  # an unknown prompt fails here, first
        self._template = judge_template

    def build(self, p: PrepareParams) -> Built:
        """Every table from the seeded problem streams; EFT targets in the judge prompt's format."""
        if p.both_wrong_share and self._template not in arith.FIELD_JUDGMENTS:
            # Other formats check a candidate by one recomputation, which says wrong or right but
            # not which of two wrong steps is the smaller error: the verdict would be unexplained.
            raise ParamsError(f"prepare.both_wrong_share: needs a judge format that checks each field "
                              f"({', '.join(sorted(arith.FIELD_JUDGMENTS))}); prompts.judge is {self._template}")
        if p.both_wrong_results and self._template not in arith.RESULT_ORDER_JUDGMENTS:
            # The field formats rank two wrong results equal (one field wrong each): no verdict.
            raise ParamsError(f"prepare.both_wrong_results: needs a judge format that ranks two wrong "
                              f"results ({', '.join(sorted(arith.RESULT_ORDER_JUDGMENTS))}); "
                              f"prompts.judge is {self._template}")
        tables, pools = synthdata.tables(p, split_sizes(p), self._judgment)
        return Built(tables, pools, {})

    @staticmethod
    def _gold(row: dict) -> tuple[int, list[str], list[int]]:
        return row["start"], list(row["ops"]), list(row["operands"])

    def max_steps(self, row: dict) -> int:
        return len(row["ops"])

    def step_truth(self, row: dict, prefix_steps: list[str], text: str) -> str:
        return arith.step_truth(text, prefix_steps, *self._gold(row))

    def solution_right(self, row: dict, output: str) -> bool:
        return arith.solution_right(output, *self._gold(row))

    def arithmetic_right(self, output: str) -> tuple[int, int]:
        return arith.arithmetic_right(output)

    def answer_right(self, answer: str | None, gold: str) -> bool:
        return answer == gold  # integers written one way

    def judgment(self, row: dict, prefix_steps: list[str], a: dict, b: dict, better: str) -> str:
        """`a`, `b`: the candidates' `text` and `truth`. The check is against the value the prefix
        claims, as the checker's label is (arith.step_truth). Rollout labels (own_eft.labels) can
        call a step right where that check cannot be written (after an unreadable step, past the
        last operation): those pairs get the recomputation of real-data tasks instead."""
        idx = len(prefix_steps) + 1
        start, ops, operands = self._gold(row)
        last = arith.parse_step(prefix_steps[-1]) if prefix_steps else None
        if idx > len(ops) or (prefix_steps and last is None):
            return textsteps.judgment(a["text"], b["text"], better, a["truth"], b["truth"])
        prev = last.c if last else start
        check = (idx, prev, ops[idx - 1], operands[idx - 1], idx == len(ops))
        return self._judgment(a["text"], b["text"], better, *check, arith.step_sentence(row["problem"], idx))

    def rubric(self, row: dict, solution: str) -> outcome.Rubric:
        return outcome.rubric(solution, row["problem"], *self._gold(row))


class TextSteps:
    """Real-data step solutions (gsm8k, files): annotations recomputed, answers compared."""

    def __init__(self, name: str):
        self.name = name

    def build(self, p: PrepareParams) -> Built:
        """Every table from the train and test files (GSM8K's, or the user's)."""
        dropped: dict[str, int] = {}
        tables, pools = realdata.tables(p, split_sizes(p), dropped)
        return Built(tables, pools, dropped)

    def max_steps(self, row: dict) -> int:
        return len(row["gold_steps"]) + TEXT_SLACK_STEPS

    def step_truth(self, row: dict, prefix_steps: list[str], text: str) -> str:
        return textsteps.step_truth(text, prefix_steps, row["gold_answer"], self.max_steps(row))

    def solution_right(self, row: dict, output: str) -> bool:
        return textsteps.solution_right(output, row["gold_answer"])

    def arithmetic_right(self, output: str) -> tuple[int, int]:
        return textsteps.arithmetic_right(output)

    def answer_right(self, answer: str | None, gold: str) -> bool:
        return textsteps.answers_equal(answer, gold)

    def judgment(self, row: dict, prefix_steps: list[str], a: dict, b: dict, better: str) -> str:
        """`a`, `b`: the candidates' `text` and `truth` (the checker's or the rollouts' label)."""
        return textsteps.judgment(a["text"], b["text"], better, a["truth"], b["truth"])

    def rubric(self, row: dict, solution: str) -> textsteps.TextRubric:
        return textsteps.rubric(solution, row["gold_answer"])


def for_name(name: str, judge_template: str) -> Task:
    return Synthetic(judge_template) if name == "synthetic" else TextSteps(name)
