"""Stage `prepare`: the task's data (`prepare.task`) and the benchmark table.

Load → build → write: the task (psrlm/task.py) builds every table (psrlm/synthdata.py for the
synthetic task, psrlm/realdata.py for gsm8k and files); this stage loads the params and benchmarks
and writes what it built.

Reads:  params.yaml [prepare, prompts.judge (the EFT targets' format)]; the benchmark JSONL files
        under `prepare.benchmarks_dir` (gsm8k: also its train/test files there); files: the files
        in `prepare.files_dir`.
Writes (under --out, schemas in psrlm/tables.py):
  ift_train.parquet          PROBLEMS  problem → step-formatted gold solution (method.md §3, IFT)
  eft_train.parquet          EFT       gold step vs a corrupted one, with the target judgment
  eft_test.parquet           EFT       held-out judge pairs (paper: 500)
  test.parquet               PROBLEMS  held-out synthetic test
  pools/iter_<i>.parquet     PROBLEMS  prompt pool of self-rewarding iteration i, from the tier
                                       `prepare.pool_tiers` names for it (gold kept for audit only)
  tiers/<tier>.parquet       PROBLEMS  held-out test of every tier of `prepare.tiers` (the folder is
                                       empty without tiers; `test` is the base tier's)
  judge_train.parquet        PROBLEMS  problems the model's own judge pairs are sampled on (own_eft)
  judge_test.parquet         PROBLEMS  problems of the held-out own-sample judge test (own_eft)
  score_eft_train.parquet    SCORE_EFT the SRLM baseline's judge examples: the EFT train problems'
                                       whole solutions, half gold, half corrupted, scored 0-5
  score_eft_test.parquet     SCORE_EFT the same on the held-out EFT problems
  benchmarks.parquet         BENCHMARKS the six test sets in one schema
  --report                   row counts per table, what real data left out and why (`dropped`:
                             repeated problems, training problems in the test) (DVC metrics)
Splits are disjoint by construction: one stream of distinct problems is cut in a fixed order, so
adding an iteration's pool at the end leaves every earlier table byte-identical. The two judge
splits come from a second stream that skips every problem of the first: disjoint from them, and
unchanged by their sizes (unless a new pool problem happens to equal a judge problem).

Tiers (synthetic task): `prepare.tiers` names harder (or other) difficulties, each the base keys
with some replaced. Everything labelled (IFT, EFT, the judge splits, score EFT) and `test` are the
base tier's; a pool is drawn from the tier `prepare.pool_tiers` names for its iteration, and each
tier has a held-out test of `tier_test_size` problems. Each tier is its own stream (seeded by
prepare.seed and its name), after the base and judge streams and skipping all their problems.

The task (psrlm/task.py) is the embedded default's synthetic arithmetic (`synthetic`), GSM8K
(`gsm8k`: the benchmarks folder's gsm8k/train.jsonl cut into the training splits, its test.jsonl
the held-out test) or the user's own JSONL/Parquet (`files`, columns mapped in params). Real data
is shuffled with the seed and cut in the same fixed order as the synthetic stream; its judge pairs
are made from the gold steps (psrlm/realdata.py) or read from `prepare.files_eft`.

Run: dvc repro prepare   (or: python stages/prepare.py --out data/prepare --report reports/prepare.json)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from psrlm import task
from psrlm.benchmarks import load_benchmark
from psrlm.errors import PsrlmError, run
from psrlm.outputs import Outputs
from psrlm.params import load_key, load_section
from psrlm.tables import BENCHMARKS, EFT, PROBLEMS, SCORE_EFT, write_tables
from psrlm.task import PrepareParams


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="data/prepare")
    ap.add_argument("--report", default="reports/prepare.json")
    args = ap.parse_args()
    p = load_section(args.params, "prepare", PrepareParams)
    # The EFT targets are written in the judgment format that the judge prompt asks for.
    the_task = task.for_name(p.task, load_key(args.params, "prompts.judge", str))
    out = Path(args.out)

    # Benchmarks first: a missing or broken file fails before anything is generated or written.
    bench_dir = Path(p.benchmarks_dir)
    if not bench_dir.is_dir():
        raise PsrlmError(f"{bench_dir}: benchmarks folder not found (prepare.benchmarks_dir)")
    bench = pl.concat([load_benchmark(bench_dir, name, limit)
                       for name, limit in p.benchmark_limits.items()])

    built = the_task.build(p)
    if any(built.dropped.values()):
        print("prepare: WARNING dropped " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in built.dropped.items() if n)
              + " (reports/prepare.json: dropped)")
    tables = [(df, out / f"{name}.parquet", schema) for df, name, schema in built.tables]
    tables.append((bench, out / "benchmarks.parquet", BENCHMARKS))
    tables += [(built.pools[f"pool{i}"], out / "pools" / f"iter_{i}.parquet", PROBLEMS)
               for i in range(1, len(p.pool_sizes) + 1)]
    report = {path.relative_to(out).as_posix().removesuffix(".parquet"): len(df)
              for df, path, _ in tables}
    report["benchmarks_by_name"] = dict(sorted(
        bench.group_by("benchmark").len().iter_rows()))
    report["benchmarks_missing_gold"] = bench["gold_answer"].null_count()
    score_eft = pl.concat([df for df, _, schema in tables if schema is SCORE_EFT])
    report["score_eft_scores"] = {str(k): v for k, v in sorted(score_eft.group_by("score").len().iter_rows())}
    report["eft_origin"] = dict(sorted(pl.concat([df for df, _, schema in tables if schema is EFT])
                                       .group_by("origin").len().iter_rows()))
    tiers = out / "tiers"
    with Outputs() as o:
        write_tables([t for t in tables if t[1].parent != tiers], o)
        # One folder, replaced whole: a tier dropped from the params leaves no table behind.
        folder = o.path(tiers)
        folder.mkdir()
        write_tables([(df, folder / path.name, schema) for df, path, schema in tables if path.parent == tiers])
        o.json(args.report, {"task": p.task, "rows": report, "dropped": built.dropped,
                             "pool_tiers": {str(i): p.pool_tier(i) for i in range(1, len(p.pool_sizes) + 1)}})
    print(f"prepare: wrote {len(tables)} tables to {out}")


if __name__ == "__main__":
    run(main, "prepare")
