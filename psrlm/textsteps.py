"""Real-data tasks (`gsm8k`, `files`): solutions as free-text `Step n:` lines whose calculator
annotations (GSM8K's `<<48/2=24>>24`) make each step's arithmetic checkable exactly.

A gold solution's lines become steps; `#### x` (GSM8K) becomes ` The answer is \\boxed{x}.` on the
last step, thousands separators removed. A step is checked by what it can be checked on without an
oracle: its form, each annotation's expression recomputed with exact fractions (a safe
recursive-descent parser over numbers, + - * / and parentheses, never `eval`), the number written
after the annotation against its result, and a boxed answer against the gold one. A step with no
annotation has no arithmetic to get wrong: only its form is checked (11% of GSM8K train lines).
Where that is too weak, own-sample labels come from Monte-Carlo rollouts instead (own_eft.labels).
"""

from __future__ import annotations

import random
import re
from fractions import Fraction
from typing import NamedTuple

from psrlm.arith import near_miss
from psrlm.prompts import final_answer


ANNOTATION = re.compile(r"<<([^<>=]{1,200})=([^<>=]{1,40})>>")
_STEP = re.compile(r"Step (\d{1,3}): (.+)")  # one line: `.` stops at a newline
_NUMBER = re.compile(r"-?(?:\d[\d,]*)?(?:\.\d+)?")
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|(//|[-+*/()]))")
MAX_EXPR_TOKENS = 60
MAX_DIGITS = 30  # a number longer than this is not a calculator result (and cannot blow up)


def number(text: str) -> Fraction | None:
    """A written number (`1,200`, `-3`, `.5`, `0.25`, `45%` is not one) as an exact fraction."""
    t = text.strip().replace(",", "")
    if not t or len(t) > MAX_DIGITS or _NUMBER.fullmatch(t) is None or t in ("-", ".", "-."):
        return None
    return Fraction(t)


def calc(expr: str) -> Fraction | None:
    """The exact value of a calculator expression, or None if it is not one (anything but numbers,
    + - * / // and parentheses; a division by zero; more than MAX_EXPR_TOKENS tokens). GSM8K's
    annotations were Python, so `//` floors and a leading `+` is allowed."""
    tokens, pos, text = [], 0, expr.replace(",", "")
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            return None
        tokens.append(m.group(1) or m.group(2))
        pos = m.end()
        if len(tokens) > MAX_EXPR_TOKENS or (m.group(1) and len(m.group(1)) > MAX_DIGITS):
            return None
    try:
        value, rest = _sum(tokens, 0)
    except (IndexError, ValueError, ZeroDivisionError):
        return None
    return value if rest == len(tokens) else None


def _sum(t: list[str], i: int) -> tuple[Fraction, int]:
    value, i = _product(t, i)
    while i < len(t) and t[i] in "+-":
        rhs, j = _product(t, i + 1)
        value, i = (value + rhs if t[i] == "+" else value - rhs), j
    return value, i


def _product(t: list[str], i: int) -> tuple[Fraction, int]:
    value, i = _unary(t, i)
    while i < len(t) and t[i] in ("*", "/", "//"):
        rhs, j = _unary(t, i + 1)
        if t[i] == "*":
            value = value * rhs
        else:
            value = value / rhs if t[i] == "/" else Fraction(value // rhs)
        i = j
    return value, i


def _unary(t: list[str], i: int) -> tuple[Fraction, int]:
    if t[i] in ("+", "-"):
        value, j = _unary(t, i + 1)
        return (-value if t[i] == "-" else value), j
    if t[i] == "(":
        value, i = _sum(t, i + 1)
        if t[i] != ")":
            raise ValueError("unbalanced parenthesis")
        return value, i + 1
    if t[i] in ("*", "/", "//", ")"):
        raise ValueError(f"unexpected {t[i]!r}")
    return Fraction(t[i]), i + 1


def result_right(exact: Fraction, written: Fraction, text: str) -> bool:
    """Whether `written` (as `text` wrote it) is `exact`, or `exact` rounded to its decimals: a
    model that writes 10/3 as 3.33 computed right (every GSM8K train annotation is exact)."""
    if exact == written:
        return True
    decimals = len(text.split(".")[1]) if "." in text else 0
    return decimals > 0 and abs(exact - written) <= Fraction(1, 2 * 10 ** decimals)


class Calculation(NamedTuple):
    expr: str
    result: str  # as written inside the annotation
    value: Fraction | None  # the expression's exact value (None: not a calculator expression)
    verdict: str  # "ok" | "wrong_result" | "bad_annotation" | "copy_mismatch"


def calculations(step: str) -> list[Calculation]:
    """Each annotation of a step line with its verdict: the expression must evaluate to the result,
    and the number right after `>>` must repeat it (GSM8K writes `<<2*600=1200>>1,200`)."""
    out = []
    for m in ANNOTATION.finditer(step):
        expr, res = m.group(1), m.group(2)
        value, written = calc(expr), number(res)
        if value is None or written is None:
            out.append(Calculation(expr, res, value, "bad_annotation"))
            continue
        verdict = "ok" if result_right(value, written, res.strip()) else "wrong_result"
        after = _NUMBER.match(step, m.end()).group(0)
        if verdict == "ok" and number(after) != written:
            verdict = "copy_mismatch"
        out.append(Calculation(expr, res, value, verdict))
    return out


def answers_equal(answer: str | None, gold: str) -> bool:
    """Numbers compare exactly (`1,080` = `1080`, `5.0` = `5`); anything else as stripped text."""
    if answer is None:
        return False
    a, g = number(answer), number(gold)
    return a == g if a is not None and g is not None else answer.strip() == gold.strip()


def check_step(text: str, index: int, gold_answer: str) -> str:
    """Verdict on one step line written as step `index`: "correct" or the first thing wrong."""
    m = _STEP.fullmatch(text.strip())
    if m is None:
        return "unparseable"
    if int(m.group(1)) != index:
        return "wrong_index"
    for c in calculations(text):
        if c.verdict != "ok":
            return c.verdict
    box = final_answer(text)
    if box is not None and not answers_equal(box, gold_answer):
        return "wrong_answer"
    return "correct"


def step_truth(text: str, prefix_steps: list[str], gold_answer: str, max_steps: int) -> str:
    """The checker's label of a candidate next step after `prefix_steps` (cf. psrlm.arith.step_truth).
    Without an oracle the check is local: the step's own arithmetic and answer; a step after
    `max_steps` (the gold solution's length plus slack) is "past_last_step"."""
    if len(prefix_steps) >= max_steps:
        return "past_last_step"
    return check_step(text, len(prefix_steps) + 1, gold_answer)


def solution_right(output: str, gold_answer: str) -> bool:
    """Every line a correct step in order, only the last boxing an answer, and that one the gold."""
    lines = output.strip().split("\n")
    if not lines or final_answer(lines[-1]) is None or any(final_answer(line) for line in lines[:-1]):
        return False
    return all(check_step(line, k, gold_answer) == "correct" for k, line in enumerate(lines, start=1))


def arithmetic_right(output: str) -> tuple[int, int]:
    """(annotations whose result is right, annotations written) over the leading step lines."""
    right = written = 0
    for line in output.strip().split("\n"):
        if _STEP.fullmatch(line.strip()) is None:
            break
        for c in calculations(line):
            written += 1
            right += c.verdict in ("ok", "copy_mismatch")
    return right, written


def strip_step_label(step: str) -> str:
    """A step text without a leading `Step n:` (a user's step list may carry one or not)."""
    m = _STEP.fullmatch(step.strip())
    return m.group(2).strip() if m else step.strip()


def final_line(answer: str) -> str:
    return f" The answer is \\boxed{{{answer}}}."


def split_solution(text: str, answer: str | None = None) -> tuple[list[str], str]:
    """A worked solution → (`Step n:` lines, final answer). The solution's own answer (GSM8K's
    `#### x` line, or its last line's `\\boxed{}`) or else `answer` (a file's answer column) is the
    gold one, appended to the last step; an answer column that disagrees with the solution's own
    answer is an error, never a silent choice. Blank lines are dropped; each other line is one step."""
    lines = [line.strip() for line in text.strip().split("\n") if line.strip()]
    written = None  # the answer the solution itself gives: `#### x`, or its last line's \boxed{}
    if lines and lines[-1].startswith("####"):
        written = lines.pop()[4:].strip()
    elif lines:
        written = final_answer(lines[-1])
    if answer is not None and written is not None and not answers_equal(written, answer.strip()):
        raise ValueError(f"the answer column says {answer.strip()!r}, the solution's own answer is {written!r}")
    answer = written if written is not None else answer
    if answer is None or not answer.strip():
        raise ValueError("no final answer (no `#### x` line, answer column or \\boxed{} on the last line)")
    if not lines:
        raise ValueError("no solution lines before the answer")
    answer = answer.strip()
    answer = answer.replace(",", "") if number(answer) is not None else answer
    steps = [f"Step {k}: {line}" for k, line in enumerate(lines, start=1)]
    if final_answer(steps[-1]) is None:
        steps[-1] += final_line(answer)
    return steps, answer


def corrupt_step(rng: random.Random, step: str, gold_answer: str) -> tuple[str, str] | None:
    """(a wrong version of a right step, its kind): an annotation's result changed and copied on
    (`<<48/2=25>>25`: the arithmetic is wrong), or, on a step with no annotation, the boxed answer
    changed. None when the step has neither."""
    ms = [m for m in ANNOTATION.finditer(step) if number(m.group(2)) is not None]
    if ms:
        m = rng.choice(ms)
        old = m.group(2).strip()
        bad = _shifted(rng, number(old), old)
        after = _NUMBER.match(step, m.end())
        tail = step[after.end():] if number(after.group(0)) == number(old) else step[m.end():]
        out = step[:m.start()] + f"<<{m.group(1)}={bad}>>" + bad + tail
        box = final_answer(out)
        if box is not None and answers_equal(box, gold_answer) and m.end() == max(x.end() for x in ms):
            out = out.replace(f"\\boxed{{{box}}}", f"\\boxed{{{bad}}}")  # the answer follows the slip
        return out, "wrong_result"
    box = final_answer(step)
    if box is not None and number(box) is not None:
        bad = _shifted(rng, number(box), box)
        return step.replace(f"\\boxed{{{box}}}", f"\\boxed{{{bad}}}"), "wrong_answer"
    return None


def _shifted(rng: random.Random, value: Fraction, text: str) -> str:
    """A nearby wrong number, written with the decimals of `text`."""
    bad = near_miss(rng, value)
    decimals = len(text.split(".")[1]) if "." in text else 0
    if decimals:
        return f"{float(bad):.{decimals}f}"
    return str(bad.numerator) if bad.denominator == 1 else f"{float(bad):.2f}"


def check_line(step: str) -> str:
    """One candidate's recomputation in the target judgments: each annotation's expression
    recomputed and held against the result it states (`48/2 = 24, 24 ok`)."""
    if _STEP.fullmatch(step.strip()) is None:
        return "not a step"
    parts = []
    for c in calculations(step):
        if c.value is None:
            parts.append(f"{c.expr} unreadable")
        else:
            parts.append(f"{c.expr} = {_fmt(c.value)}, {c.result} {'ok' if c.verdict == 'ok' else 'no'}")
    return "; ".join(parts) if parts else "no calculation"


def _fmt(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{float(v):.4g}"


def judgment(cand_a: str, cand_b: str, better: str, truth_a: str, truth_b: str) -> str:
    """Target output of the pairwise judge on a real-data step pair: each candidate recomputed,
    the checker's label, the verdict (the synthetic judgments' shape, psrlm.arith._judgment)."""
    lines = [f"{name}: {check_line(c)}. {'Right' if t == 'correct' else 'Wrong'}."
             for name, c, t in (("A", cand_a, truth_a), ("B", cand_b, truth_b))]
    return "\n".join([*lines, f"[[{better}]]"])


CRITERIA = ("form", "copies", "arithmetic", "boxed", "answer")


class TextRubric(NamedTuple):
    """psrlm.outcome.Rubric's shape for real-data solutions (outcome.score_judgment writes it)."""
    points: dict[str, bool]
    lines: list[str]

    @property
    def score(self) -> int:
        return sum(self.points.values())


def rubric(solution: str, gold_answer: str) -> TextRubric:
    """The additive 0-5 rubric of the SRLM judge on a real-data solution, one point each: form
    (numbered `Step n:` lines, only the last boxing), copies (each result repeated after its
    annotation), arithmetic (every annotation right, at least one line), boxed (the last line boxes
    an answer), answer (the boxed answer is the gold one and the four other points hold). So 5 is
    exactly `solution_right`."""
    lines = solution.strip().split("\n") if solution.strip() else []
    numbered = [_STEP.fullmatch(x.strip()) for x in lines]
    form = (bool(lines) and all(m is not None and int(m.group(1)) == k for k, m in enumerate(numbered, start=1))
            and final_answer(lines[-1]) is not None and not any(final_answer(x) for x in lines[:-1]))
    calcs = [c for x in lines for c in calculations(x)]
    box = final_answer(lines[-1]) if lines else None
    points = {"form": form, "copies": all(c.verdict != "copy_mismatch" for c in calcs),
              "arithmetic": bool(lines) and all(c.verdict in ("ok", "copy_mismatch") for c in calcs),
              "boxed": box is not None and box.strip() != ""}
    points["answer"] = all(points.values()) and answers_equal(box, gold_answer)
    checked = [f"Step {k}: {check_line(x)}." for k, x in enumerate(lines, start=1)]
    return TextRubric(points, checked)

