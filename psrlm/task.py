"""The task a run is on (params `prepare.task`), as the stages that need its ground truth see it.

A task knows, for a problem row (psrlm.tables.PROBLEMS), the truth of a candidate step after a
prefix, whether a whole solution is right, the judge's target judgment of a step pair and the SRLM
rubric. `synthetic` (the embedded default) checks every step exactly from the problem's structure
(psrlm/arith.py); `gsm8k` and `files` (psrlm/textsteps.py) check each step's calculator
annotations and the boxed answer, their rows leave `start` null and `ops`/`operands` empty.
"""

from __future__ import annotations

from typing import Protocol

from psrlm import arith, outcome, textsteps

# Steps a real-data solution may run past its gold solution's length before the rest are
# "past_last_step": the model's own solutions split the work differently from the gold one.
TEXT_SLACK_STEPS = 2


class Task(Protocol):
    name: str

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
