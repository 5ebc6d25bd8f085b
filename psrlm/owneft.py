"""Judge training data from the model's own steps (method.md §3: the paper's EFT pairs were the
policy's own candidate steps, labelled, not hand-made corruptions). Pure logic.

`rollouts` lets the SFT model write its own solutions step by step: at every step it samples w
candidate next steps, and the solution goes on with the first sample (an ordinary draw from the
model, right or wrong), so later candidates are written after prefixes the model itself wrote,
mistakes included. `own_pairs` turns the labelled candidates into pairwise judge examples: at every
step with both a right and a wrong candidate, up to k (right, wrong) pairs, each shown in both
orders (A/B exactly balanced), with the target judgment of psrlm.arith.judgment.

The wrong candidates are the model's own plausible errors (mostly the right operation with a wrong
result, which a synthetic corruption rarely resembles), so a judge that copies a candidate's number
into its own recomputation is wrong on them, and learns not to.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from psrlm import arith
from psrlm.search import distinct, is_final

Sampler = Callable[[Sequence[str], int, int], list[list[str]]]  # (prompts, n, seed) -> texts


def rollouts(problems: Sequence[tuple[str, str, int]], sample: Sampler, width: int, seed: int,
             solve_prompt: Callable[[str, list[str]], str]) -> list[dict]:
    """Sample `width` candidates at every step of the model's own solution of each
    (problem_id, problem, number of steps); one row per distinct candidate, level by level (every
    engine call is one batch). A solution ends after its final step, after a step that gives an
    answer or an empty one, or at the problem's number of steps (past it no candidate can be
    right, so there is nothing to pair)."""
    active = [(pid, text, n, []) for pid, text, n in problems]
    rows: list[dict] = []
    level = 0
    while active:
        samples = sample([solve_prompt(text, steps) for _, text, _, steps in active], width,
                         seed + level)
        going = []
        for (pid, text, n, steps), cands in zip(active, samples):
            cands = [c.strip() for c in cands]
            for i, (cand, mult) in enumerate(distinct(cands)):
                rows.append({"problem_id": pid, "step_idx": len(steps) + 1, "candidate_idx": i,
                             "prefix_steps": list(steps), "text": cand, "multiplicity": mult,
                             "continued": cand == cands[0]})
            nxt = steps + [cands[0]]
            if len(nxt) < n and cands[0] and not is_final(cands[0]):
                going.append((pid, text, n, nxt))
        active, level = going, level + 1
    return rows


def own_pairs(steps: Sequence[dict], problems: dict[str, arith.Problem], per_step: int, seed: int,
              origin: str, judgment=arith.judgment) -> list[dict]:
    """EFT rows (psrlm.tables.EFT) from labelled candidates (`rollouts` rows with `correct` and
    `truth`): at each (problem, step) with right and wrong candidates, up to `per_step` distinct
    (right, wrong) pairs drawn with the seed, each in both orders. The target judgment checks the
    step against the value the prefix claims, as the label does (psrlm.arith.step_truth)."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in steps:
        groups.setdefault((r["problem_id"], r["step_idx"]), []).append(r)
    out = []
    for (pid, idx), cands in sorted(groups.items()):
        right = [c for c in cands if c["correct"]]
        wrong = [c for c in cands if not c["correct"]]
        if not right or not wrong:
            continue
        prob = problems[pid]
        prefix = cands[0]["prefix_steps"]
        # A right candidate exists, so the prefix's last step parses (step_truth).
        prev = arith.parse_step(prefix[-1]).c if prefix else prob.start
        check = (idx, prev, prob.ops[idx - 1], prob.operands[idx - 1], idx == len(prob.ops))
        sentence = arith.step_sentence(prob.text, idx)
        combos = [(g, b) for g in right for b in wrong]
        random.Random(f"{seed}:{pid}:{idx}").shuffle(combos)
        for k, (good, bad) in enumerate(combos[:per_step]):
            for better in ("A", "B"):
                a, b = (good, bad) if better == "A" else (bad, good)
                out.append({
                    "pair_id": f"{pid}-s{idx}-p{k}-{better}", "problem_id": pid,
                    "problem": prob.text, "step_idx": idx, "prefix_steps": prefix,
                    "candidate_a": a["text"], "candidate_b": b["text"],
                    "a_correct": a["correct"], "b_correct": b["correct"], "better": better,
                    "origin": f"{origin}:{bad['truth']}",
                    "judgment": judgment(a["text"], b["text"], better, *check, sentence),
                })
    return out
