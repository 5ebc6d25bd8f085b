"""The embedded default's task: arithmetic word problems whose every step can be checked exactly.

A problem is a start value and a chain of operations (+, -, *, exact /). Its gold solution is one
`Step n: a op b = c.` line per operation (method.md §1); the last step adds `The answer is \\boxed{c}.`
Steps are parsed with a regular expression and recomputed with integer arithmetic: model text is
never evaluated.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from psrlm.errors import PsrlmError

OPS = ("+", "-", "*", "/")
NAMES = ("Ann", "Ben", "Cara", "Dan", "Eve", "Finn", "Gia", "Hugo", "Ivy", "Jack", "Kim", "Leo",
         "Mia", "Ned", "Ola", "Pam")
THINGS = ("apples", "coins", "marbles", "stickers", "cards", "books", "shells", "pens")
# One short phrasing per operation: measured on a 1M model, the words around the numbers cost
# training time and the model's hard part is copying the right number (see params.yaml [sft]).
PHRASES = {
    "+": "{n} gets {b} more.",
    "-": "{n} gives away {b}.",
    "*": "{n} gets {b} times as many.",
    "/": "{n} keeps one of {b} equal shares.",
}
# wrong_tens is a wrong result off by exactly ten (21 or 41 for 31): the slip of the hard tier's
# dropped ten, which a judge comparing two numbers by their units digit cannot see.
CORRUPTIONS = ("wrong_result", "wrong_operand", "wrong_operator", "wrong_tens")

_STEP = re.compile(
    r"Step (\d{1,3}): (-?\d{1,12}) ([-+*/]) (-?\d{1,12}) = (-?\d{1,12})\."
    r"(?: The answer is \\boxed\{(-?\d{1,12})\}\.)?"
)


@dataclass(frozen=True)
class Difficulty:
    num_ops_min: int
    num_ops_max: int
    start_min: int
    start_max: int
    addsub_min: int  # smallest operand of + and - (a tier of larger operands only)
    addsub_max: int  # largest operand of + and -
    muldiv_max: int  # largest operand of * and /
    value_max: int  # largest intermediate value: keeps products within a tiny model's reach
    op_weights: dict[str, float]


# The integer keys of a Difficulty: what a difficulty tier (prepare.tiers) may replace.
DIFFICULTY_KEYS = ("num_ops_min", "num_ops_max", "start_min", "start_max", "addsub_min", "addsub_max", "muldiv_max",
                   "value_max")


@dataclass(frozen=True)
class Step:
    index: int
    a: int
    op: str
    b: int
    c: int
    boxed: int | None  # the \boxed{} value, when the line states one


@dataclass(frozen=True)
class Problem:
    start: int
    ops: tuple[str, ...]
    operands: tuple[int, ...]
    text: str

    def values(self) -> list[int]:
        """Value before each operation, then the final value: start, v1, ..., answer."""
        out = [self.start]
        for op, b in zip(self.ops, self.operands):
            out.append(apply(out[-1], op, b))
        return out

    def gold_steps(self) -> list[str]:
        vals = self.values()
        last = len(self.ops)
        return [format_step(i + 1, vals[i], op, b, vals[i + 1], final=i + 1 == last)
                for i, (op, b) in enumerate(zip(self.ops, self.operands))]


def apply(a: int, op: str, b: int) -> int:
    """Exact integer arithmetic; division must leave no remainder."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0 or a % b:
            raise ValueError(f"{a} / {b} is not an exact division")
        return a // b
    raise ValueError(f"unknown operator {op!r}")


def format_step(index: int, a: int, op: str, b: int, c: int, final: bool) -> str:
    line = f"Step {index}: {a} {op} {b} = {c}."
    return f"{line} The answer is \\boxed{{{c}}}." if final else line


def parse_step(text: str) -> Step | None:
    """Parse one step line; None if it is not exactly in the step format."""
    m = _STEP.fullmatch(text.strip())
    if not m:
        return None
    index, a, op, b, c, boxed = m.groups()
    return Step(int(index), int(a), op, int(b), int(c), None if boxed is None else int(boxed))


def _allowed(value: int, op: str, d: Difficulty) -> list[int]:
    """Operands of `op` that keep every intermediate value an integer in [0, value_max]."""
    if op == "+":
        return list(range(d.addsub_min, min(d.addsub_max, d.value_max - value) + 1))
    if op == "-":
        return list(range(d.addsub_min, min(d.addsub_max, value) + 1))
    if op == "*":
        return list(range(2, min(d.muldiv_max, d.value_max // max(value, 1)) + 1))
    return [b for b in range(2, d.muldiv_max + 1) if value % b == 0 and value // b > 0]


def generate_problem(rng: random.Random, d: Difficulty) -> Problem:
    while True:  # redraw the rare chain that reaches a value no allowed operation can continue
        n_ops = rng.randint(d.num_ops_min, d.num_ops_max)
        start = rng.randint(d.start_min, d.start_max)
        value, ops, operands = start, [], []
        for _ in range(n_ops):
            choices = [op for op in OPS if d.op_weights.get(op, 0) > 0 and _allowed(value, op, d)]
            if not choices:
                break
            op = rng.choices(choices, weights=[d.op_weights[o] for o in choices])[0]
            b = rng.choice(_allowed(value, op, d))
            ops.append(op)
            operands.append(b)
            value = apply(value, op, b)
        if len(ops) == n_ops:
            break
    name, things = rng.choice(NAMES), rng.choice(THINGS)
    sentences = [f"{name} has {start} {things}."]
    sentences += [PHRASES[op].format(n=name, b=b) for op, b in zip(ops, operands)]
    sentences.append(f"How many {things} does {name} have now?")
    return Problem(start, tuple(ops), tuple(operands), " ".join(sentences))


def distinct_problems(rng: random.Random, d: Difficulty, n: int,
                      exclude: frozenset = frozenset()) -> list[Problem]:
    """`n` problems with pairwise different (start, ops, operands), hence different texts, none of
    them in `exclude` (signatures of problems another split already holds)."""
    seen, out = set(exclude), []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise PsrlmError(f"only {len(out)} distinct problems found for the {n} asked; "
                             "widen the difficulty ranges or ask for fewer")
        prob = generate_problem(rng, d)
        sig = (prob.start, prob.ops, prob.operands)
        if sig not in seen:
            seen.add(sig)
            out.append(prob)
    return out


def check_step(text: str, index: int, prev: int, op: str, b: int, final: bool) -> str:
    """Verdict of the ground truth on one step: "correct" or the first thing wrong with it.

    `prev` is the value the step must start from, `op b` the problem's operation at this step.
    """
    s = parse_step(text)
    if s is None:
        return "unparseable"
    if s.index != index:
        return "wrong_index"
    if s.op != op:
        return "wrong_operator"
    if s.a != prev or s.b != b:
        return "wrong_operand"
    try:
        if apply(s.a, s.op, s.b) != s.c:
            return "wrong_result"
    except ValueError:
        return "wrong_result"
    if final and s.boxed != s.c:
        return "missing_answer" if s.boxed is None else "wrong_answer"
    if not final and s.boxed is not None:
        return "early_answer"
    return "correct"


def solution_right(output: str, start: int, ops: list[str], operands: list[int]) -> bool:
    """Whether a whole solution is the gold one step by step: one line per operation, each
    `check_step`-correct from the true previous value, the last with the answer boxed. A right
    final answer reached past a wrong step (`46 + 11 = 58.` then `58 / 3 = 19.`) is not."""
    lines = output.strip().split("\n")
    if len(lines) != len(ops):
        return False
    prev = start
    for i, (line, op, b) in enumerate(zip(lines, ops, operands)):
        if check_step(line, i + 1, prev, op, b, i == len(ops) - 1) != "correct":
            return False
        prev = apply(prev, op, b)
    return True


def arithmetic_right(output: str) -> tuple[int, int]:
    """(steps whose result is right for the operands they wrote, steps that parse), over the
    leading step lines of a solution: the solver's arithmetic, apart from what it chose to compute."""
    right = written = 0
    for line in output.strip().split("\n"):
        s = parse_step(line)
        if s is None:
            break
        written += 1
        try:
            right += apply(s.a, s.op, s.b) == s.c
        except ValueError:  # an inexact division has no right result
            pass
    return right, written


def step_truth(text: str, prefix_steps: list[str], start: int, ops: list[str],
               operands: list[int]) -> str:
    """Ground truth of a candidate next step written after `prefix_steps` (the steps chosen before
    it, in order): "correct" or what is wrong with it (check_step's labels, plus two of its own).

    "Right" is relative to the prefix: the step must apply the problem's operation for its index to
    the value the previous step *claims* (its result), even when that claim is wrong. A step judged
    this way is the best possible continuation of the solution the model has written so far, which
    is what the search chooses between. A step after a prefix step that is not in the step format
    is "after_unreadable_step"; a step beyond the problem's last operation (after a final step that
    gave no answer, say) is "past_last_step". Both count as wrong.
    """
    context = step_context(prefix_steps, start, ops, operands)
    return context if isinstance(context, str) else check_step(text, *context)


def step_context(prefix_steps: list[str], start: int, ops: list[str],
                 operands: list[int]) -> tuple[int, int, str, int, bool] | str:
    """(index, prev, op, b, final) of the step after `prefix_steps`, `prev` being the value the
    last of them claims (step_truth), or step_truth's label where there is no such step."""
    index = len(prefix_steps) + 1
    if index > len(ops):
        return "past_last_step"
    prev = start
    if prefix_steps:
        last = parse_step(prefix_steps[-1])
        if last is None:
            return "after_unreadable_step"
        prev = last.c
    return index, prev, ops[index - 1], operands[index - 1], index == len(ops)


def near_miss(rng: random.Random, value):
    """A nearby wrong result (±1, ±2, ±10; never negative): the slip every corrupted step makes, in
    the synthetic task here and in the real-data steps (psrlm.textsteps)."""
    delta = rng.choice([-10, -2, -1, 1, 2, 10])
    return value + delta if value + delta >= 0 else value + abs(delta)


def corrupt_step(rng: random.Random, problem: Problem, index: int, kind: str, d: Difficulty) -> str:
    """A wrong version of gold step `index` (1-based): wrong result, operand or operator, or a
    result whose tens digit slipped (`wrong_tens`, the units digit kept).

    Wrong operands and operators are computed consistently (the arithmetic is right, the step is not),
    so a judge must compare the step with the problem, not only recompute it.
    """
    vals = problem.values()
    a, op, b = vals[index - 1], problem.ops[index - 1], problem.operands[index - 1]
    c = vals[index]
    final = index == len(problem.ops)
    if kind == "wrong_result":
        return format_step(index, a, op, b, near_miss(rng, c), final)
    if kind == "wrong_tens":
        return format_step(index, a, op, b, c + 10 if c < 10 or rng.random() < 0.5 else c - 10, final)
    if kind == "wrong_operand":
        # A slip in copying the previous value (for exact division: the next multiple of b).
        slips = (a - b, a + b) if op == "/" else (a - 1, a + 1, a - 10, a + 10)
        options = [(a2, b) for a2 in slips if a2 > 0]
        options += [(a, b2) for b2 in _allowed(a, op, d) if b2 != b]
        a2, b2 = rng.choice(options)
        return format_step(index, a2, op, b2, apply(a2, op, b2), final)
    if kind == "wrong_operator":
        o = rng.choice([o for o in OPS if o != op and _valid(a, o, b)])
        return format_step(index, a, o, b, apply(a, o, b), final)
    raise ValueError(f"unknown corruption {kind!r}")


def wrong_fields(cand: str, prev: int, op: str, b: int) -> int | None:
    """How many of the step's four fields (first operand, operator, operand, result) `cand` gets
    wrong against the right step `prev op b`; None when it is not a step."""
    s = parse_step(cand)
    if s is None:
        return None
    return sum(r != c for r, c in _field_pairs((prev, op, b, apply(prev, op, b)), s))


def _valid(a: int, op: str, b: int) -> bool:
    """Whether `a op b` is an exact, non-negative result (a step the task could contain)."""
    try:
        return apply(a, op, b) >= 0
    except ValueError:
        return False


def step_sentence(problem: str, index: int) -> str:
    """The sentence of `problem` that states operation `index` (1-based): sentence 0 gives the
    start value, sentence i the i-th operation (see generate_problem)."""
    return re.split(r"(?<=[.?]) ", problem)[index]


def judgment(cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str, b: int,
             final: bool, sentence: str) -> str:
    """Target judge output (method.md §3): quote the problem's sentence for this step, write the
    right next step exactly as the solver would, then hold each candidate against it field by field,
    then the verdict.

    Writing the right step first, in the solve format, makes judging the solving skill plus a
    comparison, so the two skills help each other in a tiny model instead of competing. Measured on
    the 1M model: holding a whole copied equation against the right one ("A: 59 - 5 = 54. Wrong.")
    stayed at chance after 25 minutes although both lines were copied right; so each field of the
    right step (first operand, operator, second operand, result) is written beside the candidate's
    with "ok" or "no", and every decision is between two adjacent numbers. Measured with 8 heads:
    when its right step was right the judge was right 316 times out of 316, but 22% of its right
    steps were copies of the wrong candidate; quoting the sentence first ("Next: Eve gives away
    3.") ties the step to the problem instead of to the candidates below it.
    """
    right = (prev, op, b, apply(prev, op, b))
    return _judgment([f"Next: {sentence}", format_step(index, *right, final=False)],
                     lambda s: _fields(right, s), cand_a, cand_b, better, (index, prev, op, b, final))


def _field_pairs(right: tuple[int, str, int, int], s: Step):
    """(right, candidate) for each field: first operand, operator, operand, result."""
    return zip(right, (s.a, s.op, s.b, s.c))


def _fields(right: tuple[int, str, int, int], s: Step) -> str:
    """Each field of the right step beside the candidate's (`_field_pairs`), with `ok` or `no`:
    every decision is between two adjacent numbers; `wrong_fields` counts the `no`s."""
    return ", ".join(f"{r} {c} {'ok' if r == c else 'no'}" for r, c in _field_pairs(right, s))


def _answer(s: Step, final: bool) -> str:
    """On a last step, or a candidate that states an answer: whether its boxed answer is its result
    and the step is the last."""
    return f", answer {'ok' if final and s.boxed == s.c else 'no'}" if final or s.boxed is not None else ""


def _judgment(head: list[str], check: Callable[[Step], str], cand_a: str, cand_b: str,
              better: str, truth: tuple[int, int, str, int, bool]) -> str:
    """The lines both judgment formats share: `head`, then per candidate its `check` (or "not a
    step") and the checker's label, then the verdict."""
    lines = list(head)
    for name, cand in (("A", cand_a), ("B", cand_b)):
        s = parse_step(cand)
        ok = check_step(cand, *truth) == "correct"
        lines.append(f"{name}: {'not a step' if s is None else check(s)}. {'Right' if ok else 'Wrong'}.")
    lines.append(f"[[{better}]]")
    return "\n".join(lines)


# What undoes each operation in the inverse check; `*` is checked by the commuted product instead
# (undoing it by division leaves remainders for every wrong result).
_UNDO = {"+": "-", "-": "+", "/": "*"}


def inverse_judgment(cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str, b: int,
                     final: bool, sentence: str) -> str:
    """Target judge output of prompts/judge_v2: check each candidate by a different path from the
    solver's. Its result is undone with the problem's operation (`87 + 9 = 96` checks
    `96 - 9 = 87`) and held against the value the step starts from; a product is recomputed
    commuted (`4 * 8` for `8 * 4`). The solver's own line is never written.

    Why (issue 12): judge_v1 writes the right step first, and on the model's own candidates it
    copies the wrong candidate's result into that line 37% of the time (176 of 470 held-out own
    pairs, the verdict then always wrong). Here each check is a different sum for each candidate,
    so there is no one line to copy; a check that merely copies gives `96` for both, a tie, not a
    wrong verdict.
    """
    return _judgment([f"Next: {sentence}"], lambda s: _undo(s, prev, op, b) + _answer(s, final),
                     cand_a, cand_b, better, (index, prev, op, b, final))


def _undo(s: Step, prev: int, op: str, b: int) -> str:
    """judge_v2's check of candidate `s` of the step `prev op b`: its result undone (a product
    recomputed commuted) and held against the value the step starts from."""
    if op == "*":
        x = b * prev
        return f"{b} * {prev} = {x}, {x} {s.c} {'ok' if x == s.c else 'no'}"
    x = apply(s.c, _UNDO[op], b)
    return f"{s.c} {_UNDO[op]} {b} = {x}, {x} {prev} {'ok' if x == prev else 'no'}"


def _bound(s: Step, prev: int, op: str, b: int) -> str:
    """The size of a + or - result from the operand's tens alone, before the undo check: `71 - 17`
    is at most 71 - 10 = 61, `54 + 19` at least 54 + 10 = 64. Empty for an operand under 10 and
    for * and /."""
    tens = b // 10 * 10
    if op not in "+-" or not tens:
        return ""
    edge = apply(prev, op, tens)
    holds = s.c >= edge if op == "+" else s.c <= edge
    return f"{prev} {op} {tens} = {edge}, {s.c} {'at least' if op == '+' else 'at most'} {edge} " \
           f"{'ok' if holds else 'no'}; "


def bound_judgment(cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str, b: int,
                   final: bool, sentence: str) -> str:
    """Target judge output of judge_v7: judge_v2's undo check, after a bound on the result's size
    from the operand's tens (`_bound`). Why (issue 28, docs/easy-to-hard.md): on +/- operands
    16-19 M1 drops the operand's ten (`71 - 17 = 64`), and undoing with the same dropped ten
    (`64 + 17 = 71`) agrees with it, so judge_v3 was a coin between the right step and that one.
    The bound needs only `prev -/+ 10` (operand 10 is in the base tier) and a comparison, a check
    easier than the step, and it fails exactly that error (64 is not at most 61)."""
    def check(s: Step) -> str:
        return _bound(s, prev, op, b) + _undo(s, prev, op, b) + _answer(s, final)

    return _judgment([f"Next: {sentence}"], check, cand_a, cand_b, better, (index, prev, op, b, final))


def _digit(n: int, i: int) -> int:
    return n // 10 ** i % 10


def _column_facts(left: int, op: str, b: int, width: int):
    """School columns of `left op b` for + - *, from the units up: per column its single-digit
    fact with the carry or borrow from the one before (`9+0+1=10`, a borrowing column `12-7=5`,
    `1*6+1=7`) and the digit it gives. Runs until `left`, `b` (for + -), `width` and the carry are
    used up."""
    k, i = 0, 0
    while 10 ** i <= max(width, left, b if op in "+-" else 0) or k or i == 0:
        x, y = _digit(left, i), _digit(b, i)
        if op == "+":
            v = x + y + k
            yield f"{x}+{y}{'+1' if k else ''}={v}", v % 10
            k = v // 10
        elif op == "-":
            v = x - y - k
            borrow = v < 0
            yield f"{'1' if borrow else ''}{x}-{y}{'-1' if k else ''}={v + 10 * borrow}", v + 10 * borrow
            k = int(borrow)
        else:
            v = x * b + k
            yield f"{x}*{b}{f'+{k}' if k else ''}={v}", v % 10
            k = v // 10
        i += 1


def columns(prev: int, op: str, b: int, c: int) -> str:
    """The right result's digits from the units up, one school column at a time, each held against
    the candidate result `c`'s digit in that column: `68 + 10 = 88` gives `8+0=8 8 ok, 6+1=7 8 no`.
    A carry or borrow is written into the next column (`+1`, `-1`; a borrowing column reads `12-5=7`);
    a product multiplies each digit of `prev` by `b`; a quotient is checked by multiplying `c` back
    by `b` against `prev`'s digits. Columns run until both numbers and the carry are used up, so a
    digit too many or too few is a column that says `no`."""
    ref, left, fact_op = (prev, c, "*") if op == "/" else (c, prev, op)  # "/": c * b against prev
    out = []
    for i, (fact, digit) in enumerate(_column_facts(left, fact_op, b, abs(ref))):
        want = _digit(abs(ref), i)
        out.append(f"{fact} {want} {'ok' if digit == want else 'no'}")
    return ", ".join(out) + (", minus no" if ref < 0 else "")


def column_judgment(cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str, b: int,
                    final: bool, sentence: str) -> str:
    """Target judge output of prompts/judge_v4 (issue 28): a check easier than the step. The solver
    writes a result's digits from the most significant, which needs every carry before its first
    digit; this check recomputes it from the units up, one single-digit fact and a carry at a time
    (`columns`), the order in which small transformers learn arithmetic far more reliably (Lee et
    al. 2023, reversed outputs). Each candidate first has its operation held against the problem's
    (`68 + 10 ok`: the value it starts from, the operation, the operand), then its result's columns,
    then, on the last step, its boxed answer. judge_v2/v3 undo the result instead (a whole
    subtraction or division, as hard as the step)."""
    def check(s: Step) -> str:
        same = (s.a, s.op, s.b) == (prev, op, b)
        return f"{prev} {op} {b} {'ok' if same else 'no'}, {columns(prev, op, b, s.c)}" + _answer(s, final)

    return _judgment([f"Next: {sentence}"], check, cand_a, cand_b, better, (index, prev, op, b, final))


def worked(prev: int, op: str, b: int) -> str:
    """The right result of `prev op b` worked out in school columns, with no candidate in it:
    +, - and * from the units up (`_column_facts`: `5+7=12, 9+0+1=10, 0+0+1=1`), / by long
    division from the top (`9/4=2r1, 16/4=4r0`), then the result the columns spell (`so 102`)."""
    if op == "/":
        out, r = [], 0
        for d in str(prev):
            cur = r * 10 + int(d)
            r = cur % b
            out.append(f"{cur}/{b}={cur // b}r{r}")
    else:
        out = [fact for fact, _ in _column_facts(prev, op, b, 0)]
    return ", ".join(out) + f", so {apply(prev, op, b)}"


def worked_judgment(cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str, b: int,
                    final: bool, sentence: str) -> str:
    """Target judge output of prompts/judge_v5 (issue 28): work the right step out once, in columns,
    before either candidate is looked at, then hold each candidate's fields against it, each pair
    of numbers adjacent (`7 6 no`, as judge_v1's fields).

    Why: judge_v4 writes each column's fact beside a candidate's digit (`7-6=1 0 no`), and the
    1.5-epoch M1 trained on it wrote a wrong single-digit fact in 387 of 2,040 columns of the
    held-out EFT judgments, mostly the candidate's own digit (`7-6=0 0 ok`, 148 of 258 wrong
    subtraction facts): beside each candidate, copying its digit is right in most columns of the
    training data, so copying is what it learns. Worked out once, the columns are the same for
    both candidates and copying either one is right only as often as that candidate is; and the
    columns (from the units up for + - *) stay easier than the solver's step, which writes the
    most significant digit first."""
    return _worked_judgment("", cand_a, cand_b, better, index, prev, op, b, final, sentence)


def _worked_judgment(source: str, cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str,
                     b: int, final: bool, sentence: str) -> str:
    right = (prev, op, b, apply(prev, op, b))
    return _judgment([f"Next: {sentence}", f"{source}{prev} {op} {b}: {worked(prev, op, b)}"],
                     lambda s: _fields(right, s) + _answer(s, final), cand_a, cand_b, better,
                     (index, prev, op, b, final))


def sourced_judgment(cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str, b: int,
                     final: bool, sentence: str) -> str:
    """Target judge output of prompts/judge_v6: judge_v5 with the worked line's first number named
    by where it comes from (`Step 2 gave 7.`, `Start 16.`) before the operation is written.

    Why: 94 of judge_v5's 111 wrong worked lines on held-out EFT wrote the wrong candidate's
    operation (`6 - 6` for `7 - 6`) and then its result. The operand is quoted in the sentence
    line above; the value the step starts from is not, so the model takes it from a candidate.
    Naming the step it comes from points it at the prefix instead."""
    source = f"Step {index - 1} gave {prev}. " if index > 1 else f"Start {prev}. "
    return _worked_judgment(source, cand_a, cand_b, better, index, prev, op, b, final, sentence)


def split(prev: int, op: str, b: int) -> str:
    """`prev op b` worked out in steps the base tier taught: a + or - operand of 10 or more is
    split into its tens and its units (`71 - 17: 71 - 10 = 61, 61 - 7 = 54`); any other step is
    written as the solver would (`8 * 4 = 32`)."""
    tens, units = b // 10 * 10, b % 10
    if op not in "+-" or not tens:
        return f"{prev} {op} {b} = {apply(prev, op, b)}"
    x = apply(prev, op, tens)
    return f"{prev} {op} {b}: {prev} {op} {tens} = {x}, {x} {op} {units} = {apply(x, op, units)}"


def split_judgment(cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str, b: int,
                   final: bool, sentence: str) -> str:
    """Target judge output of judge_v8 (issue 28): judge_v6's line naming where the first number
    comes from, the step worked out once by `split` before either candidate, then each
    candidate's fields beside it (`64 54 no`).

    Why: judge_v7's M1 wrote its bound right in all 1,136 lines on its own add16_19 candidates
    (`71 - 10 = 61`) and then said `ok` to 97% of the bounds that fail, at every margin: its
    verdict follows what it believes the step is, and on operands 16-19 it believes the dropped
    ten; its undo check drops the same ten. Split, the step is two steps whose operands the base
    tier holds (a multiple of ten, then a single digit), so the worked result comes from skills
    the model has, not from its belief about the teen step."""
    source = f"Step {index - 1} gave {prev}. " if index > 1 else f"Start {prev}. "
    right = (prev, op, b, apply(prev, op, b))
    return _judgment([f"Next: {sentence}", f"{source}{split(prev, op, b)}"],
                     lambda s: _fields(right, s) + _answer(s, final), cand_a, cand_b, better,
                     (index, prev, op, b, final))


def _digits(r: int, c: int) -> str:
    """The right result's digits beside the candidate result's, from the most significant, the
    shorter padded with leading 0s (`54 154` gives `0 1 no, 5 5 ok, 4 4 ok`), then `minus no`
    where exactly one is negative: each decision is between two single digits."""
    width = max(len(str(abs(r))), len(str(abs(c))))
    pairs = zip(str(abs(r)).zfill(width), str(abs(c)).zfill(width))
    return ", ".join(f"{x} {y} {'ok' if x == y else 'no'}" for x, y in pairs) + (", minus no" if (r < 0) != (c < 0) else "")


_NO = re.compile(r"\bno\b")


def _ordered_check(right: tuple[int, str, int, int], s: Step, final: bool) -> str:
    """judge_v9's line for one candidate: judge_v8's first three fields, then the result digit by
    digit (`_digits`), then the answer check."""
    head = ", ".join(f"{r} {c} {'ok' if r == c else 'no'}" for r, c in list(_field_pairs(right, s))[:3])
    return f"{head}, {_digits(right[3], s.c)}{_answer(s, final)}"


def error_key(cand: str, index: int, prev: int, op: str, b: int, final: bool) -> tuple[int, int] | None:
    """Where judge_v9 ranks a candidate of the step `prev op b` (smaller is better): the `no`s of
    its line (at least 1 when the checker calls it wrong: a wrong step number shows in no field),
    then its result; None when it is not a step (ranked below every step)."""
    s = parse_step(cand)
    if s is None:
        return None
    nos = len(_NO.findall(_ordered_check((prev, op, b, apply(prev, op, b)), s, final)))
    return max(nos, check_step(cand, index, prev, op, b, final) != "correct"), s.c


def _smaller(x: int, y: int) -> str:
    """judge_v10's comparison of two results: their digits from the most significant, the shorter
    padded with 0s, up to the first pair that differs (`18 17: 1 1, 8 7`)."""
    width = max(len(str(x)), len(str(y)))
    pairs = list(zip(str(x).zfill(width), str(y).zfill(width)))
    upto = next(i for i, (d, e) in enumerate(pairs) if d != e)
    return f"{x} {y}: " + ", ".join(f"{d} {e}" for d, e in pairs[:upto + 1])


def _fewer(ka: tuple[int, int] | None, kb: tuple[int, int] | None, spelled: bool = False) -> str:
    """The closing line of judge_v9 and v10: each candidate's count of `no`s (`none`: not a step)
    and, where they are equal, which result is smaller, at once (`A 1 no, B 1 no, 44 64 A
    smaller.`, v9) or digit by digit (`A 1 no, B 1 no, 18 17: 1 1, 8 7 B smaller.`, v10)."""
    line = ", ".join(f"{n} {'none' if k is None else f'{k[0]} no'}" for n, k in (("A", ka), ("B", kb)))
    if ka is not None and kb is not None and ka[0] == kb[0] and ka[1] != kb[1]:
        # (a negative result, which no synthetic step has, is compared at once)
        compared = _smaller(ka[1], kb[1]) if spelled and min(ka[1], kb[1]) >= 0 else f"{ka[1]} {kb[1]}"
        line += f", {compared} {'A' if ka[1] < kb[1] else 'B'} smaller"
    return line + "."


def ordered_verdict(ka: tuple[int, int] | None, kb: tuple[int, int] | None) -> str | None:
    """The candidate judge_v9's closing line prefers: fewer `no`s, then the smaller result, any step
    before none; None where the keys do not decide (equal, or neither is a step)."""
    if ka == kb:
        return None
    if ka is None or kb is None:
        return "B" if ka is None else "A"
    return "A" if ka < kb else "B"


def ordered_judgment(cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str, b: int,
                     final: bool, sentence: str, spelled: bool = False) -> str:
    """Target judge output of judge_v9 (issue 28): judge_v8 with each result compared digit by
    digit, then a line counting each candidate's `no`s, and where the counts tie, the smaller
    result: one total order over candidates, so every pair has a verdict that does not depend on
    the order it is shown in.

    Why: on judge_v8's own-candidate pairs, position consistency was 96% where one candidate is
    right and 41% where both are wrong; 422 of 460 such judgments were two wrong results, which
    judge_v8's training ranks equally wrong (one `no` each), so it learnt no verdict for them and
    says B 77% of the time (session 16). Counting wrong digits ranks them (fewer wrong digits, the
    smaller error), comparing two numbers breaks what is left, and both checks are single-digit or
    size comparisons, easier than the step."""
    source = f"Step {index - 1} gave {prev}. " if index > 1 else f"Start {prev}. "
    right = (prev, op, b, apply(prev, op, b))
    truth = (index, prev, op, b, final)
    text = _judgment([f"Next: {sentence}", f"{source}{split(prev, op, b)}"],
                     lambda s: _ordered_check(right, s, final), cand_a, cand_b, better, truth)
    ka, kb = error_key(cand_a, *truth), error_key(cand_b, *truth)
    prefers = ordered_verdict(ka, kb)
    if prefers not in (None, better):
        raise ValueError(f"judge_v9 ranks {prefers} above {better}: {cand_a!r} / {cand_b!r} for {truth}")
    head, verdict = text.rsplit("\n", 1)
    return f"{head}\n{_fewer(ka, kb, spelled)}\n{verdict}"


def spelled_judgment(cand_a: str, cand_b: str, better: str, index: int, prev: int, op: str, b: int,
                     final: bool, sentence: str) -> str:
    """Target judge output of judge_v10 (issue 28): judge_v9 with its tie-break, the smaller of two
    results, compared digit by digit from the most significant (`18 17: 1 1, 8 7 B smaller`).

    Why: judge_v9's M1 (seed 0, AVX2) counted the `no`s of its own lines right in 934 of 946
    both-wrong judgments and followed its closing line in 941, but named the smaller of two
    results right in only 256 of 412 ties, 118 of its 156 misses between numbers that share their
    leading digits (`18 17 A smaller`): it compares the first digits. Written out, each decision
    is between two single digits, as every other check of the format is."""
    return ordered_judgment(cand_a, cand_b, better, index, prev, op, b, final, sentence, spelled=True)


# The target judgment of each judge prompt (prompts.judge): a prompt version and the output it asks
# for change together. judge_v3 is judge_v2's judgment under a shorter prompt (no instruction
# sentence, no bracketed headers: 16 fewer tokens in every judge example the scratch model trains
# on); a pretrained model reads judge_v2's instruction (the GPU recipes keep it). judge_v4, v5
# and v6 are judge_v3's prompt asking for the column checks, judge_v7 for the bound and the undo,
# judge_v8 for the split step, judge_v9 for the split step with results digit by digit and a
# total order over candidates, judge_v10 for that order's tie-break digit by digit.
JUDGMENTS = {"judge_v1": judgment, "judge_v2": inverse_judgment, "judge_v3": inverse_judgment,
             "judge_v4": column_judgment, "judge_v5": worked_judgment, "judge_v6": sourced_judgment,
             "judge_v7": bound_judgment, "judge_v8": split_judgment,
             "judge_v9": ordered_judgment, "judge_v10": spelled_judgment}


# The formats that hold every field of a candidate beside the right step's (`_fields`), so that a
# judgment can say which of two wrong candidates is the smaller error (prepare.both_wrong_share).
FIELD_JUDGMENTS = frozenset({"judge_v1", "judge_v5", "judge_v6", "judge_v8", "judge_v9", "judge_v10"})
# The formats whose order ranks two wrong results of the right operation (prepare.both_wrong_results).
RESULT_ORDER_JUDGMENTS = frozenset({"judge_v9", "judge_v10"})


def both_wrong_order(judgment) -> Callable[[str, int, int, str, int, bool], object]:
    """How target judgment `judgment` ranks two wrong candidates (smaller is better), as a key of
    (candidate, index, prev, op, b, final): judge_v9 by `error_key`, the other field formats by
    `wrong_fields`."""
    if judgment in (ordered_judgment, spelled_judgment):
        return error_key
    return lambda cand, index, prev, op, b, final: wrong_fields(cand, prev, op, b)


def judgment_for(template: str):
    """The target-judgment function of judge prompt `template`; any other is a one-line error
    naming the key, before a stage has read or loaded anything."""
    if template not in JUDGMENTS:
        raise PsrlmError(f"prompts.judge: no target judgment is defined for judge prompt {template!r}; "
                         f"known: {', '.join(sorted(JUDGMENTS))}")
    return JUDGMENTS[template]
