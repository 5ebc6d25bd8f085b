"""Test-time scaling with the model's own judge (paper Table 5), for the evaluate stage.

Each method answers every problem and says what the answer cost (judge calls, generated tokens,
every sample counted):
  self      the step search of psrlm/search.py, judged by the model itself (a step judge), no pairs
            kept; a score judge (the outcome SRLM baseline) picks the best of the w sampled whole
            solutions by its own 0-5 score instead;
  oracle    the same step search judged by the exact checker: the ceiling of judge-guided search
            (synthetic task only: benchmarks have no step checker);
  majority  the most frequent answer of w sampled whole solutions (the usual cheap baseline).
Sampling is seeded by `tts.seed`; the same params give the same tables. `self_scores` is the one
way a score judge scores its own samples, here and in the srlm stage's pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Literal

from psrlm import outcome, prompts, search
from psrlm.engine import Sampling, greedy
from psrlm.params import Count, ParamsError, Positive


@dataclass(frozen=True)
class TtsParams(search.StepSearchParams):
    """The `tts` params section: the step search's settings, and what test-time scaling adds."""
    seed: Count
    test_limit: Count | None
    max_new_tokens: Positive
    methods: tuple[Literal["self", "oracle", "majority"], ...]
    benchmark_limits: dict[str, Count | None]

    def check(self) -> None:
        twice = sorted({m for m in self.methods if self.methods.count(m) > 1})
        if twice:  # each method is one row per problem in the tts table
            raise ParamsError(f"tts.methods: {', '.join(twice)} listed twice")


def _search_params(p: TtsParams, judge: str) -> search.SearchParams:
    shared = {f.name: getattr(p, f.name) for f in fields(search.StepSearchParams)}
    return search.SearchParams(**shared, judge=judge, pool_limit=None, shards=(0,))


def step_search(eng, p: TtsParams, judge: str, problems: Sequence[tuple[str, str]], solve_t: str,
                judge_t: str, label, count: Callable[[str], int]) -> list[dict]:
    """The search of psrlm/search.py at test time, one row per problem: its solution and cost."""
    def solve_prompt(problem: str, steps: list[str]) -> str:
        return prompts.step_context(eng.chat, solve_t, problem, steps)

    cfg = search.SearchConfig(p.width, p.max_loops, p.both_orders, p.seed, p.multiplicity_weight)
    steps, judgments, solutions = search.run_search(
        problems, search.Bound(eng, _search_params(p, judge), judge_t, label, p.seed), cfg, solve_prompt)
    calls: dict[str, int] = {}
    tokens: dict[str, int] = {}
    for s in steps:  # every one of the w samples generated its text
        tokens[s["problem_id"]] = tokens.get(s["problem_id"], 0) + s["multiplicity"] * count(s["text"])
    for j in judgments:
        calls[j["problem_id"]] = calls.get(j["problem_id"], 0) + 1
        if judge == "self":  # the oracle's verdicts are not generated
            tokens[j["problem_id"]] = tokens.get(j["problem_id"], 0) + count(j["judgment"])
    return [{"problem_id": s["problem_id"], "method": judge, "steps": s["steps"], "answer": s["answer"],
             "judge_calls": calls.get(s["problem_id"], 0), "generated_tokens": tokens.get(s["problem_id"], 0)}
            for s in solutions]


def self_scores(eng, problems: Sequence[str], samples: Sequence[Sequence[str]], score_t: str, max_tokens: int,
                seed: int, desc: str = "score") -> list[list[tuple[str, int | None, str]]]:
    """The model's own 0-5 score of every sample of every problem (its score judge, greedy, one
    call each): per problem, per sample, (judgment, score or None, parse status)."""
    flat = [eng.chat(prompts.score_prompt(score_t, q, s)) for q, sols in zip(problems, samples) for s in sols]
    judged = iter(greedy(eng, flat, max_tokens, seed, desc) if flat else [])
    return [[(j, *outcome.parse_score(j)) for j in (next(judged) for _ in sols)] for sols in samples]


def sample_solutions(eng, p: TtsParams, solve_prompts: Sequence[str]) -> list[list[str]]:
    """w whole solutions per (chat-rendered) solve prompt, sampled as the search samples steps."""
    sp = Sampling(p.temperature, p.top_p, p.max_new_tokens, ())
    return [[t.strip() for t in sols] for sols in eng.generate(solve_prompts, p.width, sp, p.seed, "tts sample")]


def majority_rows(problem_ids: Sequence[str], samples: list[list[str]], count: Callable[[str], int]) -> list[dict]:
    rows = []
    for pid, sols in zip(problem_ids, samples):
        answers = [prompts.final_answer(s) for s in sols]
        vote = outcome.majority(answers)
        pick = sols[answers.index(vote)] if vote is not None else sols[0]
        rows.append({"problem_id": pid, "method": "majority", "steps": pick.split("\n"), "answer": vote,
                     "judge_calls": 0, "generated_tokens": sum(count(s) for s in sols)})
    return rows


def best_of_rows(eng, p: TtsParams, problems: Sequence[tuple[str, str]], samples: list[list[str]],
                 score_t: str, count: Callable[[str], int]) -> list[dict]:
    """A score judge's test-time scaling: each of the w samples scored by the model itself, the
    best valid score wins (the first of equals; no valid score: the first sample)."""
    scored = self_scores(eng, [q for _, q in problems], samples, score_t, p.max_judge_tokens, p.seed, "tts score")
    rows = []
    for (pid, _), sols, judged in zip(problems, samples, scored):
        best = outcome.best_scored([score for _, score, _ in judged])
        pick = sols[0 if best is None else best]
        rows.append({"problem_id": pid, "method": "self", "steps": pick.split("\n"),
                     "answer": prompts.final_answer(pick), "judge_calls": len(judged),
                     "generated_tokens": sum(count(s) for s in sols) + sum(count(j) for j, _, _ in judged)})
    return rows


def token_counter(eng) -> Callable[[str], int]:
    """Tokens of a generated text, by the engine's tokenizer (the stop string is not counted)."""
    return lambda text: len(eng.tok(text, add_special_tokens=False)["input_ids"])


def greedy_rows(eng, problem_ids: Sequence[str], outputs: Sequence[str]) -> list[dict]:
    """Greedy decoding's answers in the same rows, beside the methods it is compared with."""
    count = token_counter(eng)
    return [{"problem_id": pid, "method": "greedy", "steps": o.strip().split("\n"),
             "answer": prompts.final_answer(o), "judge_calls": 0, "generated_tokens": count(o)}
            for pid, o in zip(problem_ids, outputs)]


def run(eng, p: TtsParams, problems: Sequence[tuple[str, str]], *, judge_kind: str, solve_t: str,
        judge_t: str, score_t: str, label=None) -> list[dict]:
    """Every method of `p.methods` on `problems` [(problem_id, text)]: rows of (problem_id, method,
    steps, answer, judge_calls, generated_tokens). `judge_kind` is the model's judge ("step":
    pairwise step judge; "score": the outcome baseline's 0-5 judge); `label` the step checker (the
    oracle needs it; None skips the oracle, as on benchmarks)."""
    count = token_counter(eng)
    rows: list[dict] = []
    samples = None
    if "majority" in p.methods or ("self" in p.methods and judge_kind == "score"):
        samples = sample_solutions(eng, p, [eng.chat(prompts.solve_prompt(solve_t, q)) for _, q in problems])
    for method in p.methods:
        if method == "majority":
            rows += majority_rows([pid for pid, _ in problems], samples, count)
        elif method == "self" and judge_kind == "score":
            rows += best_of_rows(eng, p, problems, samples, score_t, count)
        elif method == "self" or label is not None:
            rows += step_search(eng, p, method, problems, solve_t, judge_t, label, count)
    return rows
