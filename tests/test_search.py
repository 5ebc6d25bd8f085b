"""The search algorithm (method.md §5) on a scripted fake engine: pure logic, no model."""

import re

from psrlm import search

CFG = search.SearchConfig(width=4, max_loops=20, both_orders=True, seed=0)


class Scripted:
    """Candidates come from `steps[(problem, n_prefix_steps)]` (a list per call, consumed in
    order); the judge prefers the candidate named in `prefer`, or answers `judge_text`."""

    def __init__(self, steps, prefer=None, judge_text=None):
        self.steps, self.prefer, self.judge_text = steps, prefer or (lambda a, b: "A"), judge_text
        self.judge_prompts: list[str] = []

    def sample(self, prompts, n, seed):
        out = []
        for p in prompts:
            pid, k = p.split("|")[0], p.count("\n")
            queue = self.steps[(pid, k)]
            out.append(queue.pop(0) if len(queue) > 1 else queue[0])
        return out

    def judge(self, prompts):
        self.judge_prompts += prompts
        if self.judge_text is not None:
            return [self.judge_text for _ in prompts]
        return [f"ok [[{self.prefer(*re.findall(r'A=(.*?);B=(.*?)$', p)[0])}]]" for p in prompts]


def solve(problem, steps):
    return problem + "|" + "".join(s + "\n" for s in steps)


def judge(problem, steps, a, b):
    return f"{problem}|A={a};B={b}"


def better_is_good(a, b):
    return "A" if "good" in a else "B"


def test_best_continues_worst_is_rejected_and_both_orders_are_judged():
    eng = Scripted({("p", 0): [["good1", "bad", "bad", "meh"]],
                    ("p", 1): [["good2 \\boxed{1}", "bad2", "bad2", "bad2"]]},
                   prefer=lambda a, b: "A" if "good" in a or ("meh" in a and "bad" in b) else "B")
    steps, judgments, sols = search.run_search([("p", "p")], eng, CFG, solve, judge)
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
    steps, _, sols = search.run_search([("p", "p")], eng, CFG, solve, judge)
    # loop 0 chooses s1a; loop 1 ties (x vs y, A always wins) -> roll back s1a; loop 2 chooses s1c
    assert sols[0]["rollbacks"] == 1
    assert sols[0]["steps"] == ["s1c", "fin \\boxed{2}"]
    kept = {(r["loop"], r["text"]) for r in steps if r["chosen"] and r["kept"]}
    assert kept == {(2, "s1c"), (3, "fin \\boxed{2}")}
    assert [r for r in steps if r["text"] == "s1a"][0]["kept"] is False


def test_single_distinct_candidate_is_accepted_without_pair_or_judging():
    eng = Scripted({("p", 0): [["same"] * 4], ("p", 1): [["end \\boxed{3}"] * 4]})
    steps, judgments, sols = search.run_search([("p", "p")], eng, CFG, solve, judge)
    assert judgments == [] and eng.judge_prompts == []
    assert all(r["chosen"] and not r["rejected"] and r["score"] is None for r in steps)
    assert sols[0]["steps"] == ["same", "end \\boxed{3}"] and sols[0]["rollbacks"] == 0


def test_invalid_verdicts_are_counted_and_never_scored():
    eng = Scripted({("p", 0): [["a", "b", "c"]]}, judge_text="I cannot decide")
    steps, judgments, sols = search.run_search([("p", "p")], eng, CFG, solve, judge)
    assert all(j["verdict"] is None and j["verdict_status"] == "no_verdict" for j in judgments)
    assert all(r["score"] == 0 for r in steps)  # no wins for anyone: a tie, so rollback each loop
    assert sols[0]["rollbacks"] == 20 and not sols[0]["finished"]


def test_the_loop_cap_ends_a_problem_that_never_finishes():
    eng = Scripted({("p", k): [["go", "stop"]] for k in range(30)}, prefer=lambda a, b: "A" if a == "go" else "B")
    steps, _, sols = search.run_search([("p", "p")], eng, CFG, solve, judge)
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
