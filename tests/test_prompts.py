import pytest

from psrlm import prompts
from psrlm.errors import PsrlmError


@pytest.mark.parametrize("text, expected", [
    ("Step 1: 1 + 2 = 3.\nA: 1 1 ok, + + ok, 2 2 ok, 3 3 ok. Right.\n[[A]]", ("A", "ok")),
    ("blah [[B]]", ("B", "ok")),
    ("[[A]] ... [[A]]", ("A", "ok")),
    ("A is better", (None, "no_verdict")),
    ("[[A]] or [[B]]", (None, "both_verdicts")),
    ("[[C]]", (None, "no_verdict")),
    ("", (None, "no_verdict")),
])
def test_verdicts_are_read_never_guessed(text, expected):
    assert prompts.parse_verdict(text) == expected


@pytest.mark.parametrize("text, name, expected", [
    ("Next: x\nA: 1 1 ok, 2 2 ok. Right.\nB: 1 1 ok, 2 3 no. Wrong.\n[[A]]", "A", True),
    ("Next: x\nA: 1 1 ok, 2 2 ok. Right.\nB: 1 1 ok, 2 3 no. Wrong.\n[[A]]", "B", False),
    ("A: not a step. Wrong.\n[[B]]", "A", False),
    ("A: not a step. Wrong.\n[[B]]", "B", None),  # no line about B
    ("A: 1 1 ok. Right.\nA: 1 2 no. Wrong.", "A", None),  # two lines that disagree
    ("A: 1 1 ok. Right. B: Wrong.", "A", None),  # not one line each
    ("[[A]] Right.", "A", None),
])
def test_a_judgments_own_line_about_a_candidate_is_read_never_guessed(text, name, expected):
    assert prompts.said_right(text, name) is expected


@pytest.mark.parametrize("text, expected", [
    ("Step 2: 3 + 4 = 7. The answer is \\boxed{7}.", "7"),
    ("\\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("no box", None),
    ("\\boxed{unclosed", None),
])
def test_final_answer_is_the_last_balanced_box(text, expected):
    assert prompts.final_answer(text) == expected


def test_judge_prompt_keeps_model_text_verbatim():
    tmpl = prompts.template("judge_v1")
    out = prompts.judge_prompt(tmpl, "P {x}", [], "Step 1: {step_b} \\boxed{3}", "Step 1: 2")
    assert "Step 1: {step_b} \\boxed{3}" in out and "(none yet)" in out and "P {x}" in out
    assert out.index("[Step A]") < out.index("{step_b}") < out.index("[Step B]")


def test_unknown_template_is_a_clear_error():
    with pytest.raises(PsrlmError, match="judge_v999.txt: prompt template not found"):
        prompts.template("judge_v999")
