"""The evaluate stage's tables (psrlm.evaluation) and their metrics (psrlm.metrics) on hand-made tables
(exact values)."""

import polars as pl

from psrlm import evaluation, metrics, task

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
    judged = evaluation.score_judgments(OWN, OUTPUTS)
    # right: p0-A, p0-B, p1-A, q0-A; wrong: p1-B (said A), q0-B (invalid), r0-A (said B)
    assert metrics.own_judge(OWN, judged) == {
        "own_n": 7, "own_accuracy": round(4 / 7, 4), "own_accuracy_a": 0.75,
        "own_accuracy_b": round(1 / 3, 4), "own_invalid": 1,
        "own_position_consistency": round(1 / 3, 4)}  # of p0, p1, q0 (r0 is shown once): p0


def consistency(own, judged):
    return metrics.position_consistency(own.join(judged.select("pair_id", "verdict"), on="pair_id"),
                                        ["problem_id", "step_idx"])


def test_consistency_counts_only_pairs_in_both_orders_and_invalid_is_never_consistent():
    judged = evaluation.score_judgments(OWN, OUTPUTS)
    assert consistency(OWN, judged) == (1, 3)
    flipped = evaluation.score_judgments(OWN, ["[[B]]", "[[A]]"] + OUTPUTS[2:])  # p0: wrong but consistent
    assert consistency(OWN, flipped) == (1, 3)


def test_the_search_audit_and_evaluate_measure_consistency_alike():
    """One definition: the same verdicts as a search's judgments table (stage pairs) and as own
    pairs (stage evaluate) give the same position consistency, invalid verdicts included."""
    from psrlm import pairs
    from psrlm.tables import SEARCH_JUDGMENTS, SEARCH_SOLUTIONS, SEARCH_STEPS

    index = {R1: 0, W1: 1, W2: 2}
    judged = evaluation.score_judgments(OWN, OUTPUTS).join(OWN, on="pair_id")
    search = pl.DataFrame([
        {"problem_id": r["problem_id"], "iteration": 1, "loop": 0, "step_idx": 1,
         "candidate_a": index[r["candidate_a"]], "candidate_b": index[r["candidate_b"]], "judgment": r["output"],
         "verdict": r["verdict"], "verdict_status": r["verdict_status"]} for r in judged.iter_rows(named=True)],
        schema=SEARCH_JUDGMENTS.columns)
    audit = pairs.metrics(pl.DataFrame(schema=SEARCH_STEPS.columns), search,
                          pl.DataFrame(schema=SEARCH_SOLUTIONS.columns), pl.DataFrame(schema={
                              "chosen_correct": pl.Boolean, "rejected_correct": pl.Boolean}))
    own = metrics.own_judge(OWN, evaluation.score_judgments(OWN, OUTPUTS))
    assert audit["position_consistency"] == own["own_position_consistency"] == round(1 / 3, 4)


def test_a_right_answer_past_a_wrong_step_is_not_a_right_solution():
    test = pl.DataFrame({"problem_id": ["a", "b", "c"], "gold_answer": ["38", "38", "7"],
                         "start": [46, 46, 3], "ops": [["+", "/", "*"]] * 2 + [["+"]],
                         "operands": [[11, 3, 2]] * 2 + [[4]]})
    outputs = [
        "Step 1: 46 + 11 = 57.\nStep 2: 57 / 3 = 19.\nStep 3: 19 * 2 = 38. The answer is \\boxed{38}.",
        "Step 1: 46 + 11 = 58.\nStep 2: 58 / 3 = 19.\nStep 3: 19 * 2 = 38. The answer is \\boxed{38}.",
        "Step 1: 3 + 4 = 7.",  # right result, answer not boxed
    ]
    solve = evaluation.score_solutions(test, outputs, task.for_name("synthetic", "judge_v2"))
    assert solve["status"].to_list() == ["correct", "correct", "no_answer"]
    assert solve["steps_right"].to_list() == [True, False, False]
    # arithmetic: 3 of 3; 46 + 11 = 58 is wrong and 58 / 3 has no exact result, 19 * 2 = 38 fits; 1 of 1
    assert solve["arithmetic_right"].to_list() == [3, 1, 1]
    assert solve["steps_written"].to_list() == [3, 3, 1]
    m = metrics.solve_by_tier(solve)["synthetic"]
    assert m["accuracy"] == round(2 / 3, 4) and m["steps_right_accuracy"] == round(1 / 3, 4)
    assert m["step_arithmetic"] == round(5 / 7, 4)


def test_metrics_per_tier_keep_the_base_test_apart():
    the_task = task.for_name("synthetic", "judge_v2")
    base = pl.DataFrame({"problem_id": ["a", "b"], "gold_answer": ["7", "7"], "start": [3, 3],
                         "ops": [["+"]] * 2, "operands": [[4]] * 2})
    hard = base.with_columns(problem_id=pl.Series(["h1", "h2"]))
    right, wrong = "Step 1: 3 + 4 = 7. The answer is \\boxed{7}.", "Step 1: 3 + 4 = 8. The answer is \\boxed{8}."
    solve = pl.concat([evaluation.score_solutions(base, [right, right], the_task),
                       evaluation.score_solutions(hard, [right, wrong], the_task, "hard")])
    assert solve["tier"].to_list() == ["base", "base", "hard", "hard"]
    m = metrics.solve_by_tier(solve)
    assert m["synthetic"]["n"] == 2 and m["synthetic"]["accuracy"] == 1.0
    assert {t: (v["n"], v["accuracy"]) for t, v in m["synthetic_by_tier"].items()} == {"base": (2, 1.0), "hard": (2, 0.5)}
