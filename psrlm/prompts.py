"""The solve and judge prompts (method.md §2), rendered from versioned template files.

Templates live in `prompts/<name>.txt` and are never edited once results depend on them: a new
wording is a new file (`judge_v2.txt`) chosen in params.yaml [prompts].
"""

from __future__ import annotations

import re
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
_VERDICT = re.compile(r"\[\[([AB])\]\]")
_FIELD = re.compile(r"\{(\w+)\}")
# The fields each kind of template must hold (solve_prompt, judge_prompt, score_prompt fill them): a
# template without one would run a whole search on prompts that lack the problem or a candidate.
FIELDS = {"solve": ("problem",), "judge": ("problem", "steps", "step_a", "step_b"), "score": ("problem", "solution")}


def template(name: str) -> str:
    path = PROMPTS_DIR / f"{name}.txt"
    if not path.is_file():
        from psrlm.errors import PsrlmError

        raise PsrlmError(f"{path}: prompt template not found")
    return path.read_text()


def render(tmpl: str, **values: str) -> str:
    """Fill `{name}` fields in one pass: model text may hold braces (\\boxed{...}) or even a field
    name, and must come out verbatim, never re-substituted."""
    return _FIELD.sub(lambda m: values[m.group(1)] if m.group(1) in values else m.group(0), tmpl)


def solve_prompt(tmpl: str, problem: str) -> str:
    return render(tmpl, problem=problem)


def step_context(chat, tmpl: str, problem: str, steps) -> str:
    """What the solver is given before its next step: the solve prompt as a chat turn (`chat`: an
    engine's, or psrlm.engine.chat_of a tokenizer), its reply opened with the steps so far, one
    per line. The search, test-time scaling, own_eft and DPO's replay all build it here."""
    return chat(solve_prompt(tmpl, problem), "".join(s + "\n" for s in steps))


def judge_prompt(tmpl: str, problem: str, prefix_steps: list[str], step_a: str, step_b: str) -> str:
    steps = "\n".join(prefix_steps) if prefix_steps else "(none yet)"
    return render(tmpl, problem=problem, steps=steps, step_a=step_a, step_b=step_b)


def score_prompt(tmpl: str, problem: str, solution: str) -> str:
    """The outcome judge's prompt (SRLM baseline, prompts/score_v1): a whole solution to score 0-5."""
    return render(tmpl, problem=problem, solution=solution)


# A judgment's own line about one candidate, as every judge format here writes it
# (psrlm.arith._judgment, psrlm.textsteps): `A: <its check>. Right.` or `... Wrong.`, one label
# per line (a line with two says nothing).
_LABEL = re.compile(r"^([AB]): (?:(?!\b(?:Right|Wrong)\.).)*\b(Right|Wrong)\.$", re.MULTILINE)


def said_right(text: str, name: str) -> bool | None:
    """What judgment `text` says of candidate `name` ("A"/"B") on its own line: True (Right),
    False (Wrong), or None when it has no such line or lines that disagree (never guessed)."""
    found = {label for who, label in _LABEL.findall(text) if who == name}
    return None if len(found) != 1 else found.pop() == "Right"


def parse_verdict(text: str) -> tuple[str | None, str]:
    """(verdict, reason): "A"/"B" with reason "ok", or None with why it cannot be read.

    Never guesses: no verdict, or both verdicts, is invalid and must be counted, not scored.
    """
    found = set(_VERDICT.findall(text))
    if not found:
        return None, "no_verdict"
    if len(found) > 1:
        return None, "both_verdicts"
    return found.pop(), "ok"


def final_answer(text: str) -> str | None:
    """The content of the last \\boxed{...} (balanced braces), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i, depth = start + len("\\boxed{"), 1
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j].strip()
    return None


def is_final(step: str) -> bool:
    """The step ends the solution: it holds a complete \\boxed{} answer, or it is empty (the model
    ended the sequence). The search stops there, and DPO puts EOS after it (the `is_final` column)."""
    return final_answer(step) is not None or step == ""
