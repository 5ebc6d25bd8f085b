"""Judge data from the model's own steps (psrlm/owneft.py): rollouts on a scripted sampler, pairs on
hand-made labelled candidates, checked value by value."""

from psrlm import arith, owneft, prompts, task

# 10 + 5 = 15, 15 * 2 = 30: two steps.
PROB = arith.Problem(10, ("+", "*"), (5, 2), "Ann has 10 coins. Ann gets 5 more. Ann gets 2 times as "
                     "many. How many coins does Ann have now?")
ROWS = {"p": {"problem_id": "p", "problem": PROB.text, "start": 10, "ops": ["+", "*"], "operands": [5, 2],
              "gold_steps": PROB.gold_steps(), "gold_answer": "30"}}
# judge_v1's target judgment: it writes the right step, which the tests below read.
TASK = task.for_name("synthetic", "judge_v1")


def scripted(script):
    """A sampler returning script[(problem_id, steps written)] for each prompt; records its calls."""
    calls = []

    def sample(prompts_, n, seed):
        calls.append((len(prompts_), n, seed))
        out = []
        for p in prompts_:
            pid, k = p.split("|")[0], p.count("\n")
            out.append(script[(pid, k)])
        return out

    return sample, calls


def solve(problem, steps):
    return problem + "|" + "".join(s + "\n" for s in steps)


def test_rollout_continues_with_the_first_sample_right_or_wrong_and_stops_at_the_last_step():
    sample, calls = scripted({
        ("p", 0): ["Step 1: 10 + 5 = 16.", "Step 1: 10 + 5 = 15.", "Step 1: 10 + 5 = 16."],
        ("p", 1): ["Step 2: 16 * 2 = 32. The answer is \\boxed{32}.", "Step 2: 16 * 2 = 33."] + [""],
        ("q", 0): ["Step 1: 3 + 1 = 4. The answer is \\boxed{4}."] * 3,  # an answer ends it early
    })
    rows = owneft.rollouts([("p", "p", 2), ("q", "q", 3)], sample, 3, 7, solve)
    assert calls == [(2, 3, 7), (1, 3, 8)]  # level by level, one batch each, seed + level
    got = [(r["problem_id"], r["step_idx"], r["candidate_idx"], r["text"], r["multiplicity"],
            r["continued"], r["prefix_steps"]) for r in rows]
    assert got == [
        ("p", 1, 0, "Step 1: 10 + 5 = 16.", 2, True, []),
        ("p", 1, 1, "Step 1: 10 + 5 = 15.", 1, False, []),
        ("q", 1, 0, "Step 1: 3 + 1 = 4. The answer is \\boxed{4}.", 3, True, []),
        # the model's own wrong step is the prefix of step 2
        ("p", 2, 0, "Step 2: 16 * 2 = 32. The answer is \\boxed{32}.", 1, True, ["Step 1: 10 + 5 = 16."]),
        ("p", 2, 1, "Step 2: 16 * 2 = 33.", 1, False, ["Step 1: 10 + 5 = 16."]),
        ("p", 2, 2, "", 1, False, ["Step 1: 10 + 5 = 16."]),
    ]


def labelled(pid, idx, prefix, texts):
    out = []
    for i, t in enumerate(texts):
        truth = arith.step_truth(t, prefix, PROB.start, list(PROB.ops), list(PROB.operands))
        out.append({"problem_id": pid, "step_idx": idx, "candidate_idx": i, "prefix_steps": prefix,
                    "text": t, "multiplicity": 1, "continued": i == 0, "truth": truth,
                    "correct": truth == "correct"})
    return out


def test_pairs_are_right_vs_wrong_in_both_orders_relative_to_the_claimed_prefix():
    prefix = ["Step 1: 10 + 5 = 16."]  # wrong, but step 2 is judged from the 16 it claims
    steps = (labelled("p", 1, [], ["Step 1: 10 + 5 = 16.", "Step 1: 10 + 5 = 14."])  # all wrong
             + labelled("p", 2, prefix, ["Step 2: 16 * 2 = 32. The answer is \\boxed{32}.",
                                         "Step 2: 16 * 2 = 33. The answer is \\boxed{33}.",
                                         "Step 2: 15 * 2 = 30. The answer is \\boxed{30}."]))
    assert [r["truth"] for r in steps] == ["wrong_result", "wrong_result", "correct", "wrong_result",
                                           "wrong_operand"]
    rows = owneft.own_pairs(steps, ROWS, per_step=1, seed=0, origin="own:sft", task=TASK)
    assert len(rows) == 2  # step 1 has no right candidate; step 2 gives one pair, both orders
    a, b = rows
    assert (a["better"], b["better"]) == ("A", "B")
    assert a["candidate_a"] == b["candidate_b"] == "Step 2: 16 * 2 = 32. The answer is \\boxed{32}."
    assert a["candidate_b"] == b["candidate_a"]
    assert (a["a_correct"], a["b_correct"], b["a_correct"], b["b_correct"]) == (True, False, False, True)
    assert a["prefix_steps"] == prefix and a["step_idx"] == 2
    assert a["origin"] == f"own:sft:{[r for r in steps if r['text'] == a['candidate_b']][0]['truth']}"
    for r in rows:  # the target recomputes from the claimed 16 and ends on the right verdict
        assert r["judgment"].splitlines()[1] == "Step 2: 16 * 2 = 32."
        assert prompts.parse_verdict(r["judgment"]) == (r["better"], "ok")
    assert len({r["pair_id"] for r in rows}) == 2


def test_pairs_per_step_caps_the_pairs_and_the_seed_picks_them():
    steps = labelled("p", 1, [], ["Step 1: 10 + 5 = 15.", "Step 1: 10 + 5 = 14.", "Step 1: 10 + 5 = 13.",
                                  "Step 1: 10 - 5 = 5.", "Step 1: 10 + 6 = 16."])
    pick = {s: {r["candidate_b"] for r in owneft.own_pairs(steps, ROWS, 2, s, "o", TASK)
                if r["better"] == "A"} for s in range(6)}
    assert all(len(v) == 2 for v in pick.values())
    assert len({frozenset(v) for v in pick.values()}) > 1  # the seed chooses among the 4 wrong ones
    assert pick[3] == {r["candidate_b"] for r in owneft.own_pairs(steps, ROWS, 2, 3, "o", TASK)
                       if r["better"] == "A"}
    assert len(owneft.own_pairs(steps, ROWS, 10, 0, "o", TASK)) == 8  # 1 right x 4 wrong x 2 orders


def test_rollout_labels_are_right_when_one_completion_reaches_the_gold_answer():
    cands = [("Step 1: 10 + 5 = 15.", False), ("Step 1: 10 + 5 = 16.", False),
             ("Step 2: 15 * 2 = 30. The answer is \\boxed{30}.", True), ("", True)]
    comps = [["Step 2: 15 * 2 = 31. The answer is \\boxed{31}.", "Step 2: 15 * 2 = 30. The answer is \\boxed{30}."],
             ["Step 2: 16 * 2 = 32. The answer is \\boxed{32}.", "Step 2: no answer"],
             ["ignored", "ignored"], ["", ""]]
    labels = owneft.rollout_labels(cands, comps, ["30"] * 4, lambda a, g: a == g)
    # A final step's answer is its own, counted once per completion it stands for.
    assert labels == [("correct", 1), (owneft.ROLLOUT_WRONG, 0), ("correct", 2), (owneft.ROLLOUT_WRONG, 0)]


def test_a_rollout_labelled_pair_the_exact_check_cannot_describe_gets_the_recomputation():
    # After an unreadable step, rollouts may still call a candidate right; the synthetic judgment
    # (which recomputes from the prefix's claimed value) cannot be written, the generic one can.
    steps = [{"problem_id": "p", "step_idx": 2, "candidate_idx": i, "prefix_steps": ["Step 1: fifteen."],
              "text": t, "multiplicity": 1, "continued": i == 0, "truth": truth, "correct": truth == "correct"}
             for i, (t, truth) in enumerate([("Step 2: 15 * 2 = 30. The answer is \\boxed{30}.", "correct"),
                                             ("Step 2: 15 * 2 = 31. The answer is \\boxed{31}.", owneft.ROLLOUT_WRONG)])]
    rows = owneft.own_pairs(steps, ROWS, 1, 0, "o", TASK)
    assert [r["judgment"].splitlines()[-1] for r in rows] == ["[[A]]", "[[B]]"]
    assert rows[0]["judgment"].startswith("A: no calculation. Right.")
