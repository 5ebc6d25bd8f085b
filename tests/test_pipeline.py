"""The whole pipeline run for real with `dvc repro` (smoke params) in a throwaway copy of the repo."""

import csv
import json
import subprocess

import polars as pl
import pytest

from conftest import make_repo_copy
from psrlm import arith
from psrlm.tables import EVAL_JUDGE, EVAL_SOLVE, read_table


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("pipe"))
    res = subprocess.run(["dvc", "repro"], cwd=repo, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return repo


def test_status_is_clean_and_a_second_repro_does_nothing(pipeline):
    status = subprocess.run(["dvc", "status"], cwd=pipeline, capture_output=True, text=True).stdout
    assert "up to date" in status
    again = subprocess.run(["dvc", "repro"], cwd=pipeline, capture_output=True, text=True).stdout
    assert "Running stage" not in again


def test_checkpoints_reload_and_m1_writes_steps(pipeline):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    m0 = AutoModelForCausalLM.from_pretrained(pipeline / "data/models/m0")
    m1 = AutoModelForCausalLM.from_pretrained(pipeline / "data/models/m1")
    tok = AutoTokenizer.from_pretrained(pipeline / "data/models/m1")
    assert tok.eos_token == "<|end|>" and tok.chat_template
    assert any(not torch.equal(a, b) for a, b in zip(m0.parameters(), m1.parameters()))
    solve = read_table(pipeline / "data/eval/m1/solve.parquet", EVAL_SOLVE).collect()
    first = [o.split("\n")[0] for o in solve["output"]]
    parsed = [arith.parse_step(line) for line in first]
    assert sum(p is not None and p.index == 1 for p in parsed) >= 0.75 * len(first), first[:5]


def test_reports(pipeline):
    report = json.loads((pipeline / "reports/eval/m1.json").read_text())
    for key in ("accuracy", "accuracy_a", "accuracy_b", "invalid"):
        assert key in report["judge"]
    assert 0 <= report["synthetic"]["accuracy"] <= 1 and report["synthetic"]["n"] == 32
    judge = read_table(pipeline / "data/eval/m1/judge.parquet", EVAL_JUDGE).collect()
    assert report["judge"]["invalid"] == judge["verdict"].null_count()
    assert not judge.filter(pl.col("verdict").is_null())["correct"].any()  # invalid is never right
    with (pipeline / "reports/sft/loss.tsv").open() as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f, delimiter="\t")]
    assert len(losses) >= 10 and losses[-1] < losses[0] / 2
    metrics = json.loads((pipeline / "reports/init_model.json").read_text())
    assert 10_000 < metrics["parameters"] < 500_000


def test_search_and_pairs_tables_and_metrics(pipeline):
    from psrlm.tables import PAIRS, SEARCH_JUDGMENTS, SEARCH_SOLUTIONS, SEARCH_STEPS

    steps = read_table(pipeline / "data/search/iter_1/steps.parquet", SEARCH_STEPS).collect()
    judgments = read_table(pipeline / "data/search/iter_1/judgments.parquet", SEARCH_JUDGMENTS).collect()
    sols = read_table(pipeline / "data/search/iter_1/solutions.parquet", SEARCH_SOLUTIONS).collect()
    pairs = read_table(pipeline / "data/pairs/iter_1.parquet", PAIRS).collect()
    assert sols.height == 8 and steps.height >= 8
    assert (sols["loops"] <= 6).all()
    report = json.loads((pipeline / "reports/search/1.json").read_text())
    for key in ("pairs", "pair_precision", "judge_accuracy_self", "position_consistency",
                "judge_calls_per_step", "invalid_verdicts", "rollbacks", "unfinished"):
        assert key in report, key
    assert report["pairs"] == pairs.height and report["judge_calls"] == judgments.height
    assert report["invalid_verdicts"] == judgments["verdict"].null_count()
    # every loop with k distinct candidates was judged k(k-1) times (both orders)
    per_loop = steps.group_by("problem_id", "loop").len().filter(pl.col("len") > 1)
    assert judgments.height == int((per_loop["len"] * (per_loop["len"] - 1)).sum())
