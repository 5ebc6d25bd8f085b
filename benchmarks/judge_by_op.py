"""Benchmark: the step judge on a model's own held-out candidates, per operation (issue 28: a judge
whose check is easier than the step must be right on the operations where the solver is weak).

    python benchmarks/judge_by_op.py --own <own_eft>/eft.parquet --judged <evaluate --out>/judge_own.parquet \
        [--label judge_v4-seed0] [--out reports/benchmarks/judge_by_op.jsonl]
    python benchmarks/judge_by_op.py --search data/search/iter_1 [--pool data/prepare/pools/iter_1.parquet] [--label ...]
    python benchmarks/judge_by_op.py --search data/search/iter_2 --judge-with data/models/m1 \
        --pool data/prepare/pools/iter_2.parquet      # the same pairs, judged by another model
    python benchmarks/judge_by_op.py --eft data/prepare/eft_test.parquet --judged data/eval/m1/judge.parquet

`--search` reads a search's own tables instead (the model's candidates on an unlabelled pool, a
tier the labelled data did not teach): every judged pair of a right and a wrong candidate, per
operation of the right one, and `dropped_ten` (+ or - with an operand of 10 or more whose wrong
candidate is off by exactly ten: M1's error on add16_19), each with its accuracy and by the right
step's position. An unreadable verdict counts as wrong (as the search's audit counts it). For
judge_v8 also `split_right` (its worked line is the step split right: where the verdict fails
there, the comparison failed), `teen_unsplit` (a +/- operand of 10 or more written unsplit),
`next_right` and `next_copied_wrong` (its `Next:` line names the problem's operand, or the wrong
candidate's: a judge that reads the operand off the candidate checks nothing). `consistency` is
position consistency (psrlm.metrics) on those right-vs-wrong pairs; `both_wrong` is the judge on
the pairs of two wrong candidates (`both_wrong()`: its consistency there, and with `--pool` its
agreement with judge_v9's order). With `--judge-with MODEL`
(and the search's `--pool`, for the problems' text) the same judged pairs, in the same orders, are
judged again by MODEL (greedy, the params' judge template, as the search renders its prompts):
whether a later model's judge lost accuracy to training (it drifted) or its candidates are harder
(an earlier model does no better on them).

`--eft` reads prepare's held-out EFT pairs (eft_test.parquet) and evaluate's judge.parquet of them:
the judge by whether the two candidates differ only in a tens digit (`tens_only`: every number that
differs has the same length and units digit, as 87 against 77), by corruption kind (the pair's
origin: wrong_result, wrong_operand, ...) and by the right one's position. A
judge that compares two numbers by their units digit fails there, and only in one position; it is
the tier's own error (the dropped ten), so this slice of the labelled test foretells the judge on
the tier's candidates where the test's overall accuracy does not (docs/easy-to-hard.md, session 11).

Synthetic task only: a pair's operation is the one its right candidate applies (both candidates of
an own pair start from the same prefix, so they share it). Per operation and overall: pairs, the
judge's accuracy, by the right step's position (A / B), unreadable verdicts and position
consistency, each by psrlm.metrics.own_judge (one definition with evaluate's report). Appends one
JSON line per run to --out.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import polars as pl

from psrlm import arith
from psrlm.metrics import own_judge, position_consistency
from psrlm.tables import EFT, EVAL_JUDGE, PROBLEMS, SEARCH_JUDGMENTS, SEARCH_STEPS, read_table


def op_of(row: dict) -> str:
    right = row["candidate_a"] if row["better"] == "A" else row["candidate_b"]
    step = arith.parse_step(right)
    if step is None:
        raise SystemExit(f"{row['pair_id']}: the right candidate {right!r} is not a synthetic step")
    return step.op


def by_op(own: pl.DataFrame, judged: pl.DataFrame) -> dict:
    own = own.with_columns(op=pl.Series([op_of(r) for r in own.iter_rows(named=True)], dtype=pl.String))
    judged = judged.join(own.select("pair_id", "op"), on="pair_id")
    out = {"all": own_judge(own, judged.drop("op"))}
    for op in arith.OPS:
        o, j = own.filter(pl.col("op") == op), judged.filter(pl.col("op") == op)
        if len(j):
            out[op] = own_judge(o, j.drop("op"))
    return out


def worked_line(judgment: str) -> str:
    """judge_v8's worked step (its second line after the `Step k gave n. ` / `Start n. ` source)."""
    lines = judgment.split("\n")
    return re.sub(r"^(Step \d+ gave \d+\. |Start \d+\. )", "", lines[1]) if len(lines) > 1 else ""


def next_operand(judgment: str) -> int | None:
    """The operand a synthetic judgment restates in its first line (`Next: Gia gives away 17.`,
    psrlm.arith's formats), or None."""
    first = judgment.split("\n", 1)[0]
    nums = re.findall(r"\d+", first) if first.startswith("Next: ") else []
    return int(nums[0]) if len(nums) == 1 else None


LOOP = ["problem_id", "iteration", "loop", "step_idx"]


def with_candidates(steps: pl.DataFrame, judgments: pl.DataFrame) -> pl.DataFrame:
    """The judgments with both candidates' texts, rightness and prefix (`correct`, as the search's
    audit, psrlm.pairs.metrics, reads it)."""
    cand = steps.select(*LOOP, "candidate_idx", "text", "prefix_steps", right=pl.col("correct"))
    return (judgments.join(cand.drop("prefix_steps").rename(
                {"candidate_idx": "candidate_a", "text": "text_a", "right": "right_a"}), on=[*LOOP, "candidate_a"])
            .join(cand.rename({"candidate_idx": "candidate_b", "text": "text_b", "right": "right_b"}),
                  on=[*LOOP, "candidate_b"]))


def right_wrong(steps: pl.DataFrame, judgments: pl.DataFrame) -> pl.DataFrame:
    """The judgments of a right against a wrong candidate (`with_candidates`)."""
    return with_candidates(steps, judgments).filter(pl.col("right_a") != pl.col("right_b"))


def rejudge(j: pl.DataFrame, model: str, pool: pl.DataFrame, params: str) -> pl.DataFrame:
    """`j` (right_wrong's rows) with `judgment` and `verdict` replaced by `model`'s judgments of the
    same requests, judged as the search judges (psrlm.search.Bound with the params' `search`
    section as a self judge, its judge template and engine)."""
    from dataclasses import replace

    from psrlm import prompts, search
    from psrlm.engine import EngineParams, build
    from psrlm.params import PromptsParams, load_section

    problems = dict(pool.select("problem_id", "problem").iter_rows())
    missing = set(j["problem_id"]) - set(problems)
    if missing:
        raise SystemExit(f"--pool holds no problem {sorted(missing)[0]!r} of the search")
    judge = search.Bound(build(load_section(params, "engine", EngineParams), model, 0),
                         replace(load_section(params, "search", search.SearchParams), judge="self"),
                         prompts.template(load_section(params, "prompts", PromptsParams).judge), None, 0)
    texts = judge.judge([search.JudgeRequest(r["problem_id"], problems[r["problem_id"]], r["prefix_steps"],
                                             r["text_a"], r["text_b"]) for r in j.iter_rows(named=True)])
    return j.with_columns(judgment=pl.Series(texts, dtype=pl.String),
                          verdict=pl.Series([prompts.parse_verdict(t)[0] for t in texts], dtype=pl.String))


def search_pairs(steps: pl.DataFrame, judgments: pl.DataFrame, j: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per judgment of a right against a wrong candidate: the right one's operation,
    whether the wrong one is its dropped ten, the right one's position and whether the verdict
    named it; for judge_v8, whether its worked line is the step split right (`split_right`) and
    whether it left a +/- operand of 10 or more unsplit (`teen_unsplit`: `5 + 16 = 21`); whether
    its `Next:` line restates the problem's operand (`next_right`) or the wrong candidate's other one
    (`next_copied_wrong`: the judge reads the operand off the candidate, not the problem). `j`:
    right_wrong's rows when they were judged again (rejudge); `all` is otherwise the search's own
    judge_accuracy_self."""
    j = right_wrong(steps, judgments) if j is None else j
    rows = []
    for r in j.iter_rows(named=True):
        right, wrong = (r["text_a"], r["text_b"]) if r["right_a"] else (r["text_b"], r["text_a"])
        rs, ws = arith.parse_step(right), arith.parse_step(wrong)
        work = worked_line(r["judgment"])
        rows.append({"op": rs.op if rs else "?",
                     "dropped_ten": bool(rs and ws and rs.op in "+-" and rs.b >= 10
                                         and (ws.a, ws.b) == (rs.a, rs.b) and abs(ws.c - rs.c) == 10),
                     "split_right": bool(rs and work == arith.split(rs.a, rs.op, rs.b)),
                     "teen_unsplit": bool(rs and rs.op in "+-" and rs.b >= 10 and ":" not in work
                                          and work.startswith(f"{rs.a} {rs.op} {rs.b} =")),
                     "next_right": bool(rs) and next_operand(r["judgment"]) == rs.b,
                     "next_copied_wrong": bool(rs and ws and ws.b != rs.b) and next_operand(r["judgment"]) == ws.b,
                     "right_in_a": r["right_a"], "correct": r["verdict"] == ("A" if r["right_a"] else "B")})
    return pl.DataFrame(rows, schema={"op": pl.String, "dropped_ten": pl.Boolean, "split_right": pl.Boolean,
                                      "teen_unsplit": pl.Boolean, "next_right": pl.Boolean,
                                      "next_copied_wrong": pl.Boolean, "right_in_a": pl.Boolean,
                                      "correct": pl.Boolean})


def truth_of(problem: dict, prefix_steps: list[str]) -> tuple | None:
    """arith.step_context of the step after `prefix_steps`; None where there is none, or where no
    step is right (a claimed value the problem's divisor does not divide)."""
    context = arith.step_context(prefix_steps, problem["start"], problem["ops"], problem["operands"])
    if isinstance(context, str):
        return None
    try:
        arith.apply(*context[1:4])
    except ValueError:
        return None
    return context


def both_wrong(steps: pl.DataFrame, judgments: pl.DataFrame, pool: pl.DataFrame | None) -> dict:
    """The judgments of two wrong candidates: how many, the share that says B, position
    consistency over the pairs shown in both orders, the same on `two_results` (both apply the
    right operation to the right numbers and differ in the result), and with the pool (for the right
    step) `order_accuracy`: the share of verdicts naming the candidate judge_v9's order ranks first
    (fewer wrong fields and result digits, then the smaller result; psrlm.arith.error_key), on
    the pairs that order decides. Any judge format can be read against that order."""
    j = with_candidates(steps, judgments).filter(~pl.col("right_a") & ~pl.col("right_b"))  # nulls drop out
    problems = {r["problem_id"]: r for r in pool.iter_rows(named=True)} if pool is not None else {}
    two, order = [], []
    for r in j.iter_rows(named=True):
        a, b = arith.parse_step(r["text_a"]), arith.parse_step(r["text_b"])
        two.append(bool(a and b and (a.a, a.op, a.b) == (b.a, b.op, b.b) and a.c != b.c))
        truth = truth_of(problems[r["problem_id"]], r["prefix_steps"]) if r["problem_id"] in problems else None
        order.append(truth and arith.ordered_verdict(arith.error_key(r["text_a"], *truth),
                                                     arith.error_key(r["text_b"], *truth)))
    j = j.with_columns(two_results=pl.Series(two, dtype=pl.Boolean), order=pl.Series(order, dtype=pl.String))

    def cell(d: pl.DataFrame) -> dict:
        consistent, shown = position_consistency(d, LOOP)
        decided = d.filter(pl.col("order").is_not_null())
        return {"n": d.height, "says_b": round((d["verdict"] == "B").mean(), 4) if d.height else None,
                "pairs_both_orders": shown, "consistency": round(consistent / shown, 4) if shown else None,
                "order_decided": decided.height,
                "order_accuracy": round((decided["verdict"] == decided["order"]).mean(), 4) if decided.height else None}
    return {"all": cell(j), "two_results": cell(j.filter("two_results"))}


def tens_only(a: str, b: str) -> bool:
    """Whether steps `a` and `b` differ, and only in numbers of one length that share their units
    digit (`85 + 2 = 87.` against `85 + 2 = 77.`): a tens-digit slip."""
    xs, ys = re.findall(r"\d+", a), re.findall(r"\d+", b)
    diff = [(x, y) for x, y in zip(xs, ys) if x != y]
    return len(xs) == len(ys) and bool(diff) and all(len(x) == len(y) and x[-1] == y[-1] for x, y in diff)


def eft_pairs(eft: pl.DataFrame, judged: pl.DataFrame) -> pl.DataFrame:
    """One row per judged held-out EFT pair: tens-only or not, its corruption kind (the origin after
    `synthetic:`), the right one's position, verdict right."""
    j = judged.join(eft.select("pair_id", "candidate_a", "candidate_b", "origin"), on="pair_id")
    return pl.DataFrame({"tens_only": [tens_only(a, b) for a, b in zip(j["candidate_a"], j["candidate_b"])],
                         "kind": j["origin"].str.split(":").list.last(),
                         "right_in_a": j["better"] == "A", "correct": j["correct"]},
                        schema={"tens_only": pl.Boolean, "kind": pl.String, "right_in_a": pl.Boolean,
                                "correct": pl.Boolean})


def summary(pairs: pl.DataFrame, slices: tuple[str, ...] = ("dropped_ten",)) -> dict:
    def cell(df: pl.DataFrame) -> dict:
        acc = lambda d: round(d["correct"].mean(), 4) if len(d) else None  # noqa: E731
        return {"n": len(df), "accuracy": acc(df), "accuracy_a": acc(df.filter("right_in_a")),
                "accuracy_b": acc(df.filter(~pl.col("right_in_a")))}
    out = {"all": cell(pairs)} | {name: cell(pairs.filter(name)) for name in slices}
    for op in arith.OPS if "op" in pairs.columns else ():
        if (pairs["op"] == op).any():
            out[op] = cell(pairs.filter(pl.col("op") == op))
    for kind in arith.CORRUPTIONS if "kind" in pairs.columns else ():
        if (pairs["kind"] == kind).any():
            out[kind] = cell(pairs.filter(pl.col("kind") == kind))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--own", help="own_eft's eft.parquet (EFT)")
    ap.add_argument("--judged", help="evaluate's judge_own.parquet (EVAL_JUDGE)")
    ap.add_argument("--search", type=Path, help="a search's folder (shard_<k>/steps.parquet, judgments.parquet)")
    ap.add_argument("--eft", help="prepare's eft_test.parquet (EFT), judged by --judged (evaluate's judge.parquet)")
    ap.add_argument("--judge-with", help="--search: judge its right-vs-wrong pairs again with this model")
    ap.add_argument("--pool", help="--judge-with: the search's pool (PROBLEMS: the problems' text); --search: "
                    "the right step of each both-wrong pair, for judge_v9's order")
    ap.add_argument("--params", default="params.yaml", help="--judge-with: judge template, engine, token limit")
    ap.add_argument("--label", default="")
    ap.add_argument("--out", default="reports/benchmarks/judge_by_op.jsonl")
    args = ap.parse_args()
    if args.eft:
        if not args.judged:
            raise SystemExit("--eft needs --judged (evaluate's judge.parquet of those pairs)")
        pairs = eft_pairs(read_table(args.eft, EFT).collect(), read_table(args.judged, EVAL_JUDGE).collect())
        row = {"label": args.label, "eft": str(args.eft), "judged": str(args.judged),
               "by_slice": summary(pairs, ("tens_only",))}
        for name, m in row["by_slice"].items():
            print(f"{name:>14} n={m['n']:4d} accuracy={m['accuracy']} A={m['accuracy_a']} B={m['accuracy_b']}")
        with Path(args.out).open("a") as f:
            f.write(json.dumps(row) + "\n")
        return
    if args.search:
        shards = sorted(args.search.glob("shard_*"))
        if not shards:
            raise SystemExit(f"{args.search}: no shard_<k> folders")
        if args.judge_with and not args.pool:
            raise SystemExit("--judge-with needs --pool (the search's pool, for the problems' text)")
        steps = pl.concat([read_table(d / "steps.parquet", SEARCH_STEPS).collect() for d in shards])
        judgments = pl.concat([read_table(d / "judgments.parquet", SEARCH_JUDGMENTS).collect() for d in shards])
        j = right_wrong(steps, judgments)
        if args.judge_with:
            j = rejudge(j, args.judge_with, read_table(args.pool, PROBLEMS).collect(), args.params)
        pairs = search_pairs(steps, judgments, j)
        consistent, both = position_consistency(j, LOOP)
        row = {"label": args.label, "search": str(args.search), "judge_with": args.judge_with,
               "consistency": {"pairs": both, "consistent": round(consistent / both, 4) if both else None},
               "by_op": summary(pairs, ("dropped_ten", "split_right", "teen_unsplit", "next_right",
                                        "next_copied_wrong"))}
        if not args.judge_with:  # rejudging covers the right-vs-wrong pairs only
            row["both_wrong"] = both_wrong(steps, judgments,
                                           read_table(args.pool, PROBLEMS).collect() if args.pool else None)
        for op, m in row["by_op"].items():
            print(f"{op:>17} n={m['n']:4d} accuracy={m['accuracy']} A={m['accuracy_a']} B={m['accuracy_b']}")
        print(f"      consistency {row['consistency']}")
        for name, m in row.get("both_wrong", {}).items():
            print(f"both wrong {name:>11} {m}")
        with Path(args.out).open("a") as f:
            f.write(json.dumps(row) + "\n")
        return
    if not (args.own and args.judged):
        raise SystemExit("give --own and --judged, --eft and --judged, or --search")
    own, judged = read_table(args.own, EFT).collect(), read_table(args.judged, EVAL_JUDGE).collect()
    own = own.filter(pl.col("pair_id").is_in(judged["pair_id"].implode()))  # evaluate may cap the pairs
    row = {"label": args.label, "by_op": by_op(own, judged)}
    for op, m in row["by_op"].items():
        print(f"{op:>4} n={m['own_n']:4d} accuracy={m['own_accuracy']} A={m['own_accuracy_a']} "
              f"B={m['own_accuracy_b']} invalid={m['own_invalid']} consistency={m['own_position_consistency']}")
    with Path(args.out).open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
