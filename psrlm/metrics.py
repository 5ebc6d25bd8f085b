"""One definition of every figure psrlm reports, and the keys of every metrics file.

Figures are pure functions of the stages' tables. A share is None when there is nothing to count
(not measured), never 0.0.

Position consistency, one definition for the search audit (stage pairs) and evaluate's own pairs:
of the distinct candidate pairs the judge saw in both orders, the share whose two verdicts name the
same candidate. A pair with an invalid verdict in either order is not consistent: a judge that
cannot answer one order has not answered both orders alike. Evaluate's own pairs are each one right
and one wrong step; the search audit reports all its pairs and, as `_right_wrong`, those alone.

Metrics files: every stage's report declares its keys here (`Report`), checked by its writer before
it writes (`Report.check`) and by every reader (`Report.load`): a missing or renamed key fails in
one line naming the file and the key, instead of a report printing "–".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from psrlm.errors import PsrlmError


def share(num: int, den: int) -> float | None:
    """num / den to 4 places; None when there is nothing to count."""
    return round(num / den, 4) if den else None


def share_of(flags: pl.Series) -> float | None:
    """The share of true flags (4 places); None when there are none."""
    return round(float(flags.mean()), 4) if len(flags) else None


def position_consistency(judged: pl.DataFrame, by: list[str]) -> tuple[int, int]:
    """(consistent, shown in both orders) over the pairs of `judged` (columns `by`, candidate_a,
    candidate_b, verdict A/B/null): see the module's definition."""
    picks = judged.select(
        *by, lo=pl.min_horizontal("candidate_a", "candidate_b"), hi=pl.max_horizontal("candidate_a", "candidate_b"),
        pick=pl.when(pl.col("verdict") == "A").then(pl.col("candidate_a"))
        .when(pl.col("verdict") == "B").then(pl.col("candidate_b")))
    groups = picks.group_by(*by, "lo", "hi").agg(
        n=pl.len(), same=(pl.col("pick").null_count() == 0) & (pl.col("pick").n_unique() == 1)
    ).filter(pl.col("n") == 2)
    return int(groups["same"].sum()), groups.height


def pair_precision(pairs: pl.DataFrame) -> float | None:
    """Pairs whose chosen step (or solution) is right and rejected one wrong, among the audited
    ones: the same figure for the process-based and the outcome-based pairs (PAIRS)."""
    audited = pairs.filter(pl.col("chosen_correct").is_not_null())
    return share(audited.filter(pl.col("chosen_correct") & ~pl.col("rejected_correct")).height, audited.height)


def step_stats(outputs: pl.Series) -> dict:
    """Steps per solution and mean characters per step (paper Tables 7-8): `Step n:` lines."""
    steps = outputs.str.extract_all(r"(?m)^Step \d+:[^\n]*")
    n = steps.list.len()
    lengths = steps.explode().drop_nulls().str.len_chars()
    return {"steps_per_answer": round(float(n.mean()), 3) if len(n) else None,
            "step_chars": round(float(lengths.mean()), 1) if len(lengths) else None}


def solved(solve: pl.DataFrame) -> dict:
    """Greedy solving of one test (EVAL_SOLVE rows): a right answer is not a right solution, so
    beside the answer's accuracy, the share solved with every step right and the share of written
    steps whose result fits their operands."""
    written = solve["steps_written"].sum()
    return {"n": len(solve), "accuracy": share_of(solve["status"] == "correct"),
            "no_answer": int((solve["status"] == "no_answer").sum()),
            "steps_right_accuracy": share_of(solve["steps_right"]),
            "step_arithmetic": share(int(solve["arithmetic_right"].sum()), int(written)) if written else None,
            **step_stats(solve["output"])}


def solve_by_tier(solve: pl.DataFrame) -> dict:
    """`solved` of the held-out test (tier base) and of every tier's rows."""
    return {"synthetic": solved(solve.filter(pl.col("tier") == "base")),
            "synthetic_by_tier": {tier: solved(g) for (tier,), g in sorted(solve.group_by("tier"))}}


def benchmarks(bench: pl.DataFrame, limits: dict[str, int | None]) -> dict:
    """Accuracy and status counts per benchmark (EVAL_BENCHMARK rows)."""
    out = {}
    for (name,), g in sorted(bench.group_by("benchmark")):
        counts = dict(sorted(g.group_by("status").len().iter_rows()))
        out[name] = {"n": g.height, "limit": limits.get(name), "accuracy": share(counts.get("correct", 0), g.height),
                     "statuses": counts, **step_stats(g["output"])}
    return out


def invalid_by_reason(judged: pl.DataFrame, value: str, status: str) -> dict[str, int]:
    return dict(sorted(judged.filter(pl.col(value).is_null()).group_by(status).len().iter_rows()))


def step_judge(judged: pl.DataFrame) -> dict:
    """A pairwise judge on held-out EFT pairs (EVAL_JUDGE rows): accuracy, by the better step's
    position, and its unreadable verdicts (wrong, and counted)."""
    return {"kind": "step", "n": len(judged), "accuracy": share_of(judged["correct"]),
            "accuracy_a": share_of(judged.filter(pl.col("better") == "A")["correct"]),
            "accuracy_b": share_of(judged.filter(pl.col("better") == "B")["correct"]),
            "invalid": int(judged["verdict"].null_count()),
            "invalid_by_reason": invalid_by_reason(judged, "verdict", "verdict_status"),
            "said_a": int((judged["verdict"] == "A").sum())}


def own_judge(own: pl.DataFrame, judged: pl.DataFrame) -> dict:
    """The judge on the own-sample pairs (`own`: EFT rows, both orders; `judged`: its EVAL_JUDGE
    rows): accuracy, by the right step's position, invalid verdicts and position consistency."""
    if judged.is_empty():  # not measured (no step of the test gave a pair), never a 0.0
        return {"own_n": 0, "own_accuracy": None, "own_accuracy_a": None, "own_accuracy_b": None,
                "own_invalid": 0, "own_position_consistency": None}
    same, both = position_consistency(own.join(judged.select("pair_id", "verdict"), on="pair_id"),
                                      ["problem_id", "step_idx"])
    return {"own_n": len(judged), "own_accuracy": share_of(judged["correct"]),
            "own_accuracy_a": share_of(judged.filter(pl.col("better") == "A")["correct"]),
            "own_accuracy_b": share_of(judged.filter(pl.col("better") == "B")["correct"]),
            "own_invalid": int(judged["verdict"].null_count()), "own_position_consistency": share(same, both)}


def score_judge(scored: pl.DataFrame) -> dict:
    """A 0-5 score judge on held-out solutions (EVAL_SCORE rows). `accuracy`: the exact score;
    `right_wrong_accuracy`: whether it says 5 exactly for the right solutions (the decision its
    pairs rest on). An unreadable score is wrong and counted."""
    said_right = (scored["score"] == 5).fill_null(False)
    return {"kind": "score", "n": len(scored), "accuracy": share_of(scored["correct"]),
            "right_wrong_accuracy": share_of(said_right == (scored["truth_score"] == 5)),
            "invalid": int(scored["score"].null_count()),
            "invalid_by_reason": invalid_by_reason(scored, "score", "score_status")}


TIER = "tier:"  # EVAL_TTS.source of a tier's test: tier:<name>


def test_time(df: pl.DataFrame) -> dict:
    """Test-time scaling (EVAL_TTS rows): accuracy of each method, its mean judge calls and generated
    tokens per problem, and each search's gain over greedy on the same problems (`gap`: self -
    greedy beside oracle - greedy, the generation-verification gap); the test's at the top, then
    `tiers` and `benchmarks`."""
    out: dict = {}
    for (source,), g in sorted(df.group_by("source")):
        m = {"n": g["problem_id"].n_unique()}
        for (method,), h in sorted(g.group_by("method")):
            m[method] = share_of(h["correct"])
            m.setdefault("cost", {})[method] = {"judge_calls": round(float(h["judge_calls"].mean()), 2),
                                                "generated_tokens": round(float(h["generated_tokens"].mean()), 1)}
        m["gap"] = {k: round(m[k] - m["greedy"], 4) for k in ("self", "oracle")
                    if m.get(k) is not None and m.get("greedy") is not None}
        out[source] = m
    tiers = {s.removeprefix(TIER): out.pop(s) for s in list(out) if s.startswith(TIER)}
    return out.pop("synthetic", {}) | ({"tiers": tiers} if tiers else {}) | ({"benchmarks": out} if out else {})


@dataclass(frozen=True)
class Report:
    """The keys a metrics file holds (dotted: section.key), declared once for its writer and readers."""
    name: str
    keys: tuple[str, ...]

    def check(self, data: dict, where: str | Path) -> dict:
        for dotted in self.keys:
            node = data
            for part in dotted.split("."):
                if not isinstance(node, dict) or part not in node:
                    raise PsrlmError(f"{where}: missing key '{dotted}' (the {self.name} report's keys, "
                                     f"psrlm/metrics.py)")
                node = node[part]
        return data

    def load(self, path: str | Path) -> dict:
        """The metrics file read back and checked, before the reader writes anything."""
        path = Path(path)
        if not path.is_file():
            raise PsrlmError(f"{path}: report not found (run the stage that writes it first)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise PsrlmError(f"{path}: not valid JSON ({e.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise PsrlmError(f"{path}: not a metrics report (a JSON object)")
        return self.check(data, path)

    def only(self, *keys: str) -> Report:
        """The same report, checked for `keys` alone (each one it declares): for a copy that may lack
        the rest (`dvc exp show` leaves out null values and empty mappings)."""
        unknown = [k for k in keys if k not in self.keys]
        if unknown:
            raise ValueError(f"the {self.name} report declares no key {unknown[0]!r}")
        return Report(self.name, keys)


TRAINING = ("steps", "train_loss", "train_seconds")
SFT = Report("sft", TRAINING + ("tokens", "tokens_per_second", "examples", "eft_examples"))
JUDGE_SFT = Report("judge_sft", ("trained", "steps", "examples"))  # off by default: M1 = the SFT model, untrained
DPO = Report("dpo", ("trained", "steps", "train_tokens", "reference_tokens", "pairs", "union_pairs",
                     "replay_pairs", "judge_replay", "init", "pairs_too_long", "final_step_pairs"))
BASELINE = Report("baseline", ("trained", "steps", "token_budget", "dpo_train_tokens", "learning_rate"))
# What the process-based search (stage pairs) and the outcome-based samples (stage srlm) both report,
# compared side by side by stage comparison: the ground-truth audit of their pairs.
AUDIT = ("prompts", "judge_calls", "pairs", "pairs_per_prompt", "pair_precision", "judge_accuracy_self",
         "judge_self_pairs", "invalid_by_reason")
SEARCH = Report("search (stage pairs)", AUDIT + (
    "steps", "candidates", "judge_calls_per_step", "invalid_verdicts", "position_consistency",
    "position_consistency_right_wrong", "rollbacks",
    "unfinished", "step_accuracy", "candidate_accuracy", "candidate_accuracy_by_step", "solution_accuracy_audit",
    "pairs_unfiltered", "pair_precision_unfiltered"))
SRLM = Report("srlm", AUDIT + ("samples", "sample_accuracy", "invalid_scores", "score_accuracy", "scores", "seconds"))
SOLVED = ("n", "accuracy", "no_answer", "steps_right_accuracy", "step_arithmetic", "steps_per_answer", "step_chars")
_EVAL = tuple(f"synthetic.{k}" for k in SOLVED) + (
    "synthetic_by_tier", "judge.kind", "judge.n", "judge.accuracy", "judge.invalid", "judge.invalid_by_reason",
    "benchmarks", "tts", "generation_seconds", "tts_seconds")
EVAL = Report("evaluate (step judge)", _EVAL + tuple(f"judge.{k}" for k in (
    "accuracy_a", "accuracy_b", "said_a", "own_n", "own_accuracy", "own_accuracy_a", "own_accuracy_b",
    "own_invalid", "own_position_consistency")))
EVAL_SCORE = Report("evaluate (score judge)", _EVAL + ("judge.right_wrong_accuracy",))
