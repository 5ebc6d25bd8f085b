"""Audit two iterations side by side: what changed in their tables.

    python -m psrlm.audit 1 2                          # iterations 1 and 2 of the workspace
    python -m psrlm.audit 1 1 --rev-b <experiment>     # iteration 1: workspace vs a `dvc exp` run
    python -m psrlm.audit 2 2 --rev-a HEAD~1           # any git revision DVC can read

For each side it reads the search tables and pairs of iteration i and the evaluation of M(i)
(`data/eval/m<i>/solve.parquet`), from the workspace or, with a revision, through DVC's cache
(`dvc.api.open`: a commit, branch, tag, or an experiment name as `dvc exp show` lists it). It prints
pair counts, score distributions, the judge's verdict mix, step length and steps per solution,
and accuracy problem by problem (solved by one side only).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import polars as pl

from psrlm.errors import PsrlmError, run
from psrlm.metrics import share
from psrlm.tables import (EVAL_SOLVE, PAIRS, SEARCH_JUDGMENTS, SEARCH_SOLUTIONS, SEARCH_STEPS, Schema, read_table,
                          validate)


def resolve_rev(rev: str, repo: Path) -> str:
    """A git revision, or a `dvc exp` experiment name (refs/exps/...), as a commit id."""
    git = ["git", "-C", str(repo)]
    done = subprocess.run([*git, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                          capture_output=True, text=True)
    if done.returncode == 0:
        return done.stdout.strip()
    refs = subprocess.run([*git, "for-each-ref", "refs/exps", "--format=%(refname) %(objectname)"],
                          capture_output=True, text=True).stdout.split("\n")
    hits = [line.split()[1] for line in refs if line and line.split()[0].endswith("/" + rev)]
    if len(hits) != 1:
        raise PsrlmError(f"{rev}: neither a git revision nor a single `dvc exp` experiment name")
    return hits[0]


def load(path: str, schema: Schema, repo: Path, rev: str | None) -> pl.DataFrame:
    if rev is None:
        return read_table(repo / path, schema).collect()
    import dvc.api

    try:
        with dvc.api.open(path, repo=str(repo), rev=rev, mode="rb") as f:
            data = f.read()
    except Exception as e:  # noqa: BLE001 - DVC raises many kinds; the message is what helps
        raise PsrlmError(f"{path}@{rev}: cannot read it through DVC ({e.__class__.__name__}: {e})") from e
    # The same schema check as every other reader, on the bytes DVC returned.
    return validate(pl.read_parquet(io.BytesIO(data)), schema, f"{path}@{rev}")


def summarize(steps: pl.DataFrame, judgments: pl.DataFrame, solutions: pl.DataFrame,
              pairs: pl.DataFrame, solve: pl.DataFrame) -> dict[str, float | int | None]:
    """The numbers compared between two iterations (pure)."""
    kept = steps.filter(pl.col("kept") & pl.col("chosen"))
    verdicts = judgments["verdict"]
    return {
        "prompts": solutions.height,
        "pairs": pairs.height,
        "pairs_chosen_right_rejected_wrong": pairs.filter(pl.col("chosen_correct") & ~pl.col("rejected_correct")).height,
        "final_step_pairs": int(pairs["is_final_step"].sum()),
        "chosen_score_mean": round(float(pairs["chosen_score"].mean()), 3) if pairs.height else None,
        "rejected_score_mean": round(float(pairs["rejected_score"].mean()), 3) if pairs.height else None,
        "judge_calls": judgments.height,
        "verdict_A": share(int((verdicts == "A").sum()), judgments.height),
        "verdict_B": share(int((verdicts == "B").sum()), judgments.height),
        "verdict_invalid": share(verdicts.null_count(), judgments.height),
        "step_chars_mean": round(float(kept["text"].str.len_chars().mean()), 1) if kept.height else None,
        "steps_per_solution": round(float(solutions["steps"].list.len().mean()), 3) if solutions.height else None,
        "rollbacks": int(solutions["rollbacks"].sum()),
        "search_solved_audit": share(int(solutions["correct"].sum()), solutions.height),
        "eval_accuracy": share(int((solve["status"] == "correct").sum()), solve.height),
    }


def score_distribution(pairs: pl.DataFrame) -> pl.DataFrame:
    return (pairs.group_by("chosen_score", "rejected_score").len()
            .sort("chosen_score", "rejected_score", descending=[True, False]))


def flips(solve_a: pl.DataFrame, solve_b: pl.DataFrame) -> dict[str, int]:
    """Held-out problems by outcome on side a → side b."""
    j = solve_a.select("problem_id", a=pl.col("status") == "correct").join(
        solve_b.select("problem_id", b=pl.col("status") == "correct"), on="problem_id", how="inner")
    return {"both_right": j.filter(pl.col("a") & pl.col("b")).height,
            "fixed (wrong -> right)": j.filter(~pl.col("a") & pl.col("b")).height,
            "broken (right -> wrong)": j.filter(pl.col("a") & ~pl.col("b")).height,
            "both_wrong": j.filter(~pl.col("a") & ~pl.col("b")).height}


def side(it: int, repo: Path, rev: str | None, shards: int = 1) -> dict[str, pl.DataFrame]:
    """One side's tables; a sharded search (search.shards) is read shard by shard and merged."""
    s = [f"data/search/iter_{it}/shard_{k}" for k in range(shards)]

    def merged(name: str, schema) -> pl.DataFrame:
        return pl.concat([load(f"{d}/{name}.parquet", schema, repo, rev) for d in s]).sort(list(schema.key))

    return {
        "steps": merged("steps", SEARCH_STEPS),
        "judgments": merged("judgments", SEARCH_JUDGMENTS),
        "solutions": merged("solutions", SEARCH_SOLUTIONS),
        "pairs": load(f"data/pairs/iter_{it}.parquet", PAIRS, repo, rev),
        "solve": load(f"data/eval/m{it}/solve.parquet", EVAL_SOLVE, repo, rev),
    }


def render(name_a: str, name_b: str, a: dict, b: dict) -> str:
    sa, sb = summarize(**a), summarize(**b)
    out = io.StringIO()
    out.write(f"| | {name_a} | {name_b} | change |\n|---|---|---|---|\n")
    for k in sa:
        x, y = sa[k], sb[k]
        d = "" if x is None or y is None else f"{y - x:+.4g}"
        out.write(f"| {k} | {x} | {y} | {d} |\n")
    out.write("\nPairs by (chosen score, rejected score):\n")
    dist = score_distribution(a["pairs"]).rename({"len": name_a}).join(
        score_distribution(b["pairs"]).rename({"len": name_b}), on=["chosen_score", "rejected_score"],
        how="full", coalesce=True).fill_null(0).sort("chosen_score", "rejected_score", descending=[True, False])
    out.write(str(dist) + "\n")
    out.write(f"\nHeld-out problems, {name_a} → {name_b}: "
              + ", ".join(f"{k} {v}" for k, v in flips(a["solve"], b["solve"]).items()) + "\n")
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m psrlm.audit", description=__doc__.splitlines()[0])
    ap.add_argument("a", type=int, help="iteration of side a")
    ap.add_argument("b", type=int, help="iteration of side b")
    ap.add_argument("--rev-a", help="git revision or dvc experiment of side a (default: the workspace)")
    ap.add_argument("--rev-b", help="git revision or dvc experiment of side b (default: the workspace)")
    ap.add_argument("--repo", default=".", help="the psrlm repository")
    ap.add_argument("--shards", type=int, default=1, help="search.shards of both runs (how many shard_<k> to merge)")
    args = ap.parse_args()
    repo = Path(args.repo)
    revs = [None if r is None else resolve_rev(r, repo) for r in (args.rev_a, args.rev_b)]
    names = [f"iter {it}" + ("" if r is None else f"@{name}")
             for it, r, name in ((args.a, revs[0], args.rev_a), (args.b, revs[1], args.rev_b))]
    sys.stdout.write(render(names[0], names[1], side(args.a, repo, revs[0], args.shards),
                                side(args.b, repo, revs[1], args.shards)))


if __name__ == "__main__":
    run(main, "audit")
