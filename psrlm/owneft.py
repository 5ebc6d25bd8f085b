"""Judge training data from the model's own steps (method.md §3: the paper's EFT pairs were the
policy's own candidate steps, labelled, not hand-made corruptions). Pure logic.

`rollouts` lets the SFT model write its own solutions step by step: at every step it samples w
candidate next steps, and the solution goes on with the first sample (an ordinary draw from the
model, right or wrong), so later candidates are written after prefixes the model itself wrote,
mistakes included. `own_pairs` turns the labelled candidates into pairwise judge examples: at every
step with both a right and a wrong candidate, up to k (right, wrong) pairs, each shown in both
orders (A/B exactly balanced), with the task's target judgment (psrlm.task).

The wrong candidates are the model's own plausible errors (mostly the right operation with a wrong
result, which a synthetic corruption rarely resembles), so a judge that copies a candidate's number
into its own recomputation is wrong on them, and learns not to.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from psrlm.prompts import final_answer, is_final
from psrlm.search import distinct

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


def own_pairs(steps: Sequence[dict], problems: dict[str, dict], per_step: int, seed: int,
              origin: str, task) -> list[dict]:
    """EFT rows (psrlm.tables.EFT) from labelled candidates (`rollouts` rows with `correct` and
    `truth`): at each (problem, step) with right and wrong candidates, up to `per_step` distinct
    (right, wrong) pairs drawn with the seed, each in both orders. `problems`: PROBLEMS rows by id;
    the target judgment is the task's (psrlm.task), which checks the step as its label does."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in steps:
        groups.setdefault((r["problem_id"], r["step_idx"]), []).append(r)
    out = []
    for (pid, idx), cands in sorted(groups.items()):
        right = [c for c in cands if c["correct"]]
        wrong = [c for c in cands if not c["correct"]]
        if not right or not wrong:
            continue
        row = problems[pid]
        prefix = cands[0]["prefix_steps"]
        combos = [(g, b) for g in right for b in wrong]
        random.Random(f"{seed}:{pid}:{idx}").shuffle(combos)
        for k, (good, bad) in enumerate(combos[:per_step]):
            for better in ("A", "B"):
                a, b = (good, bad) if better == "A" else (bad, good)
                out.append({
                    "pair_id": f"{pid}-s{idx}-p{k}-{better}", "problem_id": pid,
                    "problem": row["problem"], "step_idx": idx, "prefix_steps": prefix,
                    "candidate_a": a["text"], "candidate_b": b["text"],
                    "a_correct": a["correct"], "b_correct": b["correct"], "better": better,
                    "origin": f"{origin}:{bad['truth']}",
                    "judgment": task.judgment(row, prefix, a, b, better),
                })
    return out


ROLLOUT_WRONG = "no_rollout_reached_gold"


def rollout_labels(candidates: Sequence[tuple[str, bool]], completions: Sequence[Sequence[str]],
                   gold: Sequence[str], answer_right: Callable[[str | None, str], bool]) -> list[tuple[str, int]]:
    """Monte-Carlo labels of candidate steps (Math-Shepherd's hard estimate): a step is "correct"
    when at least one of the k completions written after it reaches the gold answer, else
    ROLLOUT_WRONG; with the number that did. `candidates`: (text, is_final) — a final step's answer
    is its own, every completion of it alike; `completions[i]`: the k texts written after step i."""
    out = []
    for (text, final), comps, g in zip(candidates, completions, gold):
        answers = [final_answer(text)] * len(comps) if final else [final_answer(c) for c in comps]
        hits = sum(answer_right(a, g) for a in answers)
        out.append(("correct" if hits else ROLLOUT_WRONG, hits))
    return out
