import dataclasses
import random
import re

import pytest

from psrlm import arith
from psrlm.errors import PsrlmError
from psrlm.prompts import parse_verdict, said_right

D = arith.Difficulty(2, 4, 1, 100, 1, 50, 9, 999, {"+": 1.0, "-": 1.0, "*": 0.5, "/": 0.5})


def problems(n=500, seed=0):
    rng = random.Random(seed)
    return [arith.generate_problem(rng, D) for _ in range(n)]


def test_gold_steps_verify_and_stay_in_range():
    for prob in problems():
        vals = prob.values()
        assert 2 <= len(prob.ops) <= 4
        assert all(0 <= v <= D.value_max for v in vals)
        for k, step in enumerate(prob.gold_steps()):
            final = k + 1 == len(prob.ops)
            assert arith.check_step(step, k + 1, vals[k], prob.ops[k], prob.operands[k], final) == "correct"
        assert prob.gold_steps()[-1].endswith(f"The answer is \\boxed{{{vals[-1]}}}.")


def test_addsub_min_draws_only_the_larger_operands():
    tier = dataclasses.replace(D, addsub_min=16, addsub_max=19, value_max=99, start_max=99)
    rng = random.Random(3)
    drawn = [arith.generate_problem(rng, tier) for _ in range(300)]
    addsub = [b for p in drawn for op, b in zip(p.ops, p.operands) if op in "+-"]
    assert len(addsub) > 300 and set(addsub) == {16, 17, 18, 19}


def test_problem_text_states_every_operand_in_order():
    for prob in problems(100):
        numbers = [int(n) for n in re.findall(r"\b\d+\b", prob.text)]
        assert numbers == [prob.start, *prob.operands]


@pytest.mark.parametrize("kind", arith.CORRUPTIONS)
def test_every_corruption_is_wrong_and_parseable(kind):
    rng = random.Random(1)
    for prob in problems(300):
        vals = prob.values()
        for idx in range(1, len(prob.ops) + 1):
            bad = arith.corrupt_step(rng, prob, idx, kind, D)
            final = idx == len(prob.ops)
            verdict = arith.check_step(bad, idx, vals[idx - 1], prob.ops[idx - 1], prob.operands[idx - 1], final)
            assert arith.parse_step(bad) is not None
            if kind == "wrong_operand":  # a slipped operand can make the step another operation's
                assert verdict in ("wrong_operand", "wrong_operator")
            elif kind == "wrong_tens":  # off by exactly ten, the units digit kept
                assert verdict == "wrong_result"
                assert abs(arith.parse_step(bad).c - vals[idx]) == 10 and arith.parse_step(bad).c >= 0
            else:
                assert verdict == kind


@pytest.mark.parametrize("text, verdict", [
    ("Step 2: 10 + 5 = 15.", "correct"),
    ("Step 2: 10 + 5 = 16.", "wrong_result"),
    ("Step 2: 11 + 5 = 16.", "wrong_operand"),
    ("Step 2: 10 * 5 = 50.", "wrong_operator"),
    ("Step 3: 10 + 5 = 15.", "wrong_index"),
    ("Step 2: 10 + 5 = 15. The answer is \\boxed{15}.", "early_answer"),
    ("Step 2: 10 + 5 = fifteen.", "unparseable"),
    ("Step 2: __import__('os').system('true')", "unparseable"),
    ("Step 2: " + "9" * 10_000 + " + 5 = 15.", "unparseable"),
])
def test_check_step_names_the_first_fault(text, verdict):
    assert arith.check_step(text, 2, 10, "+", 5, final=False) == verdict


def test_final_step_needs_the_boxed_answer():
    assert arith.check_step("Step 1: 12 / 4 = 3.", 1, 12, "/", 4, final=True) == "missing_answer"
    assert arith.check_step("Step 1: 12 / 4 = 3. The answer is \\boxed{4}.", 1, 12, "/", 4, final=True) == "wrong_answer"


def test_exact_division_only():
    assert arith.apply(12, "/", 4) == 3
    with pytest.raises(ValueError):
        arith.apply(13, "/", 4)


def test_step_sentence_is_the_sentence_of_that_operation():
    rng = random.Random(3)
    for _ in range(50):
        p = arith.generate_problem(rng, D)
        for i, (op, b) in enumerate(zip(p.ops, p.operands), start=1):
            s = arith.step_sentence(p.text, i)
            assert s.endswith(".") and f" {b}" in s
            assert s.split(" ", 1)[1] == arith.PHRASES[op].format(n="", b=b).strip()


def test_judgment_quotes_the_sentence_writes_the_right_step_then_checks_each_field():
    text = arith.judgment("Step 2: 7 + 5 = 13.", "Step 2: 7 + 5 = 12.", "B", 2, 7, "+", 5, False,
                          "Ann gets 5 more.")
    assert text.splitlines() == ["Next: Ann gets 5 more.", "Step 2: 7 + 5 = 12.",
                                 "A: 7 7 ok, + + ok, 5 5 ok, 12 13 no. Wrong.",
                                 "B: 7 7 ok, + + ok, 5 5 ok, 12 12 ok. Right.", "[[B]]"]
    wrong_op = arith.judgment("Step 1: 7 * 5 = 35.", "Step 1: 7 + 5 = 12.", "B", 1, 7, "+", 5, False, "S.")
    assert "A: 7 7 ok, + * no, 5 5 ok, 12 35 no. Wrong." in wrong_op
    # the final step's line is still written in the mid-solution form: the fields are what is compared
    junk = arith.judgment("Step 1: 7 + 5 = 12. The answer is \\boxed{12}.", "blah", "A", 1, 7, "+", 5, True,
                          "S.")
    assert junk.splitlines()[1:] == ["Step 1: 7 + 5 = 12.", "A: 7 7 ok, + + ok, 5 5 ok, 12 12 ok. Right.",
                                 "B: not a step. Wrong.", "[[A]]"]
    # a right-looking final step without its boxed answer is wrong although every field matches
    unboxed = arith.judgment("Step 1: 7 + 5 = 12.", "blah", "B", 1, 7, "+", 5, True, "S.")
    assert "A: 7 7 ok, + + ok, 5 5 ok, 12 12 ok. Wrong." in unboxed


# 83 - 5 = 78, 78 + 3 = 81, 81 / 3 = 27: the problem's structured columns.
TRUTH = dict(start=83, ops=["-", "+", "/"], operands=[5, 3, 3])


@pytest.mark.parametrize("prefix, text, label", [
    ([], "Step 1: 83 - 5 = 78.", "correct"),
    ([], "Step 1: 83 - 5 = 79.", "wrong_result"),
    ([], "Step 1: 83 + 5 = 88.", "wrong_operator"),
    ([], "Step 1: 83 - 6 = 77.", "wrong_operand"),
    ([], "Step 2: 83 - 5 = 78.", "wrong_index"),
    ([], "Step 1: 83 - 5 = 78. The answer is \\boxed{78}.", "early_answer"),
    ([], "the answer is 27", "unparseable"),
    # The landed bug: step 2 after a right step 1 (every step-2 candidate was marked wrong).
    (["Step 1: 83 - 5 = 78."], "Step 2: 78 + 3 = 81.", "correct"),
    (["Step 1: 83 - 5 = 78."], "Step 2: 78 + 3 = 82.", "wrong_result"),
    # After a wrong step, right means right relative to the value that step claims.
    (["Step 1: 83 - 5 = 79."], "Step 2: 79 + 3 = 82.", "correct"),
    (["Step 1: 83 - 5 = 79."], "Step 2: 78 + 3 = 81.", "wrong_operand"),
    (["Step 1: 83 - 5 = 78.", "Step 2: 78 + 3 = 81."], "Step 3: 81 / 3 = 27. The answer is \\boxed{27}.",
     "correct"),
    (["Step 1: 83 - 5 = 78.", "Step 2: 78 + 3 = 81."], "Step 3: 81 / 3 = 27.", "missing_answer"),
    (["Step 1: 83 - 5 = 78.", "Step 2: 78 + 3 = 81."], "Step 3: 81 / 3 = 27. The answer is \\boxed{26}.",
     "wrong_answer"),
    (["Step 1: 83 - 5 = 78.", "oops"], "Step 3: 81 / 3 = 27. The answer is \\boxed{27}.", "after_unreadable_step"),
    (["Step 1: 83 - 5 = 78.", "Step 2: 78 + 3 = 81.", "Step 3: 81 / 3 = 27."], "Step 4: 27 + 1 = 28.",
     "past_last_step"),
])
def test_step_truth_is_relative_to_the_value_the_prefix_claims(prefix, text, label):
    assert arith.step_truth(text, prefix, **TRUTH) == label


def test_inverse_judgment_undoes_each_candidate_and_never_writes_the_solvers_line():
    text = arith.inverse_judgment("Step 2: 96 - 9 = 87.", "Step 2: 96 - 9 = 97.", "A", 2, 96, "-", 9,
                                  False, "Jack gives away 9.")
    assert text.splitlines() == ["Next: Jack gives away 9.", "A: 87 + 9 = 96, 96 96 ok. Right.",
                                 "B: 97 + 9 = 106, 106 96 no. Wrong.", "[[A]]"]
    assert "96 - 9" not in text  # the step as the solver writes it is not there to be copied
    # A wrong operator is caught by undoing the problem's operation; a product is recomputed
    # commuted; a final step's answer is checked; each label agrees with check_step.
    for cand, op, b, prev, final, want in [
        ("Step 1: 96 + 9 = 105.", "-", 9, 96, False, "105 + 9 = 114, 114 96 no. Wrong."),
        ("Step 1: 12 / 3 = 4.", "/", 3, 12, False, "4 * 3 = 12, 12 12 ok. Right."),
        ("Step 1: 8 * 4 = 33. The answer is \\boxed{33}.", "*", 4, 8, True,
         "4 * 8 = 32, 32 33 no, answer ok. Wrong."),
        ("Step 1: 8 * 4 = 32.", "*", 4, 8, True, "4 * 8 = 32, 32 32 ok, answer no. Wrong."),
        ("Step 1: 5 + 3 = 8. The answer is \\boxed{8}.", "+", 3, 5, False,
         "8 - 3 = 5, 5 5 ok, answer no. Wrong."),
    ]:
        line = arith.inverse_judgment(cand, "x", "A", 1, prev, op, b, final, "s").splitlines()[1]
        assert line == "A: " + want
        assert ("Right" in line) == (arith.check_step(cand, 1, prev, op, b, final) == "correct")


def test_column_judgment_checks_the_operation_then_each_digit_from_the_units():
    text = arith.column_judgment("Step 1: 68 + 10 = 78.", "Step 1: 68 + 10 = 88.", "A", 1, 68, "+", 10,
                                 False, "Ivy gets 10 more.")
    assert text.splitlines() == ["Next: Ivy gets 10 more.", "A: 68 + 10 ok, 8+0=8 8 ok, 6+1=7 7 ok. Right.",
                                 "B: 68 + 10 ok, 8+0=8 8 ok, 6+1=7 8 no. Wrong.", "[[A]]"]
    for cand, op, b, prev, final, want in [
        ("Step 1: 95 + 7 = 102.", "+", 7, 95, False, "95 + 7 ok, 5+7=12 2 ok, 9+0+1=10 0 ok, 0+0+1=1 1 ok. Right."),
        ("Step 1: 52 - 7 = 55.", "-", 7, 52, False, "52 - 7 ok, 12-7=5 5 ok, 5-0-1=4 5 no. Wrong."),
        ("Step 1: 52 + 7 = 59.", "-", 7, 52, False, "52 - 7 no, 12-7=5 9 no, 5-0-1=4 5 no. Wrong."),
        ("Step 1: 96 / 4 = 23.", "/", 4, 96, False, "96 / 4 ok, 3*4=12 6 no, 2*4+1=9 9 ok. Wrong."),
        ("Step 1: 12 * 6 = 72. The answer is \\boxed{72}.", "*", 6, 12, True,
         "12 * 6 ok, 2*6=12 2 ok, 1*6+1=7 7 ok, answer ok. Right."),
        ("Step 1: 9 - 2 = 7.", "-", 2, 9, False, "9 - 2 ok, 9-2=7 7 ok. Right."),
    ]:
        line = arith.column_judgment(cand, "x", "A", 1, prev, op, b, final, "s").splitlines()[1]
        assert line == "A: " + want
        assert ("Right" in line) == (arith.check_step(cand, 1, prev, op, b, final) == "correct")


def operand_draws(rng: random.Random, op: str, n: int = 400):
    """`n` (prev, b) draws for `op` well past the task's sizes: exact quotients, no negative differences."""
    for _ in range(n):
        prev, b = rng.randint(0, 999), rng.randint(1, 60)
        if op == "/":
            prev = prev - prev % b
        if op == "-" and prev < b:
            prev, b = b, prev
        yield prev, b


@pytest.mark.parametrize("op", arith.OPS)
def test_columns_say_ok_everywhere_only_for_the_right_result(op):
    """Over many operands and nearby wrong results: every column says ok exactly when the result is
    right, and the columns' digits (for / the product's) spell the number they check against."""
    rng = random.Random(1)
    for prev, b in operand_draws(rng, op):
        right = arith.apply(prev, op, b)
        for c in (right, arith.near_miss(rng, right), right * 10 + 3, right // 10, rng.randint(0, 2000)):
            cols = arith.columns(prev, op, b, c).split(", ")
            assert all(col.endswith(" ok") for col in cols) == (c == right), (prev, op, b, c, cols)
            values = [int(re.search(r"=(\d+) ", col).group(1)) for col in cols]
            spelled = int("".join(str(v % 10) for v in reversed(values)))
            assert spelled == (c * b if op == "/" else right), (prev, op, b, c, cols)


def test_worked_judgment_works_the_step_out_once_then_compares_fields():
    text = arith.worked_judgment("Step 1: 6 - 6 = 0.", "Step 1: 7 - 6 = 1.", "B", 1, 7, "-", 6, False,
                                 "Kim gives away 6.")
    assert text.splitlines() == ["Next: Kim gives away 6.", "7 - 6: 7-6=1, so 1",
                                 "A: 7 6 no, - - ok, 6 6 ok, 1 0 no. Wrong.",
                                 "B: 7 7 ok, - - ok, 6 6 ok, 1 1 ok. Right.", "[[B]]"]
    for prev, op, b, want in [(95, "+", 7, "5+7=12, 9+0+1=10, 0+0+1=1, so 102"),
                              (52, "-", 7, "12-7=5, 5-0-1=4, so 45"),
                              (12, "*", 6, "2*6=12, 1*6+1=7, so 72"),
                              (96, "/", 4, "9/4=2r1, 16/4=4r0, so 24")]:
        assert arith.worked(prev, op, b) == want
    final = arith.worked_judgment("Step 2: 9 + 3 = 12. The answer is \\boxed{13}.", "x", "B", 2, 9, "+", 3,
                                  True, "s").splitlines()[2]
    assert final == "A: 9 9 ok, + + ok, 3 3 ok, 12 12 ok, answer no. Wrong."


@pytest.mark.parametrize("op", arith.OPS)
def test_worked_columns_spell_the_right_result_and_fields_say_ok_only_for_it(op):
    """Over many operands: the worked columns' digits (for / the long division's quotient digits)
    spell the right result, and a candidate's fields are all ok exactly when it is right."""
    rng = random.Random(2)
    for prev, b in operand_draws(rng, op):
        right = arith.apply(prev, op, b)
        cols, so = arith.worked(prev, op, b).rsplit(", so ", 1)
        values = [int(re.search(r"=(\d+)", col).group(1)) for col in cols.split(", ")]
        spelled = int("".join(str(v) for v in values) if op == "/" else
                      "".join(str(v % 10) for v in reversed(values)))
        assert spelled == right == int(so), (prev, op, b, cols)
        for c in (right, arith.near_miss(rng, right), rng.randint(0, 2000)):
            cand = arith.format_step(1, prev, op, b, c, final=False)
            line = arith.worked_judgment(cand, "x", "A", 1, prev, op, b, False, "s").splitlines()[2]
            assert (" no" not in line) == (c == right) == line.endswith("Right."), (prev, op, b, c, line)


def test_sourced_judgment_names_where_the_first_number_comes_from():
    text = arith.sourced_judgment("Step 2: 6 - 6 = 0.", "Step 2: 7 - 6 = 1.", "B", 2, 7, "-", 6, False,
                                  "Kim gives away 6.")
    assert text.splitlines()[1] == "Step 1 gave 7. 7 - 6: 7-6=1, so 1"
    assert text.splitlines()[2:] == arith.worked_judgment("Step 2: 6 - 6 = 0.", "Step 2: 7 - 6 = 1.", "B", 2, 7,
                                                          "-", 6, False, "s").splitlines()[2:]
    assert arith.sourced_judgment("x", "y", "A", 1, 16, "-", 4, False, "s").splitlines()[1].startswith("Start 16. 16 - 4:")


def test_bound_judgment_bounds_the_result_by_the_operands_tens_then_undoes_it():
    text = arith.bound_judgment("Step 1: 71 - 17 = 54.", "Step 1: 71 - 17 = 64.", "A", 1, 71, "-", 17, False,
                                "Gia gives away 17.")
    assert text.splitlines() == ["Next: Gia gives away 17.",
                                 "A: 71 - 10 = 61, 54 at most 61 ok; 54 + 17 = 71, 71 71 ok. Right.",
                                 "B: 71 - 10 = 61, 64 at most 61 no; 64 + 17 = 81, 81 71 no. Wrong.", "[[A]]"]
    line = arith.bound_judgment("Step 2: 54 + 19 = 63.", "x", "B", 2, 54, "+", 19, True, "s").splitlines()[1]
    assert line == "A: 54 + 10 = 64, 63 at least 64 no; 63 - 19 = 44, 44 54 no, answer no. Wrong."
    # no tens, or * and /: judge_v2's check alone
    for cand, prev, op, b in [("Step 1: 9 - 2 = 7.", 9, "-", 2), ("Step 1: 8 * 4 = 32.", 8, "*", 4)]:
        assert arith.bound_judgment(cand, "x", "A", 1, prev, op, b, False, "s") == \
            arith.inverse_judgment(cand, "x", "A", 1, prev, op, b, False, "s")


@pytest.mark.parametrize("op", ["+", "-"])
def test_the_bound_holds_for_the_right_result_and_fails_the_dropped_ten(op):
    """Over many operands >= 10: the bound says ok for the right result and no for the result with
    the operand's tens dropped (M1's error on operands 16-19), and the verdict line is the checker's."""
    rng = random.Random(3)
    for prev, b in operand_draws(rng, op):
        if b < 10:
            continue
        right, dropped = arith.apply(prev, op, b), arith.apply(prev, op, b % 10)
        for c, holds in ((right, True), (dropped, False)):
            cand = arith.format_step(1, prev, op, b, c, final=False)
            line = arith.bound_judgment(cand, "x", "A", 1, prev, op, b, False, "s").splitlines()[1]
            assert line.split(";")[0].endswith(" ok" if holds else " no"), (prev, op, b, c, line)
            assert line.endswith("Right.") == (c == right), line


def test_split_judgment_works_a_teen_operand_out_by_its_tens_then_its_units():
    text = arith.split_judgment("Step 4: 71 - 17 = 54.", "Step 4: 71 - 17 = 64.", "A", 4, 71, "-", 17, False,
                                "Gia gives away 17.")
    assert text.splitlines() == ["Next: Gia gives away 17.",
                                 "Step 3 gave 71. 71 - 17: 71 - 10 = 61, 61 - 7 = 54",
                                 "A: 71 71 ok, - - ok, 17 17 ok, 54 54 ok. Right.",
                                 "B: 71 71 ok, - - ok, 17 17 ok, 54 64 no. Wrong.", "[[A]]"]
    assert arith.split_judgment("x", "y", "B", 1, 54, "+", 25, False, "s").splitlines()[1] == \
        "Start 54. 54 + 25: 54 + 20 = 74, 74 + 5 = 79"
    # no tens, or * and /: the step as the solver writes it
    assert arith.split_judgment("x", "y", "A", 2, 8, "*", 4, False, "s").splitlines()[1] == "Step 1 gave 8. 8 * 4 = 32"
    assert arith.split_judgment("x", "y", "A", 2, 9, "-", 2, False, "s").splitlines()[1] == "Step 1 gave 9. 9 - 2 = 7"


@pytest.mark.parametrize("op", arith.OPS)
def test_the_split_steps_use_only_tens_and_single_digits_and_give_the_result(op):
    """Over many draws: every worked part's operand is a multiple of ten or a single digit (what
    the base tier teaches), the parts chain to the right result, and the verdict is the checker's."""
    rng = random.Random(5)
    for prev, b in operand_draws(rng, op):
        line = arith.split(prev, op, b)
        parts = [re.fullmatch(r"(\d+) (\S) (\d+) = (\d+)", p).groups() for p in line.split(": ")[-1].split(", ")]
        assert int(parts[0][0]) == prev and int(parts[-1][3]) == arith.apply(prev, op, b), line
        for (x, o, y, z), nxt in zip(parts, [*parts[1:], None]):
            assert o == op and arith.apply(int(x), o, int(y)) == int(z), line
            assert len(parts) == 1 or int(y) < 10 or int(y) % 10 == 0, line
            assert nxt is None or nxt[0] == z, line
        for c in (arith.apply(prev, op, b), arith.apply(prev, op, b) + 10):
            cand = arith.format_step(1, prev, op, b, c, final=False)
            verdict = arith.split_judgment(cand, "x", "A", 1, prev, op, b, False, "s").splitlines()[2]
            assert verdict.endswith("Right.") == (c == arith.apply(prev, op, b)), verdict


def test_each_judge_prompt_names_its_target_judgment():
    assert arith.judgment_for("judge_v1") is arith.judgment
    assert arith.judgment_for("judge_v2") is arith.inverse_judgment
    assert arith.judgment_for("judge_v4") is arith.column_judgment
    assert arith.judgment_for("judge_v5") is arith.worked_judgment
    assert arith.judgment_for("judge_v6") is arith.sourced_judgment
    assert arith.judgment_for("judge_v7") is arith.bound_judgment
    assert arith.judgment_for("judge_v8") is arith.split_judgment
    assert arith.judgment_for("judge_v9") is arith.ordered_judgment
    assert arith.judgment_for("judge_v10") is arith.spelled_judgment
    with pytest.raises(PsrlmError, match="prompts.judge: .*'judge_v11'"):
        arith.judgment_for("judge_v11")


def test_ordered_judgment_compares_results_digit_by_digit_then_counts_each_candidates_nos():
    """judge_v9: judge_v8's split step, each result digit by digit (the shorter padded with 0s),
    then a line counting the `no`s of each candidate and, where they tie, the smaller result."""
    right, slip = "Step 2: 71 - 17 = 54.", "Step 2: 71 - 17 = 64."
    lines = arith.ordered_judgment(slip, right, "B", 2, 71, "-", 17, False, "Subtract 17.").splitlines()
    assert lines == ["Next: Subtract 17.", "Step 1 gave 71. 71 - 17: 71 - 10 = 61, 61 - 7 = 54",
                     "A: 71 71 ok, - - ok, 17 17 ok, 5 6 no, 4 4 ok. Wrong.",
                     "B: 71 71 ok, - - ok, 17 17 ok, 5 5 ok, 4 4 ok. Right.", "A 1 no, B 0 no.", "[[B]]"]
    # the search reads it as it reads judge_v8's: one label line per candidate, one verdict
    text = "\n".join(lines)
    assert (said_right(text, "A"), said_right(text, "B"), parse_verdict(text)) == (False, True, ("B", "ok"))
    # two wrong results one digit off each: the smaller result, in either order
    low = "Step 2: 71 - 17 = 44."
    assert arith.ordered_judgment(slip, low, "B", 2, 71, "-", 17, False, "s").splitlines()[-2:] == \
        ["A 1 no, B 1 no, 64 44 B smaller.", "[[B]]"]
    assert arith.ordered_judgment(low, slip, "A", 2, 71, "-", 17, False, "s").splitlines()[-2:] == \
        ["A 1 no, B 1 no, 44 64 A smaller.", "[[A]]"]
    # a digit too many counts as a wrong digit; a wrong operand and its result are two `no`s
    last = arith.ordered_judgment("Step 3: 71 - 16 = 55. The answer is \\boxed{55}.",
                                  "Step 3: 71 - 17 = 154. The answer is \\boxed{154}.", "B", 3, 71, "-", 17,
                                  True, "s").splitlines()
    assert last[2:5] == ["A: 71 71 ok, - - ok, 17 16 no, 5 5 ok, 4 5 no, answer ok. Wrong.",
                         "B: 71 71 ok, - - ok, 17 17 ok, 0 1 no, 5 5 ok, 4 4 ok, answer ok. Wrong.",
                         "A 2 no, B 1 no."]
    # a line that is not a step ranks below any step; a verdict against the order is refused
    assert arith.ordered_judgment("junk", slip, "B", 2, 71, "-", 17, False, "s").splitlines()[-2:] == \
        ["A none, B 1 no.", "[[B]]"]
    with pytest.raises(ValueError, match="judge_v9 ranks B above A"):
        arith.ordered_judgment(slip, right, "A", 2, 71, "-", 17, False, "s")


@pytest.mark.parametrize("op", arith.OPS)
def test_the_error_key_is_zero_nos_only_for_a_right_step_and_counts_wrong_digits(op):
    """Over many draws: the right step has no `no`, every wrong result at least one, and a result
    off in one digit (a tens slip) exactly one more than its operand and operator mistakes."""
    rng = random.Random(7)
    for prev, b in operand_draws(rng, op):
        c = arith.apply(prev, op, b)
        assert arith.error_key(arith.format_step(1, prev, op, b, c, final=False), 1, prev, op, b, False) == (0, c)
        for wrong in (c + 1, c + 10, c + 100):
            key = arith.error_key(arith.format_step(1, prev, op, b, wrong, final=False), 1, prev, op, b, False)
            assert key[0] >= 1 and key[1] == wrong
        tens = c + 10 if c % 100 < 90 else c - 10
        assert arith.error_key(arith.format_step(1, prev, op, b, tens, final=False), 1, prev, op, b, False) == (1, tens)
        # a wrong step number shows in no field and still counts one
        assert arith.error_key(arith.format_step(2, prev, op, b, c, final=False), 1, prev, op, b, False) == (1, c)


def test_spelled_judgment_breaks_a_tie_digit_by_digit_up_to_the_first_that_differs():
    """judge_v10: judge_v9's lines, the tie-break (the smaller result) written as the two results'
    digits from the most significant up to the first pair that differs, the shorter padded."""
    a, b = "Step 1: 4 + 17 = 18.", "Step 1: 4 + 17 = 17."
    v9 = arith.ordered_judgment(a, b, "B", 1, 4, "+", 17, False, "s").splitlines()
    v10 = arith.spelled_judgment(a, b, "B", 1, 4, "+", 17, False, "s").splitlines()
    assert v10[:4] == v9[:4] and v10[-1] == v9[-1] == "[[B]]"
    assert v9[-2] == "A 2 no, B 2 no, 18 17 B smaller."
    assert v10[-2] == "A 2 no, B 2 no, 18 17: 1 1, 8 7 B smaller."
    wide = arith.spelled_judgment("Step 1: 71 - 17 = 154.", "Step 1: 71 - 17 = 64.", "B", 1, 71, "-", 17, False, "s")
    assert wide.splitlines()[-2] == "A 1 no, B 1 no, 154 64: 1 0 B smaller."  # a digit too many: padded
    decided = arith.spelled_judgment("Step 1: 71 - 17 = 163.", "Step 1: 71 - 17 = 64.", "B", 1, 71, "-", 17, False, "s")
    assert decided.splitlines()[-2] == "A 3 no, B 1 no."  # 054 163: three digits wrong; no tie-break
