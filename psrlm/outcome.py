"""The outcome-based SRLM baseline (Yuan et al. 2024), pure logic: a whole solution scored 0-5 by
an additive rubric, the model's own score read back, best-vs-worst pairs; and the answer vote of
test-time majority voting (the model's own scores come from psrlm.tts.self_scores).

The rubric is Yuan et al.'s additive LLM-as-a-judge prompt (a point for each criterion met) in this
task's words. One point each:
  form        every line is a `Step n:` step, one per operation, the last boxing its result;
  start       the first step starts from the problem's number;
  operations  every step applies the problem's next operation to the previous step's result;
  arithmetic  every step's result is right for what it computes;
  answer      the boxed answer is proven: the form, operations and arithmetic points all hold.
So 5 is exactly a right solution (psrlm.arith.solution_right), and a judge that knows the steps can
derive every point. The target judgment checks each step on one line (the problem's sentence, the
step's first number against the previous result, its operation against the sentence's, its result
undone as in prompts/judge_v2), then the five points in that order and `Score: [[n]]`. It is kept
short: in the 600-token scratch vocabulary every new word costs a token per few letters, and each
judge example is trained on as many times as a step judge's.

Model text is parsed with regular expressions and recomputed with integer arithmetic, never evaluated.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from psrlm import arith

CRITERIA = ("form", "start", "operations", "arithmetic", "answer")
MAX_SCORE = len(CRITERIA)
_SCORE = re.compile(r"Score: \[\[(-?\d{1,6})\]\]")
# What undoes each operation in the check (`*` is checked by the commuted product instead).
_UNDO = {"+": "-", "-": "+", "/": "*"}


class Rubric(NamedTuple):
    points: dict[str, bool]
    lines: list[str]  # one checked line per solution line

    @property
    def score(self) -> int:
        return sum(self.points.values())


def rubric(solution: str, problem: str, start: int, ops: Sequence[str], operands: Sequence[int]) -> Rubric:
    """The ground truth's points for `solution` of the problem (its text and its structure)."""
    lines = solution.strip().split("\n") if solution.strip() else []
    steps = [arith.parse_step(line) for line in lines]
    n = len(ops)
    checked, ops_ok, arith_ok = [], True, bool(lines)
    prev: int | None = start
    for k, s in enumerate(steps, start=1):
        if s is None:
            checked.append(f"Step {k}: not a step.")
            ops_ok = arith_ok = False
            prev = None
            continue
        if k > n:
            checked.append(f"Step {k}: no operation left.")
            ops_ok = False
            prev = s.c
            continue
        op, b = ops[k - 1], operands[k - 1]
        same_from, same_op = prev is not None and s.a == prev, (s.op, s.b) == (op, b)
        if s.op == "*":
            x = s.b * s.a
            undo, right = f"{s.b} * {s.a} = {x}, {x} {s.c}", x == s.c
        else:
            x = arith.apply(s.c, _UNDO[s.op], s.b)
            undo, right = f"{s.c} {_UNDO[s.op]} {s.b} = {x}, {x} {s.a}", x == s.a
        checked.append(f"Step {k}: {arith.step_sentence(problem, k)} {s.a} {prev} {_ok(same_from)}, "
                       f"{s.op} {s.b} {_ok(same_op)}, {undo} {_ok(right)}.")
        ops_ok &= same_from and same_op
        arith_ok &= right
        prev = s.c
    form = (len(steps) == n and all(s is not None and s.index == k for k, s in enumerate(steps, start=1))
            and all(s.boxed is None for s in steps[:-1]) and steps[-1].boxed == steps[-1].c)
    points = {"form": form, "start": bool(steps) and steps[0] is not None and steps[0].a == start,
              "operations": ops_ok and len(steps) == n, "arithmetic": arith_ok}
    points["answer"] = points["form"] and points["operations"] and points["arithmetic"]
    return Rubric(points, checked)


def _ok(flag: bool) -> str:
    return "ok" if flag else "no"


def score_judgment(r: Rubric) -> str:
    """Target output of the score judge (prompts/score_v1): the checked lines, the points, the score."""
    points = " ".join(str(int(v)) for v in r.points.values())  # in the rubric's criteria order
    return "\n".join([*r.lines, f"Points {points}.", f"Score: [[{r.score}]]"])


def parse_score(text: str) -> tuple[int | None, str]:
    """(score, status): an integer 0-5 with status "ok", or None with why it cannot be read
    (psrlm.tables.SCORE_STATUSES: no score, two different scores, a number outside 0-5). Never guesses: an invalid score is
    counted, never scored."""
    found = {int(m) for m in _SCORE.findall(text)}
    if not found:
        return None, "no_score"
    if len(found) > 1:
        return None, "several_scores"
    score = found.pop()
    if not 0 <= score <= MAX_SCORE:
        return None, "out_of_range"
    return score, "ok"


def corrupt_solution(rng: random.Random, problem: arith.Problem, kind: str, d: arith.Difficulty) -> list[str] | None:
    """A wrong whole solution: one gold step corrupted (psrlm.arith.corrupt_step) and every later
    step computed on from its wrong result, as a solver that trusts its own steps would; None when
    the wrong value cannot be carried on exactly (an inexact division, a negative value)."""
    k = rng.randint(1, len(problem.ops))
    steps = problem.gold_steps()[:k - 1]
    bad = arith.corrupt_step(rng, problem, k, kind, d)
    steps.append(bad)
    value = arith.parse_step(bad).c
    for j in range(k, len(problem.ops)):
        op, b = problem.ops[j], problem.operands[j]
        try:
            nxt = arith.apply(value, op, b)
        except ValueError:
            return None
        if nxt < 0:
            return None
        steps.append(arith.format_step(j + 1, value, op, b, nxt, final=j + 1 == len(problem.ops)))
        value = nxt
    return steps


def majority(answers: Sequence[str | None]) -> str | None:
    """The most frequent answer among those given (None = no answer, never a vote); ties go to the
    answer sampled first, so the vote is a function of the samples alone."""
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return None
    top = max(votes.values())
    return next(a for a in answers if a is not None and votes[a] == top)


def best_scored(scores: Sequence[int | None]) -> int | None:
    """Index of the sample with the highest valid self-score (the first of equals); None when no
    score is valid."""
    valid = [(s, -i) for i, s in enumerate(scores) if s is not None]
    return -max(valid)[1] if valid else None
