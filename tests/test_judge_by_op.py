"""benchmarks/judge_by_op.py --search: the judge on a search's own right-vs-wrong candidates."""

import importlib.util
from pathlib import Path

import polars as pl

spec = importlib.util.spec_from_file_location("judge_by_op", Path(__file__).parents[1] / "benchmarks/judge_by_op.py")
judge_by_op = importlib.util.module_from_spec(spec)
spec.loader.exec_module(judge_by_op)


def search_tables():
    """One loop's candidates (one right, three wrong) and five judgments of them."""
    key = {"problem_id": "p", "iteration": 1, "loop": 0, "step_idx": 1}
    steps = pl.DataFrame([
        {**key, "candidate_idx": 0, "text": "Step 1: 71 - 17 = 54.", "correct": True},
        {**key, "candidate_idx": 1, "text": "Step 1: 71 - 17 = 64.", "correct": False},
        {**key, "candidate_idx": 2, "text": "Step 1: 71 - 17 = 53.", "correct": False},
        {**key, "candidate_idx": 3, "text": "Step 1: 71 - 10 = 61.", "correct": False},
    ]).with_columns(prefix_steps=pl.lit([], pl.List(pl.String)))
    split = "Next: Gia gives away 17.\nStart 71. 71 - 17: 71 - 10 = 61, 61 - 7 = 54\nA: ...\n[[A]]"
    judgments = pl.DataFrame([
        {**key, "candidate_a": 0, "candidate_b": 1, "verdict": "A", "judgment": split},  # right, in A
        {**key, "candidate_a": 1, "candidate_b": 0, "verdict": "A", "judgment": split},  # the dropped ten chosen
        {**key, "candidate_a": 2, "candidate_b": 0, "verdict": None,  # unreadable: wrong; the teen left whole
         "judgment": "Next: x.\nStart 71. 71 - 17 = 64\nA: ..."},
        {**key, "candidate_a": 1, "candidate_b": 2, "verdict": "B", "judgment": ""},  # two wrong: not counted
        {**key, "candidate_a": 3, "candidate_b": 0, "verdict": "A",  # the wrong operand restated as the problem's
         "judgment": "Next: Gia gives away 10.\nStart 71. 71 - 10: 71 - 10 = 61, 61 - 0 = 61\nA: ...\n[[A]]"},
    ], schema_overrides={"verdict": pl.String})
    return steps, judgments


def test_search_pairs_scores_right_against_wrong_only_and_names_the_dropped_ten():
    steps, judgments = search_tables()
    pairs = judge_by_op.search_pairs(steps, judgments)
    assert pairs.to_dicts() == [
        {"op": "-", "dropped_ten": True, "split_right": True, "teen_unsplit": False, "next_right": True,
         "next_copied_wrong": False, "right_in_a": True, "correct": True},
        {"op": "-", "dropped_ten": True, "split_right": True, "teen_unsplit": False, "next_right": True,
         "next_copied_wrong": False, "right_in_a": False, "correct": False},
        {"op": "-", "dropped_ten": False, "split_right": False, "teen_unsplit": True, "next_right": False,
         "next_copied_wrong": False, "right_in_a": False, "correct": False},
        {"op": "-", "dropped_ten": False, "split_right": False, "teen_unsplit": False, "next_right": False,
         "next_copied_wrong": True, "right_in_a": False, "correct": False},
    ]
    assert judge_by_op.next_operand("Next: Leo keeps one of 5 equal shares.\nStart 20.") == 5
    assert judge_by_op.next_operand("Step 1 gave 5.") is None  # not a Next: line
    assert judge_by_op.summary(pairs, ("split_right",))["split_right"]["n"] == 2
    summary = judge_by_op.summary(pairs)
    assert summary["all"] == {"n": 4, "accuracy": 0.25, "accuracy_a": 1.0, "accuracy_b": 0.0}
    assert summary["dropped_ten"]["n"] == 2 and set(summary) == {"all", "dropped_ten", "-"}
    assert judge_by_op.summary(pairs, ("next_copied_wrong",))["next_copied_wrong"]["n"] == 1
    # consistency on the right-vs-wrong pairs: {0,1} judged in both orders, A both times: not alike
    assert judge_by_op.position_consistency(judge_by_op.right_wrong(steps, judgments), judge_by_op.LOOP) == (0, 1)


def test_both_wrong_reads_the_judge_on_two_wrong_candidates_against_judge_v9s_order():
    """Two wrong candidates: 64 and 53 for 71 - 17 = 54 are two wrong results (one wrong digit each,
    53 the smaller, so judge_v9's order prefers 53); 61 (a wrong operand) against either is not
    two results. Judged {1,2} in both orders (B, then A: 2 both times, consistent), {1,3} once."""
    steps, judgments = search_tables()
    key = {"problem_id": "p", "iteration": 1, "loop": 0, "step_idx": 1}
    more = pl.DataFrame([{**key, "candidate_a": 2, "candidate_b": 1, "verdict": "A", "judgment": ""},
                         {**key, "candidate_a": 1, "candidate_b": 3, "verdict": "B", "judgment": ""}],
                        schema_overrides={"verdict": pl.String})
    judgments = pl.concat([judgments, more], how="diagonal_relaxed")
    pool = pl.DataFrame({"problem_id": ["p"], "start": [71], "ops": [["-", "+"]], "operands": [[17, 3]]})
    out = judge_by_op.both_wrong(steps, judgments, pool)
    assert out["two_results"] == {"n": 2, "says_b": 0.5, "pairs_both_orders": 1, "consistency": 1.0,
                                  "order_decided": 2, "order_accuracy": 1.0}
    # 64 (one `no`: 5 6 no, 4 4 ok) against 71 - 10 = 61 (three: 17 10 no, 5 6 no, 4 1 no): 64 first, judged B
    assert out["all"] == {"n": 3, "says_b": 0.6667, "pairs_both_orders": 1, "consistency": 1.0,
                          "order_decided": 3, "order_accuracy": 0.6667}
    # without the pool there is no right step to order by
    assert judge_by_op.both_wrong(steps, judgments, None)["all"]["order_decided"] == 0


def test_judge_with_another_model_judges_the_same_prompts_again(monkeypatch):
    """--judge-with: the same right-vs-wrong pairs in the same orders, each prompt as the search
    renders it (the pool's problem, the prefix, A then B), the verdicts the new judge's."""
    from psrlm import engine

    steps, judgments = search_tables()
    seen = []

    class Echo:  # a judge that names the candidate holding "= 54": the right one, in either order
        def chat(self, text):
            return text

        def generate(self, prompts, n, sp, seed, desc):
            seen.extend(prompts)
            return [["[[A]]" if p.split("Step 1: 71")[1].count("= 54") else "[[B]]"] for p in prompts]

    monkeypatch.setattr(engine, "build", lambda p, model, seed: Echo())
    pool = pl.DataFrame({"problem_id": ["p"], "problem": ["Gia has 71 pens. Gia gives away 17."]})
    j = judge_by_op.rejudge(judge_by_op.right_wrong(steps, judgments), "m1", pool, "params.yaml")
    assert len(seen) == 4 and all("Gia gives away 17." in p for p in seen)
    assert seen[0].index("= 54.") < seen[0].index("= 64.")  # pair (0, 1): right one shown as A
    assert seen[1].index("= 64.") < seen[1].index("= 54.")  # pair (1, 0): as B
    assert j["verdict"].to_list() == ["A", "B", "B", "B"]
    assert judge_by_op.summary(judge_by_op.search_pairs(steps, judgments, j))["all"]["accuracy"] == 1.0
    assert judge_by_op.position_consistency(j, judge_by_op.LOOP) == (1, 1)


def test_tens_only_names_a_tens_digit_slip_and_nothing_else():
    assert judge_by_op.tens_only("Step 2: 85 + 2 = 87.", "Step 2: 85 + 2 = 77.")
    assert judge_by_op.tens_only("Step 1: 96 + 2 = 98.", "Step 1: 86 + 2 = 88.")  # a copied operand's ten
    assert judge_by_op.tens_only("Step 4: 22 + 4 = 26. The answer is \\boxed{26}.",
                                 "Step 4: 22 + 4 = 16. The answer is \\boxed{16}.")
    assert not judge_by_op.tens_only("Step 2: 85 + 2 = 87.", "Step 2: 85 + 2 = 88.")  # the units digit
    assert not judge_by_op.tens_only("Step 2: 85 + 2 = 87.", "Step 2: 85 + 2 = 7.")  # another length
    assert not judge_by_op.tens_only("Step 2: 85 + 2 = 87.", "Step 2: 85 * 2 = 170.")
    assert not judge_by_op.tens_only("Step 2: 85 + 2 = 87.", "Step 2: 85 + 2 = 87.")  # no difference


def test_eft_slices_the_held_out_judge_by_tens_only_kind_and_position():
    eft = pl.DataFrame({"pair_id": ["p1", "p2", "p3"],
                        "candidate_a": ["Step 1: 10 + 6 = 26.", "Step 1: 10 + 6 = 16.", "Step 1: 10 + 6 = 17."],
                        "candidate_b": ["Step 1: 10 + 6 = 16.", "Step 1: 10 + 6 = 26.", "Step 1: 10 + 6 = 16."],
                        "origin": ["synthetic:wrong_tens", "synthetic:wrong_result", "synthetic:wrong_result"]})
    judged = pl.DataFrame({"pair_id": ["p1", "p2", "p3"], "better": ["B", "A", "B"],
                           "correct": [False, True, True]})
    pairs = judge_by_op.eft_pairs(eft, judged)
    assert pairs.to_dicts() == [{"tens_only": True, "kind": "wrong_tens", "right_in_a": False, "correct": False},
                                {"tens_only": True, "kind": "wrong_result", "right_in_a": True, "correct": True},
                                {"tens_only": False, "kind": "wrong_result", "right_in_a": False, "correct": True}]
    s = judge_by_op.summary(pairs, ("tens_only",))
    assert set(s) == {"all", "tens_only", "wrong_result", "wrong_tens"}  # kinds with no pair left out
    assert s["tens_only"] == {"n": 2, "accuracy": 0.5, "accuracy_a": 1.0, "accuracy_b": 0.0}
    assert s["wrong_result"] == {"n": 2, "accuracy": 1.0, "accuracy_a": 1.0, "accuracy_b": 1.0}
