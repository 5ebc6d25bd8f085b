"""The search algorithm (method.md §5) on a scripted fake engine: pure logic, no model."""

from psrlm import search, task

CFG = search.SearchConfig(width=4, max_loops=20, both_orders=True, seed=0)


class Scripted:
    """Candidates come from `steps[(problem, n_prefix_steps)]` (a list per call, consumed in
    order); the judge prefers the candidate named in `prefer`, or answers `judge_text`."""

    def __init__(self, steps, prefer=None, judge_text=None):
        self.steps, self.prefer, self.judge_text = steps, prefer or (lambda a, b: "A"), judge_text
        self.judge_requests: list[search.JudgeRequest] = []

    def sample(self, prompts, n, seed):
        out = []
        for p in prompts:
            pid, k = p.split("|")[0], p.count("\n")
            queue = self.steps[(pid, k)]
            out.append(queue.pop(0) if len(queue) > 1 else queue[0])
        return out

    def judge(self, requests):
        self.judge_requests += requests
        if self.judge_text is not None:
            return [self.judge_text for _ in requests]
        return [f"ok [[{self.prefer(r.step_a, r.step_b)}]]" for r in requests]


def solve(problem, steps):
    return problem + "|" + "".join(s + "\n" for s in steps)


def better_is_good(a, b):
    return "A" if "good" in a else "B"


def test_best_continues_worst_is_rejected_and_both_orders_are_judged():
    eng = Scripted({("p", 0): [["good1", "bad", "bad", "meh"]],
                    ("p", 1): [["good2 \\boxed{1}", "bad2", "bad2", "bad2"]]},
                   prefer=lambda a, b: "A" if "good" in a or ("meh" in a and "bad" in b) else "B")
    steps, judgments, sols = search.run_search([("p", "p")], eng, CFG, solve)
    assert sols == [{"problem_id": "p", "steps": ["good1", "good2 \\boxed{1}"], "finished": True,
                     "loops": 2, "rollbacks": 0, "answer": "1"}]
    first = [r for r in steps if r["loop"] == 0]
    assert [(r["text"], r["multiplicity"], r["score"], r["chosen"], r["rejected"]) for r in first] == [
        ("good1", 1, 4, True, False), ("bad", 2, 0, False, True), ("meh", 1, 2, False, False)]
    pairs = {(j["candidate_a"], j["candidate_b"]) for j in judgments if j["loop"] == 0}
    assert pairs == {(a, b) for a in range(3) for b in range(3) if a != b}  # w(w-1) over distinct


def test_all_tied_rolls_back_the_previous_step():
    eng = Scripted({("p", 0): [["s1a", "s1b"], ["s1c", "s1d"]],
                    ("p", 1): [["x", "y"], ["fin \\boxed{2}", "fin \\boxed{2}"]]},
                   prefer=lambda a, b: "A")  # always A: every candidate wins once, all tie
    eng.prefer = lambda a, b: "A" if a in ("s1a", "s1c") else ("B" if b in ("s1a", "s1c") else "A")
    steps, _, sols = search.run_search([("p", "p")], eng, CFG, solve)
    # loop 0 chooses s1a; loop 1 ties (x vs y, A always wins) -> roll back s1a; loop 2 chooses s1c
    assert sols[0]["rollbacks"] == 1
    assert sols[0]["steps"] == ["s1c", "fin \\boxed{2}"]
    kept = {(r["loop"], r["text"]) for r in steps if r["kept"]}  # kept: chosen and never rolled back
    assert kept == {(2, "s1c"), (3, "fin \\boxed{2}")}
    assert all(r["chosen"] for r in steps if r["kept"])
    assert [r for r in steps if r["text"] == "s1a"][0]["kept"] is False


def test_single_distinct_candidate_is_accepted_without_pair_or_judging():
    eng = Scripted({("p", 0): [["same"] * 4], ("p", 1): [["end \\boxed{3}"] * 4]})
    steps, judgments, sols = search.run_search([("p", "p")], eng, CFG, solve)
    assert judgments == [] and eng.judge_requests == []
    assert all(r["chosen"] and not r["rejected"] and r["score"] is None for r in steps)
    assert sols[0]["steps"] == ["same", "end \\boxed{3}"] and sols[0]["rollbacks"] == 0


def test_invalid_verdicts_are_counted_and_never_scored():
    eng = Scripted({("p", 0): [["a", "b", "c"]]}, judge_text="I cannot decide")
    steps, judgments, sols = search.run_search([("p", "p")], eng, CFG, solve)
    assert all(j["verdict"] is None and j["verdict_status"] == "no_verdict" for j in judgments)
    assert all(r["score"] == 0 for r in steps)  # no wins for anyone: a tie, so rollback each loop
    assert sols[0]["rollbacks"] == 20 and not sols[0]["finished"]


def test_the_loop_cap_ends_a_problem_that_never_finishes():
    eng = Scripted({("p", k): [["go", "stop"]] for k in range(30)}, prefer=lambda a, b: "A" if a == "go" else "B")
    steps, _, sols = search.run_search([("p", "p")], eng, CFG, solve)
    assert sols[0]["loops"] == 20 and not sols[0]["finished"] and len(sols[0]["steps"]) == 20


def test_tie_between_best_candidates_is_broken_by_seeded_order():
    order = search.tie_order(0, "p", 0, 3)
    chosen, rejected = search.pick([2, 2, 0], order)
    assert chosen == min((0, 1), key=order.index) and rejected == 2
    assert search.tie_order(0, "p", 0, 3) == order
    assert search.pick([1, 1, 1], order) == (None, None)


def test_one_order_only_when_asked():
    assert search.comparisons(3, both_orders=False) == [(0, 1), (0, 2), (1, 2)]
    assert len(search.comparisons(6, both_orders=True)) == 30  # w(w-1), method.md §5


def test_every_candidate_records_the_prefix_it_was_written_after_and_the_judge_sees_it():
    eng = Scripted({("p", 0): [["good1", "bad"]], ("p", 1): [["good2 \\boxed{1}", "bad2"]]},
                   prefer=lambda a, b: "A" if "good" in a else "B")
    steps, _, _ = search.run_search([("p", "p")], eng, CFG, solve)
    assert {(r["step_idx"], tuple(r["prefix_steps"])) for r in steps} == {(1, ()), (2, ("good1",))}
    assert {tuple(r.steps) for r in eng.judge_requests} == {(), ("good1",)}
    assert all(r.problem_id == "p" and r.problem == "p" for r in eng.judge_requests)


def test_oracle_prefers_the_right_candidate_and_abstains_between_equals():
    assert search.oracle_judgment("correct", "wrong_result").endswith("[[A]]")
    assert search.oracle_judgment("wrong_operand", "correct").endswith("[[B]]")
    for a, b in (("correct", "correct"), ("wrong_result", "early_answer")):
        text = search.oracle_judgment(a, b)
        assert "[[" not in text and a in text and b in text  # no verdict, and it says why


def test_oracle_search_scores_right_candidates_above_all_wrong_ones():
    truth = {"r": "correct", "w1": "wrong_result", "w2": "wrong_operand"}

    class Oracle(Scripted):
        def judge(self, requests):
            return [search.oracle_judgment(truth[r.step_a], truth[r.step_b]) for r in requests]

    eng = Oracle({("p", 0): [["w1", "r", "w2", "r"]], ("p", 1): [["end \\boxed{3}"] * 4]})
    steps, judgments, sols = search.run_search([("p", "p")], eng, CFG, solve)
    first = {r["text"]: r for r in steps if r["loop"] == 0}
    assert first["r"]["score"] == 4 and first["w1"]["score"] == first["w2"]["score"] == 0
    assert first["r"]["chosen"] and (first["w1"]["rejected"] or first["w2"]["rejected"])
    # between the two wrong candidates the oracle has no verdict, which is counted, not scored
    assert sum(j["verdict"] is None for j in judgments) == 2
    assert sols[0]["steps"] == ["r", "end \\boxed{3}"]


def test_random_judge_is_a_seeded_coin():
    reqs = [search.JudgeRequest("p", "q", [], f"a{i}", f"b{i}") for i in range(200)]
    first = [search.random_judgment(7, r) for r in reqs]
    assert first == [search.random_judgment(7, r) for r in reqs]  # same seed, same verdicts
    assert first != [search.random_judgment(8, r) for r in reqs]
    share_a = sum(t.endswith("[[A]]") for t in first) / len(first)
    assert 0.35 < share_a < 0.65 and all(t.endswith(("[[A]]", "[[B]]")) for t in first)


def test_truth_labeler_labels_each_candidate_against_its_recorded_prefix():
    import polars as pl

    from psrlm.tables import PROBLEMS

    pool = pl.DataFrame([{"problem_id": "p", "problem": "...", "start": 83, "ops": ["-", "+"], "operands": [5, 3],
                          "gold_steps": [], "solution": "", "gold_answer": "81"}], schema=PROBLEMS.columns)
    rows = pl.DataFrame({"problem_id": ["p"] * 3,
                         "prefix_steps": [[], ["Step 1: 83 - 5 = 78."], ["Step 1: 83 - 5 = 79."]],
                         "text": ["Step 1: 83 - 5 = 78.", "Step 2: 78 + 3 = 81. The answer is \\boxed{81}.",
                                  "Step 2: 79 + 3 = 82. The answer is \\boxed{82}."]})
    out = search.with_truth(rows, search.truth_labeler(pool, task.for_name("synthetic", "judge_v2")))
    assert out["truth"].to_list() == ["correct", "correct", "correct"]  # step 2 relative to its prefix
    assert out["correct"].to_list() == [True, True, True]
    wrong = search.with_truth(rows.with_columns(text=pl.lit("Step 2: 78 + 3 = 80.")), search.truth_labeler(pool, task.for_name("synthetic", "judge_v2")))
    assert wrong["truth"].to_list() == ["wrong_index", "wrong_result", "wrong_operand"]


def test_multiplicity_weight_adds_points_per_sample_and_breaks_a_judge_tie():
    assert search.scores(2, [(0, 1, "A"), (1, 0, "A")]) == [1, 1]  # position-biased judge: a tie
    assert search.scores(2, [(0, 1, "A"), (1, 0, "A")], [3, 1], weight=2) == [7, 3]
    # The same tie in a search: with weight 0 it rolls back, with weight 1 the majority step wins.
    steps = {("p", 0): [["good", "good", "good", "bad"]], ("p", 1): [["good \\boxed{1}"] * 4]}
    for weight, chosen in ((0, None), (1, "good")):
        cfg = search.SearchConfig(width=4, max_loops=1, both_orders=True, seed=0,
                                  multiplicity_weight=weight)
        rows, _, sols = search.run_search([("p", "p")], Scripted({k: [list(v[0])] for k, v in steps.items()}),
                                          cfg, solve)
        picked = [r["text"] for r in rows if r["chosen"]]
        assert picked == ([] if chosen is None else [chosen])
        assert sols[0]["rollbacks"] == (1 if chosen is None else 0)


def test_judge_copies_judges_every_ordered_pair_of_the_w_samples_as_the_paper_does():
    steps = {("p", 0): [["good", "good", "good", "bad"]], ("p", 1): [["good \\boxed{1}"] * 4]}
    calls = {}
    for copies in (False, True):
        eng = Scripted({k: [list(v[0])] for k, v in steps.items()}, prefer=better_is_good)
        cfg = search.SearchConfig(width=4, max_loops=20, both_orders=True, seed=0, judge_copies=copies)
        rows, judged, sols = search.run_search([("p", "p")], eng, cfg, solve)
        calls[copies] = len(judged)
        assert [r["text"] for r in rows if r["kept"]][0] == "good"  # the same choice either way
    # distinct: good vs bad, both orders; copies: 4 x 3 (the final step's four identical samples
    # are accepted unjudged in both modes: judging them could only tie).
    assert calls == {False: 2, True: 12}
