"""Step-by-step search with the model as its own step judge (method.md §5, Eqs. 1-5). Pure logic.

The engine is anything with `sample(prompts, n, seed) -> list[list[str]]` (candidate next steps) and
`judge(requests) -> list[str]` (one judgment text per `JudgeRequest`, verdict as [[A]] or [[B]]);
the solve prompt is rendered by the callable passed in, so `run_search` knows no model, no template
and no file. The judge gets the comparison itself, not a rendered prompt, so the model
(`self`), the exact checker (`oracle`) and a seeded coin (`random`) are interchangeable judges of
the same search (`oracle_judgment`, `random_judgment`). Work goes level by level across all
problems, so every engine call is one large batch; that changes nothing in the algorithm.

`Bound` adapts a generation engine (psrlm/engine.py) and one iteration's `search` params to that
protocol, and `truth_labeler` / `with_truth` label candidates with the task's checker (psrlm.task): the
search stage and benchmarks/search_cost.py share them, so the benchmark runs the stage's search.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal, NamedTuple, Protocol

from psrlm import prompts
from psrlm.engine import Sampling, greedy
from psrlm.params import Count, NonNegative, ParamsError, Positive, Probability, Range
from psrlm.prompts import final_answer, is_final, parse_verdict


@dataclass(frozen=True)
class StepSearchParams:
    """The step search's settings, declared once for the two sections that run it: `search` (the
    self-rewarding iterations) and `tts` (test-time scaling, psrlm/tts.py)."""
    width: Annotated[int, Range(ge=2)]  # a pair needs two candidates
    temperature: NonNegative
    top_p: Probability
    max_step_tokens: Positive
    max_judge_tokens: Positive
    max_loops: Positive
    both_orders: bool
    multiplicity_weight: Count


@dataclass(frozen=True)
class SearchParams(StepSearchParams):
    """The `search` params section (the search stage and benchmarks/search_cost.py read it)."""
    judge: Literal["self", "oracle", "random"]
    pool_limit: Positive | None  # 0 would search nothing: refused (null = the whole pool)
    shards: tuple[Count, ...]

    def check(self) -> None:
        if not self.shards:  # dvc.yaml's matrix would make no search stage, and pairs nothing to merge
            raise ParamsError("search.shards: needs at least one shard ([0] searches the whole pool)")
        if list(self.shards) != list(range(len(self.shards))):
            raise ParamsError(f"search.shards: must be 0..N-1 in order (one entry per shard), got {list(self.shards)}")


def shard_of(pool, shard: int, shards: int):
    """Shard `shard` of `shards` of a pool table (sorted by problem_id): every shards-th row."""
    import polars as pl

    return pool.with_row_index("_row").filter(pl.col("_row") % shards == shard).drop("_row")


class JudgeRequest(NamedTuple):
    """One ordered comparison: which of two candidate next steps is better after `steps`."""
    problem_id: str
    problem: str
    steps: list[str]  # the chosen steps so far (the prefix)
    step_a: str
    step_b: str


class Engine(Protocol):
    def sample(self, prompts: Sequence[str], n: int, seed: int) -> list[list[str]]: ...

    def judge(self, requests: Sequence[JudgeRequest]) -> list[str]: ...


def oracle_judgment(truth_a: str, truth_b: str) -> str:
    """The exact checker as the judge (the best any judge could do): the right candidate wins;
    between two right or two wrong ones it gives no verdict, which Eq. 2 scores as neither a win
    nor a loss (so a step whose candidates are all wrong rolls back). `truth_*` are the ground-truth
    labels of psrlm.arith.step_truth."""
    a, b = truth_a == "correct", truth_b == "correct"
    head = f"oracle: A {truth_a}, B {truth_b}"
    return f"{head}\n[[{'A' if a else 'B'}]]" if a != b else f"{head}\nno verdict"


def random_judgment(seed: int, r: JudgeRequest) -> str:
    """A seeded coin as the judge (the worst a judge could be): the same seed and comparison give
    the same verdict."""
    coin = random.Random(f"{seed}:{r.problem_id}:{len(r.steps)}:{r.step_a}:{r.step_b}").random()
    return f"random: [[{'A' if coin < 0.5 else 'B'}]]"


@dataclass(frozen=True)
class SearchConfig:
    width: int  # w: candidates sampled per step (paper: 6)
    max_loops: int  # loop iterations before a problem is given up (paper: 20)
    both_orders: bool  # judge (a, b) and (b, a) for every distinct pair (Eq. 2)
    seed: int
    # Points per sample that wrote the candidate, added to its Eq. 2 wins (0: the paper's score).
    multiplicity_weight: int = 0
    # Judge every ordered pair of the w samples, copies included (w(w-1) calls per step, the
    # paper's cost; benchmarks/search_cost.py) instead of the distinct candidates only.
    judge_copies: bool = False


@dataclass
class _State:
    problem_id: str
    problem: str
    steps: list[str] = field(default_factory=list)  # chosen steps so far
    step_loops: list[int] = field(default_factory=list)  # loop that chose each of them
    loops: int = 0
    rollbacks: int = 0
    finished: bool = False


def distinct(candidates: Sequence[str]) -> list[tuple[str, int]]:
    """Distinct candidates in first-seen order with their multiplicity (method.md §5: judging a
    candidate against its own copy carries no information)."""
    counts: dict[str, int] = {}
    for c in candidates:
        counts[c] = counts.get(c, 0) + 1
    return list(counts.items())


def comparisons(n: int, both_orders: bool) -> list[tuple[int, int]]:
    """Ordered (shown as A, shown as B) index pairs to judge among n distinct candidates."""
    return [(i, j) for i in range(n) for j in range(n) if i != j and (both_orders or i < j)]


def scores(n: int, verdicts: Sequence[tuple[int, int, str | None]],
           multiplicity: Sequence[int] = (), weight: int = 0) -> list[int]:
    """Eq. 2: a candidate's score is the number of comparisons it wins. An invalid verdict (None)
    is neither a win nor a loss for anyone. With `weight`, each of the w samples that wrote the
    candidate adds `weight` points: the model's own agreement, a vote the judge cannot copy."""
    wins = [0] * n
    for a, b, v in verdicts:
        if v == "A":
            wins[a] += 1
        elif v == "B":
            wins[b] += 1
    if weight:
        wins = [w + weight * m for w, m in zip(wins, multiplicity, strict=True)]
    return wins


def pick(score: Sequence[int | None], order: Sequence[int]) -> tuple[int | None, int | None]:
    """(chosen, rejected): best and worst score, ties broken by the seeded candidate `order`;
    (None, None) when every candidate ties, which calls for a rollback (a step search) or gives no
    pair (the outcome baseline, Yuan et al.). A score of None (an outcome judge's unreadable
    score; a step's win count never is) is neither best nor worst."""
    valid = [i for i, s in enumerate(score) if s is not None]
    if len({score[i] for i in valid}) <= 1:
        return None, None
    rank = {c: r for r, c in enumerate(order)}
    best, worst = max(score[i] for i in valid), min(score[i] for i in valid)
    chosen = min((i for i in valid if score[i] == best), key=rank.__getitem__)
    rejected = min((i for i in valid if score[i] == worst), key=rank.__getitem__)
    return chosen, rejected


def tie_order(seed: int, problem_id: str, loop: int, n: int) -> list[int]:
    """Seeded order of candidates for breaking ties; the same inputs give the same order."""
    order = list(range(n))
    random.Random(f"{seed}:{problem_id}:{loop}").shuffle(order)
    return order


def run_search(problems: Sequence[tuple[str, str]], engine: Engine, cfg: SearchConfig,
               solve_prompt: Callable[[str, list[str]], str]):
    """Search every (problem_id, problem); return (steps, judgments, solutions) as lists of dicts.

    steps: one row per distinct candidate of every loop, with the prefix it was written after;
    judgments: one row per ordered comparison; solutions: one row per problem.
    """
    states = [_State(pid, text) for pid, text in problems]
    step_rows: list[dict] = []
    judge_rows: list[dict] = []
    for level in range(cfg.max_loops):  # every active problem makes one loop per level
        active = [s for s in states if not s.finished]
        if not active:
            break
        solve_prompts = [solve_prompt(s.problem, s.steps) for s in active]
        samples = engine.sample(solve_prompts, cfg.width, cfg.seed + level)
        work = []  # (state, distinct candidates, comparisons) of this level
        for s, prompt, cands in zip(active, solve_prompts, samples):
            d = distinct([c.strip() for c in cands])
            if cfg.judge_copies and len(d) > 1:  # w samples all alike: accepted as below either way
                d = [(c.strip(), 1) for c in cands]
            work.append((s, prompt, d, comparisons(len(d), cfg.both_orders) if len(d) > 1 else []))
        requests = [JudgeRequest(s.problem_id, s.problem, list(s.steps), d[a][0], d[b][0])
                    for s, _, d, comps in work for a, b in comps]
        outputs = iter(engine.judge(requests)) if requests else iter(())
        for s, prompt, d, comps in work:
            loop, step_idx = s.loops, len(s.steps) + 1
            verdicts = []
            for a, b in comps:
                text = next(outputs)
                v, reason = parse_verdict(text)
                verdicts.append((a, b, v))
                judge_rows.append({"problem_id": s.problem_id, "loop": loop, "step_idx": step_idx,
                                   "candidate_a": a, "candidate_b": b, "judgment": text,
                                   "verdict": v, "verdict_status": reason})
            order = tie_order(cfg.seed, s.problem_id, loop, len(d))
            if len(d) == 1:  # a single distinct candidate: accepted, no pair, no rollback
                score, chosen, rejected = None, 0, None
            else:
                score = scores(len(d), verdicts, [m for _, m in d], cfg.multiplicity_weight)
                chosen, rejected = pick(score, order)
            for i, (text, mult) in enumerate(d):
                step_rows.append({"problem_id": s.problem_id, "loop": loop, "step_idx": step_idx,
                                  "candidate_idx": i, "prompt": prompt,
                                  "prefix_steps": list(s.steps), "text": text,
                                  "multiplicity": mult,
                                  "score": None if score is None else score[i],
                                  "tie_rank": order.index(i),
                                  "chosen": i == chosen, "rejected": i == rejected,
                                  "is_final": is_final(text)})
            s.loops += 1
            if chosen is None:  # all tie: discard the previous step (and its pair), regenerate it
                s.rollbacks += 1
                if s.steps:
                    s.steps.pop()
                    s.step_loops.pop()
                continue
            s.steps.append(d[chosen][0])
            s.step_loops.append(loop)
            s.finished = is_final(d[chosen][0])
    kept = {(s.problem_id, lp) for s in states for lp in s.step_loops}
    for row in step_rows:  # a chosen step later rolled back is no longer part of the solution
        row["kept"] = row["chosen"] and (row["problem_id"], row["loop"]) in kept
    solutions = [{"problem_id": s.problem_id, "steps": s.steps, "finished": s.finished,
                  "loops": s.loops, "rollbacks": s.rollbacks,
                  "answer": final_answer(s.steps[-1]) if s.steps else None} for s in states]
    return step_rows, judge_rows, solutions


def truth_labeler(pool, task):
    """`label(problem_id, prefix_steps, text)`: the task's step truth (psrlm.task) against the
    pool's rows (the ground truth; see psrlm.arith.step_truth for "right" after a wrong prefix)."""
    rows = {r["problem_id"]: r for r in pool.iter_rows(named=True)}

    def label(problem_id: str, prefix_steps: list[str], text: str) -> str:
        return task.step_truth(rows[problem_id], prefix_steps, text)

    return label


def with_truth(steps, label):
    """Steps (a polars DataFrame) with `truth` (the checker's label) and `correct`."""
    import polars as pl

    truth = [label(*r) for r in steps.select("problem_id", "prefix_steps", "text").iter_rows()]
    return steps.with_columns(truth=pl.Series(truth, dtype=pl.String)).with_columns(
        correct=pl.col("truth") == "correct")


class Bound:
    """A generation engine (psrlm/engine.py: `generate`, `chat`) bound to the search's protocol
    (`sample`, `judge`) with one iteration's settings: candidates sampled as `p` says, judged by
    the engine itself (`self`, greedy, the judge prompt `judge_t`), the checker `label`
    (`oracle`) or the seeded coin (`random`)."""

    def __init__(self, eng, p: SearchParams, judge_t: str, label, seed: int):

        self.eng, self.p, self.judge_t, self.label, self.seed = eng, p, judge_t, label, seed
        self.sample_sp = Sampling(p.temperature, p.top_p, p.max_step_tokens, ("\n",))

    def sample(self, prompts_: Sequence[str], n: int, seed: int) -> list[list[str]]:
        return self.eng.generate(prompts_, n, self.sample_sp, seed, "sample")

    def judge(self, requests: Sequence[JudgeRequest]) -> list[str]:
        if self.p.judge == "oracle":
            return [oracle_judgment(self.label(r.problem_id, r.steps, r.step_a),
                                    self.label(r.problem_id, r.steps, r.step_b)) for r in requests]
        if self.p.judge == "random":
            return [random_judgment(self.seed, r) for r in requests]
        rendered = [self.eng.chat(prompts.judge_prompt(self.judge_t, r.problem, r.steps, r.step_a, r.step_b))
                    for r in requests]
        return greedy(self.eng, rendered, self.p.max_judge_tokens, self.seed, "judge")
