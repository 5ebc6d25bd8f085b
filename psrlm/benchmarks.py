"""The paper's six test sets (method.md §7), read from local JSONL files into one schema.

Field names differ per file; the mapping is a literal table. Gold answers are kept as published,
except GSM8K's, which is the text after `####` with its thousands separators removed, and
OlympiadBench's answer lists, joined with ", ". An empty published answer (two Gaokao rows, whose
answer sits in the question text) becomes null and is counted, never guessed. Equivalence is the
grader's job, not the loader's.
"""

from __future__ import annotations

import json
import math
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


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """All records of a JSONL file with their line numbers; a missing or empty file, a line that is
    not UTF-8, not JSON, nested too deep to read or not an object names the file and the line."""
    if not path.is_file():
        raise PsrlmError(f"{path}: file not found")
    rows = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise PsrlmError(f"{path}:{lineno}: not UTF-8 (byte {e.start} of the line)") from None
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise PsrlmError(f"{path}:{lineno}: broken JSON line ({e.msg})") from None
            except RecursionError:
                raise PsrlmError(f"{path}:{lineno}: JSON nested too deep to read") from None
            if not isinstance(rec, dict):
                raise PsrlmError(f"{path}:{lineno}: expected a JSON object")
            rows.append((lineno, rec))
    if not rows:
        raise PsrlmError(f"{path}: no records (an empty benchmark would silently drop out of every table)")
    return rows


def scalar_text(value: object) -> str | None:
    """A published answer or id as text: strings as they are, integers and finite decimals as
    written; anything else (NaN, true, an object) is None, which the caller reports."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    return None


def gold_answer(benchmark: str, value: object) -> str | None:
    """The published answer as text; None when published empty. Raises ValueError for a value that
    is not an answer (NaN, a boolean, an object), so that it is never stored as its Python repr."""
    if value in (None, "", []):
        return None
    if benchmark == "gsm8k" and isinstance(value, str):
        return value.rsplit("####", 1)[-1].strip().replace(",", "")
    parts = value if isinstance(value, list) else [value]
    texts = [scalar_text(v) for v in parts]
    if any(t is None for t in texts):
        raise ValueError(f"{value!r} is not an answer (text or a finite number)")
    return ", ".join(texts)


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
        if not isinstance(rec[q_field], str):
            raise PsrlmError(f"{path}:{lineno}: field '{q_field}' must be text, got "
                             f"{type(rec[q_field]).__name__}")
        if id_field and (isinstance(rec[id_field], float) or scalar_text(rec[id_field]) is None):
            raise PsrlmError(f"{path}:{lineno}: field '{id_field}' must be text or an integer, got "
                             f"{rec[id_field]!r}")
        if a_field not in rec:
            raise PsrlmError(f"{path}:{lineno}: field '{a_field}' is missing")
        try:
            gold = gold_answer(benchmark, rec[a_field])  # None when published empty
        except ValueError as e:
            raise PsrlmError(f"{path}:{lineno}: field '{a_field}': {e}") from None
        rows.append({
            "benchmark": benchmark,
            "id": scalar_text(rec[id_field]) if id_field else f"{lineno:05d}",
            "question": rec[q_field],
            "gold_answer": gold,
        })
    return pl.DataFrame(rows, schema={"benchmark": pl.String, "id": pl.String,
                                      "question": pl.String, "gold_answer": pl.String})
