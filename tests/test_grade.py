"""Grader regression suite: math-verify equivalence on the benchmarks' answer styles, the known
failure cases of other graders, and hostile answers (a status within the limit, nothing executed)."""

import time

import pytest

from psrlm.grade import STATUSES, grade

CASES = [  # (gold, model answer, expected status)
    # GSM8K: integers (prepare strips the gold's thousands commas; a model may write them)
    ("1234", "1234", "correct"), ("1234", "1,234", "correct"), ("18", "18.00", "correct"),
    ("18", "17", "wrong"), ("5", "\\$5", "correct"), ("70000", "70{,}000", "correct"),
    # AMC: published as floats
    ("27.0", "27", "correct"), ("27.0", "28", "wrong"), ("2.5", "\\frac{5}{2}", "correct"),
    # MATH: fractions, radicals, intervals, tuples, text, pi, degrees
    ("\\frac{1}{2}", "0.5", "correct"), ("\\frac{1}{2}", "\\dfrac{1}{2}", "correct"),
    ("\\frac{1}{2}", "1/2", "correct"), ("\\frac{3}{4}", "\\frac{4}{3}", "wrong"),
    ("\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2", "correct"), ("2\\sqrt{3}", "\\sqrt{12}", "correct"),
    ("2\\sqrt{3}", "3\\sqrt{2}", "wrong"), ("[1,2)", "[1,2)", "correct"), ("[1,2)", "(1,2)", "wrong"),
    ("(-\\infty, 0]", "(-\\infty,0]", "correct"), ("(1, 2)", "(1,2)", "correct"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", "correct"),
    ("(3, \\frac{\\pi}{2})", "(3, \\frac{\\pi}{3})", "wrong"),
    ("\\text{Monday}", "Monday", "correct"), ("\\text{(C)}", "\\text{(C)}", "correct"),
    ("2\\pi", "2\\pi", "correct"), ("x^2+2x+1", "(x+1)^2", "correct"), ("x^2+1", "x^2-1", "wrong"),
    ("90^\\circ", "90", "correct"), ("10\\%", "10", "correct"), ("-3", "-3", "correct"),
    ("-3", "3", "wrong"), ("\\frac{1}{3}", "0.333", "wrong"),
    # OlympiadBench: list answers (joined with ", " by prepare); a partial answer is wrong
    ("1, -2", "1,-2", "correct"), ("1, -2", "1,-3", "wrong"), ("1, -2", "1", "wrong"),
    ("3, 5, 7", "3, 5", "wrong"), ("3, 5, 7", "3,5,7", "correct"), ("1,-2", "1,-3", "wrong"),
    # missing pieces
    ("5", None, "no_answer"), ("5", "  ", "no_answer"), (None, "5", "no_gold"),
    # hostile: never executed, a status within the limit
    ("5", "__import__('os').system('touch HACKED')", "parse_error"),
    ("5", "10^{10^{10}}", "timeout"),
    ("5", "(" * 400 + "1" + ")" * 400, None),  # deep nesting: parse_error or timeout, both fine
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    start = time.monotonic()
    statuses = grade([c[0] for c in CASES], [c[1] for c in CASES], seconds=3, workers=2)
    return statuses, time.monotonic() - start


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[0]!r}~{c[1]!r}"[:40] for c in CASES])
def test_case(graded, i):
    gold, answer, expected = CASES[i]
    got = graded[0][i]
    assert got in STATUSES
    if expected is None:
        assert got in ("parse_error", "timeout")
    else:
        assert got == expected


def test_suite_size_and_hostile_answers_executed_nothing(graded, tmp_path):
    from pathlib import Path

    assert len(CASES) >= 40
    assert not Path("HACKED").exists() and not (tmp_path / "HACKED").exists()
    # each of the two hard cases is bounded: 3 s limit + worker restart, never a hang
    assert graded[1] < 120


def test_a_timeout_does_not_lose_the_other_answers():
    out = grade(["5", "7", "8"], ["10^{10^{10}}", "7", "9"], seconds=2, workers=1)
    assert out == ["timeout", "correct", "wrong"]


@pytest.mark.parametrize("kw, message", [
    ({"workers": 0}, "workers must be an integer >= 1, got 0"),
    ({"workers": True}, "workers must be an integer >= 1"),
    ({"seconds": -1}, "seconds must be a finite number > 0, got -1"),
    ({"seconds": 0}, "seconds must be a finite number > 0"),
    ({"seconds": float("nan")}, "seconds must be a finite number > 0"),
])
def test_the_library_function_refuses_what_the_params_refuse(kw, message):
    """Called from Python: 0 workers used to wait forever, seconds -1 graded right answers `timeout`."""
    with pytest.raises(ValueError, match=message):
        grade(["1"], ["1"], **kw)
