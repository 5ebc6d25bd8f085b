"""The whole pipeline run for real with `dvc repro` (smoke params) in a throwaway copy of the repo."""

import csv
import json
import re
import subprocess

import polars as pl
import pytest

from conftest import BENCHMARKS, smoke_params
from psrlm import arith
from psrlm.tables import EVAL_JUDGE, EVAL_SOLVE, PAIRS, read_table


# The tests that run `dvc` in the shared smoke DAG run on one worker, one at a time (pyproject.toml's
# --dist loadgroup): `dvc` takes the repository's lock.
SHARED_DVC = pytest.mark.xdist_group("smoke-dag-dvc")


@SHARED_DVC
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
    # The smoke model is a minute old: its first lines have the step shape, not always right numbers.
    assert sum(re.fullmatch(r"Step 1: [^\n]* = \d+\.", line) is not None for line in first) >= 0.75 * len(first), first[:5]


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

    steps = read_table(pipeline / "data/search/iter_1/shard_0/steps.parquet", SEARCH_STEPS).collect()
    judgments = read_table(pipeline / "data/search/iter_1/shard_0/judgments.parquet", SEARCH_JUDGMENTS).collect()
    sols = read_table(pipeline / "data/search/iter_1/shard_0/solutions.parquet", SEARCH_SOLUTIONS).collect()
    pairs = read_table(pipeline / "data/pairs/iter_1.parquet", PAIRS).collect()
    assert sols.height == 8 and steps.height >= 8
    assert (sols["loops"] <= 6).all()
    report = json.loads((pipeline / "reports/search/1.json").read_text())
    for key in ("pairs", "pair_precision", "judge_accuracy_self", "position_consistency",
                "judge_calls_per_step", "invalid_verdicts", "rollbacks", "unfinished"):
        assert key in report, key
    assert report["pairs"] == pairs.height and report["judge_calls"] == judgments.height
    assert report["invalid_verdicts"] == judgments["verdict"].null_count()
    # every loop with k distinct candidates was judged k(k-1) times in both orders, else k(k-1)/2
    per_loop = steps.group_by("problem_id", "loop").len().filter(pl.col("len") > 1)
    orders = 2 if smoke_params()["search"]["both_orders"] else 1
    assert judgments.height == int((per_loop["len"] * (per_loop["len"] - 1)).sum()) * orders // 2


def test_evaluate_runs_test_time_scaling_with_its_cost(pipeline):
    from psrlm.tables import EVAL_TTS

    limit = smoke_params()["tts"]["test_limit"]
    for report_path, table in (("reports/eval/m1.json", "data/eval/m1/tts.parquet"),
                               ("reports/eval_srlm/m1.json", "data/eval_srlm/m1/tts.parquet")):
        report = json.loads((pipeline / report_path).read_text())["tts"]
        tts = read_table(pipeline / table, EVAL_TTS).collect()
        synthetic = tts.filter(pl.col("source") == "synthetic")
        assert report["n"] == limit and synthetic.height == 4 * limit  # greedy, self, oracle, majority
        for method in ("greedy", "self", "oracle", "majority"):
            rows = synthetic.filter(pl.col("method") == method)
            assert report[method] == round(rows["correct"].mean(), 4), (report_path, method)
        # Sampling w solutions costs more tokens than one greedy solution; the oracle's verdicts cost none.
        cost = report["cost"]
        assert cost["majority"]["generated_tokens"] > cost["greedy"]["generated_tokens"] > 0
        assert cost["greedy"]["judge_calls"] == 0 and cost["majority"]["judge_calls"] == 0
        # Benchmarks: self and majority only (no step checker), graded by equivalence.
        bench = tts.filter(pl.col("source") == "gsm8k")
        assert set(bench["method"]) == {"self", "majority"} and bench.height == 4
        assert report["benchmarks"]["gsm8k"]["n"] == 2
    # The SRLM model's `self` is the best of w by its own score: w judge calls per problem.
    srlm = json.loads((pipeline / "reports/eval_srlm/m1.json").read_text())
    assert srlm["tts"]["cost"]["self"]["judge_calls"] == smoke_params()["tts"]["width"]
    assert srlm["judge"]["kind"] == "score"


def test_srlm_branch_scores_its_own_solutions_and_trains_on_best_vs_worst(pipeline):
    from psrlm import outcome
    from psrlm.tables import OUTCOME_SAMPLES

    n = smoke_params()["srlm"]["samples"]
    samples = read_table(pipeline / "data/srlm/iter_1/samples.parquet", OUTCOME_SAMPLES).collect()
    pairs = read_table(pipeline / "data/srlm/iter_1/pairs.parquet", PAIRS).collect()
    assert samples.height == smoke_params()["srlm"]["pool_limit"] * n
    # Every score is read back from its judgment, and an unreadable one is never a score.
    for r in samples.iter_rows(named=True):
        assert (r["score"], r["score_status"]) == outcome.parse_score(r["judgment"])
    report = json.loads((pipeline / "reports/srlm/1.json").read_text())
    assert report["pairs"] == pairs.height and report["invalid_scores"] == samples["score"].null_count()
    for key in ("score_accuracy", "judge_accuracy_self", "pair_precision", "sample_accuracy"):
        assert key in report, key
    # Each pair is the best and the worst valid score of one prompt's samples.
    for r in pairs.iter_rows(named=True):
        mine = samples.filter((pl.col("problem_id") == r["problem_id"]) & pl.col("score").is_not_null())
        assert (r["chosen_score"], r["rejected_score"]) == (mine["score"].max(), mine["score"].min())
        assert r["chosen_score"] > r["rejected_score"] and r["step_idx"] == 1
    # Its own M1 (score EFT, not step pairs), then one DPO per iteration, then the same evaluation.
    sft = json.loads((pipeline / "reports/srlm_sft/metrics.json").read_text())
    assert sft["eft_examples"] > 0
    for i in (1, 2):
        assert json.loads((pipeline / f"reports/srlm_dpo/{i}.json").read_text())["pairs"] >= 0
    assert (pipeline / "data/models/srlm_m3/model.safetensors").is_file()
    evals = {m: json.loads((pipeline / f"reports/eval_srlm/{m}.json").read_text()) for m in ("m1", "m2", "m3")}
    assert all(e["judge"]["n"] == smoke_params()["evaluate"]["eft_limit"] for e in evals.values())


def test_comparison_reports_both_tables(pipeline):
    text = (pipeline / "reports/comparison/comparison.md").read_text()
    assert "PSRLM" in text and "SRLM" in text and "(paper)" in text and "Table 5" in text
    with (pipeline / "reports/comparison/methods.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["model"] for r in rows] == ["m1", "m2", "m3"]
    m1 = json.loads((pipeline / "reports/eval_srlm/m1.json").read_text())
    assert float(rows[0]["srlm_accuracy"]) == m1["synthetic"]["accuracy"]
    with (pipeline / "reports/comparison/tts.tsv").open() as f:
        tts = list(csv.DictReader(f, delimiter="\t"))
    assert {r["model"] for r in tts} >= {"m1", "m3", "srlm_m1", "srlm_m3"}
    assert (pipeline / "reports/comparison/comparison.png").stat().st_size > 10_000


def test_a_harder_tier_runs_through_search_evaluate_and_both_reports(pipeline):
    """The smoke params' `hard` tier (5 operations): iteration 2 searches its pool, every evaluation
    solves its held-out test and runs test-time scaling on it, the reports show it per tier."""
    from psrlm.tables import SEARCH_SOLUTIONS

    n, limit = smoke_params()["prepare"]["tier_test_size"], smoke_params()["tts"]["test_limit"]
    sols = read_table(pipeline / "data/search/iter_2/shard_0/solutions.parquet", SEARCH_SOLUTIONS).collect()
    assert sols.height > 0 and sols["problem_id"].str.starts_with("pool2_hard-").all()
    report = json.loads((pipeline / "reports/eval/m3.json").read_text())
    assert report["synthetic_by_tier"]["base"] == report["synthetic"]
    solve = read_table(pipeline / "data/eval/m3/solve.parquet", EVAL_SOLVE).collect()
    hard = solve.filter(pl.col("tier") == "hard")
    assert hard.height == n == report["synthetic_by_tier"]["hard"]["n"]
    assert report["synthetic_by_tier"]["hard"]["accuracy"] == round(float((hard["status"] == "correct").mean()), 4)
    t = report["tts"]["tiers"]["hard"]
    assert t["n"] == min(n, limit)
    assert t["gap"] == {k: round(t[k] - t["greedy"], 4) for k in ("self", "oracle")}
    md = (pipeline / "reports/summary/report.md").read_text()
    assert "Held-out accuracy per difficulty tier" in md and "iteration 2 hard" in md
    with (pipeline / "reports/summary/iterations.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    m3 = next(r for r in rows if r["model"] == "m3")
    assert float(m3["accuracy_hard"]) == report["synthetic_by_tier"]["hard"]["accuracy"]
    with (pipeline / "reports/comparison/tts.tsv").open() as f:
        assert {"m1, hard tier", "srlm_m1, hard tier"} <= {r["model"] for r in csv.DictReader(f, delimiter="\t")}


def test_evaluate_grades_the_benchmark_subsets(pipeline):
    from psrlm.grade import STATUSES
    from psrlm.tables import EVAL_BENCHMARK

    report = json.loads((pipeline / "reports/eval/m1.json").read_text())
    bench = read_table(pipeline / "data/eval/m1/benchmarks.parquet", EVAL_BENCHMARK).collect()
    assert sorted(report["benchmarks"]) == ["aime24", "gsm8k", "math500"]  # the smoke limits' keys
    assert report["benchmarks"]["gsm8k"]["n"] == 3 and report["benchmarks"]["aime24"]["limit"] == 2
    assert set(bench["status"]) <= set(STATUSES)
    for name, b in report["benchmarks"].items():
        assert b["n"] == bench.filter(pl.col("benchmark") == name).height
        assert sum(b["statuses"].values()) == b["n"]
    assert "steps_per_answer" in report["synthetic"]
    # every step right implies the right answer, never the other way round
    assert 0 <= report["synthetic"]["steps_right_accuracy"] <= report["synthetic"]["accuracy"]
    assert report["synthetic"]["step_arithmetic"] is None or 0 <= report["synthetic"]["step_arithmetic"] <= 1


@SHARED_DVC
def test_report_has_the_tables_and_plots(pipeline):
    md = (pipeline / "reports/summary/report.md").read_text()
    for heading in ("Accuracy per model", "Judge accuracy on held-out EFT", "Steps per answer",
                    "ground-truth audit", "The paper's published numbers"):
        assert heading in md, heading
    for m in ("M1", "M2", "M3"):
        assert f"| {m} |" in md
    # the plain-SFT baseline is a row of the accuracy table, right under the chain's models
    table = md.split("## Accuracy per model")[1].split("\n\n")[1].splitlines()
    assert [r.split(" | ")[0] for r in table[2:]] == ["| M1", "| M2", "| M3", "| M1 + plain SFT, same compute"]
    with (pipeline / "reports/summary/iterations.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["model"] for r in rows] == ["m1", "m2", "m3"]
    assert all(r["steps_right_accuracy"] != "" for r in rows)
    for png in ("accuracy", "judge_accuracy", "pair_precision", "steps"):
        data = (pipeline / f"reports/summary/plots/{png}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    shown = subprocess.run(["dvc", "metrics", "show", "--json"], cwd=pipeline, capture_output=True, text=True)
    assert shown.returncode == 0 and "reports/eval/m3.json" in shown.stdout
    plots = subprocess.run(["dvc", "plots", "show", "--json"], cwd=pipeline, capture_output=True, text=True)
    assert plots.returncode == 0, plots.stderr
    data = json.loads(plots.stdout)
    assert not data.get("errors")
    assert {"accuracy", "judge", "audit", "steps", "reports/summary/plots/accuracy.png"} <= set(data["data"])


def test_baseline_gets_the_chains_training_compute(pipeline):
    dpo = [json.loads((pipeline / f"reports/dpo/{i}.json").read_text()) for i in (1, 2)]
    base = json.loads((pipeline / "reports/baseline/metrics.json").read_text())
    budget = sum(d["train_tokens"] + d["reference_tokens"] / 3 for d in dpo)
    assert base["token_budget"] == round(budget) and base["trained"] == (budget > 0)
    assert (pipeline / "data/models/baseline/config.json").exists()
    if budget > 0:  # as many passes over its examples as the budget buys
        assert base["epochs"] * base["tokens_per_epoch"] == pytest.approx(budget, rel=1e-3)


def test_audit_compares_iterations_and_revisions(pipeline):
    import sys

    res = subprocess.run([sys.executable, "-m", "psrlm.audit", "1", "2", "--repo", str(pipeline)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    pairs = [read_table(pipeline / f"data/pairs/iter_{i}.parquet", PAIRS).collect().height for i in (1, 2)]
    assert f"| pairs | {pairs[0]} | {pairs[1]} |" in res.stdout
    assert "Held-out problems, iter 1 → iter 2" in res.stdout
    bad = subprocess.run([sys.executable, "-m", "psrlm.audit", "1", "1", "--rev-a", "no-such-rev",
                          "--repo", str(pipeline)], capture_output=True, text=True)
    assert bad.returncode != 0 and "no-such-rev: neither a git revision" in bad.stderr


def shell(pipeline):
    """`sh(*cmd)`: run in the smoke repository, fail the test with the command's output, return stdout."""
    def sh(*cmd):
        res = subprocess.run(list(cmd), cwd=pipeline, capture_output=True, text=True)
        assert res.returncode == 0, " ".join(cmd) + "\n" + res.stdout[-2000:] + res.stderr[-2000:]
        return res.stdout
    return sh


def commit_workspace(sh):
    """`dvc exp run` starts from a commit: the smoke run's lock and reports become one (or none, when
    an earlier test already committed them)."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    sh(*git, "add", "dvc.lock", "reports")
    sh(*git, "commit", "-qm", "baseline", "--allow-empty")


def test_dvc_exp_run_sweeps_the_dpo_learning_rate_with_full_lineage(pipeline_copy):
    """The README's sweep: an experiment on dpo.learning_rate (β does nothing to the
    default NLL-only loss), diffed against the baseline, audited; then the
    workspace is put back (`dvc exp run -S` leaves its params in the workspace). Its targets are
    the stages whose figures it reads; the evaluations, report and comparison after them would rerun
    the same way."""
    import sys

    pipeline = pipeline_copy
    sh = shell(pipeline)
    commit_workspace(sh)
    try:
        ran = sh("dvc", "exp", "run", "-S", "dpo.learning_rate=0.0001", "-n", "lr1e4",
                 "evaluate@m2", "dpo@2", "baseline", "srlm_dpo@1")
        reran = {line.split("'")[1] for line in ran.splitlines() if line.startswith("Running stage")}
        # dpo@1, what uses M2, and the baseline (DPO's learning rate is its own) rerun, and so does
        # the SRLM baseline's DPO (the same dpo params, by design) with what uses its M2; a stage
        # whose inputs came out identical is skipped (at smoke size search@2 can return the same
        # tables from a slightly moved M2); nothing upstream reruns.
        assert {"dpo@1", "evaluate@m2", "search@2-0", "dpo@2", "baseline", "srlm_dpo@1"} <= reran
        assert reran <= {"dpo@1", "evaluate@m2", "search@2-0", "pairs@2", "dpo@2", "evaluate@m3", "baseline",
                         "evaluate@baseline", "report", "srlm_dpo@1", "srlm@2", "srlm_dpo@2",
                         "evaluate_srlm@m2", "evaluate_srlm@m3", "comparison"}
        params = json.loads(sh("dvc", "params", "diff", "--json"))
        assert {k: params["params.yaml"]["dpo.learning_rate"][k] for k in ("old", "new")} == {
            "old": smoke_params()["dpo"]["learning_rate"], "new": 0.0001}
        metrics = json.loads(sh("dvc", "metrics", "diff", "--json"))
        assert {"train_loss", "final_margin"} <= set(metrics["reports/dpo/1.json"])  # the rate moved DPO's numbers
        audit = sh(sys.executable, "-m", "psrlm.audit", "2", "2", "--rev-a", "HEAD", "--rev-b", "lr1e4",
                   "--repo", str(pipeline))
        assert "iter 2@HEAD" in audit and "iter 2@lr1e4" in audit
    finally:
        sh("git", "checkout", "--", "params.yaml", "dvc.lock", "reports")
        sh("dvc", "checkout", "--force")
    assert "up to date" in sh("dvc", "status")


def test_judge_modes_run_as_one_experiment_grid_and_compare(pipeline_copy):
    """The README's comparison at smoke size: the oracle and random judges as one queued grid of
    experiments (a seed grid works the same way; tests/test_compare.py pins the grouping over
    seeds), then psrlm.compare. The oracle judge is the exact checker, so every one of its pairs
    prefers a right step to a wrong one and every verdict on a right-vs-wrong pair is right, in
    both orders. The grid's target is the last iteration's pairs: the audits compared here."""
    import sys

    pipeline = pipeline_copy
    sh = shell(pipeline)
    commit_workspace(sh)
    try:
        sh("dvc", "exp", "run", "--queue", "-n", "judges", "-S", "search.judge=oracle,random", "pairs@2")
        sh("dvc", "exp", "run", "--run-all")
        sh(sys.executable, "-m", "psrlm.compare", "--prefix", "judges")
        summaries = json.loads((pipeline / "reports/compare/judges.json").read_text())
        by = {s["label"]: s for s in summaries}
        assert set(by) == {"search.judge=oracle", "search.judge=random"}
        oracle, coin = ([*by[f"search.judge={j}"]["iterations"].values()] for j in ("oracle", "random"))
        for it in oracle:
            for key in ("pair_precision", "judge_accuracy_self", "position_consistency"):
                assert it[key] is None or it[key]["min"] == 1.0, (key, it[key])
            # the smoke model is seldom right; between two wrong steps the oracle prefers neither
            if it["candidate_accuracy"]["max"] == 0:
                assert it["pairs"]["max"] == 0, it
        assert any(it["pairs"]["mean"] > 0 for it in coin)  # a coin always decides
        assert (pipeline / "reports/compare/judges.png").read_bytes()[:4] == b"\x89PNG"
        assert "| search.judge=oracle | 1 |" in (pipeline / "reports/compare/judges.md").read_text()
    finally:
        sh("git", "checkout", "--", "params.yaml", "dvc.lock", "reports")
        sh("dvc", "checkout", "--force")


def test_own_eft_labels_the_models_own_steps_and_every_model_is_judged_on_the_own_test(pipeline):
    from psrlm.tables import EFT, OWN_STEPS, PROBLEMS

    problems = read_table(pipeline / "data/prepare/judge_train.parquet", PROBLEMS).collect()
    steps = read_table(pipeline / "data/own_eft/train/steps.parquet", OWN_STEPS).collect()
    eft = read_table(pipeline / "data/own_eft/train/eft.parquet", EFT).collect()
    assert set(steps["problem_id"]) == set(problems["problem_id"])  # every problem was rolled out
    gold = {r["problem_id"]: r for r in problems.iter_rows(named=True)}
    for r in steps.iter_rows(named=True):  # the labels are the checker's, relative to the prefix
        g = gold[r["problem_id"]]
        assert r["truth"] == arith.step_truth(r["text"], r["prefix_steps"], g["start"], g["ops"], g["operands"])
    # the smoke model is a minute old and rarely right: pairs only where a step has both kinds
    both = steps.group_by("problem_id", "step_idx").agg(r=pl.col("correct").any(), w=(~pl.col("correct")).any())
    assert (eft.height > 0) == (both.filter(pl.col("r") & pl.col("w")).height > 0)
    assert (eft["better"] == "A").sum() == (eft["better"] == "B").sum()  # both orders of every pair
    report = json.loads((pipeline / "reports/own_eft/train.json").read_text())
    assert report["pair_rows"] == eft.height and report["candidates"] == steps.height
    test = read_table(pipeline / "data/own_eft/test/eft.parquet", EFT).collect()
    for model in ("m1", "m2", "m3"):  # every model is judged on the same held-out own pairs
        judge = json.loads((pipeline / f"reports/eval/{model}.json").read_text())["judge"]
        judged = read_table(pipeline / f"data/eval/{model}/judge_own.parquet", EVAL_JUDGE).collect()
        assert judge["own_n"] == judged.height == min(test.height, smoke_params()["evaluate"]["own_eft_limit"])
        assert judge["own_invalid"] == judged["verdict"].null_count()


def test_judge_phase_trains_the_sft_model_on_own_pairs_with_replay(pipeline, tmp_path):
    """The judge_sft stage for real, on own-style pairs built from the smoke model's own wrong
    candidates against the right step after the same prefix (the smoke model writes too few right
    steps for own_eft to pair them itself)."""
    import torch
    from transformers import AutoModelForCausalLM

    from conftest import run_stage, write_params
    from psrlm.tables import EFT, OWN_STEPS, PROBLEMS, write_table

    problems = {r["problem_id"]: r for r in read_table(pipeline / "data/prepare/judge_train.parquet", PROBLEMS)
                .collect().iter_rows(named=True)}
    steps = read_table(pipeline / "data/own_eft/train/steps.parquet", OWN_STEPS).collect()
    rows = []
    for r in steps.filter(pl.col("truth") != "after_unreadable_step").head(40).iter_rows(named=True):
        g, idx = problems[r["problem_id"]], r["step_idx"]
        if idx > len(g["ops"]) or r["correct"]:
            continue
        prev = arith.parse_step(r["prefix_steps"][-1]).c if r["prefix_steps"] else g["start"]
        try:
            right = arith.format_step(idx, prev, g["ops"][idx - 1], g["operands"][idx - 1],
                                      arith.apply(prev, g["ops"][idx - 1], g["operands"][idx - 1]), idx == len(g["ops"]))
        except ValueError:  # a claimed value the operation cannot apply to exactly
            continue
        for k, better in enumerate("AB"):
            a, b = (right, r["text"]) if better == "A" else (r["text"], right)
            rows.append({"pair_id": f"{r['problem_id']}-{idx}-{r['candidate_idx']}-{better}",
                         "problem_id": r["problem_id"], "problem": g["problem"], "step_idx": idx,
                         "prefix_steps": r["prefix_steps"], "candidate_a": a, "candidate_b": b,
                         "a_correct": better == "A", "b_correct": better == "B", "better": better,
                         "origin": f"own:sft:{r['truth']}", "judgment": f"made by the test\n[[{better}]]"})
    assert len(rows) >= 20
    own = write_table(pl.DataFrame(rows, schema=EFT.polars_schema()), tmp_path / "own.parquet", EFT)
    params = write_params(tmp_path / "params.yaml", smoke_params(judge_sft={"replay_fraction": 0.5}))
    out = tmp_path / "m1"
    res = run_stage("judge_sft", "--params", str(params), "--own", str(own),
                    "--ift", str(pipeline / "data/prepare/ift_train.parquet"),
                    "--eft", str(pipeline / "data/prepare/eft_train.parquet"),
                    "--model", str(pipeline / "data/models/sft"), "--out", str(out),
                    "--log", str(tmp_path / "loss.tsv"), "--report", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr
    stats = json.loads((tmp_path / "r.json").read_text())
    assert stats["trained"] and stats["examples"]["own"] == len(rows)
    assert stats["examples"].get("ift", 0) + stats["examples"].get("eft", 0) == len(rows)  # half replay
    sft = AutoModelForCausalLM.from_pretrained(pipeline / "data/models/sft")
    m1 = AutoModelForCausalLM.from_pretrained(out)
    assert any(not torch.equal(a, b) for a, b in zip(sft.parameters(), m1.parameters()))


def test_the_chain_runs_on_gsm8k_as_an_experiment_with_the_same_schemas(repo_copy):
    """Issue 16's acceptance at smoke size: `dvc exp run -S prepare.task=gsm8k` (small sizes, one
    SFT pass, own-sample labels by Monte-Carlo rollouts) runs the whole chain on real data; every
    table keeps its schema, the held-out test is GSM8K's test split, and the reports name the task.
    It starts from a fresh copy, not the smoke DAG: a new task reruns every stage anyway, and so it
    runs while the smoke DAG is built."""
    import yaml

    from psrlm import tables, textsteps

    pipeline = repo_copy
    sh = shell(pipeline)
    sizes = {"ift_train_size": 300, "eft_train_size": 600, "eft_test_size": 40, "test_size": 16,
             "judge_test_size": 8, "judge_train_size": 0}
    try:
        # The last model of each chain evaluated (every stage still runs; six fewer evaluations).
        ran = sh("dvc", "exp", "run", "-n", "gsm8k", "-S", "prepare.task=gsm8k",
                 # tiers are the synthetic task's (null clears them: -S merges a mapping into the smoke one)
                 "-S", "prepare.tiers=null", "-S", "prepare.pool_tiers=null",
                 *(a for k, v in sizes.items() for a in ("-S", f"prepare.{k}={v}")),
                 "-S", "sft.epochs=1.0", "-S", "own_eft.labels=rollouts", "-S", "own_eft.rollouts=2",
                 "-S", "pipeline.models_to_evaluate=[m3]", "-S", "srlm.models_to_evaluate=[m3]")
        reran = {line.split("'")[1] for line in ran.splitlines() if line.startswith("Running stage")}
        assert {"prepare", "sft", "srlm_sft", "search@1-0", "dpo@2", "evaluate@m3", "srlm@2", "report",
                "comparison"} <= reran
        # Every table of the run, read against its declared schema (read_table checks it all).
        for path, schema in [("data/prepare/ift_train.parquet", tables.PROBLEMS), ("data/prepare/test.parquet", tables.PROBLEMS),
                             ("data/prepare/eft_train.parquet", tables.EFT), ("data/prepare/score_eft_test.parquet", tables.SCORE_EFT),
                             ("data/own_eft/test/steps.parquet", tables.OWN_STEPS), ("data/own_eft/test/eft.parquet", tables.EFT),
                             ("data/search/iter_1/shard_0/steps.parquet", tables.SEARCH_STEPS),
                             ("data/search/iter_2/shard_0/solutions.parquet", tables.SEARCH_SOLUTIONS),
                             ("data/pairs/iter_1.parquet", tables.PAIRS), ("data/srlm/iter_1/samples.parquet", tables.OUTCOME_SAMPLES),
                             ("data/eval/m3/solve.parquet", tables.EVAL_SOLVE), ("data/eval/m3/tts.parquet", tables.EVAL_TTS)]:
            read_table(pipeline / path, schema).collect()
        test = read_table(pipeline / "data/prepare/test.parquet", tables.PROBLEMS).collect()
        published = [json.loads(x) for x in (BENCHMARKS / "gsm8k/test.jsonl").read_text().splitlines()[:16]]
        assert test["problem"].to_list() == [r["question"] for r in published]  # ids in file order
        assert test["start"].null_count() == 16 and (test["ops"].list.len() == 0).all()
        for r in test.iter_rows(named=True):  # gold steps the checker passes, the answer boxed last
            assert textsteps.solution_right(r["solution"], r["gold_answer"])
        assert json.loads((pipeline / "reports/prepare.json").read_text())["task"] == "gsm8k"
        own = json.loads((pipeline / "reports/own_eft/test.json").read_text())
        assert own["labels"] == "rollouts" and 0 <= own["rollout_checker_agreement"] <= 1
        assert "Task: `gsm8k`" in (pipeline / "reports/summary/report.md").read_text()
        assert "GSM8K test split" in (pipeline / "reports/comparison/comparison.md").read_text()
        params = yaml.safe_load((pipeline / "params.yaml").read_text())
        assert params["prepare"]["task"] == "gsm8k"  # exp run leaves its params in the workspace
        assert "up to date" in sh("dvc", "status")  # and the lineage of what it ran
    finally:
        sh("git", "checkout", "--", "params.yaml")
    # the experiment is kept, with its params and metrics, whatever the workspace holds
    shown = json.loads(sh("dvc", "exp", "show", "--json"))
    exps = [e for rev in shown for exp in (rev.get("experiments") or []) for e in exp["revs"]]
    [gsm8k] = [e for e in exps if e["name"] == "gsm8k"]
    data = gsm8k["data"]
    assert data["params"]["params.yaml"]["data"]["prepare"]["task"] == "gsm8k"
    assert data["metrics"]["reports/prepare.json"]["data"]["task"] == "gsm8k"


def test_two_search_shards_cover_the_pool_once_and_pairs_merges_them(pipeline, tmp_path):
    """search.shards: [0, 1], run for real on M1: each shard searches every other prompt, the two
    cover the pool exactly once, and pairs@1's script merges them into one table and report."""
    from conftest import run_stage, write_params
    from psrlm.tables import PROBLEMS, SEARCH_SOLUTIONS

    params = write_params(tmp_path / "params.yaml", smoke_params(search={"shards": [0, 1]}))
    for k in (0, 1):
        res = run_stage("search", "--params", str(params), "--iteration", "1", "--shard", str(k),
                        "--model", "data/models/m1", "--pool", "data/prepare/pools/iter_1.parquet",
                        "--out", str(tmp_path / f"search/shard_{k}"), cwd=pipeline)
        assert res.returncode == 0, res.stderr[-2000:]
    ids = [read_table(tmp_path / f"search/shard_{k}/solutions.parquet", SEARCH_SOLUTIONS).collect()["problem_id"]
           for k in (0, 1)]
    pool = read_table(pipeline / "data/prepare/pools/iter_1.parquet", PROBLEMS).collect()
    first = pool["problem_id"].head(smoke_params()["search"]["pool_limit"]).to_list()
    assert ids[0].to_list() == first[0::2] and ids[1].to_list() == first[1::2]
    res = run_stage("pairs", "--params", str(params), "--search", str(tmp_path / "search"),
                    "--out", str(tmp_path / "pairs.parquet"), "--report", str(tmp_path / "report.json"), cwd=pipeline)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["prompts"] == len(first)
    assert report["pairs"] == read_table(tmp_path / "pairs.parquet", PAIRS).collect().height
    res = run_stage("search", "--params", str(params), "--iteration", "1", "--shard", "2", "--model", "data/models/m1",
                    "--pool", "data/prepare/pools/iter_1.parquet", "--out", str(tmp_path / "x"), cwd=pipeline)
    assert res.returncode != 0 and "--shard 2: not one of search.shards [0, 1]" in res.stderr
