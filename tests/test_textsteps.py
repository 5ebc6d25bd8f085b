"""The real-data step task (psrlm/textsteps.py) against real GSM8K train rows, and the files loader's
errors (psrlm/realdata.py)."""

import json
import random
import re

import polars as pl
import pytest

from conftest import BENCHMARKS
from psrlm import realdata, textsteps
from psrlm.errors import PsrlmError

TRAIN = BENCHMARKS / "gsm8k/train.jsonl"


def _rows() -> list[dict]:
    return [json.loads(line) for line in TRAIN.read_text().splitlines()]


def _pick(rows: list[dict], pattern: str, n: int, lines=False) -> list[int]:
    """The first `n` rows whose answer (or, with `lines`, one of whose solution lines) matches."""
    if lines:
        hit = [i for i, r in enumerate(rows) if any(re.search(pattern, x) for x in r["answer"].split("\n")[:-1])]
    else:
        hit = [i for i, r in enumerate(rows) if re.search(pattern, r["answer"])]
    return hit[:n]


@pytest.fixture(scope="module")
def real():
    """23 distinct real train rows (6 picked for each trait, some share two): thousands separators, decimals in annotations, percentages, lines
    without an annotation, plus the first rows of the file."""
    rows = _rows()
    picks = {"comma": _pick(rows, r"\d,\d{3}", 6), "decimal": _pick(rows, r"<<[^>]*\.\d", 6),
             "percent": _pick(rows, "%", 6), "missing": _pick(rows, r"^(?!.*<<).+$", 6, lines=True),
             "first": list(range(4))}
    return rows, picks


def test_real_rows_split_into_checked_steps(real):
    rows, picks = real
    ids = sorted({i for v in picks.values() for i in v})
    assert len(ids) >= 20 and all(len(v) >= 4 for v in picks.values())
    for i in ids:
        answer = rows[i]["answer"]
        lines = answer.split("\n")
        steps, gold = textsteps.split_solution(answer)
        assert gold == lines[-1].removeprefix("#### ").replace(",", "")  # `1,080` → 1080
        assert len(steps) == len(lines) - 1
        for k, (step, line) in enumerate(zip(steps, lines), start=1):
            assert step.startswith(f"Step {k}: {line.strip()}")
            assert textsteps.check_step(step, k, gold) == "correct", (i, step)
        assert steps[-1].endswith(f"The answer is \\boxed{{{gold}}}.")
        assert not any("\\boxed" in s for s in steps[:-1])
        assert textsteps.solution_right("\n".join(steps), gold)
        assert textsteps.rubric("\n".join(steps), gold).score == 5


def test_the_picked_rows_hold_what_they_were_picked_for(real):
    rows, picks = real
    text = {k: [rows[i]["answer"] for i in v] for k, v in picks.items()}
    assert all(re.search(r"\d,\d{3}", a) for a in text["comma"])
    assert all(re.search(r"<<[^>]*\.\d", a) for a in text["decimal"])
    assert all("%" in a for a in text["percent"])
    # A line without an annotation has no arithmetic to check: only its form.
    for a in text["missing"]:
        steps, gold = textsteps.split_solution(a)
        plain = [s for s in steps if "<<" not in s]
        assert plain and all(textsteps.calculations(s) == [] for s in plain)
        assert textsteps.check_line(plain[0]) == "no calculation"


def test_every_corrupted_real_step_is_caught(real):
    rows, picks = real
    rng = random.Random(0)
    kinds = set()
    for i in sorted({i for v in picks.values() for i in v}):
        steps, gold = textsteps.split_solution(rows[i]["answer"])
        for k, step in enumerate(steps, start=1):
            made = textsteps.corrupt_step(rng, step, gold)
            if made is None:
                assert "<<" not in step and "\\boxed" not in step
                continue
            bad, kind = made
            kinds.add(kind)
            assert textsteps.check_step(bad, k, gold) in ("wrong_result", "wrong_answer"), (step, bad)
            broken = steps[:k - 1] + [bad] + steps[k:]
            assert not textsteps.solution_right("\n".join(broken), gold)
            assert textsteps.rubric("\n".join(broken), gold).score < 5
    assert kinds == {"wrong_result"} or kinds == {"wrong_result", "wrong_answer"}


@pytest.mark.parametrize("step, verdict", [
    ("Step 1: Natalia sold 48/2 = <<48/2=24>>24 clips in May.", "correct"),
    ("Step 1: Natalia sold 48/2 = <<48/2=25>>25 clips in May.", "wrong_result"),
    ("Step 1: Natalia sold 48/2 = <<48/2=24>>42 clips in May.", "copy_mismatch"),
    ("Step 1: It costs 2*600 = $<<2*600=1200>>1,200 in all.", "correct"),  # separators after
    ("Step 1: She pays 20% of 50 = <<20*.01*50=10>>10 dollars.", "correct"),
    ("Step 1: Each gets 10/3 = <<10/3=3.33>>3.33 cups.", "correct"),  # rounded as written
    ("Step 1: Each gets 10/3 = <<10/3=3.34>>3.34 cups.", "wrong_result"),
    ("Step 1: 560//10 = <<560//10=56>>56 nights.", "correct"),  # GSM8K's annotations were Python
    ("Step 1: x = <<x+2=5>>5.", "bad_annotation"),
    ("Step 1: <<2**100=1>>1", "bad_annotation"),  # no power operator: nothing can blow up
    ("Step 1: <<__import__('os')=0>>0", "bad_annotation"),
    ("Step 1: <<1/0=0>>0", "bad_annotation"),
    ("Step 2: 48/2 = <<48/2=24>>24.", "wrong_index"),
    ("Natalia sold 24 clips.", "unparseable"),
    ("Step 1: So 48+24 = <<48+24=72>>72. The answer is \\boxed{72}.", "correct"),
    ("Step 1: So 48+24 = <<48+24=72>>72. The answer is \\boxed{71}.", "wrong_answer"),
])
def test_check_step(step, verdict):
    assert textsteps.check_step(step, 1, "72") == verdict


def test_a_boxed_answer_with_nested_braces_is_read_as_evaluate_reads_it():
    """One `\\boxed{}` reader (psrlm.prompts.final_answer) for evaluate and the step checker: the
    checker used to miss `\\boxed{\\frac{1}{2}}` (nested braces) and so passed a wrong one."""
    step = "Step 1: Half of it is <<1/2=0.5>>0.5. The answer is \\boxed{\\frac{1}{3}}."
    assert textsteps.check_step(step, 1, "\\frac{1}{2}") == "wrong_answer"
    assert textsteps.check_step(step.replace("{3}", "{2}"), 1, "\\frac{1}{2}") == "correct"
    assert textsteps.solution_right(step.replace("{3}", "{2}"), "\\frac{1}{2}")
    assert textsteps.split_solution("Half of it.\nSo \\boxed{\\frac{1}{2}}")[1] == "\\frac{1}{2}"


def test_calc_is_exact_and_bounded():
    assert textsteps.calc("0.1+0.2") == textsteps.number("0.3")  # exact, unlike floats
    assert textsteps.calc("+30+46+38") == 114 and textsteps.calc("2*(3+4)") == 14
    assert textsteps.calc("(" * 40 + "1" + ")" * 40) is None  # past MAX_EXPR_TOKENS
    assert textsteps.calc("9" * 31) is None and textsteps.calc("") is None
    assert textsteps.number("45%") is None and textsteps.number("1,080") == 1080


def test_truth_past_the_gold_length_and_the_judgment_format():
    assert textsteps.step_truth("Step 3: 1+1 = <<1+1=2>>2.", ["a", "b"], "2", max_steps=2) == "past_last_step"
    j = textsteps.judgment("Step 1: 48/2 = <<48/2=24>>24.", "Step 1: 48/2 = <<48/2=25>>25.", "A",
                           "correct", "wrong_result")
    assert j == "A: 48/2 = 24, 24 ok. Right.\nB: 48/2 = 24, 25 no. Wrong.\n[[A]]"


# The files loader: every problem names the file, the row and the column.

def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


COLUMNS = {"problem": "q", "solution": "a", "steps": None, "answer": None, "id": None}


def test_files_loader_reads_jsonl_and_parquet_alike(tmp_path):
    recs = [{"q": "What is 2+3?", "a": "2+3 = <<2+3=5>>5\n#### 5"},
            {"q": "What is 4*5?", "a": "4*5 = <<4*5=20>>20\n#### 20"}]
    a = realdata.problem_rows(tmp_path / "x.jsonl", realdata.read_records(_write_jsonl(tmp_path / "x.jsonl", recs)),
                              COLUMNS, "train")
    pl.DataFrame(recs).write_parquet(tmp_path / "x.parquet")
    b = realdata.problem_rows(tmp_path / "x.parquet", realdata.read_records(tmp_path / "x.parquet"), COLUMNS, "train")
    assert a == b and a[1]["gold_steps"] == ["Step 1: 4*5 = <<4*5=20>>20 The answer is \\boxed{20}."]
    steps = {"problem": "q", "solution": None, "steps": "s", "answer": "ans", "id": "id"}
    rows = realdata.problem_rows(tmp_path / "y.jsonl", [(1, {"q": "Q", "s": ["Step 1: 1+1 = <<1+1=2>>2", "so 2"],
                                                              "ans": "2", "id": 7})], steps, "train")
    assert rows[0]["problem_id"] == "train-7" and rows[0]["gold_steps"][0] == "Step 1: 1+1 = <<1+1=2>>2"
    # A numeric answer column (usual in Parquet) is read as written, as benchmark answers are.
    num = realdata.problem_rows(tmp_path / "z.jsonl", [(1, {"q": "Q", "s": ["1+1 = <<1+1=2>>2"], "ans": 2})],
                                {**steps, "id": None}, "train")
    assert num[0]["gold_answer"] == "2" and num[0]["gold_steps"][-1].endswith("\\boxed{2}.")


@pytest.mark.parametrize("record, columns, message", [
    ({"a": "1\n#### 1"}, COLUMNS, "x.jsonl: row 1: column 'q' is missing"),
    ({"q": 3, "a": "1\n#### 1"}, COLUMNS, "row 1: column 'q' must be text, got int"),
    ({"q": " ", "a": "1\n#### 1"}, COLUMNS, "row 1: column 'q' is empty"),
    ({"q": "Q", "a": "just words"}, COLUMNS, "row 1: column 'a': no final answer"),
    ({"q": "Q", "a": "#### 4"}, COLUMNS, "row 1: column 'a': no solution lines"),
    ({"q": "Q", "s": "not a list"}, {**COLUMNS, "solution": None, "steps": "s", "answer": "q"},
     "row 1: column 's' must be a non-empty list"),
    ({"q": "Q", "a": "1\n#### 1"}, {**COLUMNS, "steps": "s"}, "map exactly one of 'solution'"),
    ({"q": "Q", "a": "1\n#### 1", "i": 1.5}, {**COLUMNS, "id": "i"}, "column 'i' must be text or an integer"),
    ({"q": "Q", "a": "1", "n": True}, {**COLUMNS, "answer": "n"}, "column 'n' must be text or a finite number"),
])
def test_files_loader_errors_name_file_row_and_column(tmp_path, record, columns, message):
    path = _write_jsonl(tmp_path / "x.jsonl", [record])
    with pytest.raises(PsrlmError, match=re.escape(message)):
        realdata.problem_rows(path, realdata.read_records(path), columns, "train")


def test_files_loader_errors_on_the_file_itself(tmp_path):
    with pytest.raises(PsrlmError, match="x.jsonl: file not found"):
        realdata.read_records(tmp_path / "x.jsonl")
    (tmp_path / "x.csv").write_text("q,a\n")
    with pytest.raises(PsrlmError, match=r"x.csv: unknown file type '.csv'"):
        realdata.read_records(tmp_path / "x.csv")
    (tmp_path / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(PsrlmError, match="x.parquet: not a readable Parquet file"):
        realdata.read_records(tmp_path / "x.parquet")
    path = _write_jsonl(tmp_path / "d.jsonl", [{"q": "Q", "a": "1\n#### 1", "i": 1}] * 2)
    with pytest.raises(PsrlmError, match="d.jsonl: row 2: column 'i': duplicate id 'train-1'"):
        realdata.problem_rows(path, realdata.read_records(path), {**COLUMNS, "id": "i"}, "train")
    # Parquet rows are numbered from 1, as JSONL lines are.
    pl.DataFrame({"q": ["Q", None], "a": ["1\n#### 1", "2\n#### 2"]}).write_parquet(tmp_path / "n.parquet")
    with pytest.raises(PsrlmError, match="n.parquet: row 2: column 'q' is missing"):
        realdata.problem_rows(tmp_path / "n.parquet", realdata.read_records(tmp_path / "n.parquet"), COLUMNS, "train")


@pytest.mark.parametrize("change, message", [
    ({"better": "C"}, "column 'better' must be A or B, got 'C'"),
    ({"prefix_steps": "Step 1"}, "column 'prefix_steps' must be a list of texts"),
    ({"judgment": "A is right. [[B]]"}, "column 'judgment' must end in [[A]]"),
    ({"candidate_b": None}, "column 'candidate_b' is missing"),
])
def test_labelled_pairs_errors(tmp_path, change, message):
    pair = {"problem": "Q", "prefix_steps": [], "candidate_a": "Step 1: 1+1 = <<1+1=2>>2",
            "candidate_b": "Step 1: 1+1 = <<1+1=3>>3", "better": "A"}
    ok = realdata.file_eft_rows(tmp_path / "e.jsonl", [(1, pair)], "eft")
    assert ok[0]["judgment"].endswith("[[A]]") and ok[0]["a_correct"] and ok[0]["step_idx"] == 1
    path = _write_jsonl(tmp_path / "e.jsonl", [pair, {**pair, **change}])
    with pytest.raises(PsrlmError, match=re.escape(f"e.jsonl: row 2: {message}")):
        realdata.file_eft_rows(path, realdata.read_records(path), "eft")
