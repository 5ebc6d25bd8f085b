"""The pairs stage recomputes every choice of the search from its tables alone."""

import random

import polars as pl

from psrlm import search
from psrlm.tables import PAIRS, validate
from stages_loader import load_stage

pairs = load_stage("pairs")


class RandomJudge:
    """Candidates and verdicts drawn from a seeded RNG, with some invalid judgments: every path
    of the algorithm (ties, rollbacks, single candidates, invalid verdicts) shows up."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def sample(self, prompts, n, seed):
        pool = ["Step 1: 1 + 1 = 2.", "Step 1: 1 + 1 = 3.", "x", "y \\boxed{2}", "z"]
        return [[self.rng.choice(pool[: self.rng.randint(1, 5)]) for _ in range(n)] for _ in prompts]

    def judge(self, prompts):
        return [self.rng.choice(["[[A]]", "[[B]]", "[[B]]", "no idea", "[[A]] [[B]]"]) for _ in prompts]


def tables(seed):
    cfg = search.SearchConfig(width=4, max_loops=20, both_orders=True, seed=seed)
    steps, judgments, sols = search.run_search([(f"p{i}", f"q{i}") for i in range(30)], RandomJudge(seed),
                                               cfg, lambda q, s: q + "|" + "\n".join(s), lambda q, s, a, b: a + b)
    steps = pl.DataFrame(steps, schema_overrides={"score": pl.Int64}).with_columns(
        iteration=pl.lit(1, pl.Int64), correct=pl.col("text").str.contains("= 2"))
    judgments = pl.DataFrame(judgments, schema_overrides={"verdict": pl.String}).with_columns(
        iteration=pl.lit(1, pl.Int64))
    return steps, judgments, sols


def test_recomputed_scores_and_choices_equal_the_search():
    for seed in range(5):
        steps, judgments, _ = tables(seed)
        re = pairs.recompute(steps.lazy(), judgments.lazy()).collect().sort("problem_id", "loop", "candidate_idx")
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
