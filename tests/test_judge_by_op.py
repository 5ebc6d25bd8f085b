"""benchmarks/judge_by_op.py --search: the judge on a search's own right-vs-wrong candidates."""

import importlib.util
from pathlib import Path

import polars as pl

spec = importlib.util.spec_from_file_location("judge_by_op", Path(__file__).parents[1] / "benchmarks/judge_by_op.py")
judge_by_op = importlib.util.module_from_spec(spec)
spec.loader.exec_module(judge_by_op)


def test_search_pairs_scores_right_against_wrong_only_and_names_the_dropped_ten():
    key = {"problem_id": "p", "iteration": 1, "loop": 0, "step_idx": 1}
    steps = pl.DataFrame([
        {**key, "candidate_idx": 0, "text": "Step 1: 71 - 17 = 54.", "correct": True},
        {**key, "candidate_idx": 1, "text": "Step 1: 71 - 17 = 64.", "correct": False},
        {**key, "candidate_idx": 2, "text": "Step 1: 71 - 17 = 53.", "correct": False},
    ])
    judgments = pl.DataFrame([
        {**key, "candidate_a": 0, "candidate_b": 1, "verdict": "A"},  # right, in A
        {**key, "candidate_a": 1, "candidate_b": 0, "verdict": "A"},  # the dropped ten chosen
        {**key, "candidate_a": 2, "candidate_b": 0, "verdict": None},  # unreadable: wrong
        {**key, "candidate_a": 1, "candidate_b": 2, "verdict": "B"},  # two wrong: not counted
    ], schema_overrides={"verdict": pl.String})
    pairs = judge_by_op.search_pairs(steps, judgments)
    assert pairs.to_dicts() == [
        {"op": "-", "dropped_ten": True, "right_in_a": True, "correct": True},
        {"op": "-", "dropped_ten": True, "right_in_a": False, "correct": False},
        {"op": "-", "dropped_ten": False, "right_in_a": False, "correct": False},
    ]
    summary = judge_by_op.search_summary(pairs)
    assert summary["all"] == {"n": 3, "accuracy": 0.3333, "accuracy_a": 1.0, "accuracy_b": 0.0}
    assert summary["dropped_ten"]["n"] == 2 and set(summary) == {"all", "dropped_ten", "-"}
