"""The pairs stage recomputes every choice of the search from its tables alone."""

import random

import polars as pl

from psrlm import pairs, search
from psrlm.tables import PAIRS, SEARCH_JUDGMENTS, SEARCH_SOLUTIONS, SEARCH_STEPS, validate


class RandomJudge:
    """Candidates and verdicts drawn from a seeded RNG, with some invalid judgments: every path
    of the algorithm (ties, rollbacks, single candidates, invalid verdicts) shows up."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def sample(self, prompts, n, seed):
        pool = ["Step 1: 1 + 1 = 2.", "Step 1: 1 + 1 = 3.", "x", "y \\boxed{2}", "z"]
        return [[self.rng.choice(pool[: self.rng.randint(1, 5)]) for _ in range(n)] for _ in prompts]

    def judge(self, requests):
        return [self.rng.choice(["[[A]]", "[[B]]", "[[B]]", "no idea", "[[A]] [[B]]"]) for _ in requests]


def tables(seed, multiplicity_weight=0):
    cfg = search.SearchConfig(width=4, max_loops=20, both_orders=True, seed=seed,
                              multiplicity_weight=multiplicity_weight)
    steps, judgments, sols = search.run_search([(f"p{i}", f"q{i}") for i in range(30)], RandomJudge(seed),
                                               cfg, lambda q, s: q + "|" + "\n".join(s))
    steps = pl.DataFrame(steps, schema_overrides={"score": pl.Int64}).with_columns(
        iteration=pl.lit(1, pl.Int64), correct=pl.col("text").str.contains("= 2"))
    steps = steps.with_columns(truth=pl.when(pl.col("correct")).then(pl.lit("correct")).otherwise(pl.lit("wrong")))
    judgments = pl.DataFrame(judgments, schema_overrides={"verdict": pl.String}).with_columns(
        iteration=pl.lit(1, pl.Int64))
    return steps, judgments, sols


def test_recomputed_scores_and_choices_equal_the_search():
    for seed, weight in [(s, w) for s in range(5) for w in (0, 2)]:
        steps, judgments, _ = tables(seed, weight)
        re = (pairs.recompute(steps.lazy(), judgments.lazy(), weight).collect()
              .sort("problem_id", "loop", "candidate_idx"))
        assert re["score"].eq_missing(re["score_re"]).all()
        assert (re["chosen"] == re["chosen_re"]).all() and (re["rejected"] == re["rejected_re"]).all()
        assert judgments["verdict"].null_count() > 0  # invalid verdicts were present and ignored


def test_pairs_come_only_from_kept_steps_with_a_rejected_candidate():
    steps, judgments, sols = tables(0)
    out = pairs.build_pairs(pairs.recompute(steps.lazy(), judgments.lazy())).collect()
    validate(out, PAIRS, "pairs")  # the stage writes exactly the declared schema
    kept_steps = sum(len(s["steps"]) for s in sols)
    assert 0 < out.height <= kept_steps
    assert (out["chosen"] != out["rejected"]).all()
    assert (out["chosen_score"] > out["rejected_score"]).all()
    assert out["is_final_step"].to_list() == [("\\boxed{" in c) for c in out["chosen"]]
    assert out.select("problem_id", "step_idx").is_unique().all()


def hand_made_tables():
    """Two loops of the synthetic task, every number worked out by hand (see the test below).

    Problem p (83 - 5, then + 3): three distinct candidates for step 1, c0 right (sampled twice),
    c1 and c2 wrong (three times, once). Problem q, step 2 after a wrong step 1 that claims 79:
    d0 is wrong relative to that claim (sampled four times), d1 right relative to it (twice).
    """
    def step(pid, loop, idx, cand, prefix, text, mult, score, rank, chosen, rejected, truth):
        return {"problem_id": pid, "iteration": 1, "loop": loop, "step_idx": idx, "candidate_idx": cand,
                "prompt": f"{pid}|{len(prefix)}", "prefix_steps": prefix, "text": text, "multiplicity": mult,
                "score": score, "tie_rank": rank, "chosen": chosen, "rejected": rejected, "kept": chosen,
                "truth": truth, "correct": truth == "correct"}

    q1 = ["Step 1: 83 - 5 = 79."]
    steps = pl.DataFrame([
        step("p", 0, 1, 0, [], "Step 1: 83 - 5 = 78.", 2, 3, 0, True, False, "correct"),
        step("p", 0, 1, 1, [], "Step 1: 83 - 5 = 79.", 3, 2, 1, False, False, "wrong_result"),
        step("p", 0, 1, 2, [], "Step 1: 83 - 4 = 79.", 1, 0, 2, False, True, "wrong_operand"),
        step("q", 1, 2, 0, q1, "Step 2: 78 + 3 = 81.", 4, 2, 0, True, False, "wrong_operand"),
        step("q", 1, 2, 1, q1, "Step 2: 79 + 3 = 82.", 2, 0, 1, False, True, "correct"),
    ], schema=SEARCH_STEPS.columns)

    def judged(pid, loop, idx, a, b, verdict):
        return {"problem_id": pid, "iteration": 1, "loop": loop, "step_idx": idx, "candidate_a": a,
                "candidate_b": b, "judgment": "...", "verdict": verdict,
                "verdict_status": "ok" if verdict else "no_verdict"}

    judgments = pl.DataFrame([
        judged("p", 0, 1, 0, 1, "A"),  # right (c0 over c1)
        judged("p", 0, 1, 1, 0, "A"),  # wrong (c1 over c0): the pair {0, 1} is inconsistent
        judged("p", 0, 1, 0, 2, "A"),  # right
        judged("p", 0, 1, 2, 0, "B"),  # right: the pair {0, 2} is consistent
        judged("p", 0, 1, 1, 2, "A"),  # both wrong: not a right-vs-wrong judgment
        judged("p", 0, 1, 2, 1, None),  # invalid: {1, 2} shown in both orders, inconsistent
        judged("q", 1, 2, 0, 1, "A"),  # wrong (d0 over d1)
        judged("q", 1, 2, 1, 0, "B"),  # wrong again, but consistent
    ], schema=SEARCH_JUDGMENTS.columns)
    solutions = pl.DataFrame([
        {"problem_id": "p", "iteration": 1, "steps": ["Step 1: 83 - 5 = 78."], "finished": False, "loops": 1,
         "rollbacks": 0, "answer": None, "gold_answer": "81", "correct": False},
        {"problem_id": "q", "iteration": 1, "steps": q1 + ["Step 2: 78 + 3 = 81."], "finished": False, "loops": 2,
         "rollbacks": 0, "answer": None, "gold_answer": "81", "correct": False},
    ], schema=SEARCH_SOLUTIONS.columns)
    return steps, judgments, solutions


def test_audit_metrics_have_the_values_worked_out_by_hand():
    steps, judgments, solutions = hand_made_tables()
    re = pairs.recompute(steps.lazy(), judgments.lazy())
    assert re.select((pl.col("score") == pl.col("score_re")).all()).collect().item()
    out = pairs.build_pairs(re).collect()
    m = pairs.metrics(steps, judgments, solutions, out)
    assert out.height == 2 and m["pairs"] == 2
    assert m["judge_self_pairs"] == 6  # p: (0,1), (1,0), (0,2), (2,0); q: (0,1), (1,0)
    assert m["judge_accuracy_self"] == 0.5  # 3 right of 6
    # {0,1} of p no, {1,2} of p no (an invalid verdict); {0,2} of p, {0,1} of q yes (psrlm.metrics)
    assert m["position_consistency"] == 0.5
    # of them, the pairs of one right and one wrong candidate: {0,1} and {0,2} of p, {0,1} of q
    assert m["position_consistency_right_wrong"] == round(2 / 3, 4)
    assert m["pair_precision"] == 0.5  # p: right over wrong; q: wrong over right
    assert m["step_accuracy"] == 0.5  # kept: c0 right, d0 wrong
    assert m["candidate_accuracy"] == round(4 / 12, 4)  # c0 x2 + d1 x2 of 12 samples
    assert m["candidate_accuracy_by_step"] == {"1": round(2 / 6, 4), "2": round(2 / 6, 4)}
    assert m["invalid_verdicts"] == 1 and m["invalid_by_reason"] == {"no_verdict": 1}
    assert m["judge_calls"] == 8 and m["steps"] == 2 and m["judge_calls_per_step"] == 4.0


def test_recomputing_with_another_multiplicity_weight_disagrees_with_the_search():
    # The stage's mismatch check can fail: scores made with weight 2 are not those of weight 0.
    steps, judgments, _ = tables(0, multiplicity_weight=2)
    re = pairs.recompute(steps.lazy(), judgments.lazy(), 0).collect()
    assert not re["score"].eq_missing(re["score_re"]).all()


def test_filters_keep_only_pairs_whose_chosen_step_won_every_comparison_or_was_sampled_often():
    steps, judgments, _ = tables(0)
    re = pairs.recompute(steps.lazy(), judgments.lazy())
    every = pairs.build_pairs(re).collect()
    unanimous = pairs.build_pairs(re, pairs.PairsParams(unanimous=True, min_chosen_multiplicity=1, chosen_said_right=False)).collect()
    often = pairs.build_pairs(re, pairs.PairsParams(unanimous=False, min_chosen_multiplicity=2, chosen_said_right=False)).collect()
    assert 0 < unanimous.height < every.height and 0 < often.height < every.height
    # Unanimous: the chosen step won each of the comparisons it was in, none invalid.
    for r in unanimous.iter_rows(named=True):
        mine = judgments.filter((pl.col("problem_id") == r["problem_id"]) & (pl.col("loop") == r["loop"]))
        idx = steps.filter((pl.col("problem_id") == r["problem_id"]) & (pl.col("loop") == r["loop"])
                           & (pl.col("text") == r["chosen"]))["candidate_idx"][0]
        won = mine.filter(((pl.col("candidate_a") == idx) & (pl.col("verdict") == "A"))
                          | ((pl.col("candidate_b") == idx) & (pl.col("verdict") == "B"))).height
        took_part = mine.filter((pl.col("candidate_a") == idx) | (pl.col("candidate_b") == idx)).height
        assert won == took_part > 0
    mult = steps.select("problem_id", "loop", chosen="text", m="multiplicity")
    assert (often.join(mult, on=["problem_id", "loop", "chosen"])["m"] >= 2).all()


def test_the_said_right_filter_keeps_only_chosen_steps_every_judgment_called_right():
    steps, judgments, _ = tables(0)
    rng = random.Random(1)
    # Each judgment's own lines about its candidates, drawn at random (one line missing at times:
    # not Right); the verdicts stay the RandomJudge's.
    def text(v):
        line = lambda n: rng.choice([f"{n}: 1 1 ok. Right.", f"{n}: 1 2 no. Wrong.", ""])  # noqa: E731
        return f"{line('A')}\n{line('B')}\n{v}"
    judgments = judgments.with_columns(judgment=pl.Series([text(v) for v in judgments["judgment"]]))
    re = pairs.recompute(steps.lazy(), judgments.lazy())
    every = pairs.build_pairs(re).collect()
    said = pairs.build_pairs(re, pairs.PairsParams(unanimous=False, min_chosen_multiplicity=1,
                                                   chosen_said_right=True)).collect()
    assert 0 < said.height < every.height
    for r in said.iter_rows(named=True):
        idx = steps.filter((pl.col("problem_id") == r["problem_id"]) & (pl.col("loop") == r["loop"])
                           & (pl.col("text") == r["chosen"]))["candidate_idx"][0]
        mine = judgments.filter((pl.col("problem_id") == r["problem_id"]) & (pl.col("loop") == r["loop"]))
        lines = ([j.splitlines()[0] for j in mine.filter(pl.col("candidate_a") == idx)["judgment"]]
                 + [j.splitlines()[1] for j in mine.filter(pl.col("candidate_b") == idx)["judgment"]])
        assert lines and all(line.endswith("Right.") for line in lines), lines


def test_kept_flags_are_checked_against_the_solutions():
    """`kept` flipped on one loop used to give one pair fewer, silently (exit 0)."""
    steps, _, sols = tables(0)
    sols = pl.DataFrame(sols).with_columns(iteration=pl.lit(1, pl.Int64))
    assert pairs.kept_mismatch(steps, sols) is None  # the search's own tables agree
    assert steps["kept"].sum() > 0
    first = steps.with_row_index("i").filter(pl.col("kept"))["i"][0]
    flipped = steps.with_columns(kept=pl.when(pl.int_range(pl.len()) == first).then(False).otherwise(pl.col("kept")))
    assert pairs.kept_mismatch(flipped, sols) == steps["problem_id"][int(first)]


def test_the_outcome_pairs_are_checked_against_their_samples():
    """SRLM pairs whose chosen score is below the rejected one (a tampered table) used to be
    trained on: the pairs, flags and scores are now rebuilt from the samples before DPO."""
    import pytest

    from psrlm.errors import PsrlmError

    rows = []
    for pid, scores in (("p", [3, 5, None, 1]), ("q", [2, 2, 2, 2]), ("r", [0, 4, 4, 1])):
        order = search.tie_order(7, pid, 0, len(scores))
        chosen, rejected = search.pick(scores, order)
        for k, s in enumerate(scores):
            rows.append({"problem_id": pid, "iteration": 1, "sample_idx": k, "prompt": f"P {pid}", "text": f"{pid}{k}",
                         "answer": None, "is_final": False,
                         "judgment": "unreadable" if s is None else f"Score: [[{s}]]", "score": s,
                         "score_status": "no_score" if s is None else "ok", "chosen": k == chosen,
                         "rejected": k == rejected, "truth_score": 0, "correct": False})
    samples = pl.DataFrame(rows, schema=pl.Schema({c: t for c, t in pl.DataFrame(rows).schema.items()})
                           ).with_columns(score=pl.col("score").cast(pl.Int64))
    good = pairs.outcome_pairs(samples)
    assert good.height == 2  # q's scores all tie: no pair
    pairs.check_outcome(samples, good, 7, "data/srlm/iter_1")
    swapped = good.with_columns(chosen=pl.col("rejected"), rejected=pl.col("chosen"),
                                chosen_score=pl.col("rejected_score"), rejected_score=pl.col("chosen_score"))
    with pytest.raises(PsrlmError, match=r"^data/srlm/iter_1/pairs.parquet: disagrees with the pairs built"):
        pairs.check_outcome(samples, swapped, 7, "data/srlm/iter_1")
    both = samples.with_columns(chosen=pl.col("rejected"), rejected=pl.col("chosen"))
    with pytest.raises(PsrlmError, match=r"samples.parquet: problem p: column 'chosen' disagrees"):
        pairs.check_outcome(both, pairs.outcome_pairs(both), 7, "data/srlm/iter_1")
    rescored = samples.with_columns(score=pl.when(pl.col("sample_idx") == 0).then(5).otherwise(pl.col("score")))
    with pytest.raises(PsrlmError, match=r"samples.parquet: column 'score' disagrees with the scores read from"):
        pairs.check_outcome(rescored, good, 7, "data/srlm/iter_1")


def test_said_lines_counts_judgments_with_a_right_or_wrong_line_for_either_candidate():
    j = pl.DataFrame({"judgment": ["A: 1 1 ok. Right.\nB: 1 2 no. Wrong.\n[[A]]", "B: 2 2 ok. Right.\n[[B]]",
                                   "[[A]]", "A: Right. Wrong.\n[[A]]", "the oracle: A"]})
    assert pairs.said_lines(j) == 2
    assert pairs.said_lines(j.head(0)) == 0
