"""The synthetic task's data (prepare.task: synthetic, the embedded default): every split drawn from
seeded streams of distinct arithmetic problems (psrlm/arith.py), judge pairs made by corrupting a
gold step, the SRLM baseline's whole-solution score examples, and the difficulty tiers. The real
tasks' counterpart is psrlm/realdata.py; psrlm.task puts both behind one `build`.

Splits are disjoint by construction: one stream of distinct problems is cut in a fixed order, so
adding an iteration's pool at the end leaves every earlier table byte-identical. The two judge
splits come from a second stream that skips every problem of the first; each tier is its own
stream (seeded by prepare.seed and its name), skipping all their problems.
"""

from __future__ import annotations

import dataclasses
import random
from typing import TYPE_CHECKING

import polars as pl

from psrlm import arith, outcome
from psrlm.params import ParamsError
from psrlm.tables import EFT, PROBLEMS, SCORE_EFT

if TYPE_CHECKING:
    from psrlm.task import PrepareParams

BASE = "base"  # the tier of the keys themselves: every labelled split, the test and unlisted pools


def difficulty(p: PrepareParams) -> arith.Difficulty:
    return arith.Difficulty(p.num_ops_min, p.num_ops_max, p.start_min, p.start_max, p.addsub_min, p.addsub_max,
                            p.muldiv_max, p.value_max, p.op_weights)


def tier_difficulty(p: PrepareParams, name: str) -> arith.Difficulty:
    """The base difficulty with the keys tier `name` replaces."""
    return difficulty(p) if name == BASE else dataclasses.replace(difficulty(p), **p.tiers[name])


def check_difficulty(d: arith.Difficulty, where: str) -> None:
    if d.num_ops_min > d.num_ops_max:
        raise ParamsError(f"{where}.num_ops_min: must be <= num_ops_max")
    if d.start_min > d.start_max:
        raise ParamsError(f"{where}.start_min: must be <= start_max")
    if d.addsub_min > d.addsub_max:
        raise ParamsError(f"{where}.addsub_min: must be <= addsub_max")
    if d.value_max < d.start_max:
        raise ParamsError(f"{where}.value_max: must be >= start_max")
    if d.muldiv_max < 2 or min(d.num_ops_min, d.addsub_min, d.value_max) < 1:
        raise ParamsError(f"{where}: num_ops_min, addsub_min and value_max must be >= 1, muldiv_max >= 2")


def problem_rows(problems: list[arith.Problem], prefix: str) -> pl.DataFrame:
    rows = []
    for i, prob in enumerate(problems):
        steps = prob.gold_steps()
        vals = prob.values()
        for k, step in enumerate(steps):  # every gold step verifies against the exact checker
            verdict = arith.check_step(step, k + 1, vals[k], prob.ops[k], prob.operands[k],
                                       final=k + 1 == len(steps))
            assert verdict == "correct", (step, verdict)
        rows.append({
            "problem_id": f"{prefix}-{i:06d}", "problem": prob.text, "start": prob.start,
            "ops": list(prob.ops), "operands": list(prob.operands), "gold_steps": steps,
            "solution": "\n".join(steps), "gold_answer": str(vals[-1]),
        })
    return pl.DataFrame(rows, schema=PROBLEMS.polars_schema())


def eft_rows(rng: random.Random, problems: list[arith.Problem], prefix: str,
             d: arith.Difficulty, corruption_weights: dict[str, float],
             judgment=arith.judgment, both_wrong_share: float = 0.0, both_wrong_results: float = 0.0) -> pl.DataFrame:
    """One pair per problem: at a random step, the gold step against a corrupted one; or, in
    `both_wrong_share` of the pairs (`both_wrong`), two corruptions of it, `both_wrong_results` of
    those two wrong results.

    The better step's position is exactly balanced (half A, half B, shuffled with the seed).
    """
    positions = ["A", "B"] * (len(problems) // 2) + ["A"] * (len(problems) % 2)
    rng.shuffle(positions)
    n_both = round(len(problems) * both_wrong_share)
    both = [True] * n_both + [False] * (len(problems) - n_both)
    if n_both:  # no draw otherwise: a share of 0 leaves the table's bytes as they were
        rng.shuffle(both)
    n_res = round(n_both * both_wrong_results)
    results = [True] * n_res + [False] * (n_both - n_res)
    if n_res:  # likewise
        rng.shuffle(results)
    order = arith.both_wrong_order(judgment)
    kinds = [k for k in arith.CORRUPTIONS if corruption_weights.get(k, 0) > 0]
    rows = []
    for i, (prob, better, two_wrong) in enumerate(zip(problems, positions, both)):
        idx = rng.randint(1, len(prob.ops))
        gold, vals = prob.gold_steps(), prob.values()
        check = (idx, vals[idx - 1], prob.ops[idx - 1], prob.operands[idx - 1], idx == len(gold))
        if two_wrong:
            (good, bad), kind = both_wrong(rng, prob, idx, d, kinds, corruption_weights, order,
                                           results.pop() if results else False)
        else:
            kind = rng.choices(kinds, weights=[corruption_weights[k] for k in kinds])[0]
            good, bad = gold[idx - 1], arith.corrupt_step(rng, prob, idx, kind, d)
        cand_a, cand_b = (good, bad) if better == "A" else (bad, good)
        a_ok = arith.check_step(cand_a, *check) == "correct"
        b_ok = arith.check_step(cand_b, *check) == "correct"
        assert (not a_ok and not b_ok) if two_wrong else (a_ok != b_ok and a_ok == (better == "A")), \
            (cand_a, cand_b, better)
        pid = f"{prefix}-{i:06d}"
        rows.append({
            "pair_id": f"{pid}-s{idx}", "problem_id": pid, "problem": prob.text, "step_idx": idx,
            "prefix_steps": gold[: idx - 1], "candidate_a": cand_a, "candidate_b": cand_b,
            "a_correct": a_ok, "b_correct": b_ok, "better": better,
            "origin": f"synthetic:{kind}", "judgment": judgment(cand_a, cand_b, better, *check,
                                                              arith.step_sentence(prob.text, idx)),
        })
    return pl.DataFrame(rows, schema=EFT.polars_schema())


def both_wrong(rng: random.Random, prob: arith.Problem, idx: int, d: arith.Difficulty, kinds: list[str],
               weights: dict[str, float], order, results: bool = False,
               tries: int = 50) -> tuple[tuple[str, str], str]:
    """Two corruptions of gold step `idx` that the judgment format's `order`
    (`arith.both_wrong_order`: judge_v9/v10's, else the number of fields wrong) ranks apart, as (better,
    worse), and their origin (`kind+kind`, the better's first). With `results`, both are wrong
    results of the right operation (`wrong_result` or `wrong_tens`, whatever the weights).

    Why (issue 28): with exactly one right candidate in every pair, the judge's B line can be read
    off its A line ("B is the other"), and a 1M model's judge learns that instead of checking B.
    When both are wrong, each line has to be checked on its own; the verdict goes to the smaller
    error, so a pair still has one better step. Two wrong results are what the model's own
    both-wrong pairs mostly are (422 of 460 judgments, session 16); only an order that looks
    inside the result (judge_v9's digits) ranks them."""
    vals = prob.values()
    check = (idx, vals[idx - 1], prob.ops[idx - 1], prob.operands[idx - 1], idx == len(prob.ops))
    for _ in range(tries):
        if results:
            k1, k2 = (rng.choice(("wrong_result", "wrong_tens")) for _ in range(2))
        else:
            k1, k2 = (rng.choices(kinds, weights=[weights[k] for k in kinds])[0] for _ in range(2))
        s1, s2 = (arith.corrupt_step(rng, prob, idx, k, d) for k in (k1, k2))
        w1, w2 = order(s1, *check), order(s2, *check)
        if w1 != w2:
            return ((s1, s2), f"{k1}+{k2}") if w1 < w2 else ((s2, s1), f"{k2}+{k1}")
    raise ParamsError(f"prepare.both_wrong_share: no two corruptions of kinds {kinds} ranked apart by the "
                      f"judge format in {tries} draws (step {idx} of {prob.text!r}); "
                      "corruption_weights needs a result kind and an operand or operator kind")


def score_eft_rows(rng: random.Random, problems: list[arith.Problem], prefix: str,
                   d: arith.Difficulty, corruption_weights: dict[str, float]) -> pl.DataFrame:
    """The SRLM baseline's judge examples (Yuan et al.'s EFT, whole solutions): one per problem,
    the gold solution or a corrupted one (exactly half each, shuffled with the seed), with the
    rubric's score and the target judgment (psrlm.outcome). They are made on the EFT split's
    problems, so the two methods' judges learn from the same problems in their own formats. The
    wrong solutions are synthetic, as the default's step EFT is: at initialization no SRLM model
    exists yet to make its own (its own solutions are what it scores in the iterations)."""
    wrong = [False, True] * (len(problems) // 2) + [False] * (len(problems) % 2)
    rng.shuffle(wrong)
    kinds = [k for k in arith.CORRUPTIONS if corruption_weights.get(k, 0) > 0]
    rows = []
    for i, (prob, bad) in enumerate(zip(problems, wrong)):
        steps, origin = prob.gold_steps(), "gold"
        while bad:  # redraw the rare corruption whose wrong value cannot be carried on exactly
            kind = rng.choices(kinds, weights=[corruption_weights[k] for k in kinds])[0]
            made = outcome.corrupt_solution(rng, prob, kind, d)
            if made is not None:
                steps, origin = made, f"synthetic:{kind}"
                break
        solution = "\n".join(steps)
        r = outcome.rubric(solution, prob.text, prob.start, prob.ops, prob.operands)
        pid = f"{prefix}-{i:06d}"
        rows.append({"example_id": f"{pid}-score", "problem_id": pid, "problem": prob.text,
                     "start": prob.start, "ops": list(prob.ops), "operands": list(prob.operands),
                     "solution": solution, "origin": origin, "score": r.score,
                     "correct": arith.solution_right(solution, prob.start, list(prob.ops), list(prob.operands)),
                     "judgment": outcome.score_judgment(r)})
    return pl.DataFrame(rows, schema=SCORE_EFT.polars_schema())


def tables(p: PrepareParams, sizes: dict[str, int], judgment) -> tuple[list, dict]:
    """The synthetic task's tables, as (frame, name under the prepare folder, schema), and its pools
    (frames by split name)."""
    rng = random.Random(p.seed)
    d = difficulty(p)
    tier_of = {f"pool{i}": p.pool_tier(i) for i in range(1, len(p.pool_sizes) + 1)}
    base_sizes = {k: n for k, n in sizes.items() if tier_of.get(k, BASE) == BASE}
    problems = arith.distinct_problems(rng, d, sum(base_sizes.values()))
    split, start = {}, 0
    for name, n in base_sizes.items():  # fixed order: appending a pool changes no earlier split
        split[name], start = problems[start: start + n], start + n
    taken = frozenset((q.start, q.ops, q.operands) for q in problems)
    judge = arith.distinct_problems(random.Random(p.seed + 3), d, p.judge_train_size + p.judge_test_size, taken)
    # The held-out test first: its problems do not move when the judge phase's size changes.
    split["judge_test"], split["judge_train"] = judge[:p.judge_test_size], judge[p.judge_test_size:]
    taken |= {(q.start, q.ops, q.operands) for q in judge}
    # Each tier its own stream, in params order (a tier added at the end moves no earlier one), none
    # of whose problems is in an earlier split: its held-out test first, then its pools in order.
    tier_tests = {}
    for name in p.tiers:
        pools = [k for k, t in tier_of.items() if t == name]
        drawn = arith.distinct_problems(random.Random(f"{p.seed}:{name}"), tier_difficulty(p, name),
                                  p.tier_test_size + sum(sizes[k] for k in pools), taken)
        tier_tests[name], start = drawn[:p.tier_test_size], p.tier_test_size
        for k in pools:
            split[k], start = drawn[start: start + sizes[k]], start + sizes[k]
        taken |= {(q.start, q.ops, q.operands) for q in drawn}

    tables = [
        (problem_rows(split["ift_train"], "ift"), "ift_train", PROBLEMS),
        (eft_rows(random.Random(p.seed + 1), split["eft_train"], "eft_train", d,
                  p.corruption_weights, judgment, p.both_wrong_share, p.both_wrong_results), "eft_train", EFT),
        (eft_rows(random.Random(p.seed + 2), split["eft_test"], "eft_test", d,
                  p.corruption_weights, judgment), "eft_test", EFT),
        (problem_rows(split["test"], "test"), "test", PROBLEMS),
        (problem_rows(split["judge_train"], "judge_train"), "judge_train", PROBLEMS),
        (problem_rows(split["judge_test"], "judge_test"), "judge_test", PROBLEMS),
        # Last, from their own random streams: every table above stays byte-identical.
        (score_eft_rows(random.Random(p.seed + 5), split["eft_train"], "eft_train", d, p.corruption_weights),
         "score_eft_train", SCORE_EFT),
        (score_eft_rows(random.Random(p.seed + 6), split["eft_test"], "eft_test", d, p.corruption_weights),
         "score_eft_test", SCORE_EFT),
        *[(problem_rows(qs, f"test_{name}"), f"tiers/{name}", PROBLEMS)
          for name, qs in tier_tests.items()],
    ]
    pools = {k: problem_rows(split[k], k if tier_of[k] == BASE else f"{k}_{tier_of[k]}") for k in tier_of}
    return tables, pools
