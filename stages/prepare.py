"""Stage `prepare`: the task's data (`prepare.task`) and the benchmark table.

Reads:  params.yaml [prepare]; the benchmark JSONL files under `prepare.benchmarks_dir`.
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
  --report                   row counts per table (DVC metrics)
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
import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import polars as pl

from psrlm import arith, outcome, realdata
from psrlm.benchmarks import load_benchmark
from psrlm.errors import PsrlmError, run
from psrlm.params import Count, NonNegative, ParamsError, Positive, Range, TaskName, load_key, load_section
from psrlm.outputs import Outputs
from psrlm.tables import BENCHMARKS, EFT, PROBLEMS, SCORE_EFT, write_tables


BASE = "base"  # the tier of the keys themselves: every labelled split, the test and unlisted pools


@dataclass(frozen=True)
class PrepareParams:
    task: TaskName
    files_dir: str
    files_train: str | None
    files_test: str | None
    files_eft: str | None
    files_columns: dict[Literal["problem", "solution", "steps", "answer", "id"], str | None]
    max_chars: Positive
    seed: Count
    num_ops_min: Positive
    num_ops_max: Positive
    start_min: Count
    start_max: Count
    addsub_max: Positive
    muldiv_max: Annotated[int, Range(ge=2)]
    value_max: Positive
    op_weights: dict[Literal["+", "-", "*", "/"], NonNegative]
    corruption_weights: dict[Literal["wrong_result", "wrong_operand", "wrong_operator"], NonNegative]
    ift_train_size: Count
    eft_train_size: Count
    eft_test_size: Count
    test_size: Count
    judge_train_size: Count
    judge_test_size: Count
    pool_sizes: tuple[Positive, ...]  # an empty pool would train M(i+1) on nothing: refused
    tiers: dict[str, dict[Literal[arith.DIFFICULTY_KEYS], Count]] | None
    pool_tiers: dict[Positive, str] | None
    tier_test_size: Count
    benchmarks_dir: str
    benchmark_limits: dict[str, Count | None]

    def __post_init__(self) -> None:
        # null is none: `dvc exp run -S` merges a mapping into the one already there, so only
        # `-S prepare.tiers=null` clears the tiers of a params file that declares some.
        for key in ("tiers", "pool_tiers"):
            if getattr(self, key) is None:
                object.__setattr__(self, key, {})

    def pool_tier(self, iteration: int) -> str:
        """The tier iteration `iteration`'s pool is drawn from."""
        return self.pool_tiers.get(iteration, BASE)

    def check(self) -> None:
        if self.task == "files":
            for key in ("files_train", "files_test"):
                if getattr(self, key) is None:
                    raise ParamsError(f"prepare.{key}: the files task needs a JSONL or Parquet file")
            if self.files_columns.get("problem") is None:
                raise ParamsError("prepare.files_columns.problem: the files task needs the problem's column")
        if self.task != "synthetic" and (self.tiers or set(self.pool_tiers.values()) - {BASE}):
            raise ParamsError(f"prepare.tiers: difficulty tiers are the synthetic task's; the {self.task} "
                              "task needs tiers and pool_tiers null or {}")
        check_difficulty(difficulty(self), "prepare")
        for name, change in self.tiers.items():
            if name == BASE or not name.isidentifier():
                raise ParamsError(f"prepare.tiers.{name}: a tier name is a plain word other than '{BASE}'")
            check_difficulty(tier_difficulty(self, name), f"prepare.tiers.{name}")
        for it, name in self.pool_tiers.items():
            if it > len(self.pool_sizes):
                raise ParamsError(f"prepare.pool_tiers.{it}: no such pool (pool_sizes has {len(self.pool_sizes)})")
            if name != BASE and name not in self.tiers:
                raise ParamsError(f"prepare.pool_tiers.{it}: unknown tier '{name}' (prepare.tiers has "
                                  f"{', '.join([BASE, *self.tiers])})")
        for key, table in (("op_weights", self.op_weights),
                           ("corruption_weights", self.corruption_weights)):
            if sum(table.values()) <= 0:
                raise ParamsError(f"prepare.{key}: needs a positive weight")


def difficulty(p: PrepareParams) -> arith.Difficulty:
    return arith.Difficulty(p.num_ops_min, p.num_ops_max, p.start_min, p.start_max, p.addsub_max,
                            p.muldiv_max, p.value_max, p.op_weights)


def tier_difficulty(p: PrepareParams, name: str) -> arith.Difficulty:
    """The base difficulty with the keys tier `name` replaces."""
    return difficulty(p) if name == BASE else dataclasses.replace(difficulty(p), **p.tiers[name])


def check_difficulty(d: arith.Difficulty, where: str) -> None:
    if d.num_ops_min > d.num_ops_max:
        raise ParamsError(f"{where}.num_ops_min: must be <= num_ops_max")
    if d.start_min > d.start_max:
        raise ParamsError(f"{where}.start_min: must be <= start_max")
    if d.value_max < d.start_max:
        raise ParamsError(f"{where}.value_max: must be >= start_max")
    if d.muldiv_max < 2 or min(d.num_ops_min, d.addsub_max, d.value_max) < 1:
        raise ParamsError(f"{where}: num_ops_min, addsub_max and value_max must be >= 1, muldiv_max >= 2")


def problem_rows(problems: list[arith.Problem], prefix: str) -> pl.DataFrame:
    rows = []
    for i, prob in enumerate(problems):
        steps = prob.gold_steps()
        vals = prob.values()
        for k, step in enumerate(steps):  # every gold step verifies against the exact checker
            verdict = arith.check_step(step, k + 1, vals[k], prob.ops[k], prob.operands[k],
                                       final=k + 1 == len(steps))
            assert verdict == "correct", (step, verdict)
        rows.append({
            "problem_id": f"{prefix}-{i:06d}", "problem": prob.text, "start": prob.start,
            "ops": list(prob.ops), "operands": list(prob.operands), "gold_steps": steps,
            "solution": "\n".join(steps), "gold_answer": str(vals[-1]),
        })
    return pl.DataFrame(rows, schema=PROBLEMS.polars_schema())


def eft_rows(rng: random.Random, problems: list[arith.Problem], prefix: str,
             d: arith.Difficulty, corruption_weights: dict[str, float],
             judgment=arith.judgment) -> pl.DataFrame:
    """One pair per problem: at a random step, the gold step against a corrupted one.

    The better step's position is exactly balanced (half A, half B, shuffled with the seed).
    """
    positions = ["A", "B"] * (len(problems) // 2) + ["A"] * (len(problems) % 2)
    rng.shuffle(positions)
    kinds = [k for k in arith.CORRUPTIONS if corruption_weights.get(k, 0) > 0]
    rows = []
    for i, (prob, better) in enumerate(zip(problems, positions)):
        idx = rng.randint(1, len(prob.ops))
        kind = rng.choices(kinds, weights=[corruption_weights[k] for k in kinds])[0]
        gold, vals = prob.gold_steps(), prob.values()
        good, bad = gold[idx - 1], arith.corrupt_step(rng, prob, idx, kind, d)
        cand_a, cand_b = (good, bad) if better == "A" else (bad, good)
        check = (idx, vals[idx - 1], prob.ops[idx - 1], prob.operands[idx - 1], idx == len(gold))
        a_ok = arith.check_step(cand_a, *check) == "correct"
        b_ok = arith.check_step(cand_b, *check) == "correct"
        assert a_ok != b_ok and (a_ok == (better == "A")), (cand_a, cand_b, better)
        pid = f"{prefix}-{i:06d}"
        rows.append({
            "pair_id": f"{pid}-s{idx}", "problem_id": pid, "problem": prob.text, "step_idx": idx,
            "prefix_steps": gold[: idx - 1], "candidate_a": cand_a, "candidate_b": cand_b,
            "a_correct": a_ok, "b_correct": b_ok, "better": better,
            "origin": f"synthetic:{kind}", "judgment": judgment(cand_a, cand_b, better, *check,
                                                              arith.step_sentence(prob.text, idx)),
        })
    return pl.DataFrame(rows, schema=EFT.polars_schema())


def score_eft_rows(rng: random.Random, problems: list[arith.Problem], prefix: str,
                   d: arith.Difficulty, corruption_weights: dict[str, float]) -> pl.DataFrame:
    """The SRLM baseline's judge examples (Yuan et al.'s EFT, whole solutions): one per problem,
    the gold solution or a corrupted one (exactly half each, shuffled with the seed), with the
    rubric's score and the target judgment (psrlm.outcome). They are made on the EFT split's
    problems, so the two methods' judges learn from the same problems in their own formats. The
    wrong solutions are synthetic, as the default's step EFT is: at initialization no SRLM model
    exists yet to make its own (its own solutions are what it scores in the iterations)."""
    wrong = [False, True] * (len(problems) // 2) + [False] * (len(problems) % 2)
    rng.shuffle(wrong)
    kinds = [k for k in arith.CORRUPTIONS if corruption_weights.get(k, 0) > 0]
    rows = []
    for i, (prob, bad) in enumerate(zip(problems, wrong)):
        steps, origin = prob.gold_steps(), "gold"
        while bad:  # redraw the rare corruption whose wrong value cannot be carried on exactly
            kind = rng.choices(kinds, weights=[corruption_weights[k] for k in kinds])[0]
            made = outcome.corrupt_solution(rng, prob, kind, d)
            if made is not None:
                steps, origin = made, f"synthetic:{kind}"
                break
        solution = "\n".join(steps)
        r = outcome.rubric(solution, prob.text, prob.start, prob.ops, prob.operands)
        pid = f"{prefix}-{i:06d}"
        rows.append({"example_id": f"{pid}-score", "problem_id": pid, "problem": prob.text,
                     "start": prob.start, "ops": list(prob.ops), "operands": list(prob.operands),
                     "solution": solution, "origin": origin, "score": r.score,
                     "correct": arith.solution_right(solution, prob.start, list(prob.ops), list(prob.operands)),
                     "judgment": outcome.score_judgment(r)})
    return pl.DataFrame(rows, schema=SCORE_EFT.polars_schema())


def synthetic_tables(p: PrepareParams, sizes: dict[str, int], judgment, out: Path) -> tuple[list, dict]:
    """The synthetic task's tables and its pools (frames by split name)."""
    rng = random.Random(p.seed)
    d = difficulty(p)
    tier_of = {f"pool{i}": p.pool_tier(i) for i in range(1, len(p.pool_sizes) + 1)}
    base_sizes = {k: n for k, n in sizes.items() if tier_of.get(k, BASE) == BASE}
    problems = arith.distinct_problems(rng, d, sum(base_sizes.values()))
    split, start = {}, 0
    for name, n in base_sizes.items():  # fixed order: appending a pool changes no earlier split
        split[name], start = problems[start: start + n], start + n
    taken = frozenset((q.start, q.ops, q.operands) for q in problems)
    judge = arith.distinct_problems(random.Random(p.seed + 3), d, p.judge_train_size + p.judge_test_size, taken)
    # The held-out test first: its problems do not move when the judge phase's size changes.
    split["judge_test"], split["judge_train"] = judge[:p.judge_test_size], judge[p.judge_test_size:]
    taken |= {(q.start, q.ops, q.operands) for q in judge}
    # Each tier its own stream, in params order (a tier added at the end moves no earlier one), none
    # of whose problems is in an earlier split: its held-out test first, then its pools in order.
    tier_tests = {}
    for name in p.tiers:
        pools = [k for k, t in tier_of.items() if t == name]
        drawn = arith.distinct_problems(random.Random(f"{p.seed}:{name}"), tier_difficulty(p, name),
                                  p.tier_test_size + sum(sizes[k] for k in pools), taken)
        tier_tests[name], start = drawn[:p.tier_test_size], p.tier_test_size
        for k in pools:
            split[k], start = drawn[start: start + sizes[k]], start + sizes[k]
        taken |= {(q.start, q.ops, q.operands) for q in drawn}

    tables = [
        (problem_rows(split["ift_train"], "ift"), out / "ift_train.parquet", PROBLEMS),
        (eft_rows(random.Random(p.seed + 1), split["eft_train"], "eft_train", d,
                  p.corruption_weights, judgment), out / "eft_train.parquet", EFT),
        (eft_rows(random.Random(p.seed + 2), split["eft_test"], "eft_test", d,
                  p.corruption_weights, judgment), out / "eft_test.parquet", EFT),
        (problem_rows(split["test"], "test"), out / "test.parquet", PROBLEMS),
        (problem_rows(split["judge_train"], "judge_train"), out / "judge_train.parquet", PROBLEMS),
        (problem_rows(split["judge_test"], "judge_test"), out / "judge_test.parquet", PROBLEMS),
        # Last, from their own random streams: every table above stays byte-identical.
        (score_eft_rows(random.Random(p.seed + 5), split["eft_train"], "eft_train", d, p.corruption_weights),
         out / "score_eft_train.parquet", SCORE_EFT),
        (score_eft_rows(random.Random(p.seed + 6), split["eft_test"], "eft_test", d, p.corruption_weights),
         out / "score_eft_test.parquet", SCORE_EFT),
        *[(problem_rows(qs, f"test_{name}"), out / "tiers" / f"{name}.parquet", PROBLEMS)
          for name, qs in tier_tests.items()],
    ]
    pools = {k: problem_rows(split[k], k if tier_of[k] == BASE else f"{k}_{tier_of[k]}") for k in tier_of}
    return tables, pools


def real_tables(p: PrepareParams, sizes: dict[str, int], bench_dir: Path, out: Path,
                dropped: dict[str, int]) -> tuple[list, dict]:
    """The same tables from real data (psrlm/realdata.py): the train file shuffled with the seed
    and cut in the synthetic stream's order (then the judge splits), the test file's first rows.
    `dropped` gets what was left out and why (repeated problems, training problems in the test)."""
    if p.task == "gsm8k":
        train_path, test_path = bench_dir / "gsm8k/train.jsonl", bench_dir / "gsm8k/test.jsonl"
        columns = realdata.GSM8K_COLUMNS
    else:
        files = Path(p.files_dir)
        train_path, test_path, columns = files / p.files_train, files / p.files_test, p.files_columns
    train = realdata.problem_rows(train_path, realdata.read_records(train_path), columns, "train", p.max_chars)
    test = realdata.problem_rows(test_path, realdata.read_records(test_path), columns, "test", p.max_chars)
    # No problem twice, and none both trained on and tested: repeats are dropped, and the test's
    # problems are dropped from the training file (the test file is the fixed reference).
    test, dropped["test_repeats"], _ = realdata.distinct(test)
    test = test[:p.test_size]
    if len(test) < p.test_size:
        raise PsrlmError(f"{test_path}: {len(test)} distinct problems, prepare.test_size asks for {p.test_size}")
    train, dropped["train_repeats"], dropped["train_in_test"] = realdata.distinct(train, test)
    order = {k: n for k, n in sizes.items() if k != "test"} | {
        "judge_test": p.judge_test_size, "judge_train": p.judge_train_size}
    if sum(order.values()) > len(train):
        raise PsrlmError(f"{train_path}: {len(train)} problems, the splits ask for {sum(order.values())} "
                         f"({', '.join(f'{k} {n}' for k, n in order.items())}; prepare.*_size, pool_sizes)")
    random.Random(p.seed).shuffle(train)
    split, start = {}, 0
    for name, n in order.items():
        split[name], start = train[start: start + n], start + n
    # The EFT splits' problems carry the SRLM judge's score examples either way; the step pairs are
    # made from their gold steps, or are the user's own labelled pairs (files_eft).
    eft_file = None if p.task == "gsm8k" or p.files_eft is None else Path(p.files_dir) / p.files_eft
    if eft_file is not None:
        pairs = realdata.file_eft_rows(eft_file, realdata.read_records(eft_file), "eft")
        tested = {realdata.problem_key(r["problem"]) for r in test}
        dropped["eft_pairs_in_test"] = sum(realdata.problem_key(r["problem"]) in tested for r in pairs)
        pairs = [r for r in pairs if realdata.problem_key(r["problem"]) not in tested]
        random.Random(p.seed + 1).shuffle(pairs)
        if len(pairs) < p.eft_test_size + p.eft_train_size:
            raise PsrlmError(f"{eft_file}: {len(pairs)} pairs, prepare.eft_test_size + eft_train_size ask for "
                             f"{p.eft_test_size + p.eft_train_size}")
        eft_test, eft_train = pairs[:p.eft_test_size], pairs[p.eft_test_size:p.eft_test_size + p.eft_train_size]
    else:
        eft_train = realdata.eft_rows(random.Random(p.seed + 1), split["eft_train"], "eft_train")
        eft_test = realdata.eft_rows(random.Random(p.seed + 2), split["eft_test"], "eft_test")

    def frame(rows: list[dict], schema) -> pl.DataFrame:
        return pl.DataFrame(rows, schema=schema.polars_schema())

    tables = [
        (frame(split["ift_train"], PROBLEMS), out / "ift_train.parquet", PROBLEMS),
        (frame(eft_train, EFT), out / "eft_train.parquet", EFT),
        (frame(eft_test, EFT), out / "eft_test.parquet", EFT),
        (frame(test, PROBLEMS), out / "test.parquet", PROBLEMS),
        (frame(split["judge_train"], PROBLEMS), out / "judge_train.parquet", PROBLEMS),
        (frame(split["judge_test"], PROBLEMS), out / "judge_test.parquet", PROBLEMS),
        (frame(realdata.score_eft_rows(random.Random(p.seed + 5), split["eft_train"], "eft_train"), SCORE_EFT),
         out / "score_eft_train.parquet", SCORE_EFT),
        (frame(realdata.score_eft_rows(random.Random(p.seed + 6), split["eft_test"], "eft_test"), SCORE_EFT),
         out / "score_eft_test.parquet", SCORE_EFT),
    ]
    pools = {f"pool{i}": frame(split[f"pool{i}"], PROBLEMS) for i in range(1, len(p.pool_sizes) + 1)}
    return tables, pools


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="data/prepare")
    ap.add_argument("--report", default="reports/prepare.json")
    args = ap.parse_args()
    p = load_section(args.params, "prepare", PrepareParams)
    # The EFT targets are written in the judgment format that the judge prompt asks for.
    judgment = arith.judgment_for(load_key(args.params, "prompts.judge", str))
    out = Path(args.out)

    # Benchmarks first: a missing or broken file fails before anything is generated or written.
    bench_dir = Path(p.benchmarks_dir)
    if not bench_dir.is_dir():
        raise PsrlmError(f"{bench_dir}: benchmarks folder not found (prepare.benchmarks_dir)")
    bench = pl.concat([load_benchmark(bench_dir, name, limit)
                       for name, limit in p.benchmark_limits.items()])

    sizes = {"test": p.test_size, "eft_test": p.eft_test_size, "eft_train": p.eft_train_size,
             "ift_train": p.ift_train_size}
    sizes.update({f"pool{i}": n for i, n in enumerate(p.pool_sizes, start=1)})
    dropped: dict[str, int] = {}
    if p.task == "synthetic":
        tables, split = synthetic_tables(p, sizes, judgment, out)
    else:
        tables, split = real_tables(p, sizes, bench_dir, out, dropped)
        if any(dropped.values()):
            print("prepare: WARNING dropped " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in dropped.items() if n)
                  + " (reports/prepare.json: dropped)")
    tables.append((bench, out / "benchmarks.parquet", BENCHMARKS))
    tables += [(split[f"pool{i}"], out / "pools" / f"iter_{i}.parquet", PROBLEMS)
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
        o.json(args.report, {"task": p.task, "rows": report, "dropped": dropped,
                             "pool_tiers": {str(i): p.pool_tier(i) for i in range(1, len(p.pool_sizes) + 1)}})
    print(f"prepare: wrote {len(tables)} tables to {out}")


if __name__ == "__main__":
    run(main, "prepare")
