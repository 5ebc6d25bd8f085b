"""Bad input and faults, tried as a hostile user would: every case must fail with one line that
names the file, key or column and the problem, and must leave every earlier output as it was.

Params cases run the real stage's `main()` (params are checked before any table is read or any
model loads, so missing inputs never get a say); table and benchmark cases read real Parquet and
JSONL files; faults (SIGTERM, Ctrl-C, a dead parent, a full disk) run real processes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from conftest import ROOT, filled, run_stage, smoke_params, write_params
from psrlm import metrics, tables
from psrlm.benchmarks import load_benchmark
from psrlm.errors import PsrlmError
from psrlm.outputs import Outputs
from psrlm.task import PrepareParams
from stages_loader import load_stage

# Every stage's arguments, with inputs that do not exist (a params error must come first) and
# outputs under {o}, which the test fills beforehand and checks afterwards.
STAGE_ARGS = {
    "prepare": ["--out", "{o}/out", "--report", "{o}/report.json"],
    "init_model": ["--ift", "{i}", "--eft", "{i}", "--out", "{o}/out", "--report", "{o}/report.json"],
    "sft": ["--ift", "{i}", "--eft", "{i}", "--model", "{i}", "--out", "{o}/out", "--log", "{o}/log.tsv",
            "--report", "{o}/report.json"],
    "own_eft": ["--model", "{i}", "--problems", "{i}", "--out", "{o}/out", "--report", "{o}/report.json"],
    "judge_sft": ["--own", "{i}", "--ift", "{i}", "--eft", "{i}", "--model", "{i}", "--out", "{o}/out",
                  "--log", "{o}/log.tsv", "--report", "{o}/report.json"],
    "search": ["--iteration", "1", "--model", "{i}", "--pool", "{i}", "--out", "{o}/out"],
    "pairs": ["--search", "{i}", "--out", "{o}/out.parquet",
              "--report", "{o}/report.json"],
    "dpo": ["--pairs", "{i}", "--model", "{i}", "--out", "{o}/out", "--log", "{o}/log.tsv",
            "--report", "{o}/report.json"],
    "evaluate": ["--model", "{i}", "--test", "{i}", "--eft", "{i}", "--own-eft", "{i}", "--benchmarks", "{i}",
                 "--out", "{o}/out", "--report", "{o}/report.json"],
    "baseline": ["--ift", "{i}", "--eft", "{i}", "--model", "{i}", "--dpo", "{i}", "--out", "{o}/out",
                 "--log", "{o}/log.tsv", "--report", "{o}/report.json"],
    "report": ["--eval", "{i}", "--search", "{i}", "--dpo", "{i}", "--baseline", "{i}", "--out", "{o}/out"],
    "srlm": ["--iteration", "1", "--model", "{i}", "--pool", "{i}", "--out", "{o}/out", "--report", "{o}/report.json"],
    "comparison": ["--eval", "{i}", "--srlm-eval", "{i}", "--search", "{i}", "--srlm", "{i}", "--out", "{o}/out"],
}
_MODULES: dict = {}


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def earlier_outputs(folder: Path) -> dict[str, str]:
    """What a previous good run left: a file at every output path, a model folder at --out."""
    (folder / "out").mkdir(parents=True)
    (folder / "out" / "config.json").write_text('{"earlier": true}\n')
    for name in ("out.parquet", "report.json", "log.tsv"):
        (folder / name).write_text(f"earlier {name}\n")
    return snapshot(folder)


def run_main(stage: str, args: list[str], monkeypatch) -> str:
    """The stage's main() as `python stages/<stage>.py` runs it; its PsrlmError message."""
    if stage not in _MODULES:
        _MODULES[stage] = load_stage(stage)
    monkeypatch.setattr(sys, "argv", [f"stages/{stage}.py", *args])
    with pytest.raises(PsrlmError) as e:
        _MODULES[stage].main()
    return str(e.value)


def params_with(tmp_path: Path, edit) -> Path:
    raw = smoke_params()
    edit(raw)
    return write_params(tmp_path / "params.yaml", raw)


def setter(dotted: str, value):
    section, key = dotted.split(".")
    return lambda raw: raw[section].__setitem__(key, value)


# (stage, edit of the smoke params, what the one line must say)
PARAMS_CASES = [
    ("prepare", setter("prepare.test_size", -5), "prepare.test_size: must be >= 0, got -5"),
    ("prepare", setter("prepare.pool_sizes", [50, -1]), r"prepare.pool_sizes\[1\]: must be >= 1"),
    ("prepare", setter("prepare.pool_sizes", [0, 20]), r"prepare.pool_sizes\[0\]: must be >= 1, got 0"),
    ("search", setter("search.pool_limit", 0), r"search.pool_limit: must be >= 1, got 0"),
    ("srlm", setter("srlm.pool_limit", 0), r"srlm.pool_limit: must be >= 1, got 0"),
    ("prepare", setter("prepare.num_ops_min", 0), "prepare.num_ops_min: must be >= 1"),
    ("prepare", setter("prepare.muldiv_max", 1), "prepare.muldiv_max: must be >= 2"),
    ("prepare", setter("prepare.op_weights", {"^": 1.0}), "prepare.op_weights: must be one of"),
    ("prepare", setter("prepare.op_weights", {"+": -1.0}), r"prepare.op_weights.\+: must be >= 0"),
    ("prepare", setter("prepare.op_weights", {"+": 0.0}), "prepare.op_weights: needs a positive weight"),
    ("prepare", setter("prepare.corruption_weights", {"typo": 1.0}), "prepare.corruption_weights: must be one of"),
    ("prepare", setter("prepare.seed", -1), "prepare.seed: must be >= 0"),
    ("prepare", setter("prepare.both_wrong_share", 1.0), "prepare.both_wrong_share: must be >= 0 and < 1"),
    ("prepare", setter("prepare.both_wrong_results", -0.5), "prepare.both_wrong_results: must be >= 0 and < 1"),
    ("prepare", lambda r: r["prepare"].update(both_wrong_share=0.0, both_wrong_results=0.5),
     "prepare.both_wrong_results: a share of the both-wrong pairs, and prepare.both_wrong_share is 0"),
    ("prepare", lambda r: r["prepare"].update(task="gsm8k", tiers=None, pool_tiers=None, both_wrong_share=0.2),
     "prepare.both_wrong_share: two-wrong judge pairs are made from the synthetic task's corruptions"),
    ("prepare", lambda r: r["prepare"].update(start_min=r["prepare"]["start_max"] + 1),
     "prepare.start_min: must be <= start_max"),
    ("prepare", lambda r: r["prepare"].update(addsub_min=r["prepare"]["addsub_max"] + 1),
     "prepare.addsub_min: must be <= addsub_max"),
    ("prepare", setter("prepare.benchmark_limits", {"gsm8k": -3}), "prepare.benchmark_limits.gsm8k"),
    ("prepare", setter("prepare.eft_test_size", 2.5), "prepare.eft_test_size: expected an integer"),
    ("prepare", setter("prepare.ift_train_size", None), "prepare.ift_train_size: expected an integer"),
    ("init_model", setter("model.num_heads", 0), "model.num_heads: must be >= 1"),
    ("init_model", lambda r: r["model"].update(hidden_size=r["model"]["num_heads"] * 8 + 1),
     "model: hidden_size must divide by num_heads"),
    ("init_model", setter("model.vocab_size", 0), "model.vocab_size: must be >= 1"),
    ("init_model", setter("model.init_std", 0), "model.init_std: must be > 0"),
    ("sft", setter("sft.learning_rate", -0.001), "sft.learning_rate: must be > 0"),
    ("sft", setter("sft.batch_size", 0), "sft.batch_size: must be >= 1"),
    ("sft", setter("sft.eft_fraction", 1.0), "sft.eft_fraction: must be >= 0 and < 1"),
    ("sft", setter("sft.warmup_ratio", 1.5), "sft.warmup_ratio: must be >= 0 and < 1"),
    ("sft", setter("sft.epochs", 0), "sft.epochs: must be > 0"),
    ("sft", setter("sft.learning_rate", float("nan")), "sft.learning_rate: expected a finite number"),
    ("sft", setter("sft.learning_rate", float("inf")), "sft.learning_rate: expected a finite number"),
    ("sft", setter("sft.weight_decay", -0.1), "sft.weight_decay: must be >= 0"),
    ("sft", setter("sft.max_length", 0), "sft.max_length: must be >= 1"),
    ("own_eft", setter("own_eft.temperature", 0.0), "own_eft.temperature: must be > 0"),
    ("own_eft", setter("own_eft.top_p", 2), "own_eft.top_p: must be > 0 and <= 1"),
    ("own_eft", setter("own_eft.width", 1), "own_eft.width: must be >= 2"),
    ("own_eft", setter("own_eft.max_step_tokens", 0), "own_eft.max_step_tokens: must be >= 1"),
    ("judge_sft", setter("judge_sft.own_rows", -1), "judge_sft.own_rows: must be >= 0, got -1"),
    ("judge_sft", setter("judge_sft.replay_fraction", 1), "judge_sft.replay_fraction: must be >= 0 and < 1"),
    ("search", setter("search.temperature", -1.0), "search.temperature: must be >= 0"),
    ("search", setter("search.top_p", 2), "search.top_p: must be > 0 and <= 1"),
    ("search", setter("search.top_p", 0), "search.top_p: must be > 0 and <= 1"),
    ("search", setter("search.max_step_tokens", 0), "search.max_step_tokens: must be >= 1"),
    ("search", setter("search.width", 1), "search.width: must be >= 2"),
    ("search", setter("search.judge", "oracel"), "search.judge: must be one of self, oracle, random"),
    ("search", setter("search.max_loops", 0), "search.max_loops: must be >= 1"),
    ("search", setter("search.multiplicity_weight", -1), "search.multiplicity_weight: must be >= 0"),
    ("search", setter("search.both_orders", "yes"), "search.both_orders: expected bool"),
    ("search", setter("engine.hf_batch_size", 0), "engine.hf_batch_size: must be >= 1"),
    ("search", setter("engine.backend", "tgi"), "engine.backend: must be one of auto, hf, vllm"),
    ("search", setter("engine.vllm_gpu_memory_utilization", 1.5), "engine.vllm_gpu_memory_utilization"),
    ("search", setter("pipeline.seed", -1), "pipeline.seed: must be >= 0"),
    ("pairs", setter("pairs.min_chosen_multiplicity", 0), "pairs.min_chosen_multiplicity: must be >= 1"),
    ("pairs", setter("search.multiplicity_weight", -1), "search.multiplicity_weight: must be >= 0"),
    ("search", setter("search.shards", [1]), "search.shards: must be 0..N-1 in order"),
    ("search", setter("search.shards", []), r"search.shards: needs at least one shard"),
    ("evaluate", setter("tts.methods", ["self", "oracle", "self"]), "tts.methods: self listed twice"),
    ("dpo", setter("dpo.optim", "adamw_bnb_8bit"), "dpo.optim: adamw_bnb_8bit: You need to install `bitsandbytes`"),
    ("report", setter("pipeline.iterations", {"1": {"model": "m1", "next": "x2"}}),
     "pipeline.iterations.1: iteration 1 searches with m1 and trains m2"),
    ("prepare", setter("prepare.task", "numina"), "prepare.task: must be one of synthetic, gsm8k, files"),
    ("prepare", setter("prepare.task", "files"), "prepare.files_train: the files task needs a JSONL or Parquet file"),
    ("sft", setter("training.launcher", " "), "training.launcher: empty"),
    ("own_eft", setter("own_eft.labels", "votes"), "own_eft.labels: must be one of checker, rollouts"),
    ("dpo", setter("dpo.learning_rate", -1e-5), "dpo.learning_rate: must be > 0"),
    ("dpo", setter("dpo.batch_size", 0), "dpo.batch_size: must be >= 1"),
    ("dpo", setter("dpo.beta", 0), "dpo.beta: must be > 0"),
    ("dpo", setter("dpo.loss_weights", [1.0, 2.0]), "dpo: loss_weights needs one weight per loss_type"),
    ("dpo", setter("dpo.max_length", 0), "dpo.max_length: must be >= 1"),
    ("dpo", setter("dpo.loss_type", ["sigmoidd"]), r"dpo.loss_type\[0\]: must be one of sigmoid, hinge"),
    ("dpo", setter("dpo.optim", "adamw_bogus"), "dpo.optim: 'adamw_bogus' is not one of transformers' optimizer"),
    ("search", setter("prompts.solve", "solve_v9"), "prompts.solve: no template 'solve_v9' in prompts/"),
    ("evaluate", setter("prompts.judge", "../params"), r"prompts.judge: no template '\.\./params'"),
    ("evaluate", setter("evaluate.grade_workers", 0), "evaluate.grade_workers: must be >= 1"),
    ("evaluate", setter("evaluate.grade_seconds", 0), "evaluate.grade_seconds: must be > 0"),
    ("evaluate", setter("evaluate.grade_seconds", -1), "evaluate.grade_seconds: must be > 0"),
    ("evaluate", setter("evaluate.max_new_tokens_solve", 0), "evaluate.max_new_tokens_solve: must be >= 1"),
    ("evaluate", setter("evaluate.test_limit", -1), "evaluate.test_limit: must be >= 0, got -1"),
    ("evaluate", setter("engine.vllm_dtype", "fp8"), "engine.vllm_dtype: must be one of"),
    ("baseline", setter("dpo.learning_rate", 0), "dpo.learning_rate: must be > 0"),
    ("report", setter("pipeline.iterations", {"1": {"model": "m1", "next": "m2"}, "3": {"model": "m2", "next": "m3"}}),
     "pipeline.iterations: keys must be '1'..'2'"),
    ("report", setter("pipeline.iterations", {"1": {"model": "m1", "next": "m2"}, "2": {"model": "m3", "next": "m4"}}),
     "pipeline.iterations.2.model: must be iteration 1's next"),
    ("report", setter("pipeline.iterations", {"1": {"model": "m1", "next": "m1"}}), "a model name repeats"),
    ("report", setter("pipeline.iterations", {}), "pipeline.iterations: needs at least one iteration"),
    ("report", setter("pipeline.models_to_evaluate", ["m1", "m9"]), "pipeline.models_to_evaluate: unknown model 'm9'"),
    ("baseline", setter("pipeline.iterations", {"1": {"model": "m1"}}), "pipeline.iterations.1: needs exactly"),
    ("evaluate", setter("tts.width", 1), "tts.width: must be >= 2"),
    ("evaluate", setter("tts.temperature", -0.5), "tts.temperature: must be >= 0"),
    ("evaluate", setter("tts.methods", ["best"]), r"tts.methods\[0\]: must be one of self, oracle, majority"),
    ("evaluate", setter("tts.benchmark_limits", {"gsm8k": -1}), "tts.benchmark_limits.gsm8k"),
    ("evaluate", setter("tts.test_limit", -1), "tts.test_limit: must be >= 0, got -1"),
    ("evaluate", setter("prompts.score", "score_v9"), "prompts.score: no template 'score_v9' in prompts/"),
    ("srlm", setter("srlm.samples", 0), "srlm.samples: must be >= 1"),
    ("srlm", setter("srlm.top_p", 0), "srlm.top_p: must be > 0 and <= 1"),
    ("srlm", setter("srlm.max_judge_tokens", 0), "srlm.max_judge_tokens: must be >= 1"),
    ("srlm", setter("pipeline.seed", -1), "pipeline.seed: must be >= 0"),
    ("comparison", setter("pipeline.iterations", {}), "pipeline.iterations: needs at least one iteration"),
    ("search", lambda r: (r["search"].update(judge="random"), r["pairs"].update(chosen_said_right=True)),
     r"search.judge: random writes no 'A: \.\.\. Right.' line, so pairs.chosen_said_right: true would keep no pair"),
]


@pytest.mark.parametrize("stage, edit, message", PARAMS_CASES,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(PARAMS_CASES)])
def test_bad_params_fail_in_one_line_before_anything_runs(tmp_path, monkeypatch, stage, edit, message):
    params = params_with(tmp_path, edit)
    out = tmp_path / "o"
    before = earlier_outputs(out)
    args = [a.format(o=out, i=tmp_path / "missing") for a in STAGE_ARGS[stage]]
    said = run_main(stage, ["--params", str(params), *args], monkeypatch)
    assert "\n" not in said
    assert re.search(message, said), said
    assert snapshot(out) == before


@pytest.mark.parametrize("text, message", [
    ("prepare: {seed: 1\n", r"not valid YAML \(line \d+, column \d+:"),
    (b"prepare:\n  seed: \xff\n", "not UTF-8 text"),
    ("- a list\n- not sections\n", "expected a mapping of sections"),
    (None, "file not found"),
], ids=["yaml-syntax", "not-utf8", "not-a-mapping", "missing"])
def test_an_unreadable_params_file_is_one_line_naming_it(tmp_path, monkeypatch, text, message):
    path = tmp_path / "params.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    out = tmp_path / "o"
    before = earlier_outputs(out)
    said = run_main("prepare", ["--params", str(path), *[a.format(o=out) for a in STAGE_ARGS["prepare"]]],
                    monkeypatch)
    assert said.startswith(str(path)) and "\n" not in said
    assert re.search(message, said), said
    assert snapshot(out) == before


def test_a_stage_run_for_real_prints_one_line_and_exits_nonzero(tmp_path):
    params = params_with(tmp_path, setter("search.top_p", 2))
    out = tmp_path / "o"
    before = earlier_outputs(out)
    args = [a.format(o=out, i=tmp_path / "missing") for a in STAGE_ARGS["search"]]
    res = run_stage("search", "--params", str(params), *args)
    assert res.returncode == 1
    assert res.stderr.strip() == "search: error: search.top_p: must be > 0 and <= 1, got 2.0"
    assert snapshot(out) == before


# ---- tables: values against the declared rules, and files that are not Parquet at all ----

def judgments() -> pl.DataFrame:
    return pl.DataFrame({
        "problem_id": ["p1", "p1"], "iteration": [1, 1], "loop": [0, 0], "step_idx": [1, 1],
        "candidate_a": [0, 1], "candidate_b": [1, 0], "judgment": ["... [[A]]", "... [[B]]"],
        "verdict": ["A", "B"], "verdict_status": ["ok", "ok"]}, schema=tables.SEARCH_JUDGMENTS.polars_schema())


def steps() -> pl.DataFrame:
    return pl.DataFrame({
        "problem_id": ["p1", "p1"], "iteration": [1, 1], "loop": [0, 0], "step_idx": [1, 1],
        "candidate_idx": [0, 1], "prompt": ["q", "q"], "prefix_steps": [[], []],
        "text": ["Step 1: 1 + 1 = 2.", "Step 1: 1 + 1 = 3."], "multiplicity": [4, 2], "score": [5, 2],
        "tie_rank": [0, 1], "chosen": [True, False], "rejected": [False, True], "is_final": [False, False],
        "kept": [True, False], "truth": ["correct", "wrong_result"], "correct": [True, False]},
        schema=tables.SEARCH_STEPS.polars_schema())


def eft() -> pl.DataFrame:
    return pl.DataFrame({
        "pair_id": ["e1"], "problem_id": ["p1"], "problem": ["q"], "step_idx": [1], "prefix_steps": [[]],
        "candidate_a": ["Step 1: 1 + 1 = 2."], "candidate_b": ["Step 1: 1 + 1 = 3."], "a_correct": [True],
        "b_correct": [False], "better": ["A"], "origin": ["synthetic:wrong_result"], "judgment": ["A is right. [[A]]"]},
        schema=tables.EFT.polars_schema())


def solutions() -> pl.DataFrame:
    return pl.DataFrame({
        "problem_id": ["p1"], "iteration": [1], "steps": [["Step 1: 1 + 1 = 2."]], "finished": [False],
        "loops": [1], "rollbacks": [0], "answer": [None], "gold_answer": ["2"], "correct": [False]},
        schema=tables.SEARCH_SOLUTIONS.polars_schema())


def eval_judge() -> pl.DataFrame:
    return pl.DataFrame({"pair_id": ["e1", "e2"], "better": ["A", "B"], "output": ["[[A]]", "no idea"],
                         "verdict": ["A", None], "verdict_status": ["ok", "no_verdict"], "correct": [True, False]},
                        schema=tables.EVAL_JUDGE.polars_schema())


TABLE_CASES = [
    (judgments, tables.SEARCH_JUDGMENTS, lambda d: d.with_columns(verdict=pl.lit("C")),
     "column 'verdict' must be one of A, B; 2 row"),
    (judgments, tables.SEARCH_JUDGMENTS, lambda d: d.with_columns(verdict_status=pl.lit("maybe")),
     "column 'verdict_status' must be one of ok, no_verdict, both_verdicts"),
    (judgments, tables.SEARCH_JUDGMENTS, lambda d: d.with_columns(verdict=pl.lit(None, pl.String)),
     "column 'verdict' must be null exactly when verdict_status is not ok"),
    (judgments, tables.SEARCH_JUDGMENTS, lambda d: d.with_columns(candidate_b=pl.col("candidate_a")),
     "column 'candidate_b' must be not candidate_a"),
    (judgments, tables.SEARCH_JUDGMENTS, lambda d: d.with_columns(loop=pl.lit(-1, pl.Int64)),
     "column 'loop' must be >= 0"),
    (steps, tables.SEARCH_STEPS, lambda d: d.with_columns(multiplicity=pl.lit(0, pl.Int64)),
     "column 'multiplicity' must be >= 1"),
    (steps, tables.SEARCH_STEPS, lambda d: d.with_columns(chosen=pl.lit(True), rejected=pl.lit(True)),
     "column 'rejected' must be never true with chosen"),
    (steps, tables.SEARCH_STEPS, lambda d: d.with_columns(kept=pl.lit(True)), "column 'kept' must be true only when chosen"),
    (steps, tables.SEARCH_STEPS, lambda d: d.with_columns(correct=pl.lit(True)),
     "column 'correct' must be true exactly when truth is 'correct'; 1 row\\(s\\) are not \\(first: row 1\\)"),
    (steps, tables.SEARCH_STEPS, lambda d: d.with_columns(score=pl.lit(-2, pl.Int64)), "column 'score' must be >= 0"),
    (steps, tables.SEARCH_STEPS, lambda d: d.with_columns(step_idx=pl.lit(0, pl.Int64)), "column 'step_idx' must be >= 1"),
    (steps, tables.SEARCH_STEPS, lambda d: d.with_columns(text=pl.lit(None, pl.String)),
     "column 'text' has 2 null value"),
    (steps, tables.SEARCH_STEPS, lambda d: d.with_columns(candidate_idx=pl.lit(0, pl.Int64)),
     "key column\\(s\\) 'problem_id, iteration, loop, candidate_idx' have 2 duplicated"),
    (steps, tables.SEARCH_STEPS, lambda d: d.drop("is_final"), "column 'is_final' is missing"),
    (steps, tables.SEARCH_STEPS, lambda d: d.with_columns(multiplicity=pl.col("multiplicity").cast(pl.Float64)),
     "column 'multiplicity' has dtype Float64, expected Int64"),
    (eft, tables.EFT, lambda d: d.with_columns(better=pl.lit("B")), "column 'better' must be the right candidate's letter"),
    (eft, tables.EFT, lambda d: d.with_columns(b_correct=pl.lit(True)), "column 'b_correct' must be false where a_correct is true"),
    (eft, tables.EFT, lambda d: d.with_columns(better=pl.lit("a")), "column 'better' must be one of A, B"),
    (eft, tables.EFT, lambda d: d.with_columns(judgment=pl.lit("A is right. [[B]]")),
     "column 'judgment' must be ends in the verdict"),
    (solutions, tables.SEARCH_SOLUTIONS, lambda d: d.with_columns(rollbacks=pl.lit(5, pl.Int64)),
     "column 'rollbacks' must be between 0 and loops"),
    (eval_judge, tables.EVAL_JUDGE, lambda d: d.with_columns(correct=pl.lit(True)),
     "column 'correct' must be true exactly when verdict equals better"),
]


@pytest.mark.parametrize("make, schema, corrupt, message", TABLE_CASES,
                         ids=[f"{i}-{c[1].name}" for i, c in enumerate(TABLE_CASES)])
def test_a_table_that_breaks_its_rules_is_named_with_column_and_row(tmp_path, make, schema, corrupt, message):
    good = tmp_path / "good.parquet"
    make().write_parquet(good)
    tables.read_table(good, schema)  # the unbroken frame passes: the rule is what fails below
    bad = tmp_path / "bad.parquet"
    corrupt(make()).write_parquet(bad)
    with pytest.raises(tables.TableError) as e:
        tables.read_table(bad, schema).collect()
    said = str(e.value)
    assert said.startswith(str(bad)) and "\n" not in said
    assert re.search(message, said), said


def test_write_table_refuses_a_frame_that_breaks_a_rule_and_writes_nothing(tmp_path):
    path = tmp_path / "j.parquet"
    with pytest.raises(tables.TableError, match="column 'verdict' must be one of A, B"):
        tables.write_table(judgments().with_columns(verdict=pl.lit("C")), path, tables.SEARCH_JUDGMENTS)
    assert list(tmp_path.iterdir()) == []


def _corrupt_pages(path: Path) -> None:
    """Zero the middle of the file: the footer (schema) still reads, the pages do not."""
    data = bytearray(path.read_bytes())
    for k in range(64, len(data) - 4096):
        data[k] = 0
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a readable Parquet file"),
    (lambda p: p.write_text("problem_id,loop\np1,0\n"), "not a readable Parquet file"),
    (lambda p: p.write_bytes(b""), "not a readable Parquet file"),
    (_corrupt_pages, "not a readable Parquet file"),
    (lambda p: p.unlink(), "file not found"),
], ids=["truncated", "csv", "empty", "corrupt-pages", "missing"])
def test_a_damaged_parquet_file_is_one_line(tmp_path, damage, message):
    path = tmp_path / "steps.parquet"
    big = pl.concat([steps().with_columns(problem_id=pl.lit(f"p{i}")) for i in range(3000)])
    big.write_parquet(path, compression="uncompressed")
    damage(path)
    with pytest.raises(tables.TableError) as e:
        tables.read_table(path, tables.SEARCH_STEPS).collect()
    assert str(e.value).startswith(str(path)) and message in str(e.value) and "\n" not in str(e.value)


def test_a_bad_table_stops_the_stage_and_leaves_its_outputs(tmp_path, monkeypatch):
    (tmp_path / "in/shard_0").mkdir(parents=True)
    steps().write_parquet(tmp_path / "in/shard_0/steps.parquet")
    judgments().with_columns(verdict=pl.lit("C")).write_parquet(tmp_path / "in/shard_0/judgments.parquet")
    solutions().write_parquet(tmp_path / "in/shard_0/solutions.parquet")
    out = tmp_path / "o"
    before = earlier_outputs(out)
    said = run_main("pairs", ["--params", str(write_params(tmp_path / "params.yaml", smoke_params())),
                              "--search", str(tmp_path / "in"),
                              "--out", str(out / "out.parquet"), "--report", str(out / "report.json")],
                    monkeypatch)
    assert "shard_0/judgments.parquet: column 'verdict' must be one of A, B" in said
    # A shard the params name but the search folder lacks is an error naming it, not a smaller merge.
    said = run_main("pairs", ["--params", str(write_params(tmp_path / "params.yaml", smoke_params(search={"shards": [0, 1]}))),
                              "--search", str(tmp_path / "in"),
                              "--out", str(out / "out.parquet"), "--report", str(out / "report.json")],
                    monkeypatch)
    assert "shard_1/steps.parquet: file not found" in said
    # The said-right filter on judgments without a Right/Wrong line (the oracle's, the random judge's)
    # would keep no pair at all: an error naming the file, the column and the key, not an empty table.
    judgments().write_parquet(tmp_path / "in/shard_0/judgments.parquet")
    said = run_main("pairs", ["--params", str(write_params(tmp_path / "params.yaml",
                                                             smoke_params(pairs={"chosen_said_right": True}))),
                              "--search", str(tmp_path / "in"),
                              "--out", str(out / "out.parquet"), "--report", str(out / "report.json")],
                    monkeypatch)
    assert ("shard_*/judgments.parquet: column 'judgment' has no 'A: ... Right.' or 'Wrong.' line in any of its "
            "2 judgments" in said and "pairs.chosen_said_right" in said)
    assert snapshot(out) == before


# ---- benchmark files ----

BENCH_CASES = [
    (b"", "no records"),
    (b"\n\n", "no records"),
    (b'{"question": "1+1?", "answer": "#### 2"}\n\xff\xfe\n', r":2: not UTF-8"),
    (b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b', "answer": "#### 2"}\n', r":1: JSON nested too deep"),
    (b'{"question": "1+1?", "answer": "#### 2"\n', r":1: broken JSON line"),
    (b'["question", "answer"]\n', r":1: expected a JSON object"),
    (b'{"answer": "#### 2"}\n', r":1: field 'question' is missing or empty"),
    (b'{"question": 12, "answer": "#### 2"}\n', r":1: field 'question' must be text, got int"),
    (b'{"question": "1+1?"}\n', r":1: field 'answer' is missing"),
]


@pytest.mark.parametrize("content, message", BENCH_CASES, ids=[f"gsm8k-{i}" for i in range(len(BENCH_CASES))])
def test_a_bad_benchmark_file_names_file_and_line(tmp_path, content, message):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k/test.jsonl").write_bytes(content)
    with pytest.raises(PsrlmError) as e:
        load_benchmark(tmp_path, "gsm8k", None)
    said = str(e.value)
    assert said.startswith(str(tmp_path / "gsm8k/test.jsonl")) and "\n" not in said
    assert re.search(message, said), said


@pytest.mark.parametrize("answer, message", [
    ("NaN", "nan is not an answer"), ("true", "True is not an answer"), ('{"a": 1}', "is not an answer"),
    ("[1, NaN]", "is not an answer"),
], ids=["nan", "bool", "object", "list-with-nan"])
def test_a_gold_answer_that_is_no_answer_is_an_error_not_its_repr(tmp_path, answer, message):
    (tmp_path / "aime24").mkdir()
    (tmp_path / "aime24/test.jsonl").write_text(f'{{"id": 1, "problem": "?", "answer": {answer}}}\n')
    with pytest.raises(PsrlmError, match=f"test.jsonl:1: field 'answer': .*{message}"):
        load_benchmark(tmp_path, "aime24", None)


def test_numbers_and_lists_stay_answers(tmp_path):
    (tmp_path / "aime24").mkdir()
    (tmp_path / "aime24/test.jsonl").write_text('{"id": 1, "problem": "?", "answer": 204}\n'
                                                '{"id": "b", "problem": "?", "answer": [1, "x"]}\n')
    assert load_benchmark(tmp_path, "aime24", None)["gold_answer"].to_list() == ["204", "1, x"]


def test_an_empty_benchmark_stops_prepare_before_it_writes(tmp_path, monkeypatch):
    bench = tmp_path / "bench"
    shutil.copytree(ROOT / "../shared/benchmarks", bench)
    (bench / "amc23/test.jsonl").write_text("")
    params = params_with(tmp_path, setter("prepare.benchmarks_dir", str(bench)))
    out = tmp_path / "o"
    before = earlier_outputs(out)
    said = run_main("prepare", ["--params", str(params), "--out", str(out / "out"),
                                "--report", str(out / "report.json")], monkeypatch)
    assert said == f"{bench / 'amc23/test.jsonl'}: no records (an empty benchmark would silently drop out of every table)"
    assert snapshot(out) == before


# ---- nothing partial, nothing lost: outputs move into place only when the stage succeeds ----

def test_an_error_inside_outputs_keeps_the_earlier_outputs_and_no_temporary(tmp_path):
    before = earlier_outputs(tmp_path)
    with pytest.raises(RuntimeError):
        with Outputs() as o:
            o.json(tmp_path / "report.json", {"new": 1})
            (o.path(tmp_path / "out") / "config.json").parent.mkdir()
            raise RuntimeError("training diverged")
    assert snapshot(tmp_path) == before and not list(tmp_path.glob(".*"))


def test_a_full_disk_keeps_the_earlier_report_whole(tmp_path, monkeypatch):
    before = earlier_outputs(tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        with Outputs() as o:
            o.json(tmp_path / "report.json", {"new": 1})
    assert snapshot(tmp_path) == before and not list(tmp_path.glob(".*"))


def test_success_replaces_every_output_at_once_and_null_is_not_measured(tmp_path):
    earlier_outputs(tmp_path)
    with Outputs() as o:
        o.json(tmp_path / "report.json", {"accuracy": float("nan"), "n": 0})
        staged = o.path(tmp_path / "out")
        staged.mkdir()
        (staged / "model.bin").write_bytes(b"new")
        assert (tmp_path / "out/config.json").exists()  # the earlier model stays until the end
    assert json.loads((tmp_path / "report.json").read_text()) == {"accuracy": None, "n": 0}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.bin"]
    assert not list(tmp_path.glob(".*"))


SLOW_STAGE = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from psrlm.errors import run
from psrlm.outputs import Outputs
from psrlm.task import PrepareParams

def main():
    with Outputs() as o:
        o.text(Path({out!r}) / "report.json", "half")
        Path({out!r}, "started").touch()
        time.sleep(60)

run(main, "slow")
"""


def _start(tmp_path: Path, out: Path, parent: bool = False) -> subprocess.Popen:
    code = SLOW_STAGE.format(root=str(ROOT), out=str(out))
    if parent:  # a stand-in for `dvc`: it starts the stage and is then killed with SIGKILL
        code = (f"import subprocess, sys, time\np = subprocess.Popen([sys.executable, '-c', {code!r}])\n"
                f"print(p.pid, flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    for _ in range(300):
        if (out / "started").exists():
            break
        time.sleep(0.1)
    assert (out / "started").exists(), "the stage never started"
    (out / "started").unlink()
    return proc


def _gone(pid: int, seconds: float = 10) -> bool:
    for _ in range(int(seconds * 10)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_stopped_stage_leaves_the_earlier_outputs_and_no_temporary(tmp_path, sig):
    out = tmp_path / "o"
    before = earlier_outputs(out)
    proc = _start(tmp_path, out)
    proc.send_signal(sig)
    assert proc.wait(timeout=20) != 0
    assert snapshot(out) == before and not list(out.glob(".*"))


def test_a_stage_stops_when_the_dvc_that_started_it_dies(tmp_path):
    out = tmp_path / "o"
    before = earlier_outputs(out)
    parent = _start(tmp_path, out, parent=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=10)
    assert _gone(child), "the stage outlived its parent"
    assert snapshot(out) == before and not list(out.glob(".*"))


# ---- empty sets are not measured, and the report writes all or nothing ----

def test_an_empty_evaluation_is_not_measured_never_zero():
    empty_solve = pl.DataFrame(schema=tables.EVAL_SOLVE.polars_schema())
    empty_judge = pl.DataFrame(schema=tables.EVAL_JUDGE.polars_schema())
    m = metrics.solve_by_tier(empty_solve) | {"judge": metrics.step_judge(empty_judge)}
    assert m["synthetic"]["accuracy"] is None and m["synthetic"]["steps_right_accuracy"] is None
    assert m["judge"]["accuracy"] is None and m["judge"]["accuracy_a"] is None
    assert metrics.step_judge(eval_judge())["accuracy"] == 0.5


def test_every_metrics_file_is_checked_where_written_and_where_read(tmp_path):
    """A renamed or missing key fails in one line naming the file and the key, for every report."""
    for report in (metrics.SFT, metrics.DPO, metrics.BASELINE, metrics.SEARCH, metrics.SRLM, metrics.EVAL,
                   metrics.EVAL_SCORE):
        path = tmp_path / "r.json"
        path.write_text(json.dumps(filled(report)))
        assert report.load(path) == filled(report)
        last = report.keys[-1].split(".")
        broken = filled(report)
        node = broken
        for part in last[:-1]:
            node = node[part]
        node["renamed"] = node.pop(last[-1])
        path.write_text(json.dumps(broken))
        with pytest.raises(PsrlmError) as e:
            report.load(path)
        assert str(e.value).startswith(f"{path}: missing key '{report.keys[-1]}'") and "\n" not in str(e.value)
        with pytest.raises(PsrlmError, match=f"out.json: missing key '{report.keys[-1]}'"):
            report.check(broken, "out.json")


def test_the_report_checks_every_metrics_file_before_it_writes(tmp_path, monkeypatch):
    params = write_params(tmp_path / "params.yaml", smoke_params())
    reports = tmp_path / "reports"
    for m in smoke_params()["pipeline"]["models_to_evaluate"]:
        (reports / "eval").mkdir(parents=True, exist_ok=True)
        (reports / "eval" / f"{m}.json").write_text(json.dumps(filled(metrics.EVAL)))
    (reports / "search").mkdir()
    (reports / "search" / "1.json").write_text("{}")
    out = tmp_path / "o"
    before = earlier_outputs(out)
    said = run_main("report", ["--params", str(params), "--eval", str(reports / "eval"),
                               "--search", str(reports / "search"), "--dpo", str(reports / "dpo"),
                               "--baseline", str(reports / "baseline.json"), "--out", str(out / "out")],
                    monkeypatch)
    assert said.startswith(f"{reports / 'search' / '1.json'}: missing key 'prompts'") and "\n" not in said
    assert snapshot(out) == before


def with_recipe(path: Path) -> dict:
    """params.yaml with a recipe's `-S key=value` lines applied, each value read as YAML (as
    `dvc exp run -S` does); a key params.yaml does not have is an error here."""
    import shlex

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    args = shlex.split("\n".join(x for x in path.read_text().splitlines() if not x.startswith("#")))
    assert args[::2] == ["-S"] * (len(args) // 2) and len(args) % 2 == 0, path
    for arg in args[1::2]:
        dotted, value = arg.split("=", 1)
        section, key = dotted.split(".", 1)
        assert key in params[section], f"{path.name}: {dotted} is not a params.yaml key"
        params[section][key] = yaml.safe_load(value)
    return params


def test_the_params_the_project_runs_with_pass_every_check(tmp_path):
    """The repository's params and the smoke params load in every section: the checks above reject
    bad values, not the values the project runs with."""
    from psrlm.engine import EngineParams
    from psrlm.pairs import PairsParams
    from psrlm.params import PipelineParams, PromptsParams, TrainingParams, load_section
    from psrlm.search import SearchParams
    from psrlm.sft import SftParams
    from psrlm.tts import TtsParams

    sections = {"pipeline": PipelineParams, "prompts": PromptsParams, "engine": EngineParams, "training": TrainingParams,
                "search": SearchParams, "pairs": PairsParams, "sft": SftParams,
                "prepare": PrepareParams, "model": load_stage("init_model").ModelParams,
                "own_eft": load_stage("own_eft").OwnEftParams, "judge_sft": load_stage("judge_sft").JudgeSftParams,
                "evaluate": load_stage("evaluate").EvaluateParams, "dpo": load_stage("dpo").DpoParams,
                "tts": TtsParams, "srlm": load_stage("srlm").SrlmParams}
    recipes = sorted((ROOT / "configs").glob("*.args"))
    assert len(recipes) == 2  # the GPU recipes (7B, 1.5B): every key they set exists and is valid
    for params in (ROOT / "params.yaml", write_params(tmp_path / "p.yaml", smoke_params()),
                   *(write_params(tmp_path / f"{r.stem}.yaml", with_recipe(r)) for r in recipes)):
        assert set(yaml.safe_load(Path(params).read_text())) == set(sections)
        for name, cls in sections.items():
            load_section(params, name, cls)


def test_an_output_the_stage_never_wrote_moves_nothing_and_leaves_no_temporary(tmp_path):
    before = earlier_outputs(tmp_path)
    with pytest.raises(FileNotFoundError, match="log.tsv: the stage never wrote this output"):
        with Outputs() as o:
            o.json(tmp_path / "report.json", {"new": 1})
            o.path(tmp_path / "log.tsv")
    assert snapshot(tmp_path) == before and not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("report, message", [
    (None, "report not found"),
    ('{"steps": 10}', "missing key 'train_loss'"),
    (json.dumps(filled(metrics.SFT, tokens="many")), "`tokens` must be a positive integer, got 'many'"),
    (json.dumps(filled(metrics.SFT, tokens=0)), "`tokens` must be a positive integer, got 0"),
    ("not json", "not valid JSON"),
])
def test_sft_matching_another_runs_tokens_needs_its_report(tmp_path, monkeypatch, report, message):
    """srlm_sft trains on as many tokens as sft (--tokens-of its report): a report that is missing,
    unreadable or without a positive `tokens` fails in one line naming it, before any table is read."""
    path = tmp_path / "sft.json"
    if report is not None:
        path.write_text(report)
    out = tmp_path / "o"
    before = earlier_outputs(out)
    args = [a.format(o=out, i=tmp_path / "missing") for a in STAGE_ARGS["sft"]]
    said = run_main("sft", ["--params", str(write_params(tmp_path / "params.yaml", smoke_params())), *args,
                            "--tokens-of", str(path)], monkeypatch)
    assert "\n" not in said and str(path) in said and message in said, said
    assert snapshot(out) == before


def test_a_full_disk_while_polars_writes_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """Polars reports a full disk as a ComputeError: it used to escape as a traceback."""
    before = earlier_outputs(tmp_path)

    def full(self, *a, **kw):
        raise pl.exceptions.ComputeError("failed to write: No space left on device (os error 28)\nmore")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    frame = pl.DataFrame({"pair_id": ["p"]})
    schema = tables.Schema(name="t", columns={"pair_id": pl.String()}, key=("pair_id",))
    with pytest.raises(PsrlmError) as e:
        with Outputs() as o:
            tables.write_tables([(frame, tmp_path / "t.parquet", schema)], o)
    assert str(e.value) == f"{tmp_path / 't.parquet'}: cannot write the table (failed to write: No space left on device (os error 28))"
    assert "\n" not in str(e.value)
    assert snapshot(tmp_path) == before and not list(tmp_path.glob(".*"))

