"""Real data into the pipeline's tables (tasks `gsm8k` and `files`, params `prepare.task`).

A source file is JSONL or Parquet; its columns are mapped to the pipeline's by params
(`prepare.files_columns`: problem, solution or steps, answer, id). Each record becomes a PROBLEMS
row (psrlm.tables) whose gold solution is `Step n:` lines (psrlm.textsteps.split_solution), and
judge pairs are made from the gold steps: the right step against the same step with one
calculation's result changed (or, without a calculation, the boxed answer). A user's own labelled
pairs (`prepare.files_eft`) are read instead when given. Every problem names the file, the row
(line for JSONL, 1-based row for Parquet) and the column; nothing is guessed or skipped.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from psrlm import outcome, textsteps
from psrlm.benchmarks import read_jsonl, scalar_text
from psrlm.errors import PsrlmError
from psrlm.tables import EFT, PROBLEMS, SCORE_EFT

if TYPE_CHECKING:
    from psrlm.task import PrepareParams

# The GSM8K files' columns (the `gsm8k` task is `files` with these and the benchmarks folder's).
GSM8K_COLUMNS = {"problem": "question", "solution": "answer", "steps": None, "answer": None, "id": None}
EFT_COLUMNS = ("problem", "prefix_steps", "candidate_a", "candidate_b", "better")


def read_records(path: str | Path) -> list[tuple[int, dict]]:
    """(row number, record) of a JSONL (line numbers) or Parquet (1-based rows) file."""
    path = Path(path)
    if path.suffix == ".parquet":
        if not path.is_file():
            raise PsrlmError(f"{path}: file not found")
        try:
            df = pl.read_parquet(path)
        except Exception as e:  # pyarrow/polars raise many kinds for a broken file
            raise PsrlmError(f"{path}: not a readable Parquet file ({type(e).__name__}: {e})") from None
        if df.height == 0:
            raise PsrlmError(f"{path}: no rows")
        return list(enumerate(df.iter_rows(named=True), start=1))
    if path.suffix in (".jsonl", ".json"):
        return read_jsonl(path)
    raise PsrlmError(f"{path}: unknown file type {path.suffix!r} (JSONL .jsonl or Parquet .parquet)")


def _text(path: Path, row: int, rec: dict, column: str, required: bool = True) -> str | None:
    if column not in rec or rec[column] is None:
        if required:
            raise PsrlmError(f"{path}: row {row}: column '{column}' is missing")
        return None
    value = rec[column]
    if not isinstance(value, str):
        raise PsrlmError(f"{path}: row {row}: column '{column}' must be text, got {type(value).__name__}")
    if required and not value.strip():
        raise PsrlmError(f"{path}: row {row}: column '{column}' is empty")
    return value


def _bounded(path: Path, row: int, column: str, text: str, max_chars: int | None) -> str:
    if max_chars is not None and len(text) > max_chars:
        raise PsrlmError(f"{path}: row {row}: column '{column}' is {len(text):,} characters, more than "
                         f"prepare.max_chars ({max_chars:,})")
    return text


def problem_rows(path: str | Path, records: Sequence[tuple[int, dict]], columns: dict[str, str | None],
                 prefix: str, max_chars: int | None = None) -> list[dict]:
    """PROBLEMS rows of `records` (ids `<prefix>-<n>`, or the mapped id column's value). A problem
    or solution longer than `max_chars` characters is refused: one such text becomes a prompt of
    that many tokens in every stage after (a 1 MiB problem asked own_eft for ~1.1 TB)."""
    path = Path(path)
    if (columns.get("solution") is None) == (columns.get("steps") is None):
        raise PsrlmError("prepare.files_columns: map exactly one of 'solution' (text to split) and 'steps' (a list)")
    rows, seen = [], set()
    for i, (row, rec) in enumerate(records):
        problem = _bounded(path, row, columns["problem"], _text(path, row, rec, columns["problem"]), max_chars)
        answer = None
        if columns.get("answer") and columns["answer"] not in rec:
            raise PsrlmError(f"{path}: row {row}: column '{columns['answer']}' is missing "
                             f"(prepare.files_columns.answer; null for none)")
        if columns.get("answer") and rec.get(columns["answer"]) is not None:
            # Text, or a number as written (`72`, `2.5`), as the benchmark loader reads answers.
            answer = scalar_text(rec[columns["answer"]])
            if answer is None:
                raise PsrlmError(f"{path}: row {row}: column '{columns['answer']}' must be text or a finite number, "
                                 f"got {rec[columns['answer']]!r}")
        if columns.get("solution"):
            text = _bounded(path, row, columns["solution"], _text(path, row, rec, columns["solution"]), max_chars)
        else:
            steps = rec.get(columns["steps"])
            if not isinstance(steps, (list, tuple)) or not steps or not all(isinstance(s, str) and s.strip() for s in steps):
                raise PsrlmError(f"{path}: row {row}: column '{columns['steps']}' must be a non-empty list of "
                                 "non-empty texts")
            text = _bounded(path, row, columns["steps"], "\n".join(textsteps.strip_step_label(s) for s in steps),
                            max_chars)
        try:
            gold_steps, gold = textsteps.split_solution(text, answer)
        except ValueError as e:
            col = columns.get("solution") or columns["steps"]
            raise PsrlmError(f"{path}: row {row}: column '{col}': {e}") from None
        pid = f"{prefix}-{i:06d}"
        if columns.get("id"):
            ident = rec.get(columns["id"])
            if ident is None or isinstance(ident, (bool, float, dict, list)):
                raise PsrlmError(f"{path}: row {row}: column '{columns['id']}' must be text or an integer, got {ident!r}")
            pid = f"{prefix}-{ident}"
        if pid in seen:
            raise PsrlmError(f"{path}: row {row}: column '{columns['id']}': duplicate id {pid!r}")
        seen.add(pid)
        rows.append({"problem_id": pid, "problem": problem, "start": None, "ops": [], "operands": [],
                     "gold_steps": gold_steps, "solution": "\n".join(gold_steps), "gold_answer": gold})
    return rows


def problem_key(problem: str) -> str:
    """A problem as compared across rows and splits: its words, whatever the spacing."""
    return " ".join(problem.split())


def distinct(rows: list[dict], held_out: Sequence[dict] = ()) -> tuple[list[dict], int, int]:
    """(`rows` without the repeats of an earlier row's problem and without the problems of
    `held_out`, repeats dropped, held-out problems dropped): a problem is never in two splits,
    and never both trained on and tested (compared as `problem_key`s)."""
    seen, test = set(), {problem_key(r["problem"]) for r in held_out}
    kept, repeats, leaked = [], 0, 0
    for r in rows:
        k = problem_key(r["problem"])
        if k in test:
            leaked += 1
        elif k in seen:
            repeats += 1
        else:
            seen.add(k)
            kept.append(r)
    return kept, repeats, leaked


def eft_rows(rng: random.Random, problems: Sequence[dict], prefix: str) -> list[dict]:
    """One pair per problem, as the synthetic task's (psrlm.synthdata.eft_rows): at a random step
    that can be corrupted, the gold step against the corrupted one, the better position exactly
    balanced. A gold step the checker does not pass (none of GSM8K train's 26,720; a user's file may
    have some) is never used as the right one."""
    positions = ["A", "B"] * (len(problems) // 2) + ["A"] * (len(problems) % 2)
    rng.shuffle(positions)
    rows = []
    for i, (prob, better) in enumerate(zip(problems, positions)):
        gold, answer = prob["gold_steps"], prob["gold_answer"]
        usable = [k for k, s in enumerate(gold, start=1) if textsteps.check_step(s, k, answer) == "correct"]
        rng.shuffle(usable)
        for idx in usable:
            made = textsteps.corrupt_step(rng, gold[idx - 1], answer)
            if made is not None and textsteps.check_step(made[0], idx, answer) != "correct":
                break
        else:
            raise PsrlmError(f"prepare: problem {prob['problem_id']} has no step that a judge pair can be made "
                             "of (no checkable calculation or numeric answer)")
        bad, kind = made
        good = gold[idx - 1]
        truth_bad = textsteps.check_step(bad, idx, answer)
        cand_a, cand_b = (good, bad) if better == "A" else (bad, good)
        ta, tb = ("correct", truth_bad) if better == "A" else (truth_bad, "correct")
        pid = f"{prefix}-{i:06d}"
        rows.append({
            "pair_id": f"{pid}-s{idx}", "problem_id": prob["problem_id"], "problem": prob["problem"],
            "step_idx": idx, "prefix_steps": gold[: idx - 1], "candidate_a": cand_a, "candidate_b": cand_b,
            "a_correct": better == "A", "b_correct": better == "B", "better": better,
            "origin": f"gold:{kind}", "judgment": textsteps.judgment(cand_a, cand_b, better, ta, tb)})
    return rows


def file_eft_rows(path: str | Path, records: Sequence[tuple[int, dict]], prefix: str) -> list[dict]:
    """A user's labelled pairs (columns EFT_COLUMNS, optional `judgment`): the target judgment is
    theirs when given (it must end in the verdict), else the recomputation (textsteps.judgment)."""
    path = Path(path)
    rows = []
    for i, (row, rec) in enumerate(records):
        problem = _text(path, row, rec, "problem")
        a, b = _text(path, row, rec, "candidate_a"), _text(path, row, rec, "candidate_b")
        better = _text(path, row, rec, "better")
        if better not in ("A", "B"):
            raise PsrlmError(f"{path}: row {row}: column 'better' must be A or B, got {better!r}")
        prefix_steps = rec.get("prefix_steps")
        if not isinstance(prefix_steps, (list, tuple)) or not all(isinstance(s, str) for s in prefix_steps):
            raise PsrlmError(f"{path}: row {row}: column 'prefix_steps' must be a list of texts (empty for the first step)")
        judgment = _text(path, row, rec, "judgment", required=False)
        truths = ("correct", "wrong") if better == "A" else ("wrong", "correct")
        if judgment is None:
            judgment = textsteps.judgment(a, b, better, *truths)
        elif not judgment.strip().endswith(f"[[{better}]]"):
            raise PsrlmError(f"{path}: row {row}: column 'judgment' must end in [[{better}]] (column 'better')")
        pid = f"{prefix}-{i:06d}"
        rows.append({"pair_id": pid, "problem_id": pid, "problem": problem, "step_idx": len(prefix_steps) + 1,
                     "prefix_steps": list(prefix_steps), "candidate_a": a, "candidate_b": b,
                     "a_correct": better == "A", "b_correct": better == "B", "better": better,
                     "origin": f"file:{path.name}", "judgment": judgment})
    return rows


def score_eft_rows(rng: random.Random, problems: Sequence[dict], prefix: str) -> list[dict]:
    """The SRLM judge's examples on real data (cf. psrlm.synthdata.score_eft_rows): the gold
    solution or one with a step corrupted (exactly half each), scored by textsteps.rubric."""
    wrong = [False, True] * (len(problems) // 2) + [False] * (len(problems) % 2)
    rng.shuffle(wrong)
    rows = []
    for i, (prob, bad) in enumerate(zip(problems, wrong)):
        steps, origin, answer = list(prob["gold_steps"]), "gold", prob["gold_answer"]
        if bad:
            ks = list(range(len(steps)))
            rng.shuffle(ks)
            for k in ks:
                made = textsteps.corrupt_step(rng, steps[k], answer)
                if made is not None and textsteps.check_step(made[0], k + 1, answer) != "correct":
                    steps[k], origin = made[0], f"gold:{made[1]}"
                    break
        solution = "\n".join(steps)
        r = textsteps.rubric(solution, answer)
        rows.append({"example_id": f"{prefix}-{i:06d}-score", "problem_id": prob["problem_id"],
                     "problem": prob["problem"], "start": None, "ops": [], "operands": [],
                     "solution": solution, "origin": origin, "score": r.score,
                     "correct": textsteps.solution_right(solution, answer),
                     "judgment": outcome.score_judgment(r)})
    return rows


def tables(p: PrepareParams, sizes: dict[str, int], dropped: dict[str, int]) -> tuple[list, dict]:
    """The same tables as psrlm.synthdata.tables from real data: the train file shuffled with the seed
    and cut in the synthetic stream's order (then the judge splits), the test file's first rows.
    `dropped` gets what was left out and why (repeated problems, training problems in the test)."""
    if p.task == "gsm8k":
        bench_dir = Path(p.benchmarks_dir)
        train_path, test_path = bench_dir / "gsm8k/train.jsonl", bench_dir / "gsm8k/test.jsonl"
        columns = GSM8K_COLUMNS
    else:
        files = Path(p.files_dir)
        train_path, test_path, columns = files / p.files_train, files / p.files_test, p.files_columns
    train = problem_rows(train_path, read_records(train_path), columns, "train", p.max_chars)
    test = problem_rows(test_path, read_records(test_path), columns, "test", p.max_chars)
    # No problem twice, and none both trained on and tested: repeats are dropped, and the test's
    # problems are dropped from the training file (the test file is the fixed reference).
    test, dropped["test_repeats"], _ = distinct(test)
    test = test[:p.test_size]
    if len(test) < p.test_size:
        raise PsrlmError(f"{test_path}: {len(test)} distinct problems, prepare.test_size asks for {p.test_size}")
    train, dropped["train_repeats"], dropped["train_in_test"] = distinct(train, test)
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
        pairs = file_eft_rows(eft_file, read_records(eft_file), "eft")
        tested = {problem_key(r["problem"]) for r in test}
        dropped["eft_pairs_in_test"] = sum(problem_key(r["problem"]) in tested for r in pairs)
        pairs = [r for r in pairs if problem_key(r["problem"]) not in tested]
        random.Random(p.seed + 1).shuffle(pairs)
        if len(pairs) < p.eft_test_size + p.eft_train_size:
            raise PsrlmError(f"{eft_file}: {len(pairs)} pairs, prepare.eft_test_size + eft_train_size ask for "
                             f"{p.eft_test_size + p.eft_train_size}")
        eft_test, eft_train = pairs[:p.eft_test_size], pairs[p.eft_test_size:p.eft_test_size + p.eft_train_size]
    else:
        eft_train = eft_rows(random.Random(p.seed + 1), split["eft_train"], "eft_train")
        eft_test = eft_rows(random.Random(p.seed + 2), split["eft_test"], "eft_test")

    def frame(rows: list[dict], schema) -> pl.DataFrame:
        return pl.DataFrame(rows, schema=schema.polars_schema())

    tables = [
        (frame(split["ift_train"], PROBLEMS), "ift_train", PROBLEMS),
        (frame(eft_train, EFT), "eft_train", EFT),
        (frame(eft_test, EFT), "eft_test", EFT),
        (frame(test, PROBLEMS), "test", PROBLEMS),
        (frame(split["judge_train"], PROBLEMS), "judge_train", PROBLEMS),
        (frame(split["judge_test"], PROBLEMS), "judge_test", PROBLEMS),
        (frame(score_eft_rows(random.Random(p.seed + 5), split["eft_train"], "eft_train"), SCORE_EFT),
         "score_eft_train", SCORE_EFT),
        (frame(score_eft_rows(random.Random(p.seed + 6), split["eft_test"], "eft_test"), SCORE_EFT),
         "score_eft_test", SCORE_EFT),
    ]
    pools = {f"pool{i}": frame(split[f"pool{i}"], PROBLEMS) for i in range(1, len(p.pool_sizes) + 1)}
    return tables, pools
