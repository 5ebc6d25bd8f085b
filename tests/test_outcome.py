"""The SRLM baseline's pure logic (psrlm/outcome.py) and the test-time scaling helpers (psrlm/tts.py)."""

import random

import pytest

from psrlm import arith, outcome, search, tts
from psrlm.pairs import outcome_pairs

D = arith.Difficulty(2, 4, 1, 99, 1, 15, 7, 99, {"+": 1.0, "-": 1.0, "*": 0.5, "/": 0.5})
# "Ann has 20 apples. Ann gets 5 more. Ann keeps one of 5 equal shares. ..."
PROB = arith.Problem(20, ("+", "/", "-"), (5, 5, 3), "Ann has 20 apples. Ann gets 5 more. "
                     "Ann keeps one of 5 equal shares. Ann gives away 3. How many apples does Ann have now?")


def score(text: str) -> outcome.Rubric:
    return outcome.rubric(text, PROB.text, PROB.start, PROB.ops, PROB.operands)


@pytest.mark.parametrize("text, points", [
    ("Step 1: 20 + 5 = 25.\nStep 2: 25 / 5 = 5.\nStep 3: 5 - 3 = 2. The answer is \\boxed{2}.",
     dict(form=1, start=1, operations=1, arithmetic=1, answer=1)),
    # A wrong result carried on: the chain and the operations hold, the arithmetic does not.
    ("Step 1: 20 + 5 = 30.\nStep 2: 30 / 5 = 6.\nStep 3: 6 - 3 = 3. The answer is \\boxed{3}.",
     dict(form=1, start=1, operations=1, arithmetic=0, answer=0)),
    # The wrong start number: start and operations fail; the arithmetic is right.
    ("Step 1: 21 + 5 = 26.\nStep 2: 26 / 2 = 13.\nStep 3: 13 - 3 = 10. The answer is \\boxed{10}.",
     dict(form=1, start=0, operations=0, arithmetic=1, answer=0)),
    # Right steps, no boxed answer: only the form (and so the answer) fails.
    ("Step 1: 20 + 5 = 25.\nStep 2: 25 / 5 = 5.\nStep 3: 5 - 3 = 2.",
     dict(form=0, start=1, operations=1, arithmetic=1, answer=0)),
    # One step short, then an answer: form and operations fail.
    ("Step 1: 20 + 5 = 25.\nStep 2: 25 / 5 = 5. The answer is \\boxed{5}.",
     dict(form=0, start=1, operations=0, arithmetic=1, answer=0)),
    # Not a solution at all.
    ("I do not know.", dict(form=0, start=0, operations=0, arithmetic=0, answer=0)),
    ("", dict(form=0, start=0, operations=0, arithmetic=0, answer=0)),
])
def test_rubric_points(text, points):
    r = score(text)
    assert {k: int(v) for k, v in r.points.items()} == points
    assert r.score == sum(points.values())
    # 5 exactly when the solution is right step by step.
    assert (r.score == 5) == arith.solution_right(text, PROB.start, list(PROB.ops), list(PROB.operands))


def test_target_judgment_checks_each_step_and_ends_in_the_score():
    r = score("Step 1: 20 + 5 = 30.\nStep 2: 30 / 5 = 6.\nStep 3: 6 - 3 = 3. The answer is \\boxed{3}.")
    text = outcome.score_judgment(r)
    lines = text.split("\n")
    assert lines[0] == "Step 1: Ann gets 5 more. 20 20 ok, + 5 ok, 30 - 5 = 25, 25 20 no."
    assert lines[-2] == "Points 1 1 1 0 0."
    assert lines[-1] == "Score: [[3]]" and outcome.parse_score(text) == (3, "ok")


@pytest.mark.parametrize("text, parsed", [
    ("... Score: [[0]]", (0, "ok")),
    ("Score: [[5]]", (5, "ok")),
    ("Score: [[5]] and again Score: [[5]]", (5, "ok")),
    ("Score: [[6]]", (None, "out_of_range")),
    ("Score: [[-1]]", (None, "out_of_range")),
    ("Score: [[12345]]", (None, "out_of_range")),
    ("Score: [[3]] ... Score: [[4]]", (None, "several_scores")),
    ("Score: 4", (None, "no_score")),
    ("[[4]]", (None, "no_score")),
    ("Score: [[four]]", (None, "no_score")),
    ("Score: [[4.5]]", (None, "no_score")),
    ("", (None, "no_score")),
])
def test_parse_score_never_guesses(text, parsed):
    assert outcome.parse_score(text) == parsed


def test_corrupted_solutions_are_wrong_and_score_below_five():
    rng = random.Random(3)
    made = 0
    for _ in range(300):
        prob = arith.generate_problem(rng, D)
        steps = outcome.corrupt_solution(rng, prob, rng.choice(arith.CORRUPTIONS), D)
        if steps is None:
            continue
        made += 1
        text = "\n".join(steps)
        assert len(steps) == len(prob.ops)
        assert not arith.solution_right(text, prob.start, list(prob.ops), list(prob.operands))
        r = outcome.rubric(text, prob.text, prob.start, prob.ops, prob.operands)
        assert r.points["form"] and r.score < 5
    assert made > 200


def test_the_outcome_pairs_pick_like_the_step_search_and_skip_invalid_scores():
    """One pick (psrlm.search.pick) for the step search and the SRLM pairs: an unreadable score is
    neither best nor worst."""
    order = [0, 1, 2, 3]
    assert search.pick([3, 5, None, 2], order) == (1, 3)
    assert search.pick([4, 4, None, 4], order) == (None, None)  # every valid score ties
    assert search.pick([None, None, 5, None], order) == (None, None)  # one valid score
    assert search.pick([None, None, None, None], order) == (None, None)
    # Ties broken by the seeded order, not the position.
    assert search.pick([5, 1, 5, 1], [2, 3, 0, 1]) == (2, 3)


def test_majority_and_best_scored():
    assert outcome.majority(["3", None, "4", "4", "3"]) == "3"  # a tie goes to the first sampled
    assert outcome.majority(["1", "2", "2"]) == "2"
    assert outcome.majority([None, None]) is None
    assert outcome.best_scored([2, None, 4, 4]) == 2
    assert outcome.best_scored([None, None]) is None


class Tok:
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


class FakeEngine:
    """Pure-logic stand-in for psrlm.engine (the smoke DAG runs the real one): fixed samples."""
    tok = Tok()

    def __init__(self, samples):
        self.samples = samples

    def chat(self, text, reply=""):
        return text + reply

    def generate(self, prompts_, n, sp, seed, desc=""):
        return [list(self.samples[:n]) for _ in prompts_]


def test_majority_rows_count_every_sample_and_pick_the_voted_solution():
    p = tts.TtsParams(width=3, temperature=0.5, top_p=0.95, max_step_tokens=8, max_judge_tokens=8, max_loops=4,
                      both_orders=True, multiplicity_weight=1, seed=0, test_limit=None, max_new_tokens=32,
                      methods=("majority",), benchmark_limits={})
    eng = FakeEngine(["Step 1: 1 + 1 = 2. The answer is \\boxed{2}.", "Step 1: 1 + 1 = 3. The answer is \\boxed{3}.",
                      "Step 1: 2 + 0 = 2. The answer is \\boxed{2}."])
    rows = tts.run(eng, p, [("q1", "Q")], judge_kind="step", solve_t="{problem}", judge_t="", score_t="")
    assert rows == [{"problem_id": "q1", "method": "majority", "steps": ["Step 1: 1 + 1 = 2. The answer is \\boxed{2}."],
                     "answer": "2", "judge_calls": 0, "generated_tokens": 3 * 11}]  # 11 words each


def test_oracle_is_skipped_without_a_step_checker():
    p = tts.TtsParams(width=2, temperature=0.5, top_p=0.95, max_step_tokens=8, max_judge_tokens=8, max_loops=4,
                      both_orders=True, multiplicity_weight=1, seed=0, test_limit=None, max_new_tokens=32,
                      methods=("oracle",), benchmark_limits={})
    assert tts.run(FakeEngine(["x", "y"]), p, [("q1", "Q")], judge_kind="step", solve_t="{problem}",
                   judge_t="", score_t="", label=None) == []


def test_srlm_pairs_and_audit_on_a_hand_made_table():
    import polars as pl

    from psrlm.tables import OUTCOME_SAMPLES, PAIRS, validate
    from stages_loader import load_stage

    srlm = load_stage("srlm")
    # Prompt p1: samples scored 5 (right), 2 (wrong), unreadable (right); p2: every score ties (no pair).
    rows = [("p1", 0, 5, "ok", True, 5, True, False), ("p1", 1, 2, "ok", False, 3, False, True),
            ("p1", 2, None, "no_score", True, 5, False, False),
            ("p2", 0, 4, "ok", True, 5, False, False), ("p2", 1, 4, "ok", False, 3, False, False)]
    samples = pl.DataFrame([{
        "problem_id": pid, "iteration": 1, "sample_idx": k, "prompt": f"P {pid}", "text": f"S {pid} {k}",
        "answer": None, "is_final": True, "judgment": "", "score": score, "score_status": status,
        "chosen": chosen, "rejected": rejected, "truth_score": truth, "correct": right}
        for pid, k, score, status, right, truth, chosen, rejected in rows], schema=OUTCOME_SAMPLES.polars_schema())
    validate(samples, OUTCOME_SAMPLES, "samples")
    pairs = validate(outcome_pairs(samples), PAIRS, "pairs")
    assert pairs.select("problem_id", "chosen", "rejected", "chosen_score", "rejected_score").rows() == \
        [("p1", "S p1 0", "S p1 1", 5, 2)]
    report = srlm.audit(samples, pairs)
    assert report["invalid_scores"] == 1 and report["invalid_by_reason"] == {"no_score": 1}
    # Valid scores against the truth: 5=5, 2≠3, 4≠5, 4≠3 → 1 of 4.
    assert report["score_accuracy"] == 0.25
    # Right-vs-wrong couples with valid scores: p1 (5 > 2) right, p2 (4 = 4) not → 1 of 2.
    assert report["judge_accuracy_self"] == 0.5 and report["judge_self_pairs"] == 2
    assert report["pairs"] == 1 and report["pair_precision"] == 1.0 and report["pairs_per_prompt"] == 0.5


class ScoringEngine(FakeEngine):
    """Fixed samples for solve prompts; for a score prompt (`SCORE <solution>`) the judgment the
    test gives that solution."""

    def __init__(self, samples, judgments):
        super().__init__(samples)
        self.judgments = judgments

    def generate(self, prompts_, n, sp, seed, desc=""):
        if prompts_ and prompts_[0].startswith("SCORE "):
            assert n == 1 and sp.temperature == 0  # the judge is greedy, one call per sample
            return [[self.judgments[p.split("\n", 1)[1]]] for p in prompts_]
        return super().generate(prompts_, n, sp, seed, desc)


def test_one_self_score_for_the_srlm_pairs_and_test_time_best_of_w():
    sols = ["Step 1: 1 + 1 = 3. The answer is \\boxed{3}.", "Step 1: 1 + 1 = 2. The answer is \\boxed{2}.",
            "Step 1: 2 + 0 = 2. The answer is \\boxed{2}."]
    judgments = {sols[0]: "Score: [[2]]", sols[1]: "no score here", sols[2]: "Score: [[4]]"}
    eng = ScoringEngine(sols, judgments)
    scored = tts.self_scores(eng, ["Q", "R"], [sols, sols[:2]], "SCORE {problem}\n{solution}", 8, 0)
    assert [[s for _, s, _ in g] for g in scored] == [[2, None, 4], [2, None]]
    assert scored[0][1] == ("no score here", None, "no_score")  # unreadable: counted, never a score
    p = tts.TtsParams(width=3, temperature=0.5, top_p=0.95, max_step_tokens=8, max_judge_tokens=8, max_loops=4,
                      both_orders=True, multiplicity_weight=1, seed=0, test_limit=None, max_new_tokens=32,
                      methods=("self",), benchmark_limits={})
    rows = tts.run(eng, p, [("q1", "Q")], judge_kind="score", solve_t="{problem}", judge_t="",
                   score_t="SCORE {problem}\n{solution}")
    assert [(r["method"], r["answer"], r["judge_calls"]) for r in rows] == [("self", "2", 3)]
    assert rows[0]["steps"] == [sols[2]]  # the best valid self-score (4)
