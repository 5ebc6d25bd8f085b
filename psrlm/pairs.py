"""Step-level preference pairs from the search's tables, and their ground-truth audit (pure polars;
the pairs stage and benchmarks/search_cost.py use them, so both audit a search the same way).

Eq. 2 scores are recomputed from the judgments: a candidate's score is the number of comparisons it
wins, plus `search.multiplicity_weight` points per sample that wrote it; an unparseable verdict is
neither a win nor a loss. Chosen = best score, rejected = worst, ties broken by the recorded seeded
rank; a loop whose candidates all tie has no pair (it rolled back), and neither does a loop whose
chosen step was later rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from psrlm import outcome, search
from psrlm.errors import PsrlmError
from psrlm.metrics import pair_precision, position_consistency, share
from psrlm.params import Positive
from psrlm.prompts import said_right

LOOP = ["problem_id", "iteration", "loop"]


def recompute(steps: pl.LazyFrame, judgments: pl.LazyFrame, multiplicity_weight: int = 0) -> pl.LazyFrame:
    """Steps with `score_re`, `chosen_re`, `rejected_re` recomputed from the judgments and the
    candidates' multiplicities alone (psrlm.search.scores)."""
    wins = (judgments.filter(pl.col("verdict").is_not_null())
            .select(*LOOP, candidate_idx=pl.when(pl.col("verdict") == "A")
                    .then(pl.col("candidate_a")).otherwise(pl.col("candidate_b")))
            .group_by(*LOOP, "candidate_idx").agg(wins=pl.len().cast(pl.Int64)))
    # Comparisons each candidate took part in, either side, an invalid verdict included.
    judged = (pl.concat([judgments.select(*LOOP, candidate_idx="candidate_a"),
                         judgments.select(*LOOP, candidate_idx="candidate_b")])
              .group_by(*LOOP, "candidate_idx").agg(judged=pl.len().cast(pl.Int64)))
    # Whether every judgment a candidate was in called it Right on its own line (psrlm.prompts.
    # said_right; a line missing or unreadable is not Right).
    def labels(side: str, name: str) -> pl.LazyFrame:
        return judgments.select(*LOOP, candidate_idx=side, said=pl.col("judgment").map_elements(
            lambda t: said_right(t, name) is True, return_dtype=pl.Boolean))
    said = (pl.concat([labels("candidate_a", "A"), labels("candidate_b", "B")])
            .group_by(*LOOP, "candidate_idx").agg(said_right=pl.col("said").all()))
    out = (steps.join(wins, on=[*LOOP, "candidate_idx"], how="left")
           .join(judged, on=[*LOOP, "candidate_idx"], how="left")
           .join(said, on=[*LOOP, "candidate_idx"], how="left").with_columns(n=pl.len().over(LOOP)))
    out = out.with_columns(score_re=pl.when(pl.col("n") > 1).then(
        pl.col("wins").fill_null(0) + multiplicity_weight * pl.col("multiplicity")))
    spread = pl.col("score_re").max().over(LOOP) > pl.col("score_re").min().over(LOOP)
    best = pl.col("score_re") == pl.col("score_re").max().over(LOOP)
    worst = pl.col("score_re") == pl.col("score_re").min().over(LOOP)
    first_best = pl.col("tie_rank") == pl.col("tie_rank").filter(best).min().over(LOOP)
    first_worst = pl.col("tie_rank") == pl.col("tie_rank").filter(worst).min().over(LOOP)
    return out.with_columns(
        chosen_re=pl.when(pl.col("n") == 1).then(True).otherwise(spread & best & first_best),
        rejected_re=(pl.col("n") > 1) & spread & worst & first_worst,
        # The judge was unanimous for it: it won every comparison it was in, in both orders.
        unanimous=(pl.col("judged").fill_null(0) > 0) & (pl.col("wins").fill_null(0) == pl.col("judged")),
        said_right=pl.col("said_right").fill_null(False),
    ).drop("wins", "judged", "n")


def said_lines(judgments: pl.DataFrame) -> int:
    """How many judgments say Right or Wrong of either candidate on its own line (psrlm.prompts.
    said_right): none from the oracle and random judges, or from a judge format without such lines,
    whose pairs `chosen_said_right` would all drop."""
    return judgments.select(pl.col("judgment").map_elements(
        lambda t: said_right(t, "A") is not None or said_right(t, "B") is not None,
        return_dtype=pl.Boolean).sum()).item()


@dataclass(frozen=True)
class PairsParams:
    unanimous: bool
    min_chosen_multiplicity: Positive
    chosen_said_right: bool


def kept_mismatch(steps: pl.DataFrame, solutions: pl.DataFrame) -> str | None:
    """The first problem whose kept steps (chosen, never rolled back; in loop order) are not its
    solution's steps, or None: the `kept` flags, which decide the pairs, agree with the solutions."""
    kept = (steps.filter(pl.col("kept")).sort("problem_id", "iteration", "loop")
            .group_by("problem_id", "iteration", maintain_order=True).agg(kept=pl.col("text")))
    both = solutions.select("problem_id", "iteration", "steps").join(kept, on=["problem_id", "iteration"], how="left")
    bad = both.filter(~pl.col("steps").eq_missing(pl.col("kept").fill_null(pl.lit([], pl.List(pl.String)))))
    return None if bad.is_empty() else bad.sort("problem_id")["problem_id"][0]


def build_pairs(steps: pl.LazyFrame, p: PairsParams = PairsParams(False, 1, False)) -> pl.LazyFrame:
    """One pair per kept loop with a rejected candidate, whose chosen step passes the filters of
    `p` (the search's trajectory is the same either way: the filters only choose what DPO learns)."""
    kept = steps.filter(pl.col("kept") & pl.col("chosen_re")
                        & (pl.col("unanimous") | (not p.unanimous))
                        & (pl.col("multiplicity") >= p.min_chosen_multiplicity)
                        & (pl.col("said_right") | (not p.chosen_said_right)))
    rej = steps.filter(pl.col("rejected_re")).select(
        *LOOP, rejected_text=pl.col("text"), rejected_score=pl.col("score_re"),
        rejected_correct=pl.col("correct"), rejected_is_final=pl.col("is_final"))
    return kept.join(rej, on=LOOP, how="inner").select(
        "problem_id", "iteration", "step_idx", "loop", "prompt", chosen=pl.col("text"),
        rejected=pl.col("rejected_text"), chosen_score=pl.col("score_re"), rejected_score="rejected_score",
        is_final_step=pl.col("is_final"), rejected_is_final="rejected_is_final",
        chosen_correct=pl.col("correct"), rejected_correct="rejected_correct")


def metrics(steps: pl.DataFrame, judgments: pl.DataFrame, solutions: pl.DataFrame,
            pairs: pl.DataFrame) -> dict:
    """The iteration's search statistics and ground-truth audit (fractions rounded to 4 places)."""
    loops = steps.select(LOOP).unique().height
    truth = steps.select(*LOOP, "candidate_idx", "correct")
    j = (judgments.join(truth.rename({"candidate_idx": "candidate_a", "correct": "a_ok"}),
                        on=[*LOOP, "candidate_a"])
         .join(truth.rename({"candidate_idx": "candidate_b", "correct": "b_ok"}),
               on=[*LOOP, "candidate_b"]))
    decisive = j.filter(pl.col("a_ok").is_not_null() & pl.col("b_ok").is_not_null()
                        & (pl.col("a_ok") != pl.col("b_ok")))
    right = decisive.filter(pl.col("verdict") == pl.when(pl.col("a_ok")).then(pl.lit("A"))
                            .otherwise(pl.lit("B"))).height
    consistent, both = position_consistency(judgments, LOOP)
    # The same on the pairs that have a right verdict (one right candidate, one wrong): two wrong
    # results (the tier's usual both-wrong pair) are equally wrong by the judge's training, so a
    # verdict between them is a position, not a check (docs/easy-to-hard.md, session 16).
    decisive_consistent, decisive_both = position_consistency(decisive, LOOP)
    invalid = judgments.filter(pl.col("verdict").is_null()).group_by("verdict_status").len()
    right_samples = steps["multiplicity"] * steps["correct"].fill_null(False).cast(pl.Int64)
    return {
        "prompts": solutions.height, "steps": loops, "candidates": steps.height,
        "judge_calls": judgments.height, "judge_calls_per_step": share(judgments.height, loops),
        "invalid_verdicts": int(judgments["verdict"].null_count()),
        "invalid_by_reason": dict(sorted(invalid.iter_rows())),
        "position_consistency": share(consistent, both),
        "position_consistency_right_wrong": share(decisive_consistent, decisive_both),
        "rollbacks": int(solutions["rollbacks"].sum()),
        "unfinished": int((~solutions["finished"]).sum()),
        "pairs": pairs.height, "pairs_per_prompt": share(pairs.height, solutions.height),
        "judge_accuracy_self": share(right, decisive.height), "judge_self_pairs": decisive.height,
        "pair_precision": pair_precision(pairs),
        "step_accuracy": share(int(steps.filter(pl.col("kept"))["correct"].sum() or 0),
                              steps.filter(pl.col("kept")).height),
        # Sampled candidates that are right, each counted as often as it was sampled, and by step.
        "candidate_accuracy": share(int(right_samples.sum()), int(steps["multiplicity"].sum())),
        "candidate_accuracy_by_step": {
            str(k): share(int(r), int(n)) for k, r, n in steps.group_by("step_idx").agg(
                r=(pl.col("multiplicity") * pl.col("correct").cast(pl.Int64)).sum(),
                n=pl.col("multiplicity").sum()).sort("step_idx").iter_rows()},
        "solution_accuracy_audit": share(int(solutions["correct"].sum() or 0), solutions.height),
    }


def outcome_pairs(samples: pl.DataFrame) -> pl.DataFrame:
    """The outcome baseline's pairs (stage srlm): the chosen and rejected sample of each prompt
    (OUTCOME_SAMPLES) as a PAIRS row, one whole solution each."""
    chosen = samples.filter(pl.col("chosen")).drop("chosen", "rejected")  # flags, not the texts
    rejected = samples.filter(pl.col("rejected")).select(
        "problem_id", rejected="text", rejected_score="score", rejected_is_final="is_final",
        rejected_correct="correct")
    return chosen.join(rejected, on="problem_id").select(
        "problem_id", "iteration", step_idx=pl.lit(1, pl.Int64), loop=pl.lit(0, pl.Int64), prompt="prompt",
        chosen="text", rejected="rejected", chosen_score="score", rejected_score="rejected_score",
        is_final_step="is_final", rejected_is_final="rejected_is_final", chosen_correct="correct",
        rejected_correct="rejected_correct")


def check_outcome(samples: pl.DataFrame, pairs: pl.DataFrame, seed: int, where: str) -> None:
    """The outcome baseline's pairs checked against its samples, as the step pairs are against the
    search (stage pairs): each score read again from its judgment, each prompt's chosen and rejected
    sample picked again from the scores (search.pick, the seeded tie order), the pairs built again.
    A table edited after the srlm stage fails in one line naming the file and the column."""
    parsed = [outcome.parse_score(j) for j in samples["judgment"]]
    if not samples["score"].eq_missing(pl.Series([s for s, _ in parsed], dtype=pl.Int64)).all():
        raise PsrlmError(f"{where}/samples.parquet: column 'score' disagrees with the scores read from 'judgment'")
    for (pid,), g in samples.sort("sample_idx").group_by("problem_id", maintain_order=True):
        chosen, rejected = search.pick(g["score"].to_list(), search.tie_order(seed, pid, 0, g.height))
        for column, k in (("chosen", chosen), ("rejected", rejected)):
            if g[column].to_list() != [i == k for i in range(g.height)]:
                raise PsrlmError(f"{where}/samples.parquet: problem {pid}: column '{column}' disagrees with the "
                                 f"sample picked from the scores")
    cols = pairs.columns
    again = outcome_pairs(samples).select(cols).sort("problem_id")
    if not again.equals(pairs.sort("problem_id")):
        raise PsrlmError(f"{where}/pairs.parquet: disagrees with the pairs built from samples.parquet "
                         f"({pairs.height} rows, {again.height} rebuilt)")
