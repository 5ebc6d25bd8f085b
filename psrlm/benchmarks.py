"""The paper's six test sets (method.md §7), read from local JSONL files into one schema.

Field names differ per file; the mapping is a literal table. Gold answers are kept as published,
except GSM8K's, which is the text after `####` with its thousands separators removed, and
OlympiadBench's answer lists, joined with ", ". An empty published answer (two Gaokao rows, whose
answer sits in the question text) becomes null and is counted, never guessed. Equivalence is the
grader's job, not the loader's.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from psrlm.errors import PsrlmError

# benchmark → (file under the benchmarks folder, question field, answer field, id field or None).
# Files without an id field get their 1-based line number, zero-padded so ids sort in file order.
SOURCES = {
    "gsm8k": ("gsm8k/test.jsonl", "question", "answer", None),
    "math500": ("math500/test.jsonl", "problem", "answer", "unique_id"),
    "gaokao2023en": ("gaokao2023en/test.jsonl", "question", "answer", None),
    "olympiadbench": ("olympiadbench/test.jsonl", "question", "final_answer", "id"),
    "aime24": ("aime24/test.jsonl", "problem", "answer", "id"),
    "amc23": ("amc23/test.jsonl", "question", "answer", "id"),
}


def read_jsonl(path: Path) -> list[dict]:
    """All records of a JSONL file; a missing file or a broken line names the file and the line."""
    if not path.is_file():
        raise PsrlmError(f"{path}: file not found")
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise PsrlmError(f"{path}:{lineno}: broken JSON line ({e.msg})") from None
            if not isinstance(rec, dict):
                raise PsrlmError(f"{path}:{lineno}: expected a JSON object")
            rows.append((lineno, rec))
    return rows


def gold_answer(benchmark: str, value: object) -> str | None:
    if value in (None, "", []):
        return None
    if benchmark == "gsm8k":
        return str(value).rsplit("####", 1)[-1].strip().replace(",", "")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def load_benchmark(root: Path, benchmark: str, limit: int | None) -> pl.DataFrame:
    """One benchmark as (benchmark, id, question, gold_answer): the first `limit` rows, or all."""
    if benchmark not in SOURCES:
        raise PsrlmError(f"unknown benchmark '{benchmark}' (known: {', '.join(SOURCES)})")
    rel, q_field, a_field, id_field = SOURCES[benchmark]
    path = root / rel
    records = read_jsonl(path)
    if limit is not None:
        records = records[:limit]
    rows = []
    for lineno, rec in records:
        for field in (q_field,) + ((id_field,) if id_field else ()):
            if rec.get(field) in (None, ""):
                raise PsrlmError(f"{path}:{lineno}: field '{field}' is missing or empty")
        if a_field not in rec:
            raise PsrlmError(f"{path}:{lineno}: field '{a_field}' is missing")
        rows.append({
            "benchmark": benchmark,
            "id": str(rec[id_field]) if id_field else f"{lineno:05d}",
            "question": str(rec[q_field]),
            "gold_answer": gold_answer(benchmark, rec[a_field]),  # None when published empty
        })
    return pl.DataFrame(rows, schema={"benchmark": pl.String, "id": pl.String,
                                      "question": pl.String, "gold_answer": pl.String})
