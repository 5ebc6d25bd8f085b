"""The prepare stage run for real (subprocess, smoke sizes) and its tables checked."""

import hashlib
import re
from pathlib import Path

import polars as pl
import pytest

from conftest import BENCHMARKS, run_stage, smoke_params, write_params
from psrlm import arith
from psrlm.tables import BENCHMARKS as BENCH_SCHEMA, EFT, PROBLEMS, read_table

TABLES = {"ift_train": PROBLEMS, "eft_train": EFT, "eft_test": EFT, "test": PROBLEMS,
          "pools/iter_1": PROBLEMS, "pools/iter_2": PROBLEMS, "benchmarks": BENCH_SCHEMA,
          "judge_train": PROBLEMS, "judge_test": PROBLEMS, "tiers/hard": PROBLEMS}
SPLITS = ("ift_train", "eft_train", "eft_test", "test", "pools/iter_1", "pools/iter_2", "judge_train",
          "judge_test", "tiers/hard")


def prepare(tmp: Path, **sections) -> Path:
    params = write_params(tmp / "params.yaml", smoke_params(**sections))
    out = tmp / "out"
    res = run_stage("prepare", "--params", str(params), "--out", str(out), "--report", str(tmp / "r.json"))
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    return prepare(tmp_path_factory.mktemp("prep"))


def load(out: Path, name: str) -> pl.DataFrame:
    return read_table(out / f"{name}.parquet", TABLES[name]).collect()


def test_all_tables_written_with_their_schema_and_sizes(prepared):
    p = smoke_params()["prepare"]
    sizes = {"ift_train": p["ift_train_size"], "eft_train": p["eft_train_size"],
             "eft_test": p["eft_test_size"], "test": p["test_size"],
             "judge_train": p["judge_train_size"], "judge_test": p["judge_test_size"],
             "tiers/hard": p["tier_test_size"],
             **{f"pools/iter_{i}": n for i, n in enumerate(p["pool_sizes"], start=1)}}
    for name, n in sizes.items():
        assert len(load(prepared, name)) == n, name


def test_same_seed_gives_same_bytes(prepared, tmp_path):
    again = prepare(tmp_path)
    for name in TABLES:
        a, b = (hashlib.sha256((d / f"{name}.parquet").read_bytes()).hexdigest() for d in (prepared, again))
        assert a == b, name


def test_the_judge_phase_size_leaves_the_held_out_judge_test_alone(prepared, tmp_path):
    sizes = smoke_params()["prepare"]
    more = prepare(tmp_path, prepare={"judge_train_size": sizes["judge_train_size"] + 7})
    assert len(load(more, "judge_train")) == sizes["judge_train_size"] + 7
    digest = [hashlib.sha256((d / "judge_test.parquet").read_bytes()).hexdigest() for d in (prepared, more)]
    assert digest[0] == digest[1]


def test_another_seed_gives_other_problems(prepared, tmp_path):
    other = prepare(tmp_path, prepare={"seed": 99})
    assert set(load(prepared, "test")["problem"]) != set(load(other, "test")["problem"])


def test_no_problem_text_in_two_splits(prepared):
    seen: dict[str, str] = {}
    for name in SPLITS:
        texts = load(prepared, name)["problem"].unique().to_list()
        for t in texts:
            assert t not in seen, f"{name} shares a problem with {seen.get(t)}"
            seen[t] = name


def test_no_problem_in_two_splits_by_its_numbers(prepared):
    seen: dict[tuple, str] = {}  # the EFT tables carry only the text (checked above)
    for name in (s for s in SPLITS if TABLES[s] is PROBLEMS):
        for r in load(prepared, name).select("start", "ops", "operands").iter_rows():
            sig = (r[0], tuple(r[1]), tuple(r[2]))
            assert sig not in seen, f"{name} shares {sig} with {seen.get(sig)}"
            seen[sig] = name


def test_a_tier_holds_its_difficulty_and_the_pool_named_for_it(prepared):
    p = smoke_params()["prepare"]
    hard, pool2 = load(prepared, "tiers/hard"), load(prepared, "pools/iter_2")
    assert hard["ops"].list.len().unique().to_list() == [5] == pool2["ops"].list.len().unique().to_list()
    assert pool2["problem_id"].str.starts_with("pool2_hard-").all()
    assert hard["problem_id"].str.starts_with("test_hard-").all()
    for name in ("ift_train", "test", "pools/iter_1", "judge_test"):  # the labelled tier's range
        n = load(prepared, name)["ops"].list.len()
        assert p["num_ops_min"] <= n.min() and n.max() <= p["num_ops_max"], name
    for r in hard.iter_rows(named=True):  # the gold kept for the audit verifies as any split's
        value = r["start"]
        for op, b in zip(r["ops"], r["operands"]):
            value = arith.apply(value, op, b)
            assert 0 <= value <= p["value_max"]
        assert r["gold_answer"] == str(value)


@pytest.mark.parametrize("none", [{}, None])
def test_without_tiers_the_labelled_tables_are_the_same_bytes_and_the_folder_is_empty(prepared, tmp_path, none):
    plain = prepare(tmp_path, prepare={"tiers": none, "pool_tiers": none})
    assert list((plain / "tiers").iterdir()) == []
    for name in ("ift_train", "eft_train", "eft_test", "test", "pools/iter_1", "judge_train", "judge_test"):
        assert (plain / f"{name}.parquet").read_bytes() == (prepared / f"{name}.parquet").read_bytes(), name
    assert load(plain, "pools/iter_2")["ops"].list.len().max() <= smoke_params()["prepare"]["num_ops_max"]


@pytest.mark.parametrize("change, expected", [
    ({"pool_tiers": {2: "medium"}}, "prepare.pool_tiers.2: unknown tier 'medium' (prepare.tiers has base, hard)"),
    ({"pool_tiers": {3: "hard"}}, "prepare.pool_tiers.3: no such pool (pool_sizes has 2)"),
    ({"tiers": {"hard": {"num_ops_min": 6, "num_ops_max": 5}}}, "prepare.tiers.hard.num_ops_min: must be <= num_ops_max"),
    ({"tiers": {"hard": {"digits": 3}}}, "prepare.tiers.hard: must be one of num_ops_min"),
    ({"tiers": {"base": {"num_ops_max": 5}}, "pool_tiers": {}}, "prepare.tiers.base: a tier name is a plain word"),
    ({"task": "gsm8k"}, "prepare.tiers: difficulty tiers are the synthetic task's"),
    ({"task": "gsm8k", "tiers": None}, "prepare.tiers: difficulty tiers are the synthetic task's"),  # pool_tiers left
])
def test_a_bad_tier_fails_in_one_line_writing_nothing(tmp_path, change, expected):
    params = smoke_params()
    params["prepare"].update(change)
    _fails_writing_nothing(tmp_path, params, expected)


def test_gold_solutions_verify(prepared):
    for row in load(prepared, "ift_train").iter_rows(named=True):
        value = row["start"]
        for k, (op, b, step) in enumerate(zip(row["ops"], row["operands"], row["gold_steps"])):
            final = k + 1 == len(row["ops"])
            assert arith.check_step(step, k + 1, value, op, b, final) == "correct"
            value = arith.apply(value, op, b)
        assert row["gold_answer"] == str(value)
        assert row["solution"] == "\n".join(row["gold_steps"])


@pytest.mark.parametrize("split", ["eft_train", "eft_test"])
def test_eft_better_step_is_right_other_wrong_and_positions_balanced(prepared, split):
    eft = load(prepared, split)
    for row in eft.iter_rows(named=True):
        good = row["candidate_a"] if row["better"] == "A" else row["candidate_b"]
        bad = row["candidate_b"] if row["better"] == "A" else row["candidate_a"]
        assert good != bad
        assert row["a_correct"] == (row["better"] == "A") and row["b_correct"] == (row["better"] == "B")
        assert row["judgment"].endswith(f"[[{row['better']}]]")
        assert len(row["prefix_steps"]) == row["step_idx"] - 1
        assert good.startswith(f"Step {row['step_idx']}: ")
    counts = eft["better"].value_counts().sort("better")["count"].to_list()
    assert abs(counts[0] - counts[1]) <= 1
    assert set(eft["origin"]) <= {f"synthetic:{k}" for k in arith.CORRUPTIONS}


def test_both_wrong_pairs_judge_the_smaller_error_and_change_no_other_table(tmp_path):
    """prepare.both_wrong_share 0.25: that share of the EFT train pairs has two wrong candidates,
    the better one with fewer wrong fields, both judged Wrong and the verdict on the better; the
    better's position stays balanced, and every other table is the default's bytes."""
    out = prepare(tmp_path, prepare={"both_wrong_share": 0.25}, prompts={"judge": "judge_v8"})
    eft = load(out, "eft_train")
    both = eft.filter(~pl.col("a_correct") & ~pl.col("b_correct"))
    assert both.height == round(eft.height * 0.25) > 0
    for row in both.iter_rows(named=True):
        good, bad = ((row["candidate_a"], row["candidate_b"]) if row["better"] == "A"
                     else (row["candidate_b"], row["candidate_a"]))
        assert good.startswith(f"Step {row['step_idx']}: ") and bad.startswith(f"Step {row['step_idx']}: ")
        kinds = row["origin"].removeprefix("synthetic:").split("+")
        assert len(kinds) == 2 and set(kinds) <= set(arith.CORRUPTIONS), row["origin"]
        lines = row["judgment"].splitlines()
        assert lines[-3].endswith("Wrong.") and lines[-2].endswith("Wrong.") and lines[-1] == f"[[{row['better']}]]"
        # the better one's line has fewer fields marked `no` than the other's
        line = {lines[-3][0]: lines[-3], lines[-2][0]: lines[-2]}
        worse = "B" if row["better"] == "A" else "A"
        assert line[row["better"]].count(" no") < line[worse].count(" no"), row["judgment"]
    counts = eft["better"].value_counts().sort("better")["count"].to_list()
    assert abs(counts[0] - counts[1]) <= 1
    (tmp_path / "plain").mkdir()
    plain = prepare(tmp_path / "plain", prompts={"judge": "judge_v8"})
    for name in SPLITS:
        if name != "eft_train":
            assert (out / f"{name}.parquet").read_bytes() == (plain / f"{name}.parquet").read_bytes(), name
    # a format that checks by one recomputation cannot say which wrong step is the smaller error
    params = write_params(tmp_path / "v3.yaml", smoke_params(prepare={"both_wrong_share": 0.25}))
    res = run_stage("prepare", "--params", str(params), "--out", str(tmp_path / "v3"), "--report", str(tmp_path / "v3.json"))
    assert res.returncode != 0 and "prepare.both_wrong_share: needs a judge format" in res.stderr
    assert not (tmp_path / "v3").exists()


def test_two_wrong_results_are_ranked_by_judge_v9s_digits_and_change_no_other_table(tmp_path):
    """prepare.both_wrong_results 0.5 with judge_v9: half the both-wrong pairs are two wrong results
    of the right operation; every both-wrong judgment's closing line prefers the pair's better
    step (fewer `no`s, then the smaller result), and the tables other than eft_train are the
    bytes of the same params without it. The field formats cannot rank two wrong results: refused."""
    out = prepare(tmp_path, prepare={"both_wrong_share": 0.4, "both_wrong_results": 0.5}, prompts={"judge": "judge_v9"})
    eft = load(out, "eft_train")
    both = eft.filter(~pl.col("a_correct") & ~pl.col("b_correct"))
    assert both.height == round(eft.height * 0.4) > 0
    results = both.filter(pl.col("origin").str.contains(r"^synthetic:wrong_(result|tens)\+wrong_(result|tens)$"))
    assert results.height >= round(both.height * 0.5)
    for row in eft.iter_rows(named=True):
        *_, closing, verdict = row["judgment"].splitlines()
        assert verdict == f"[[{row['better']}]]"
        by = dict(zip("AB", (int(x) for x in re.findall(r"([0-9]+) no", closing)[:2])))
        worse = "B" if row["better"] == "A" else "A"
        assert by[row["better"]] < by[worse] or (by["A"] == by["B"] and closing.endswith(f"{row['better']} smaller.")), \
            row["judgment"]
        assert (by[row["better"]] == 0) == (row["a_correct"] or row["b_correct"]), row["judgment"]
    (tmp_path / "plain").mkdir()
    plain = prepare(tmp_path / "plain", prepare={"both_wrong_share": 0.4}, prompts={"judge": "judge_v9"})
    assert load(plain, "eft_train").filter(pl.col("origin").str.contains(r"\+")).height == both.height
    for name in SPLITS:
        if name != "eft_train":
            assert (out / f"{name}.parquet").read_bytes() == (plain / f"{name}.parquet").read_bytes(), name
    params = write_params(tmp_path / "v8.yaml", smoke_params(prepare={"both_wrong_share": 0.25, "both_wrong_results": 0.5},
                                                             prompts={"judge": "judge_v8"}))
    res = run_stage("prepare", "--params", str(params), "--out", str(tmp_path / "v8"), "--report", str(tmp_path / "v8.json"))
    assert res.returncode != 0 and "prepare.both_wrong_results: needs a judge format that ranks two wrong results" in res.stderr
    assert not (tmp_path / "v8").exists()


def test_appending_a_pool_leaves_earlier_tables_and_the_judge_splits_unchanged(prepared, tmp_path):
    more = prepare(tmp_path, prepare={"pool_sizes": [20, 20, 30]})
    assert len(read_table(more / "pools/iter_3.parquet", PROBLEMS).collect()) == 30
    for name in ("ift_train", "eft_test", "test", "pools/iter_1", "pools/iter_2", "judge_train",
                 "judge_test"):
        assert (more / f"{name}.parquet").read_bytes() == (prepared / f"{name}.parquet").read_bytes()


def test_benchmark_row_counts(prepared):
    counts = dict(load(prepared, "benchmarks").group_by("benchmark").len().iter_rows())
    assert counts == {"gsm8k": 1319, "math500": 500, "gaokao2023en": 385, "olympiadbench": 675,
                      "aime24": 30, "amc23": 40}


def test_benchmark_gold_answers(prepared):
    bench = load(prepared, "benchmarks")
    gold = {(b, i): a for b, i, a in bench.select("benchmark", "id", "gold_answer").iter_rows()}
    assert gold[("gsm8k", "00001")] == "18"  # "#### 18"
    assert all("," not in a and "#" not in a for (b, _), a in gold.items() if b == "gsm8k")
    assert gold[("amc23", "0")] == "27.0"
    # the two Gaokao rows published without an answer are null, not guessed
    assert bench.filter(pl.col("gold_answer").is_null())["benchmark"].to_list() == ["gaokao2023en"] * 2


def test_benchmark_limit(tmp_path):
    out = prepare(tmp_path, prepare={"benchmark_limits": {"gsm8k": 5, "aime24": None}})
    counts = dict(load(out, "benchmarks").group_by("benchmark").len().iter_rows())
    assert counts == {"gsm8k": 5, "aime24": 30}


def _fails_writing_nothing(tmp_path, params: dict, expected: str) -> None:
    write_params(tmp_path / "params.yaml", params)
    res = run_stage("prepare", "--params", str(tmp_path / "params.yaml"), "--out", str(tmp_path / "out"),
                    "--report", str(tmp_path / "r.json"))
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], res.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.json").exists()


def test_missing_benchmarks_folder_fails_in_one_line_writing_nothing(tmp_path):
    params = smoke_params()
    params["prepare"]["benchmarks_dir"] = str(tmp_path / "nowhere")
    _fails_writing_nothing(tmp_path, params, f"{tmp_path / 'nowhere'}: benchmarks folder not found")


def test_broken_jsonl_line_fails_naming_file_and_line(tmp_path):
    bench = tmp_path / "bench"
    for name in ("gsm8k", "aime24"):
        (bench / name).mkdir(parents=True)
        (bench / name / "test.jsonl").write_text((BENCHMARKS / name / "test.jsonl").read_text())
    with (bench / "aime24" / "test.jsonl").open("a") as f:
        f.write('{"id": "x", "problem": "unterminated\n')
    params = smoke_params(prepare={"benchmark_limits": {"gsm8k": None, "aime24": None}})
    params["prepare"]["benchmarks_dir"] = str(bench)
    _fails_writing_nothing(tmp_path, params, f"{bench / 'aime24' / 'test.jsonl'}:31: broken JSON line")


def test_judge_v2_writes_the_same_pairs_with_inverse_check_judgments(tmp_path):
    for t in ("judge_v1", "judge_v2"):
        (tmp_path / t).mkdir()
    v1, v2 = (load(prepare(tmp_path / t, prompts={"judge": t}), "eft_test") for t in ("judge_v1", "judge_v2"))
    assert v1.drop("judgment").equals(v2.drop("judgment"))  # same problems, candidates, positions
    assert all(j.splitlines()[1].startswith("A: ") for j in v2["judgment"])
    assert not any(j.splitlines()[1].startswith("Step ") for j in v2["judgment"])
    assert all(j.splitlines()[1].startswith("Step ") for j in v1["judgment"])


def test_a_judge_prompt_without_a_target_judgment_fails_naming_the_key(tmp_path):
    params = smoke_params(prompts={"judge": "judge_v11"})
    _fails_writing_nothing(tmp_path, params, "prompts.judge: no target judgment is defined for judge prompt 'judge_v11'")


# Real data has no difficulty tiers: the smoke params' tier is cleared.
SMALL = {"ift_train_size": 6, "eft_train_size": 4, "eft_test_size": 2, "test_size": 2, "pool_sizes": [2, 2],
         "judge_train_size": 0, "judge_test_size": 2, "tiers": {}, "pool_tiers": {}}
REAL_SPLITS = tuple(s for s in SPLITS if not s.startswith("tiers/"))


def test_gsm8k_task_cuts_disjoint_splits_from_train_and_tests_on_the_test_split(tmp_path):
    out = prepare(tmp_path, prepare={"task": "gsm8k", **SMALL})
    frames = {s: load(out, s) for s in REAL_SPLITS}
    ids = [i for s in REAL_SPLITS if s != "test" for i in frames[s]["problem_id"]]
    assert len(ids) == len(set(ids)) == 18 and all(i.startswith("train-") for i in ids)
    assert frames["test"]["problem_id"].to_list() == ["test-000000", "test-000001"]
    eft = load(out, "eft_train")
    assert set(eft["origin"]) <= {"gold:wrong_result", "gold:wrong_answer"}
    # Deterministic: the same params write the same bytes.
    (tmp_path / "again").mkdir()
    again = prepare(tmp_path / "again", prepare={"task": "gsm8k", **SMALL})
    for s in REAL_SPLITS:
        assert (out / f"{s}.parquet").read_bytes() == (again / f"{s}.parquet").read_bytes(), s


def test_files_task_reads_your_jsonl_parquet_and_pairs(tmp_path):
    import json

    files = tmp_path / "files"
    files.mkdir()
    rows = [{"question": f"What is {a} + {a}?", "solution": f"{a}+{a} = <<{a}+{a}={2 * a}>>{2 * a}\n#### {2 * a}"}
            for a in range(1, 31)]
    (files / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:24]))
    pl.DataFrame(rows[24:]).write_parquet(files / "test.parquet")
    pair = {"problem": "What is 1 + 1?", "prefix_steps": [], "candidate_a": "Step 1: 1+1 = <<1+1=2>>2",
            "candidate_b": "Step 1: 1+1 = <<1+1=3>>3", "better": "A"}
    (files / "pairs.jsonl").write_text("".join(json.dumps(pair) + "\n" for _ in range(6)))
    columns = {"problem": "question", "solution": "solution", "steps": None, "answer": None, "id": None}
    out = prepare(tmp_path, prepare={"task": "files", "files_dir": str(files), "files_train": "train.jsonl",
                                     "files_test": "test.parquet", "files_eft": "pairs.jsonl",
                                     "files_columns": columns, **SMALL})
    assert load(out, "test")["problem"].to_list() == [r["question"] for r in rows[24:26]]
    assert set(load(out, "eft_train")["origin"]) == {"file:pairs.jsonl"}
    assert load(out, "ift_train")["gold_steps"][0][-1].endswith("The answer is \\boxed{" + load(out, "ift_train")["gold_answer"][0] + "}.")
    # Too few problems for the splits: one line naming the file and what was asked.
    params = write_params(tmp_path / "p2.yaml", smoke_params(prepare={
        "task": "files", "files_dir": str(files), "files_train": "train.jsonl", "files_test": "test.parquet",
        "files_eft": None, "files_columns": columns, **SMALL, "ift_train_size": 20}))
    res = run_stage("prepare", "--params", str(params), "--out", str(tmp_path / "o2"), "--report", str(tmp_path / "r2.json"))
    assert res.returncode != 0 and "train.jsonl: 24 problems, the splits ask for 32" in res.stderr
    assert not (tmp_path / "o2").exists()


def _files(tmp_path: Path, train: list[dict], test: list[dict], columns: dict | None = None, **more):
    """prepare on the files task with these train and test rows (JSONL): (return code, stderr, out, report)."""
    import json

    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    for name, rows in (("train.jsonl", train), ("test.jsonl", test)):
        (files / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    columns = columns or {"problem": "question", "solution": "solution", "steps": None, "answer": None, "id": None}
    params = write_params(tmp_path / "p.yaml", smoke_params(prepare={
        "task": "files", "files_dir": str(files), "files_train": "train.jsonl", "files_test": "test.jsonl",
        "files_eft": None, "files_columns": columns, **SMALL, **more}))
    out, report = tmp_path / "out", tmp_path / "r.json"
    res = run_stage("prepare", "--params", str(params), "--out", str(out), "--report", str(report))
    return res.returncode, res.stderr or res.stdout, out, report


def _row(a: int, **extra) -> dict:
    return {"question": f"What is {a} + {a}?", "solution": f"{a}+{a} = <<{a}+{a}={2 * a}>>{2 * a}\n#### {2 * a}", **extra}


def test_files_task_drops_repeats_and_test_problems_from_training_and_counts_them(tmp_path):
    """A train file with repeated problems and the test's problems in it: before, the same problem
    landed in two splits, and test problems were trained on (exit 0)."""
    import json

    train = [_row(a) for a in range(1, 25)] + [_row(3), _row(5), _row(7)]  # 3 repeats
    train += [dict(_row(100 + a), question=f"What is  {100 + a} +  {100 + a}?") for a in range(2)]  # the test's, respaced
    test = [_row(100 + a) for a in range(3)] + [_row(100)]  # a repeat within the test too
    code, err, out, report = _files(tmp_path, train, test)
    assert code == 0, err
    frames = {s: load(out, s) for s in REAL_SPLITS}
    problems = [" ".join(q.split()) for s in REAL_SPLITS for q in frames[s]["problem"]]
    assert len(problems) == len(set(problems))  # no problem in two splits, the test included
    assert json.loads(report.read_text())["dropped"] == {"test_repeats": 1, "train_repeats": 3, "train_in_test": 2}
    assert "WARNING dropped 1 test repeats, 3 train repeats, 2 train in test" in err


@pytest.mark.parametrize("make, columns, message", [
    # the answer column contradicts the solution's own `#### x`: it used to become the gold answer
    (lambda a: _row(a, answer=str(2 * a + 1)), {"answer": "answer"},
     r"train.jsonl: row 1: column 'solution': the answer column says '3', the solution's own answer is '2'"),
    # an answer column that no row has: it used to be ignored
    (_row, {"answer": "final"}, r"train.jsonl: row 1: column 'final' is missing \(prepare.files_columns.answer"),
    # a 1 MiB problem: prepare took it and own_eft later asked for ~1.1 TB
    (lambda a: _row(a, question="x" * (1 << 20)) if a == 2 else _row(a), {},
     r"train.jsonl: row 2: column 'question' is 1,048,576 characters, more than prepare.max_chars \(8,000\)"),
])
def test_files_task_refuses_what_it_cannot_trust_in_one_line_writing_nothing(tmp_path, make, columns, message):
    cols = {"problem": "question", "solution": "solution", "steps": None, "answer": None, "id": None, **columns}
    code, err, out, _ = _files(tmp_path, [make(a) for a in range(1, 25)], [_row(100 + a) for a in range(3)], cols)
    assert code != 0 and re.search(message, err), err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
