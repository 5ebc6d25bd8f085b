"""The evaluate stage's judge metrics on the own-sample pairs, on hand-made tables (exact values)."""

import polars as pl

from stages_loader import load_stage

evaluate = load_stage("evaluate")

R1, W1, W2 = "Step 1: 3 + 1 = 4.", "Step 1: 3 + 1 = 5.", "Step 1: 3 - 1 = 2."


def own_table(rows):
    return pl.DataFrame(rows, schema=["pair_id", "problem_id", "step_idx", "candidate_a", "candidate_b",
                                      "better"], orient="row")


OWN = own_table([
    ("p-s1-p0-A", "p", 1, R1, W1, "A"), ("p-s1-p0-B", "p", 1, W1, R1, "B"),  # consistent, right
    ("p-s1-p1-A", "p", 1, R1, W2, "A"), ("p-s1-p1-B", "p", 1, W2, R1, "B"),  # always says A
    ("q-s1-p0-A", "q", 1, R1, W1, "A"), ("q-s1-p0-B", "q", 1, W1, R1, "B"),  # one invalid
    ("r-s1-p0-A", "r", 1, R1, W1, "A"),  # shown in one order only: not in the consistency count
])
OUTPUTS = ["[[A]]", "[[B]]", "[[A]]", "[[A]]", "[[A]]", "no idea", "[[B]]"]


def test_own_metrics_exact_values():
    judged = evaluate.score_judgments(OWN, OUTPUTS)
    # right: p0-A, p0-B, p1-A, q0-A; wrong: p1-B (said A), q0-B (invalid), r0-A (said B)
    assert evaluate.own_metrics(OWN, judged) == {
        "own_n": 7, "own_accuracy": round(4 / 7, 4), "own_accuracy_a": 0.75,
        "own_accuracy_b": round(1 / 3, 4), "own_invalid": 1,
        "own_position_consistency": round(1 / 3, 4)}  # of p0, p1, q0 (r0 is shown once): p0


def test_consistency_counts_only_pairs_in_both_orders_and_invalid_is_never_consistent():
    judged = evaluate.score_judgments(OWN, OUTPUTS)
    assert evaluate.position_consistency(OWN, judged) == (1, 3)
    flipped = evaluate.score_judgments(OWN, ["[[B]]", "[[A]]"] + OUTPUTS[2:])  # p0: wrong but consistent
    assert evaluate.position_consistency(OWN, flipped) == (1, 3)
